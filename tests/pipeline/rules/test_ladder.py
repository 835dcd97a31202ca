"""The ladder card: at most one, tier-1 first.

docs/clinical-rules.md §3, §4, §6.2, §6.3, §6.4, §6.5, §6.6, §6.9.
"""

from __future__ import annotations

from tests.support.fhir_builders import (
    NOW,
    SNOMED,
    ago,
    cards,
    condition,
    decide,
    mcas,
    mediators_elevated,
    medication,
    thresholds,
    tier1,
    topics,
)


def episodes(*days_ago: float, code: str = "T78.2XXA") -> list[dict]:
    return [condition(code, onset=ago(d), clinical="resolved") for d in days_ago]


def base(*extra: dict) -> list[dict]:
    return [mcas(), *mediators_elevated(), condition("Z87.892"),
            medication(text="EpiPen", start=ago(400)), *extra]


def ladder(resources: list[dict], **kwargs) -> list[str]:
    return [t for t in topics(resources, **kwargs)
            if t in {"tier-1", "tier-2", "tier-3", "tier-4", "specialist-referral"}]


def test_no_therapy_gives_tier1_with_both_suggestions() -> None:
    decision = decide(base())[0]
    assert decision.topic == "tier-1"
    assert decision.suggestions == ("h1", "h2")


def test_h1_only_names_the_missing_h2() -> None:
    decision = decide(base(medication(code="20610", start=ago(60))))[0]
    assert decision.topic == "tier-1"
    assert decision.params["missing"] == "H2 antihistamine"
    assert decision.suggestions == ("h2",)


def test_tier1_complete_not_refractory_gives_no_ladder_card() -> None:
    assert ladder(base(*tier1(100))) == []


def test_tier2_when_tier1_refractory_by_episodes() -> None:
    assert ladder(base(*tier1(100), *episodes(10, 40))) == ["tier-2"]


def test_tier2_by_three_respiratory_events() -> None:
    resp = [condition("R06.2", onset=ago(5)), condition("R06.1", onset=ago(20)),
            condition("56018004", system=SNOMED, onset=ago(30))]
    assert ladder(base(*tier1(100), *resp)) == ["tier-2"]
    assert ladder(base(*tier1(100), *resp[:2])) == []
    # rules v2: dyspnoea (R06.0*) is listed, never counted
    dyspnoea = condition("R06.02", onset=ago(30))
    assert ladder(base(*tier1(100), *resp[:2], dyspnoea)) == []


def test_trial_length_bound_is_inclusive() -> None:
    assert ladder(base(*tier1(28), *episodes(1, 10))) == ["tier-2"]
    h1 = medication(code="20610", start=ago(28, seconds=-1))
    h2 = medication(code="4278", start=ago(60))
    assert ladder(base(h1, h2, *episodes(1, 10))) == []


def test_tier1_start_is_the_later_of_h1_and_h2() -> None:
    h1 = medication(code="20610", start=ago(200))
    h2 = medication(code="4278", start=ago(20))  # complete only 20 days ago
    assert ladder(base(h1, h2, *episodes(1, 10))) == []


def test_episodes_before_the_tier_started_do_not_count() -> None:
    assert ladder(base(*tier1(50), *episodes(60, 70))) == []
    assert ladder(base(*tier1(50), *episodes(49, 70))) == []
    # rules v2: counted from the tier's start + response_onset_days (7 on tier 1)
    assert ladder(base(*tier1(50), *episodes(49, 48))) == []
    assert ladder(base(*tier1(50), *episodes(43, 40))) == ["tier-2"]
    early = condition("T78.2XXA", onset=ago(43, seconds=1))  # a second before day 7
    assert ladder(base(*tier1(50), early, *episodes(30))) == []


def test_episodes_at_most_24h_apart_merge() -> None:
    close = [condition("T78.2XXA", onset=ago(10)), condition("T78.2XXA", onset=ago(10, hours=23))]
    assert ladder(base(*tier1(100), *close)) == []
    # rules v2: "at most" episode_merge_hours: exactly 24 h apart is one episode
    exactly = [condition("T78.2XXA", onset=ago(10)), condition("T78.2XXA", onset=ago(11))]
    assert ladder(base(*tier1(100), *exactly)) == []
    apart = [condition("T78.2XXA", onset=ago(10)),
             condition("T78.2XXA", onset=ago(11, seconds=1))]
    assert ladder(base(*tier1(100), *apart)) == ["tier-2"]


def test_merging_chains_from_the_previous_event() -> None:
    chain = [condition("T78.2XXA", onset=ago(10, hours=h)) for h in (0, 20, 40)]
    decision = decide(base(*tier1(100), *chain, *episodes(50)))[0]
    assert decision.topic == "tier-2"
    assert [len(c.events) for c in decision.episodes] == [1, 3]


def test_d_and_s_seventh_characters_are_not_episodes() -> None:
    follow_ups = [condition("T78.2XXD", onset=ago(10)), condition("T78.2XXS", onset=ago(20))]
    assert ladder(base(*tier1(100), *follow_ups)) == []


def test_triggered_episode_codes_count_only_with_the_switch() -> None:
    mixed = [condition("T78.01XA", onset=ago(10)), condition("T886XXA", onset=ago(20)),
             condition("T80.52XA", onset=ago(30)), condition("39579001", system=SNOMED,
                                                             onset=ago(40))]
    # rules v2: food, drug and serum anaphylaxis are triggered: not counted by default
    assert ladder(base(*tier1(100), *mixed)) == []
    switched = thresholds(count_triggered_anaphylaxis=True)
    decision = decide(base(*tier1(100), *mixed), limits=switched)[0]
    assert decision.topic == "tier-2" and len(decision.episodes) == 4


def test_lookback_bound_is_inclusive() -> None:
    limits = thresholds(lookback_days=180)
    assert ladder(base(*tier1(400), *episodes(1, 180)), limits=limits) == ["tier-2"]
    late = [condition("T78.2XXA", onset=ago(180, seconds=1)), *episodes(1)]
    assert ladder(base(*tier1(400), *late), limits=limits) == []


def test_future_events_and_therapies_are_ignored() -> None:
    assert ladder(base(*tier1(100), *episodes(10, -3))) == []
    future_h2 = [medication(code="20610", start=ago(100)), medication(code="4278", start=ago(-1))]
    assert ladder(base(*future_h2)) == ["tier-1"]


def test_undated_therapy_is_present_but_never_satisfies_the_trial() -> None:
    meds = [medication(code="20610", start=ago(100)), medication(code="4278")]
    assert ladder(base(*meds, *episodes(1, 10))) == []  # complete, so no tier-1 either


def test_tier1_precedence_over_a_refractory_higher_tier() -> None:
    meds = [medication(code="20610", start=ago(300)), medication(code="88249", start=ago(300))]
    decision = decide(base(*meds, *episodes(1, 10)))[0]
    assert decision.topic == "tier-1"
    assert decision.params["missing"] == "H2 antihistamine"


def test_tier3_tier4_and_specialist() -> None:
    tier2 = [*tier1(400), medication(code="88249", start=ago(100))]
    assert ladder(base(*tier2, *episodes(1, 10))) == ["tier-3"]
    assert ladder(base(*tier2, *episodes(1, 10)), limits=thresholds(
        min_trial_days={"tier1": 28, "tier2": 101, "tier3": 90, "tier4": 90})) == []
    tier3 = [*tier2, medication(code="302379", start=ago(95))]
    assert ladder(base(*tier3, *episodes(1, 10))) == ["tier-4"]
    tier4 = [*tier3, medication(code="1876376", start=ago(91))]
    assert ladder(base(*tier4, *episodes(1, 10))) == ["specialist-referral"]


def test_aspirin_and_steroids_never_raise_the_tier() -> None:
    extra = [medication(code="1191", start=ago(300)), medication(code="8640", start=ago(5))]
    assert ladder(base(*tier1(100), *extra, *episodes(1, 10))) == ["tier-2"]


def test_ranitidine_counts_as_h2() -> None:
    meds = [medication(code="20610", start=ago(100)),
            medication(text="ranitidine 150 mg", start=ago(90))]
    assert ladder(base(*meds, *episodes(1, 10))) == ["tier-2"]
    # rules v2: the bare brand "Zantac" identifies no drug
    unclear = [medication(code="20610", start=ago(100)),
               medication(text="Zantac 150", start=ago(90))]
    assert ladder(base(*unclear, *episodes(1, 10))) == ["tier-1"]


def test_unconfirmed_diagnosis_allows_only_tier1() -> None:
    provisional = [condition("D89.42", verification="provisional"), *base()[1:]]
    assert ladder([*provisional, *tier1(100), *episodes(1, 10)]) == []
    assert ladder(provisional) == ["tier-1"]
    confirmed_too = [*provisional, mcas(verification=None), *tier1(100), *episodes(1, 10)]
    assert ladder(confirmed_too) == ["tier-2"]


def test_no_ladder_card_when_a_medication_key_is_unavailable() -> None:
    assert ladder(base(), unavailable=("medicationRequests",)) == []
    assert ladder(base(*tier1(100), *episodes(1, 10)),
                  unavailable=("medicationStatements",)) == []


def test_card_switch_turns_a_ladder_card_off() -> None:
    values = thresholds().cards_enabled
    off = thresholds(cards_enabled={**values, "tier-2": False})
    assert ladder(base(*tier1(100), *episodes(1, 10)), limits=off) == []


def test_tier2_puts_the_leukotriene_modifier_first_when_lte4_is_elevated() -> None:
    decision = decide(base(*tier1(100), *episodes(1, 10)))[0]
    assert decision.suggestions[0] == "leukotriene"
    assert any(n.key == "ladder.lte4_first" for n in decision.notes)
    no_lte4 = [mcas(), condition("Z87.892"), medication(text="EpiPen", start=ago(400)),
               *tier1(100), *episodes(1, 10)]
    assert not any(n.key == "ladder.lte4_first" for n in decide(no_lte4)[0].notes)


def test_ladder_card_comes_first_and_only_once() -> None:
    found = topics([mcas(), condition("R06.2", onset=ago(3)), condition("Z87.892")])
    assert found[0] == "tier-1"
    assert sum(t.startswith("tier") for t in found) == 1


def test_tier4_card_states_off_label_case_report_and_proposes_only_a_referral() -> None:
    meds = [*tier1(400), medication(code="88249", start=ago(300)),
            medication(code="302379", start=ago(95))]
    card = cards(base(*meds, *episodes(1, 10)), now=NOW)[0]
    assert card["source"]["topic"]["code"] == "tier-4"
    assert "off-label" in card["detail"] and "single case report" in card["detail"]
    (referral,) = card["suggestions"]
    assert [a["resource"]["resourceType"] for a in referral["actions"]] == ["ServiceRequest"]
