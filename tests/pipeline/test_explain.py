"""Explain (issue 16): the same cards as the hook for every fixture, with the numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.cdshooks.envelope import load_hook_request
from service.errors import ServiceError
from service.knowledge.loader import load_knowledge
from service.knowledge.model import Knowledge
from service.pipeline.explain import explain_hook
from service.pipeline.hook import run_hook
from service.pipeline.orders import run_order_hook
from service.pipeline.rules import evaluate
from service.pipeline.rules.trace import NO_TRACE, Trace
from service.scenarios.fixtures import FIXTURES_DIR, fixture_paths, load_fixture, request_for
from service.thresholds.files import load_thresholds
from service.thresholds.model import Thresholds

CARDS = Path(__file__).resolve().parents[2] / "cards"


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(CARDS)


@pytest.fixture(scope="module")
def thresholds() -> Thresholds:
    return load_thresholds(CARDS / "thresholds.yaml")


def _explain(name: str, knowledge: Knowledge, thresholds: Thresholds) -> dict[str, Any]:
    fixture = load_fixture(FIXTURES_DIR / f"{name}.json")
    request = load_hook_request(request_for(fixture, fixture.evaluated_at))
    return explain_hook(request, knowledge=knowledge, thresholds=thresholds,
                        now=fixture.evaluated_at)


def _entry(answer: dict[str, Any], rule: str) -> dict[str, Any]:
    found = [c for c in answer["comparisons"] if c["rule"] == rule]
    assert len(found) == 1, (rule, answer["comparisons"])
    return found[0]


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_explain_gives_the_hooks_cards_for_every_fixture(
    path: Path, knowledge: Knowledge, thresholds: Thresholds
) -> None:
    fixture = load_fixture(path)
    request = load_hook_request(request_for(fixture, fixture.evaluated_at), fixture.hook)
    answer = explain_hook(request, knowledge=knowledge, thresholds=thresholds,
                          now=fixture.evaluated_at)
    assert answer["hook"] == fixture.hook
    core = run_hook if fixture.hook == "patient-view" else run_order_hook
    try:
        hook = core(request, knowledge=knowledge, thresholds=thresholds,
                    now=fixture.evaluated_at)
    except ServiceError as exc:
        assert answer["refused"]["status"] == exc.status
        assert answer["cards"] == []
        return
    assert [c["topic"] for c in answer["cards"]] == hook.topics
    shown = {d["topic"] for d in answer["decisions"] if d["shown"]}
    assert shown == set(hook.topics)
    # every card shown was fired by its rule, and says so
    assert all(d["fired"] for d in answer["decisions"] if d["shown"])


def test_tier2_entries_carry_the_arithmetic(knowledge: Knowledge, thresholds: Thresholds) -> None:
    answer = _explain("tier-2--fires--refractory-two-episodes", knowledge, thresholds)
    assert [c["topic"] for c in answer["cards"]] == ["tier-2"]
    assert _entry(answer, "refractory.trial") == {
        "rule": "refractory.trial", "value": 100, "unit": "d", "threshold": 28, "op": ">=",
        "result": True, "detail": "tier 1 since 2026-08-17",
    }
    episodes = _entry(answer, "refractory.episodes")
    assert (episodes["value"], episodes["threshold"], episodes["op"], episodes["result"]) == (
        2, thresholds.min_anaphylaxis_episodes, ">=", True)
    recent = _entry(answer, "refractory.recent")
    assert recent["value"] == 20 and recent["threshold"] == thresholds.recent_event_days
    assert recent["op"] == "<=" and recent["result"] is True
    respiratory = _entry(answer, "refractory.respiratory")
    assert respiratory["value"] == 0 and respiratory["result"] is False
    read = answer["read"]
    assert read["ladder"]["current_tier"] == 1 and read["ladder"]["refractory"] is True
    assert [e["counted_toward_refractory"] for e in read["episodes"]] == [True, True]
    assert {t["class"] for t in read["therapies"]} >= {"h1", "h2"}
    assert all(t["dated_by"] for t in read["therapies"])


def test_omalizumab_dose_entries(knowledge: Knowledge, thresholds: Thresholds) -> None:
    answer = _explain("omalizumab-dose--fires--150-mg-every-4-weeks", knowledge, thresholds)
    assert [c["topic"] for c in answer["cards"]] == ["omalizumab-dose"]
    dose = _entry(answer, "omalizumab.dose")
    assert dose == {"rule": "omalizumab.dose", "value": 150.0, "unit": "mg per 4 weeks",
                    "threshold": thresholds.omalizumab_dose_mg_per_4_weeks, "op": "<",
                    "result": True}
    trial = _entry(answer, "refractory.trial")
    assert trial["value"] == 190 and trial["threshold"] == thresholds.min_trial_days[3]
    assert _entry(answer, "refractory.judged_course")["result"] is True
    assert _entry(answer, "evidence.objective")["result"] is True
    omalizumab = [t for t in answer["read"]["therapies"] if t["class"] == "omalizumab"]
    assert omalizumab[0]["dose_mg_per_4_weeks"] == 150.0


def test_a_dose_at_the_threshold_is_held_back_with_its_comparison(
    knowledge: Knowledge, thresholds: Thresholds
) -> None:
    answer = _explain("omalizumab-dose--does-not-fire--300-mg-every-4-weeks", knowledge,
                      thresholds)
    dose = _entry(answer, "omalizumab.dose")
    assert dose["value"] == 300.0 and dose["result"] is False
    assert "omalizumab-dose" not in [c["topic"] for c in answer["cards"]]


def test_a_switched_off_card_is_reported_as_held_back(
    knowledge: Knowledge, thresholds: Thresholds
) -> None:
    enabled = dict(thresholds.cards_enabled)
    enabled["tier-2"] = False
    off = replace(thresholds, cards_enabled=enabled)
    answer = _explain("tier-2--fires--refractory-two-episodes", knowledge, off)
    tier2 = next(d for d in answer["decisions"] if d["topic"] == "tier-2")
    assert tier2["fired"] is True and tier2["shown"] is False
    assert "switched off" in tier2["why"]


def test_the_no_op_recorder_changes_no_decision(
    knowledge: Knowledge, thresholds: Thresholds
) -> None:
    from service.pipeline.facts import extract_facts
    from service.pipeline.prefetch import prefetch_templates, resolve_prefetch

    for path in fixture_paths()[:60]:
        fixture = load_fixture(path)
        request = load_hook_request(request_for(fixture, fixture.evaluated_at))
        prefetch = resolve_prefetch(request.prefetch, prefetch_templates(knowledge), None)
        facts = extract_facts(prefetch, knowledge, request.patient_id)
        now = fixture.evaluated_at
        assert evaluate(facts, thresholds, now, NO_TRACE) == evaluate(
            facts, thresholds, now, Trace())
