"""One hook call from envelope to cards, with no Flask in it.

prefetch resolution -> facts -> rules -> snoozes held back (service/pipeline/snooze.py)
-> fold (service/pipeline/fold.py: mediator-evidence and biologic-review go into the ladder
card) -> cards. Snoozes are decided before folding, so a snoozed ladder card leaves the
others as cards of their own (docs/clinical-rules.md §8). Scope is decided from the
conditions first, so an out-of-scope patient gets no cards whatever else is missing
(docs/clinical-rules.md §6.9). ``read_record`` and ``require_medications`` are shared
with the order-time core (service/pipeline/orders/), which reuses the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.cdshooks.cards import Card
from service.cdshooks.envelope import HookRequest
from service.errors import PreconditionFailed, StorageUnavailable
from service.knowledge.model import Knowledge
from service.pipeline.card_builder import build_cards
from service.pipeline.facts import Facts, extract_facts
from service.pipeline.fingerprint import decision_fingerprint
from service.pipeline.fold import fold
from service.pipeline.ports import CardHistory
from service.pipeline.prefetch import (
    Fetcher,
    ResolvedPrefetch,
    prefetch_templates,
    resolve_prefetch,
)
from service.pipeline.rules import evaluate, scope
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.pipeline.snooze import Snoozed, history_since, hold_back
from service.thresholds.model import Thresholds

MEDICATION_KEYS = ("medicationStatements", "medicationRequests")


@dataclass(frozen=True)
class OrderCardRecord:
    """What the issued-card record keeps of an order-time card (migration 0006)."""

    draft_order: str  # "MedicationRequest/<id>"
    # ingredient and route ("ibuprofen:oral") of a trigger drug that may be snoozed after
    # "tolerated before" (docs/clinical-rules.md §7), stored as the card's snooze_key;
    # None for other topics
    snooze_key: str | None = None
    # the card's fingerprint (service/pipeline/orders/not_twice.py); None: never snoozes
    fingerprint: str | None = None


@dataclass
class HookResult:
    cards: list[Card]
    unavailable: dict[str, str] = field(default_factory=dict)
    skipped_resources: int = 0
    # topic -> fingerprint of every card decided (shown or snoozed), for recording
    fingerprints: dict[str, str] = field(default_factory=dict)
    # decisions held back because a clinician overrode the same card (docs/clinical-rules.md §8)
    snoozed: list[Snoozed] = field(default_factory=list)
    # why the card history could not be read (the cards were shown unsnoozed), or None
    snooze_unavailable: str | None = None
    # topics folded into the ladder card instead of cards of their own (fold.py)
    folded: list[str] = field(default_factory=list)
    # order-time cards: card uuid -> the draft order it judged
    orders: dict[str, OrderCardRecord] = field(default_factory=dict)
    # order-time topics left out as answered at order-select ("not twice",
    # docs/clinical-rules.md §7)
    deduplicated: list[str] = field(default_factory=list)

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
    history: CardHistory | None = None,
    trace: Recorder = NO_TRACE,
) -> HookResult:
    """Cards for one request; ``timeline_url``: the timeline app's launch URL (a ``smart``
    link on every card), None when the app is not enabled; ``history``: the patient's past
    cards, for snoozes (None: nothing is snoozed, e.g. a test patient); ``trace``:
    explain's recorder (service/pipeline/explain.py), the hook's does nothing."""
    prefetch, facts = read_record(request, knowledge, fetch_missing)
    trace.observe("facts", facts)
    trace.observe("unavailable", dict(prefetch.unavailable))
    if not scope(facts, now).in_scope:
        return HookResult(cards=[], skipped_resources=facts.skipped_resources)
    require_medications(prefetch)
    decisions = evaluate(facts, thresholds, now, trace)
    fingerprints = {d.topic: decision_fingerprint(d, facts, knowledge) for d in decisions}
    snoozed: list[Snoozed] = []
    snooze_unavailable = None
    since = history_since(fingerprints, thresholds, now)
    if history is not None and since is not None and request.patient_id:
        try:
            past = history.answered_cards(request.patient_id, since, list(fingerprints))
        except StorageUnavailable as exc:
            # docs/clinical-rules.md §8: a history that cannot be read in time shows the cards.
            snooze_unavailable = str(exc)
        else:
            decisions, snoozed = hold_back(decisions, fingerprints, past, thresholds, now)
    # After snoozes: a snoozed ladder card leaves mediator-evidence and biologic-review to
    # be shown as their own cards (docs/clinical-rules.md §8).
    decisions = fold(decisions)
    cards = build_cards(decisions, facts, knowledge, thresholds, timeline_url)
    return HookResult(
        cards=cards,
        folded=[f.topic for d in decisions for f in d.folded],
        unavailable=dict(prefetch.unavailable),
        skipped_resources=facts.skipped_resources,
        fingerprints=fingerprints,
        snoozed=snoozed,
        snooze_unavailable=snooze_unavailable,
    )
