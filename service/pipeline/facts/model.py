"""What the rules read about a patient: small frozen records, already filtered and dated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # "mcas", "clonal" or "hereditary_alpha_tryptasemia"
    code: str
    active: bool  # clinicalStatus active, recurrence, relapse or absent
    confirmed: bool  # verificationStatus absent or not provisional/differential/unconfirmed
    when: datetime | None  # onset, else recorded


@dataclass(frozen=True)
class Event:
    # "anaphylaxis" (an episode), "anaphylaxis_follow_up" (D/S 7th character),
    # "angioedema", "history" (Z87.892) or "respiratory"
    kind: str
    code: str
    label: str
    when: datetime | None
    bronchospasm: bool = False


@dataclass(frozen=True)
class Therapy:
    drug: str  # key of drugs.yaml
    drug_class: str
    tier: int | None  # ladder tier of the class; None for aspirin, steroids, rescue drugs
    label: str  # what the record calls it
    start: datetime | None
    source: str  # MedicationStatement or MedicationRequest


@dataclass(frozen=True)
class Result:
    analyte: str
    display: str
    loinc: str
    value: float | None
    unit: str | None  # valueQuantity.code, else .unit
    when: datetime | None
    interpretation: frozenset[str] = frozenset()
    reference_high: float | None = None
    expected_unit: str | None = None
    unit_synonyms: tuple[str, ...] = ()
    threshold_key: str | None = None
    prostaglandin_marker: bool = False
    tryptase: bool = False


@dataclass(frozen=True)
class Facts:
    patient_id: str | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    events: tuple[Event, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    results: tuple[Result, ...] = ()
    # prefetch key -> why its data could not be had (docs/clinical-rules.md §6.9)
    unavailable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    skipped_resources: int = 0
