"""What the rules read about a patient: small frozen records, already filtered and dated.

Facts do not depend on "now" or on the thresholds: the rules apply both
(``service/pipeline/rules/timeline.py`` drops what is dated after now and works out each
therapy's current course).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ResourceRef:
    """Which record a fact was read from: (resource type, id, meta.versionId else
    meta.lastUpdated). Snoozes fingerprint a card by these (docs/clinical-rules.md §8); no
    rule reads them, and they never take part in comparing facts (``compare=False``)."""

    type: str
    id: str | None = None
    version: str | None = None


def ref_of(resource: dict[str, Any]) -> ResourceRef:
    """The reference of a raw FHIR resource; a missing or non-string element is None."""
    meta = resource.get("meta")
    version = None
    if isinstance(meta, dict):
        for element in ("versionId", "lastUpdated"):
            if isinstance(meta.get(element), str):
                version = meta[element]
                break
    rid = resource.get("id")
    return ResourceRef(
        str(resource.get("resourceType")), rid if isinstance(rid, str) else None, version
    )


@dataclass(frozen=True)
class Diagnosis:
    # a code set of cards/codes.yaml: "mcas", "clonal", "hereditary_alpha_tryptasemia",
    # "airway_disease", "pregnancy" or "steroid_replacement"
    kind: str
    code: str
    active: bool  # clinicalStatus active, recurrence, relapse, or absent without abatement
    confirmed: bool  # verificationStatus absent or not provisional/differential/unconfirmed
    when: datetime | None  # onset, else recorded
    label: str = ""
    # clinicalStatus active, recurrence, relapse or absent (an abatement aside): airway
    # disease reads this (docs/clinical-rules.md §6.16)
    status_active: bool = True
    # the record it was read from
    ref: ResourceRef | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Event:
    # "anaphylaxis" (an episode), "anaphylaxis_follow_up" (D/S 7th character),
    # "anaphylaxis_history" (a problem-list entry without onset), "angioedema",
    # "history" (Z87.892), "respiratory", or "trigger" (a trigger code that is no
    # anaphylaxis code, e.g. T63.*)
    kind: str
    code: str
    label: str
    when: datetime | None
    bronchospasm: bool = False  # R06.2, SNOMED 56018004 or 4386001
    dyspnoea: bool = False  # R06.0*: listed, never counted
    suspected: bool = False  # verificationStatus provisional, differential or unconfirmed
    unexplained_code: bool = False  # T78.2* or SNOMED 39579001
    trigger_code: bool = False  # T78.0*, T88.6*, T80.5*, T63.* (any 7th character)
    recorded_only: bool = False  # dated by recordedDate (no onset)
    date_only: bool = False  # its date was written without a time
    written_date: str | None = None  # the date as written ("2026-08-21")
    # the record it was read from
    ref: ResourceRef | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Therapy:
    drug: str  # key of drugs.yaml
    drug_class: str
    tier: int | None  # ladder tier of the class; None for aspirin, steroids, rescue drugs
    label: str  # what the record calls it
    start: datetime | None  # the therapy's own date; the rules replace it by its course start
    source: str  # MedicationStatement or MedicationRequest
    status: str = "active"
    # a request's intent: a card may propose to stop that order (by the id in ``ref``).
    # No rule reads it, so it takes no part in comparing facts.
    intent: str | None = field(default=None, compare=False)
    # an active therapy (docs/clinical-rules.md §2): status active (a request: also an
    # order intent), not a doNotPerform order. Whether it has ended is decided against
    # now by the rules.
    active: bool = True
    as_needed: bool = False  # every dosage is as-needed
    ended: datetime | None = None  # effectivePeriod.end / dispenseRequest.validityPeriod.end
    indication: str | None = None  # another indication its reason names ("asthma")
    steroid_replacement: bool = False  # its reason is adrenal insufficiency or transplant
    dose_mg_per_4_weeks: float | None = None  # omalizumab: a readable dose, per 4 weeks
    ordered_on: datetime | None = None  # its own date (the start before the course rule)
    # the rules set these: False for a biologic that is only an order with no
    # administration or dispense: no judged course (docs/clinical-rules.md §2)
    judged: bool = True
    supplied: bool = False  # a completed administration or dispense is in its course
    # the record it was read from
    ref: ResourceRef | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Supply:
    """A completed MedicationAdministration or MedicationDispense of a drug of the table."""

    drug: str
    drug_class: str
    source: str  # MedicationAdministration or MedicationDispense
    when: datetime | None
    ref: ResourceRef | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Result:
    analyte: str
    display: str
    loinc: str
    value: float | None  # in ``unit`` (normalised when its unit was a spelling or conversion)
    unit: str | None  # normalised: the expected unit when the lab's unit is one of its spellings
    when: datetime | None
    interpretation: frozenset[str] = frozenset()
    reference_high: float | None = None  # referenceRange.high, else a bound in its text
    expected_unit: str | None = None
    threshold_key: str | None = None
    prostaglandin_marker: bool = False
    tryptase: bool = False
    comparator: str | None = None  # "<", "<=", ">", ">=" (valueQuantity or a value string)
    raw_value: float | None = None  # as the lab sent it (compared with the lab's own range)
    raw_unit: str | None = None  # as the lab sent it
    period_end: datetime | None = None  # effectivePeriod.end (a 24-hour urine collection)
    date_only: bool = False
    written_date: str | None = None
    # the record it was read from
    ref: ResourceRef | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Facts:
    patient_id: str | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    events: tuple[Event, ...] = ()
    # active therapies (status active; for a request also an order intent); as-needed ones
    # included (they are flagged)
    therapies: tuple[Therapy, ...] = ()
    # every therapy "on record" (active, completed, stopped, on-hold; never doNotPerform)
    records: tuple[Therapy, ...] = ()
    supplies: tuple[Supply, ...] = ()
    results: tuple[Result, ...] = ()
    # the latest day the patient can have been born (a partial birthDate counts youngest);
    # None when there is no readable birthDate: age unknown
    birth_date: date | None = None
    # medications named only by a brand that identifies no drug: (name, what it may be)
    unclear: tuple[tuple[str, str], ...] = ()
    # prefetch key -> why its data could not be had (docs/clinical-rules.md §6.9)
    unavailable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # (resource type, "left_out" | "undated") -> how many
    # (docs/clinical-rules.md §2 "Reading a resource")
    reading: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def skipped_resources(self) -> int:
        """Resources left out because a code, status or value could not be read."""
        return sum(n for (_, problem), n in self.reading.items() if problem == "left_out")
