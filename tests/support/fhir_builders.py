"""Small raw FHIR R4 resources for rule tests, and a one-call route from them to cards."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import Knowledge
from service.pipeline.card_builder import build_cards
from service.pipeline.facts import Facts, extract_facts
from service.pipeline.fold import fold
from service.pipeline.prefetch import ResolvedPrefetch
from service.pipeline.rules import Decision, evaluate
from service.thresholds.files import load_ranges
from service.thresholds.model import Thresholds
from service.thresholds.schema import thresholds_from_mapping

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
KNOWLEDGE: Knowledge = load_knowledge(bundled_cards_dir())
RANGES = load_ranges(bundled_cards_dir())
_ids = itertools.count(1)


def ago(days: float = 0, hours: float = 0, seconds: float = 0) -> str:
    return (NOW - timedelta(days=days, hours=hours, seconds=seconds)).isoformat()


def default_threshold_values() -> dict[str, Any]:
    return yaml.safe_load((bundled_cards_dir() / "thresholds.yaml").read_text(encoding="utf-8"))


def thresholds(**overrides: Any) -> Thresholds:
    values = default_threshold_values()
    values.update(overrides)
    return thresholds_from_mapping(values, ranges=RANGES)


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]}


def condition(code: str, *, system: str = ICD, onset: str | None = None,
              clinical: str | None = "active", verification: str | None = "confirmed",
              **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c{next(_ids)}",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if clinical:
        resource["clinicalStatus"] = _status("condition-clinical", clinical)
    if verification:
        resource["verificationStatus"] = _status("condition-ver-status", verification)
    if onset:
        resource["onsetDateTime"] = onset
    resource.update(extra)
    return resource


def mcas(**kwargs: Any) -> dict[str, Any]:
    return condition("D89.42", onset="2024-03-15", **kwargs)


def medication(*, code: str | None = None, text: str | None = None, start: str | None = None,
               status: str = "active", kind: str = "MedicationStatement",
               **extra: Any) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    if text:
        concept["text"] = text
    resource: dict[str, Any] = {"resourceType": kind, "id": f"m{next(_ids)}", "status": status,
                                "subject": {"reference": "Patient/p1"}}
    if concept:
        resource["medicationCodeableConcept"] = concept
    if kind == "MedicationRequest":
        resource["intent"] = "order"
        if start:
            resource["authoredOn"] = start
    elif start:
        resource["effectiveDateTime"] = start
    resource.update(extra)
    return resource


def observation(loinc: str, value: float | None, unit: str | None, *, when: str | None = None,
                status: str = "final", flag: str | None = None, high: float | None = None,
                **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": f"o{next(_ids)}", "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
    }
    if value is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit:
            quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        resource["valueQuantity"] = quantity
    if when:
        resource["effectiveDateTime"] = when
    if flag:
        resource["interpretation"] = [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": flag}]}]
    if high is not None:
        resource["referenceRange"] = [{"high": {"value": high, "unit": unit or ""}}]
    resource.update(extra)
    return resource


def tier1(days: float = 100) -> list[dict[str, Any]]:
    """An H1 and an H2 antihistamine, both active since `days` ago."""
    return [medication(code="20610", start=ago(days)), medication(code="4278", start=ago(days))]


ADULT = {"resourceType": "Patient", "id": "p1", "birthDate": "1980-04-02"}


def facts_of(resources: list[dict[str, Any]], *, unavailable: tuple[str, ...] = (),
             observations: list[dict[str, Any]] | None = None) -> Facts:
    """Facts of these resources. An adult Patient is added unless one is given (rules v2
    treat a patient without a readable birth date as a child)."""
    if not any(r["resourceType"] == "Patient" for r in resources):
        resources = [ADULT, *resources]
    by_key: dict[str, list[dict[str, Any]]] = {
        "patient": [r for r in resources if r["resourceType"] == "Patient"],
        "conditions": [r for r in resources if r["resourceType"] == "Condition"],
        "observations": [r for r in resources if r["resourceType"] == "Observation"],
        "medicationStatements": [r for r in resources if r["resourceType"] not in
                                 {"Condition", "Observation", "MedicationRequest", "Patient"}],
        "medicationRequests": [r for r in resources if r["resourceType"] == "MedicationRequest"],
    }
    if observations is not None:
        by_key["observations"] += observations
    prefetch = ResolvedPrefetch()
    for key in set(unavailable) - set(by_key):
        prefetch.unavailable[key] = "not in the prefetch, and no FHIR server to query"
    for key, found in by_key.items():
        if key in unavailable:
            prefetch.unavailable[key] = "not in the prefetch, and no FHIR server to query"
        else:
            prefetch.resources[key] = found
    return extract_facts(prefetch, KNOWLEDGE, "p1")


def decide(resources: list[dict[str, Any]], *, now: datetime = NOW,
           limits: Thresholds | None = None, unavailable: tuple[str, ...] = ()) -> list[Decision]:
    return evaluate(facts_of(resources, unavailable=unavailable), limits or thresholds(), now)


def topics(resources: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    return [d.topic for d in decide(resources, **kwargs)]


def cards(resources: list[dict[str, Any]], *, now: datetime = NOW,
          limits: Thresholds | None = None, unavailable: tuple[str, ...] = (),
          folded: bool = True) -> list[dict]:
    """The cards as run_hook builds them: decisions, the fold (unless ``folded=False``),
    cards."""
    facts = facts_of(resources, unavailable=unavailable)
    used = limits or thresholds()
    decisions = evaluate(facts, used, now)
    return build_cards(fold(decisions) if folded else decisions, facts, KNOWLEDGE, used)


def mediators_elevated() -> list[dict[str, Any]]:
    """LTE4 elevated on 2 separate dates: objective mediator evidence (rules v2), which
    keeps the mediator-evidence card out of ladder tests."""
    return [observation("33343-5", 180, "pg/mg{creat}", when=ago(30)),
            observation("33343-5", 170, "pg/mg{creat}", when=ago(60))]


REPO = Path(__file__).resolve().parents[2]
