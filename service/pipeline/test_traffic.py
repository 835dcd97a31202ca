"""Test traffic: which patients are test patients (issue 14).

A test patient's id starts with ``MCAS_TEST_PATIENT_PREFIX`` (``mcas-test-``: every bundled
fixture) or is listed in ``MCAS_TEST_PATIENT_IDS``. Their cards and feedback are recorded
with ``test = true``, kept out of the outcomes report unless asked for, counted under the
``test="true"`` metrics label and, unless ``MCAS_SNOOZE_TEST_PATIENTS``, never snoozed, so
running the fixtures twice gives the same cards. The app factory builds the value from
the settings; nothing here reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TestPatients:
    prefix: str = "mcas-test-"
    ids: frozenset[str] = frozenset()
    # MCAS_SNOOZE_TEST_PATIENTS: their cards are snoozed like anyone's
    snoozed: bool = False

    @classmethod
    def of(
        cls, prefix: str | None, ids: Iterable[str] | str | None, snoozed: bool
    ) -> TestPatients:
        if isinstance(ids, str):  # given as the environment spells it: "a, b"
            ids = [part.strip() for part in ids.split(",")]
        return cls(prefix=prefix or "", ids=frozenset(i for i in ids or () if i),
                   snoozed=snoozed)

    def is_test(self, patient_id: str | None) -> bool:
        if not patient_id:
            return False
        return bool(self.prefix and patient_id.startswith(self.prefix)) or patient_id in self.ids

    def snoozable(self, patient_id: str | None) -> bool:
        """Whether this patient's cards may be snoozed."""
        return self.snoozed or not self.is_test(patient_id)
