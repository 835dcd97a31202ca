"""Explain at order time (issue 16, docs/clinical-rules.md §7): every order rule's
comparisons per draft order, the outcomes per topic, the holds ("not twice", "tolerated
before", switched off) with the card history read, and the hook unchanged by listening."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from service.cdshooks.envelope import HookRequest, load_hook_request
from service.errors import ServiceError
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import Knowledge
from service.pipeline.explain import explain_hook
from service.pipeline.hook import HookResult
from service.pipeline.orders import run_order_hook
from service.pipeline.rules.trace import NO_TRACE, Trace
from service.scenarios.fixtures import FIXTURES_DIR, fixture_paths, load_fixture, request_for
from service.thresholds.files import load_thresholds
from service.thresholds.model import Thresholds
from tests.support.order_history import History, answered_at_select, tolerated_before

KNOWLEDGE = load_knowledge(bundled_cards_dir())
THRESHOLDS = load_thresholds(bundled_cards_dir() / "thresholds.yaml")
IBUPROFEN = "order-trigger-drug--fires--ibuprofen-at-order-sign"
IBUPROFEN_DRAFT = "MedicationRequest/draft-ibuprofen"


def _order_fixtures() -> list[Path]:
    return [p for p in fixture_paths() if load_fixture(p).hook != "patient-view"]


def _request(name: str) -> tuple[HookRequest, datetime]:
    fixture = load_fixture(FIXTURES_DIR / f"{name}.json")
    return load_hook_request(request_for(fixture, fixture.evaluated_at), fixture.hook), \
        fixture.evaluated_at


def _explain(name: str, thresholds: Thresholds = THRESHOLDS, history: Any = None,
             snooze: bool = True, knowledge: Knowledge = KNOWLEDGE) -> dict[str, Any]:
    request, now = _request(name)
    return explain_hook(request, knowledge=knowledge, thresholds=thresholds, now=now,
                        history=history, snooze=snooze)


def _entries(answer: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [c for c in answer["comparisons"] if c["rule"] == rule]


def _entry(answer: dict[str, Any], rule: str) -> dict[str, Any]:
    found = _entries(answer, rule)
    assert len(found) == 1, (rule, answer["comparisons"])
    return found[0]


def _decision(answer: dict[str, Any], topic: str) -> dict[str, Any]:
    return next(d for d in answer["decisions"] if d["topic"] == topic)


def test_there_are_order_fixtures() -> None:
    assert len(_order_fixtures()) >= 15


@pytest.mark.parametrize("path", _order_fixtures(), ids=lambda p: p.stem)
def test_every_order_topic_that_fired_or_was_held_back_has_its_comparisons(
    path: Path
) -> None:
    answer = _explain(path.stem)
    if "refused" in answer:
        assert answer["cards"] == [] and answer["refused"]["status"] == 412
        return
    compared = {c.get("draft") for c in answer["comparisons"]}
    drafts = {d["draft"]: d for d in answer["read"]["drafts"]}
    for decision in answer["decisions"]:
        assert set(decision) >= {"topic", "fired", "shown", "why", "drafts"}
        assert decision["shown"] == any(c["topic"] == decision["topic"]
                                        for c in answer["cards"])
        for entry in decision["drafts"]:
            if entry["fired"] or entry["held_back"]:
                # the draft judged is named by its position and id, and has its numbers
                assert entry["draft"] in compared, (decision["topic"], entry)
                assert drafts[entry["draft"]]["position"] == entry["position"]
                assert drafts[entry["draft"]]["judged"] is True
        if decision["fired"] or decision["shown"]:
            assert any(e["fired"] for e in decision["drafts"]), decision
    for card in answer["cards"]:
        entry = next(e for e in _decision(answer, card["topic"])["drafts"]
                     if e["draft"] == card["draft"])
        assert entry["shown"] and entry["fired"] and entry["held_back"] is None
    # every comparison has the shape of patient-view's, plus the draft it judged
    for comparison in answer["comparisons"]:
        assert set(comparison) - {"detail", "draft"} == {
            "rule", "value", "unit", "threshold", "op", "result"}
        assert comparison["rule"].startswith("order.")
        if comparison["rule"] != "order.scope":
            assert comparison["draft"].startswith("MedicationRequest/")


def test_a_trigger_drug_match_and_the_history_not_read_offline() -> None:
    answer = _explain(IBUPROFEN)
    assert [(c["topic"], c["draft"]) for c in answer["cards"]] == [
        ("order-trigger-drug", IBUPROFEN_DRAFT)]
    assert _entry(answer, "order.trigger.match") == {
        "rule": "order.trigger.match", "value": 1, "unit": "trigger drugs", "threshold": 1,
        "op": ">=", "result": True, "draft": IBUPROFEN_DRAFT,
        "detail": "ibuprofen (NSAID), route oral: order-trigger-drug"}
    draft = answer["read"]["drafts"][0]
    assert draft["position"] == 1 and draft["draft"] == IBUPROFEN_DRAFT
    assert draft["words"] == "ibuprofen 400 mg tablet" and draft["route"] == "oral"
    assert answer["read"]["scope"] == {"in_scope": True, "clonal": None}
    assert _entry(answer, "order.scope")["result"] is True
    # offline (no card history): nothing of "not twice" or the snooze was compared
    assert answer["history"]["read"] is False
    assert not _entries(answer, "order.not_twice.window")
    assert answer["held_back"] == [] and answer["snoozes"] == []


def test_the_ranitidine_draft() -> None:
    answer = _explain("order-ranitidine--fires--ranitidine-draft")
    assert [c["topic"] for c in answer["cards"]] == ["order-ranitidine"]
    entry = _entry(answer, "order.ranitidine.withdrawn")
    assert (entry["value"], entry["threshold"], entry["op"], entry["result"]) == (1, 1, "==", True)
    assert entry["draft"] == "MedicationRequest/draft-ranitidine"
    assert "withdrawn" in entry["detail"]
    assert _decision(answer, "order-ranitidine")["drafts"][0]["shown"] is True


def test_omalizumab_ordered_before_first_line_is_complete() -> None:
    answer = _explain("order-ladder--fires--omalizumab-with-tier-1-incomplete")
    assert [c["topic"] for c in answer["cards"]] == ["order-ladder"]
    tier1 = _entry(answer, "order.ladder.tier1_incomplete")
    assert (tier1["value"], tier1["unit"], tier1["threshold"], tier1["op"], tier1["result"]) == (
        1, "first-line classes", 2, "<", True)
    evidence = _entry(answer, "order.ladder.no_evidence")
    assert (evidence["value"], evidence["threshold"], evidence["op"]) == (0, 0, "==")
    assert "First line" in _decision(answer, "order-ladder")["why"]


def test_dupilumab_ordered_without_omalizumab() -> None:
    answer = _explain("order-ladder--fires--dupilumab-without-omalizumab")
    entry = _entry(answer, "order.ladder.no_omalizumab")
    assert (entry["value"], entry["unit"], entry["threshold"], entry["op"], entry["result"]) == (
        0, "omalizumab records", 0, "==", True)


def test_the_steroid_course_duration() -> None:
    answer = _explain("order-steroid-course--fires--prednisone-30-day-course")
    entry = _entry(answer, "order.steroid.duration")
    assert (entry["value"], entry["unit"], entry["threshold"], entry["op"], entry["result"]) == (
        30.0, "d", THRESHOLDS.steroid_max_days, ">", True)


def test_a_beta_blocker_without_anaphylaxis_history_does_not_fire() -> None:
    answer = _explain("order-beta-blocker--does-not-fire--metoprolol-without-anaphylaxis")
    assert answer["cards"] == []
    entry = _entry(answer, "order.beta_blocker.anaphylaxis_history")
    assert (entry["value"], entry["threshold"], entry["op"], entry["result"]) == (0, 1, ">=", False)
    decision = _decision(answer, "order-beta-blocker")
    assert decision["fired"] is False and decision["shown"] is False
    [draft] = decision["drafts"]
    assert draft["fired"] is False and draft["why"] == "no anaphylaxis history on record"
    fired = _explain("order-beta-blocker--fires--metoprolol-with-anaphylaxis-history")
    assert _entry(fired, "order.beta_blocker.anaphylaxis_history")["result"] is True


def test_a_topical_nsaid_and_oral_vancomycin_are_left_out_for_their_form() -> None:
    answer = _explain("order-trigger-drug--does-not-fire--topical-nsaid-and-oral-vancomycin")
    assert answer["cards"] == []
    excluded = _entries(answer, "order.trigger.form_excluded")
    assert {e["draft"] for e in excluded} == {
        "MedicationRequest/draft-diclofenac-gel", "MedicationRequest/draft-ketorolac-eye",
        "MedicationRequest/draft-vancomycin-oral"}
    assert all(e["result"] is False for e in excluded)
    by_draft = {d["draft"]: d for d in answer["read"]["drafts"]}
    assert "topical" in by_draft["MedicationRequest/draft-diclofenac-gel"]["why"]
    assert by_draft["MedicationRequest/draft-ibuprofen-not"]["why"] == "doNotPerform: true"
    assert _decision(answer, "order-trigger-drug")["fired"] is False


def test_an_unselected_draft_is_named_and_not_judged() -> None:
    answer = _explain("order-trigger-drug--does-not-fire--nsaid-not-selected")
    by_draft = {d["draft"]: d for d in answer["read"]["drafts"]}
    naproxen = by_draft["MedicationRequest/draft-naproxen"]
    assert naproxen["judged"] is False and "not selected" in naproxen["why"]
    assert not [c for c in answer["comparisons"] if c.get("draft") == naproxen["draft"]]


def test_clonal_disease_holds_the_ladder_with_its_comparison() -> None:
    answer = _explain("order-ladder--does-not-fire--systemic-mastocytosis-only")
    entry = _entry(answer, "order.ladder.clonal")
    assert entry["result"] is False and "D47.02" in entry["detail"]
    assert answer["read"]["scope"]["clonal"] == "D47.02"
    assert _decision(answer, "order-ladder")["fired"] is False


def test_out_of_scope_says_why() -> None:
    answer = _explain("out-of-scope--order-sign-ibuprofen-without-mcas")
    assert answer["cards"] == []
    entry = _entry(answer, "order.scope")
    assert (entry["value"], entry["result"]) == (0, False)
    assert "does not apply" in _decision(answer, "order-trigger-drug")["why"]


# Holds: not twice, tolerated before, switched off ---------------------------------------


def test_not_twice_holds_back_with_the_minutes_and_the_history_read() -> None:
    _, now = _request(IBUPROFEN)
    history = History([answered_at_select(now, IBUPROFEN_DRAFT, "ibuprofen:oral", minutes=10)])
    answer = _explain(IBUPROFEN, history=history)
    assert answer["cards"] == []
    assert _entry(answer, "order.not_twice.window") == {
        "rule": "order.not_twice.window", "value": 10.0, "unit": "min",
        "threshold": THRESHOLDS.order_dedupe_minutes, "op": "<=", "result": True,
        "draft": IBUPROFEN_DRAFT,
        "detail": "issued at order-select to the same user, overridden"}
    decision = _decision(answer, "order-trigger-drug")
    assert decision["fired"] is True and decision["shown"] is False
    [draft] = decision["drafts"]
    assert draft["held_back"] == "not_twice" and "not twice" in draft["why"]
    assert answer["held_back"] == [{"topic": "order-trigger-drug", "draft": IBUPROFEN_DRAFT,
                                    "held_back": "not_twice", "why": draft["why"]}]
    assert answer["history"]["read"] is True and answer["history"]["answered_cards"] == 1
    # outside the window: compared, not held back, shown
    late = History([answered_at_select(now, IBUPROFEN_DRAFT, "ibuprofen:oral", minutes=90)])
    shown = _explain(IBUPROFEN, history=late)
    assert [c["topic"] for c in shown["cards"]] == ["order-trigger-drug"]
    # 90 minutes is outside the read window of not twice but inside the snooze's: compared
    window = _entry(shown, "order.not_twice.window")
    assert (window["value"], window["result"]) == (90.0, False)
    assert shown["held_back"] == []


def test_tolerated_before_snoozes_with_the_days_and_is_listed() -> None:
    _, now = _request(IBUPROFEN)
    answer = _explain(IBUPROFEN, history=History([tolerated_before(now, "ibuprofen:oral")]))
    assert answer["cards"] == []
    snooze = _entry(answer, "order.snooze.tolerated_before")
    assert (snooze["value"], snooze["unit"], snooze["op"], snooze["result"]) == (
        3.0, "d", "<", True)
    assert snooze["threshold"] == THRESHOLDS.snooze_for("order-trigger-drug")
    [held] = answer["snoozes"]
    assert held["topic"] == "order-trigger-drug" and held["snooze_key"] == "ibuprofen:oral"
    assert held["overridden_card"] == "card-tolerated"
    assert answer["held_back"][0]["held_back"] == "snoozed"
    # another route: compared against nothing, shown
    other = _explain(IBUPROFEN, history=History([tolerated_before(now, "ibuprofen:intravenous")]))
    assert [c["topic"] for c in other["cards"]] == ["order-trigger-drug"]
    assert _entry(other, "order.snooze.tolerated_before")["value"] is None
    # a test patient (snooze off): not snoozed, and explain says so
    test_patient = _explain(IBUPROFEN, history=History([tolerated_before(now, "ibuprofen:oral")]),
                            snooze=False)
    assert [c["topic"] for c in test_patient["cards"]] == ["order-trigger-drug"]
    assert "snoozing is off" in _entry(test_patient, "order.snooze.tolerated_before")["detail"]


def test_a_beta_blocker_is_never_snoozed_and_explain_says_so() -> None:
    name = "order-beta-blocker--fires--metoprolol-with-anaphylaxis-history"
    _, now = _request(name)
    history = History([tolerated_before(now, "metoprolol:oral", topic="order-beta-blocker")])
    answer = _explain(name, history=history)
    assert [c["topic"] for c in answer["cards"]] == ["order-beta-blocker"]
    # order-beta-blocker is not a snoozable topic: no snooze comparison, nothing held
    assert not _entries(answer, "order.snooze.tolerated_before")
    assert answer["held_back"] == []


def test_a_switched_off_order_card_is_held_back_with_its_comparison() -> None:
    enabled = dict(THRESHOLDS.cards_enabled)
    enabled["order-ranitidine"] = False
    answer = _explain("order-ranitidine--fires--ranitidine-draft",
                      thresholds=replace(THRESHOLDS, cards_enabled=MappingProxyType(enabled)))
    assert answer["cards"] == []
    assert _entry(answer, "order.ranitidine.withdrawn")["result"] is True
    decision = _decision(answer, "order-ranitidine")
    assert decision["fired"] is True and decision["shown"] is False
    assert decision["drafts"][0]["held_back"] == "switched_off"
    assert "cards_enabled" in decision["why"]


# The recorder only listens ----------------------------------------------------------------


def _same(result: HookResult) -> dict[str, Any]:
    """The result without the cards' random uuids (suggestions included)."""
    cards = copy.deepcopy(result.cards)
    for card in cards:
        card.pop("uuid")
        for suggestion in card.get("suggestions", []):
            suggestion.pop("uuid")
    return {"cards": cards, "orders": sorted((o.draft_order, o.snooze_key, o.fingerprint)
                                             for o in result.orders.values()),
            "snoozed": result.snoozed, "deduplicated": result.deduplicated,
            "unavailable": result.unavailable, "skipped": result.skipped_resources,
            "snooze_unavailable": result.snooze_unavailable}


def _histories(now: datetime) -> list[History | None]:
    return [None, History(), History(fail=True),
            History([answered_at_select(now, IBUPROFEN_DRAFT, "ibuprofen:oral")]),
            History([tolerated_before(now, "ibuprofen:oral"),
                     tolerated_before(now, "metoprolol:oral", topic="order-beta-blocker")])]


@pytest.mark.parametrize("path", _order_fixtures(), ids=lambda p: p.stem)
def test_the_hook_result_is_the_same_with_no_trace_and_with_trace(path: Path) -> None:
    request, now = _request(path.stem)
    for history in _histories(now):
        for snooze in (True, False):
            def run(trace: Any, history: Any = history, snooze: bool = snooze) -> Any:
                try:
                    return _same(run_order_hook(
                        request, knowledge=KNOWLEDGE, thresholds=THRESHOLDS, now=now,
                        history=history, snooze=snooze, trace=trace))
                except ServiceError as exc:
                    return ("refused", exc.status, exc.messages)

            assert run(NO_TRACE) == run(Trace())


def test_a_ladder_reason_without_its_data_is_compared_as_not_used() -> None:
    fixture = load_fixture(FIXTURES_DIR / "order-ladder--fires--omalizumab-with-tier-1-"
                           "incomplete.json")
    body = request_for(fixture, fixture.evaluated_at)
    del body["prefetch"]["observations"]
    request = load_hook_request(body, fixture.hook)
    answer = explain_hook(request, knowledge=KNOWLEDGE, thresholds=THRESHOLDS,
                          now=fixture.evaluated_at)
    evidence = _entry(answer, "order.ladder.no_evidence")
    assert evidence["value"] is None and evidence["result"] is False
    assert "could not be read" in evidence["detail"]
    # the first-line reason needs the medications, which were read: it still fires
    assert _entry(answer, "order.ladder.tier1_incomplete")["result"] is True
    assert [c["topic"] for c in answer["cards"]] == ["order-ladder"]
