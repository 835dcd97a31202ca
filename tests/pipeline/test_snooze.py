"""The pure snooze decision (docs/clinical-rules.md §8): fingerprints and holding back.

run_hook is called with an in-memory CardHistory (the port's test side); storage and the
web layer are tested in tests/web/test_snooze.py.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.cdshooks.envelope import load_hook_request
from service.errors import StorageUnavailable
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.facts import extract_facts
from service.pipeline.hook import HookResult, run_hook
from service.pipeline.ports import PastCard
from service.pipeline.prefetch import prefetch_templates, resolve_prefetch
from service.pipeline.rules import evaluate
from service.pipeline.snooze import active_snoozes, hold_back, snoozing_card
from service.pipeline.test_traffic import TestPatients as Patients
from service.thresholds.files import load_ranges, load_thresholds
from tests.support.snooze import sandbox_body, with_new_episode

KNOWLEDGE = load_knowledge(bundled_cards_dir())
THRESHOLDS = load_thresholds(bundled_cards_dir() / "thresholds.yaml", load_ranges())
NOW = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)
OVERRIDDEN_AT = NOW - timedelta(days=1)


class Memory:
    """An in-memory CardHistory: the cards given, whatever the patient and moment."""

    def __init__(self, cards: Sequence[PastCard] = (), fails: bool = False) -> None:
        self.cards = list(cards)
        self.fails = fails
        self.asked: list[tuple[str, datetime]] = []

    def past_cards(self, patient_id: str, since: datetime) -> Sequence[PastCard]:
        self.asked.append((patient_id, since))
        if self.fails:
            raise StorageUnavailable("The card history could not be read in time.")
        return [c for c in self.cards if c.issued_at >= since]

    def answered_cards(
        self, patient_id: str, since: datetime, topics: Collection[str]
    ) -> Sequence[PastCard]:
        return [c for c in self.past_cards(patient_id, since)
                if c.outcome is not None and c.topic in topics]


def fire(body: dict[str, Any], history: Memory | None = None, now: datetime = NOW,
         thresholds: Any = THRESHOLDS) -> HookResult:
    return run_hook(load_hook_request(body), knowledge=KNOWLEDGE, thresholds=thresholds,
                    now=now, history=history)


def overridden(result: HookResult, shown: str, at: datetime = OVERRIDDEN_AT,
               **changes: Any) -> PastCard:
    card = PastCard(
        card_uuid=f"card-{shown}", topic=shown, issued_at=at - timedelta(minutes=1),
        outcome="overridden", outcome_at=at, fingerprint=result.fingerprints[shown],
    )
    return replace(card, **changes)


def test_the_fingerprint_ignores_time_and_follows_the_records() -> None:
    first = fire(sandbox_body())
    assert fire(sandbox_body(), now=NOW + timedelta(days=20)).fingerprints == first.fingerprints
    assert len(set(first.fingerprints.values())) == len(first.fingerprints)  # topic in it
    # A new counted episode: another ladder fingerprint; albuterol's facts did not change.
    later = fire(with_new_episode(sandbox_body()))
    assert later.fingerprints["tier-2"] != first.fingerprints["tier-2"]
    assert later.fingerprints["albuterol"] == first.fingerprints["albuterol"]
    # A new version of a decisive record (meta.versionId) changes it too.
    body = sandbox_body()
    wheeze = next(e["resource"] for e in body["prefetch"]["conditions"]["entry"]
                  if e["resource"]["id"] == "mcas-cond-wheeze")
    wheeze["meta"] = {"versionId": "2", "lastUpdated": "2026-11-24T10:00:00Z"}
    assert fire(body).fingerprints["albuterol"] != first.fingerprints["albuterol"]
    # meta.lastUpdated stands in when there is no versionId.
    del wheeze["meta"]["versionId"]
    moved = fire(body).fingerprints["albuterol"]
    wheeze["meta"]["lastUpdated"] = "2026-11-24T11:00:00Z"
    assert fire(body).fingerprints["albuterol"] != moved


def test_references_on_facts_change_no_rule_outcome() -> None:
    """Facts carry (type, id, version) but compare without them: the same decisions."""
    body = sandbox_body()
    request = load_hook_request(body)
    prefetch = resolve_prefetch(request.prefetch, prefetch_templates(KNOWLEDGE), None)
    facts = extract_facts(prefetch, KNOWLEDGE, request.patient_id)
    assert {e.ref.id for e in facts.events if e.ref} >= {"mcas-cond-ana-1", "mcas-cond-ana-2"}
    assert all(t.ref is not None and t.ref.type.startswith("Medication") for t in facts.records)
    stripped = replace(
        facts,
        events=tuple(replace(e, ref=None) for e in facts.events),
        therapies=tuple(replace(t, ref=None) for t in facts.therapies),
        results=tuple(replace(r, ref=None) for r in facts.results),
    )
    assert stripped == facts
    assert evaluate(stripped, THRESHOLDS, NOW) == evaluate(facts, THRESHOLDS, NOW)


def test_an_override_holds_the_topic_back_for_its_snooze_days() -> None:
    first = fire(sandbox_body())
    history = Memory([overridden(first, "tier-2")])
    result = fire(sandbox_body(), history)
    assert result.topics == ["albuterol"]
    assert [(s.topic, s.overridden_card) for s in result.snoozed] == [("tier-2", "card-tier-2")]
    assert result.snoozed[0].until == OVERRIDDEN_AT + timedelta(days=30)
    # The history is read once, as far back as the longest snooze of the topics decided.
    assert history.asked == [("mcas-1", NOW - timedelta(days=30))]
    # After snooze_days, counted from the override, the card is back.
    day_31 = OVERRIDDEN_AT + timedelta(days=30, seconds=1)
    assert fire(sandbox_body(), Memory([overridden(first, "tier-2")]), now=day_31).topics == [
        "tier-2", "albuterol"]
    # A changed fingerprint shows it again.
    assert fire(with_new_episode(sandbox_body()), history).topics == ["tier-2", "albuterol"]


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": "accepted"},  # accepted suggestions do not snooze
        {"outcome": None, "outcome_at": None},  # no feedback
        {"snooze_cleared_at": NOW - timedelta(hours=1)},  # cleared by an administrator
        {"status": "snoozed"},  # a held-back record is no override
        {"fingerprint": None},  # recorded before fingerprints were kept
        {"snooze_key": "aspirin|oral"},  # an order-time card's key: another snooze
        {"topic": "tier-3"},
    ],
)
def test_what_does_not_snooze(changes: dict[str, Any]) -> None:
    first = fire(sandbox_body())
    card = overridden(first, "tier-2", **changes)
    assert fire(sandbox_body(), Memory([card])).topics == ["tier-2", "albuterol"]


def test_snooze_days_zero_never_snoozes_and_skips_the_read() -> None:
    never = replace(THRESHOLDS, snooze_days={t: 0 for t in THRESHOLDS.snooze_days})
    first = fire(sandbox_body())
    history = Memory([overridden(first, "tier-2")])
    assert fire(sandbox_body(), history, thresholds=never).topics == ["tier-2", "albuterol"]
    assert history.asked == []


def test_a_history_that_cannot_be_read_shows_the_cards() -> None:
    result = fire(sandbox_body(), Memory(fails=True))
    assert result.topics == ["tier-2", "albuterol"]
    assert result.snooze_unavailable == "The card history could not be read in time."
    assert result.snoozed == []


def test_a_snoozed_ladder_card_leaves_the_other_cards_on_their_own() -> None:
    """Snoozing comes before folding (docs/clinical-rules.md §8): while the ladder card is
    shown, mediator-evidence is folded into it; once the ladder card is held back,
    mediator-evidence is shown as its own card."""
    body = sandbox_body()
    # Without mediator results there is no mediator evidence: mediator-evidence fires,
    # folded into the ladder card.
    observations = body["prefetch"]["observations"]
    observations["entry"] = []
    observations["total"] = 0
    first = fire(body)
    ladder = first.topics[0]
    assert "mediator-evidence" not in first.topics
    assert first.folded == ["mediator-evidence"]
    held = fire(copy.deepcopy(body), Memory([overridden(first, ladder)]))
    assert ladder not in held.topics
    assert held.folded == []
    assert held.topics == [*(t for t in first.topics if t != ladder), "mediator-evidence"]


def test_pure_helpers_general_enough_for_order_time() -> None:
    card = PastCard("c", "order-trigger-drug", NOW - timedelta(days=2), "overridden",
                    NOW - timedelta(days=2), "tolerated-before", "fp", snooze_key="aspirin|po")
    found = snoozing_card([card], topic="order-trigger-drug", fingerprint="fp", days=7,
                          now=NOW, snooze_key="aspirin|po")
    assert found is card
    assert snoozing_card([card], topic="order-trigger-drug", fingerprint="fp", days=7,
                         now=NOW, snooze_key="aspirin|iv") is None
    shown, held = hold_back([], {}, [card], THRESHOLDS, NOW)
    assert (shown, held) == ([], [])
    # order-trigger-drug snoozes after "tolerated before" only (docs/clinical-rules.md §7)
    assert active_snoozes([card], THRESHOLDS, NOW) == [(card, card.outcome_at + timedelta(
        days=THRESHOLDS.snooze_for("order-trigger-drug")))]
    other = dataclasses.replace(card, override_code="benefit-outweighs-risk")
    assert active_snoozes([other], THRESHOLDS, NOW) == []
    assert snoozing_card([other], topic="order-trigger-drug", fingerprint="fp", days=7,
                         now=NOW, snooze_key="aspirin|po") is None


def test_test_patients_by_prefix_or_listed_id() -> None:
    patients = Patients.of("mcas-test-", "ehr-7, ehr-8", snoozed=False)
    assert patients.is_test("mcas-test-x") and patients.is_test("ehr-8")
    assert not patients.is_test("mcas-1") and not patients.is_test("")
    assert not patients.snoozable("mcas-test-x") and patients.snoozable("mcas-1")
    assert Patients.of("mcas-test-", None, snoozed=True).snoozable("mcas-test-x")
    assert not Patients.of("", [], snoozed=False).is_test("mcas-test-x")
