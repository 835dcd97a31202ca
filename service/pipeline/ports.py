"""Ports: what the hook core may read from outside, as Protocols the web layer fulfils.

The core (facts, rules, card building) does no I/O. When a decision needs stored state
(the cards a patient was shown before and what clinicians did with them: snoozes after an
override, order-time "not twice"), the web layer passes an object satisfying a port here
into the core; storage implements it (service/storage/history.py), tests may pass a
plain in-memory one. The core never sees a database, an engine or the patient hash.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PastCard:
    """A card issued to this patient before, with the clinician's latest answer to it."""

    card_uuid: str
    topic: str
    issued_at: datetime
    # The latest feedback on the card: "accepted", "overridden", or None (no feedback).
    outcome: str | None = None
    outcome_at: datetime | None = None
    # The override reason's code, when the clinician gave one.
    override_code: str | None = None
    # What the facts behind the card were (service/pipeline/fingerprint.py); None for a
    # card recorded before fingerprints were kept (it never snoozes).
    fingerprint: str | None = None
    # "issued" (shown), or "snoozed" (held back by an earlier snooze; recorded so the
    # outcomes view can count it, never shown).
    status: str = "issued"
    # What besides the topic a snooze is kept for (an order-time card: ingredient and
    # route); None for patient-view cards.
    snooze_key: str | None = None
    # When an administrator cleared the snooze this card's override made; None: not cleared.
    snooze_cleared_at: datetime | None = None
    # Order-time cards (docs/clinical-rules.md §7): the hook it was issued at, the draft
    # order it judged ("MedicationRequest/<id>"), and whether it was issued to the user
    # the caller named (the trigger's ingredient and route is ``snooze_key``).
    hook: str | None = None
    draft_order: str | None = None
    same_user: bool = False


class CardHistory(Protocol):
    """The cards a patient was issued since a moment, oldest first.

    Implementations identify the patient the way storage does (a salted hash); they may
    raise ``service.errors.StorageUnavailable`` when the store cannot answer in time, and
    the caller decides what a missing history means (show the cards).
    """

    def past_cards(
        self, patient_id: str, since: datetime, user_id: str | None = None
    ) -> Sequence[PastCard]:
        """``user_id``: the user of this call; each card says whether it was issued to them."""
        ...

    def answered_cards(
        self,
        patient_id: str,
        since: datetime,
        topics: Collection[str],
        user_id: str | None = None,
    ) -> Sequence[PastCard]:
        """Only the cards of these topics that have feedback (what a snooze and order-time
        "not twice" need: a patient-view call issues cards on every chart opening, few are
        answered)."""
        ...
