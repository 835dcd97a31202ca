"""A card's snooze fingerprint: what the facts behind it were (docs/clinical-rules.md §8).

A hash of the sorted (resource type, id, ``meta.versionId`` else ``meta.lastUpdated``) of
the topic's decisive records (cards/snooze.yaml), the topic and the codes of the drugs
the card proposes. Elapsed time and durations worked out from dates never enter it, so
the same record gives the same fingerprint tomorrow; a new episode, a new result, a
stopped therapy or a new version of a record gives another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from service.knowledge.model import DecisiveFacts, Knowledge
from service.pipeline.facts.model import Facts, ResourceRef
from service.pipeline.rules.model import Decision


def decisive_records(facts: Facts, decisive: DecisiveFacts) -> Iterator[ResourceRef | None]:
    """The references of the facts ``decisive`` names (None: a fact without one)."""
    for event in facts.events:
        if event.kind in decisive.events:
            yield event.ref
    for diagnosis in facts.diagnoses:
        if diagnosis.kind in decisive.diagnoses:
            yield diagnosis.ref
    for therapy in facts.records:
        if therapy.drug_class in decisive.therapy_classes or (
            decisive.active_therapies and therapy.active
        ):
            yield therapy.ref
    for supply in facts.supplies:
        if supply.drug_class in decisive.therapy_classes:
            yield supply.ref
    for result in facts.results:
        if result.analyte in decisive.results:
            yield result.ref


def _suggestion_codes(decision: Decision, knowledge: Knowledge) -> list[str]:
    codes = []
    for drug_class in decision.suggestions:
        try:
            codes.append(knowledge.drugs.suggested_drug(drug_class).rxnorm or drug_class)
        except KeyError:
            codes.append(drug_class)
    return sorted(codes)


def fingerprint(
    topic: str, records: Iterable[ResourceRef | None], suggestion_codes: Iterable[str]
) -> str:
    """sha256 hex of the topic, the sorted records and the sorted suggestion codes."""
    keys = sorted(
        {(r.type, r.id or "", r.version or "") for r in records if r is not None}
    )
    canonical = json.dumps(
        {"topic": topic, "records": keys, "suggestions": sorted(suggestion_codes)},
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def decision_fingerprint(decision: Decision, facts: Facts, knowledge: Knowledge) -> str:
    decisive = knowledge.snooze.get(decision.topic, DecisiveFacts())
    return fingerprint(
        decision.topic,
        decisive_records(facts, decisive),
        _suggestion_codes(decision, knowledge),
    )
