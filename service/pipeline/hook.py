"""One hook call from envelope to cards, with no Flask in it.

prefetch resolution -> facts -> rules -> cards. Scope is decided from the conditions
first, so an out-of-scope patient gets no cards whatever else is missing
(docs/clinical-rules.md §6.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.cdshooks.cards import Card
from service.cdshooks.envelope import HookRequest
from service.errors import PreconditionFailed
from service.knowledge.model import Knowledge
from service.pipeline.card_builder import build_cards
from service.pipeline.facts import Facts, extract_facts
from service.pipeline.prefetch import (
    Fetcher,
    ResolvedPrefetch,
    prefetch_templates,
    resolve_prefetch,
)
from service.pipeline.rules import evaluate, scope
from service.thresholds.model import Thresholds

MEDICATION_KEYS = ("medicationStatements", "medicationRequests")


@dataclass(frozen=True)
class OrderCardRecord:
    """What the issued-card record keeps of an order-time card (migration 0006)."""

    draft_order: str  # "MedicationRequest/<id>"
    # ingredient and route ("ibuprofen:oral") of a trigger drug, for the snooze after
    # "tolerated before" (docs/clinical-rules.md §7); None for other topics
    item: str | None = None


@dataclass
class HookResult:
    cards: list[Card]
    unavailable: dict[str, str] = field(default_factory=dict)
    skipped_resources: int = 0
    # order-time cards: card uuid -> the draft order it judged
    orders: dict[str, OrderCardRecord] = field(default_factory=dict)
    # the card history could not be read: cards were shown without it (counted)
    history_failed: bool = False
    # topics held back by the history: "deduplicated" (not twice), "snoozed"
    held_back: dict[str, list[str]] = field(default_factory=dict)

    @property
    def topics(self) -> list[str]:
        return [card["source"]["topic"]["code"] for card in self.cards]


def read_record(
    request: HookRequest, knowledge: Knowledge, fetch_missing: Fetcher | None
) -> tuple[ResolvedPrefetch, Facts]:
    """The prefetch (else the FHIR fallback) read into facts, once, for every service.

    412 when the conditions cannot be had: scope is decided from them first.
    """
    prefetch = resolve_prefetch(request.prefetch, prefetch_templates(knowledge), fetch_missing)
    if "conditions" in prefetch.unavailable:
        raise PreconditionFailed(
            f"Required data 'conditions' could not be obtained: "
            f"{prefetch.unavailable['conditions']}."
        )
    return prefetch, extract_facts(prefetch, knowledge, request.patient_id)


def require_medications(prefetch: ResolvedPrefetch) -> None:
    """412 for an in-scope patient when neither medication key can be had
    (docs/clinical-rules.md §6.9)."""
    if all(key in prefetch.unavailable for key in MEDICATION_KEYS):
        raise PreconditionFailed(
            [
                f"Required data '{key}' could not be obtained: {prefetch.unavailable[key]}."
                for key in MEDICATION_KEYS
            ]
        )


def run_hook(
    request: HookRequest,
    *,
    knowledge: Knowledge,
    thresholds: Thresholds,
    now: datetime,
    fetch_missing: Fetcher | None = None,
    timeline_url: str | None = None,
) -> HookResult:
    """Cards for one request; ``timeline_url``: the timeline app's launch URL (a ``smart``
    link on every card), None when the app is not enabled."""
    prefetch, facts = read_record(request, knowledge, fetch_missing)
    if not scope(facts, now).in_scope:
        return HookResult(cards=[], skipped_resources=facts.skipped_resources)
    require_medications(prefetch)
    decisions = evaluate(facts, thresholds, now)
    cards = build_cards(decisions, facts, knowledge, thresholds, timeline_url)
    return HookResult(
        cards=cards,
        unavailable=dict(prefetch.unavailable),
        skipped_resources=facts.skipped_resources,
    )
