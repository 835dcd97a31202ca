"""The ladder under rules v2: courses, counted episodes, evidence before a biologic, tier 2
first, the omalizumab dose, the specialist replacements, clonal disease.

docs/clinical-rules.md §2, §3, §4, §6.4, §6.9, §6.12, §6.19, §6.20, §6.21, §6.22, §6.23,
§6.24, §6.25, §6.26.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fhir_builders import (
    RXNORM,
    SNOMED,
    ago,
    cards,
    condition,
    decide,
    mcas,
    mediators_elevated,
    medication,
    observation,
    thresholds,
    tier1,
    topics,
)

LADDER = {"tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose",
          "tier-4", "specialist-referral"}


def episodes(*days_ago: float, code: str = "T78.2XXA", **extra: Any) -> list[dict]:
    return [condition(code, onset=ago(d), clinical="resolved", **extra) for d in days_ago]


def base(*extra: dict, evidence: bool = True) -> list[dict]:
    return [mcas(), *(mediators_elevated() if evidence else []), condition("Z87.892"),
            medication(text="EpiPen", start=ago(400)), *extra]


def ladder(resources: list[dict], **kwargs: Any) -> list[str]:
    return [t for t in topics(resources, **kwargs) if t in LADDER]


def flagged() -> list[dict]:
    """Evidence for any age: LTE4 flagged high by the lab on 2 dates (a child's results are
    judged by the lab's own range and flags, never by the adult thresholds)."""
    return [observation("33343-5", 180, "pg/mg{creat}", when=ago(d), flag="H") for d in (30, 60)]


def adult(birth: str = "1980-01-01") -> dict:
    return {"resourceType": "Patient", "id": "p1", "birthDate": birth}


def administrations(code: str, *days_ago: float) -> list[dict]:
    return [{"resourceType": "MedicationAdministration", "id": f"adm-{code}-{d}",
             "status": "completed", "effectiveDateTime": ago(d),
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}
            for d in days_ago]


def omalizumab(days: float, *, dose: float | None = None, order: bool = False,
               **extra: Any) -> list[dict]:
    """An omalizumab statement (judged) or an order; ``dose`` in mg every 4 weeks."""
    if dose is not None:
        extra["dosageInstruction" if order else "dosage"] = [{
            "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg"}}],
            "timing": {"repeat": {"period": 4, "periodUnit": "wk"}}}]
    kind = "MedicationRequest" if order else "MedicationStatement"
    return [medication(code="302379", start=ago(days), kind=kind, **extra)]


TIER2 = [*tier1(400), medication(code="88249", start=ago(300))]


# --- recent events, response onset -----------------------------------------------------

def test_a_counted_event_must_lie_in_the_last_recent_event_days() -> None:
    assert ladder(base(*tier1(200), *episodes(150, 100))) == []  # none in the last 90 days
    assert ladder(base(*tier1(200), *episodes(150, 90))) == ["tier-2"]


def test_response_onset_per_tier() -> None:
    on_montelukast = [*tier1(400), medication(code="88249", start=ago(100))]
    # tier 2: counted from day 14 of montelukast
    assert ladder(base(*on_montelukast, *episodes(90, 10))) == []
    assert ladder(base(*on_montelukast, *episodes(86, 10))) == ["tier-3"]


# --- evidence before a biologic, tier 2 first --------------------------------------------

def test_without_evidence_a_refractory_tier_2_gets_confirm_before_biologic() -> None:
    assert ladder(base(*TIER2, *episodes(1, 10), evidence=False)) == ["confirm-before-biologic"]
    assert ladder(base(*TIER2, *episodes(1, 10))) == ["tier-3"]


def test_confirm_before_biologic_is_not_shown_without_observations() -> None:
    assert ladder(base(*TIER2, *episodes(1, 10), evidence=False),
                  unavailable=("observations",)) == []


def test_refractory_on_omalizumab_without_tier_2_on_record_gets_the_tier_2_add_on() -> None:
    found = decide(base(*tier1(400), *omalizumab(200), *episodes(1, 40)))
    assert found[0].topic == "tier-2"
    assert "ladder.tier2_not_on_record" in [n.key for n in found[0].notes]
    # a stopped montelukast is on record (docs/clinical-rules.md §6.19)
    stopped = medication(code="88249", status="stopped", start=ago(300))
    assert ladder(base(*tier1(400), stopped, *omalizumab(200), *episodes(1, 40))) == ["tier-4"]


def test_a_completed_dispense_puts_tier_2_on_record() -> None:
    dispensed = {"resourceType": "MedicationDispense", "id": "d1", "status": "completed",
                 "whenHandedOver": ago(300),
                 "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "88249"}]}}
    assert ladder(base(*tier1(400), dispensed, *omalizumab(200), *episodes(1, 40))) == [
        "tier-4"]


def test_omalizumab_dose_below_300_comes_before_dupilumab() -> None:
    assert ladder(base(*TIER2, *omalizumab(200, dose=150), *episodes(1, 40))) == [
        "omalizumab-dose"]
    assert ladder(base(*TIER2, *omalizumab(200, dose=300), *episodes(1, 40))) == ["tier-4"]
    unknown = decide(base(*TIER2, *omalizumab(200), *episodes(1, 40)))[0]
    assert unknown.topic == "tier-4"
    assert "omalizumab.dose_unknown" in [n.key for n in unknown.notes]


def test_the_latest_order_with_a_readable_dose_decides() -> None:
    old = omalizumab(300, dose=150, order=True)
    new = omalizumab(200, dose=300, order=True)
    given = administrations("302379", *range(190, 0, -28))
    assert ladder(base(*TIER2, *old, *new, *given, *episodes(1, 40))) == ["tier-4"]


# --- the judged course -----------------------------------------------------------------

def test_an_omalizumab_order_never_administered_is_never_refractory() -> None:
    order = omalizumab(200, order=True)
    found = decide(base(*TIER2, *order, *episodes(1, 40)))
    assert [d.topic for d in found if d.topic in LADDER] == []
    given = administrations("302379", 200, 172, 144, 116, 88, 60, 32, 4)
    assert ladder(base(*TIER2, *order, *given, *episodes(1, 40))) == ["tier-4"]


def test_the_course_starts_at_the_earliest_of_a_chain_without_gaps() -> None:
    # an old course, a 150-day gap, then doses from 100 days ago: the course is 100 days
    order = omalizumab(400, order=True)
    given = administrations("302379", 400, 372, 344, 100, 72, 44, 16)
    decision = decide(base(*TIER2, *order, *given, *episodes(1, 40)))[0]
    assert decision.topic == "tier-4" and decision.params["days"] == "100"


def test_biologic_review_needs_a_judged_course() -> None:
    order = omalizumab(120, order=True)
    assert "biologic-review" not in topics(base(*tier1(400), *order))
    given = administrations("302379", 120, 92, 64, 36, 8)
    assert "biologic-review" in topics(base(*tier1(400), *order, *given))


# --- specialists decide the last steps -------------------------------------------------

@pytest.mark.parametrize("who", [
    {"patient": adult("2012-06-01")},
    {"patient": {"resourceType": "Patient", "id": "p1"}},
    {"extra": condition("O09.90")},
    {"extra": condition("Z33.1")},
    {"mcas_code": "D89.41"},
])
def test_child_pregnant_or_monoclonal_gets_specialist_referral_instead_of_tier_4(
    who: dict[str, Any],
) -> None:
    resources = base(*TIER2, *omalizumab(200, dose=300), *episodes(1, 40), *flagged())
    if "patient" in who:
        resources.append(who["patient"])
    if "extra" in who:
        resources.append(who["extra"])
    if "mcas_code" in who:
        resources[0] = condition(who["mcas_code"])
    assert ladder(resources) == ["specialist-referral"]


def test_a_child_below_the_dose_gets_specialist_referral_not_omalizumab_dose() -> None:
    resources = [*base(*TIER2, *omalizumab(200, dose=150), *episodes(1, 40), *flagged()),
                 adult("2015-01-01")]
    assert ladder(resources) == ["specialist-referral"]
    pregnant = [*base(*TIER2, *omalizumab(200, dose=150), *episodes(1, 40)),
                condition("O26.891")]
    assert ladder(pregnant) == ["omalizumab-dose"]


def test_eighteen_today_is_an_adult() -> None:
    born = (ago(0)[:4], ago(0)[5:10])
    birthday = f"{int(born[0]) - 18}-{born[1]}"
    resources = [*base(*TIER2, *omalizumab(200, dose=300), *episodes(1, 40)), adult(birthday)]
    assert ladder(resources) == ["tier-4"]


def test_a_resolved_pregnancy_does_not_count() -> None:
    resources = [*base(*TIER2, *omalizumab(200, dose=300), *episodes(1, 40)),
                 condition("Z33.1", clinical="resolved")]
    assert ladder(resources) == ["tier-4"]


def test_systemic_mastocytosis_flag_opens_the_biologic_cards() -> None:
    tryptase = [observation("21582-2", 24, "ng/mL", when=ago(200))]
    decision = decide(base(*TIER2, *episodes(1, 10), *tryptase))[0]
    assert decision.topic == "tier-3"
    assert [n.key for n in decision.lead] == ["tryptase.sm_flag"]
    card = cards(base(*TIER2, *episodes(1, 10), *tryptase))[0]
    detail = card["detail"]
    assert detail.index("Baseline tryptase 24 ng/mL") < detail.index("On montelukast since")
    low = [observation("21582-2", 19.9, "ng/mL", when=ago(200))]
    assert decide(base(*TIER2, *episodes(1, 10), *low))[0].lead == ()


# --- episodes --------------------------------------------------------------------------

def test_the_same_reaction_recorded_at_a_follow_up_visit_merges_within_14_days() -> None:
    first = condition("T78.2XXA", onset=ago(40), clinical="resolved")
    again = condition("T78.2XXA", clinical="resolved", recordedDate=ago(26))
    later = condition("T78.2XXA", clinical="resolved", recordedDate=ago(25))
    assert ladder(base(*tier1(200), first, again)) == []
    assert ladder(base(*tier1(200), first, later)) == ["tier-2"]


def test_date_only_events_on_consecutive_dates_merge() -> None:
    day_one = condition("T78.2XXA", onset="2026-10-01", clinical="resolved")
    day_two = condition("T78.2XXA", onset="2026-10-02", clinical="resolved")
    assert ladder(base(*tier1(200), day_one, day_two),
                  limits=thresholds(episode_merge_hours=1)) == []
    day_three = condition("T78.2XXA", onset="2026-10-03", clinical="resolved")
    assert ladder(base(*tier1(200), day_one, day_three),
                  limits=thresholds(episode_merge_hours=1)) == ["tier-2"]


def test_a_venom_code_within_the_cluster_makes_it_triggered() -> None:
    same_day = condition("T63.441A", onset=ago(10, hours=-2))
    three_days_later = condition("T63.441A", onset=ago(7))
    assert ladder(base(*tier1(200), *episodes(10, 40), same_day)) == []
    assert ladder(base(*tier1(200), *episodes(10, 40), three_days_later)) == ["tier-2"]
    switched = thresholds(count_triggered_anaphylaxis=True)
    assert ladder(base(*tier1(200), *episodes(10, 40), same_day), limits=switched) == [
        "tier-2"]


def test_suspected_and_problem_list_anaphylaxis_never_count_but_are_history() -> None:
    suspected = episodes(10, verificationStatus={"coding": [{"code": "provisional"}]},
                         verification=None)
    history = condition("T78.2XXA", recordedDate=ago(300), category=[
        {"coding": [{"code": "problem-list-item"}]}])
    assert ladder(base(*tier1(200), *episodes(40), *suspected)) == []
    found = topics([mcas(), *mediators_elevated(), history])
    assert "epinephrine-autoinjector" in found


# --- respiratory events ----------------------------------------------------------------

def wheezes(*days_ago: float) -> list[dict]:
    return [condition("R06.2", onset=ago(d)) for d in days_ago]


def test_respiratory_events_with_asthma_on_record_are_not_counted() -> None:
    resources = base(*tier1(200), *wheezes(5, 20, 30), medication(code="435"))
    assert ladder(resources) == ["tier-2"]
    asthma = condition("J45.909")
    decision = decide([*resources, asthma])
    assert not [d for d in decision if d.topic in LADDER]
    switched = thresholds(count_respiratory_with_airway_disease=True)
    assert ladder([*resources, asthma], limits=switched) == ["tier-2"]
    # an abated asthma is still airway disease (docs/clinical-rules.md §6.16)
    abated = condition("J45.909", clinical=None, abatementDateTime=ago(100))
    assert ladder([*resources, abated]) == []


def test_respiratory_events_alone_never_make_tier_2_refractory() -> None:
    assert ladder(base(*TIER2, *wheezes(5, 20, 30), medication(code="435"))) == []


# --- safety cards, clonal disease, missing data ----------------------------------------

def test_steroid_replacement_never_gets_the_long_term_card() -> None:
    steroid = medication(code="8640", start=ago(60))
    assert "steroid-long-term" in topics(base(steroid))
    assert "steroid-long-term" not in topics(base(steroid, condition("E27.1")))
    assert "steroid-long-term" not in topics(base(steroid, condition("Z94.0")))
    assert "steroid-long-term" in topics(base(steroid, condition("E27.0")))  # overactivity
    for_transplant = medication(code="8640", start=ago(60), reasonCode=[{"coding": [{
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z94.0"}]}])
    assert "steroid-long-term" not in topics(base(for_transplant))


def test_ranitidine_switch_is_a_safety_card() -> None:
    ranitidine = medication(code="9143", start=ago(30))
    assert "ranitidine-switch" in topics(base(*tier1(100), ranitidine))
    assert "ranitidine-switch" not in topics(base(*tier1(100), ranitidine),
                                             unavailable=("medicationRequests",))
    provisional = [condition("D89.42", verification="provisional"), *base()[1:], ranitidine]
    assert "ranitidine-switch" in topics(provisional)


def test_clonal_disease_keeps_the_safety_cards_and_says_so() -> None:
    resources = base(*TIER2, *episodes(1, 10), condition("D47.02"), medication(code="1191"))
    found = cards(resources)
    assert [c["source"]["topic"]["code"] for c in found] == ["aspirin-caution"]
    assert "Clonal mast cell disease on record" in found[0]["detail"]


def test_every_card_carries_the_rules_version() -> None:
    for card in cards(base(*tier1(100), *episodes(1, 10))):
        assert card["extension"]["org.mcas-cds.rules-version"] == "2"


def test_a_drug_stopped_in_the_lookback_is_not_proposed_again() -> None:
    stopped = medication(code="88249", status="stopped", start=ago(150),
                         effectivePeriod={"start": ago(150), "end": ago(100)})
    card = next(c for c in cards(base(*tier1(200), stopped, *episodes(1, 10)))
                if c["source"]["topic"]["code"] == "tier-2")
    proposed = [a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
                for s in card.get("suggestions", []) for a in s["actions"]]
    assert "88249" not in proposed and "42612" in proposed
    assert "not proposed again" in card["detail"]


def test_snomed_bronchospasm_in_the_lookback_fires_albuterol() -> None:
    assert "albuterol" in topics(base(condition("4386001", system=SNOMED, onset=ago(3))))


def test_a_child_s_markers_are_judged_by_the_lab_s_range_not_the_adult_threshold() -> None:
    child = adult("2015-01-01")
    unflagged = base(*TIER2, *episodes(1, 10))  # LTE4 180 and 170: above 104, no flag
    assert ladder(unflagged) == ["tier-3"]
    assert ladder([*unflagged, child]) == ["confirm-before-biologic"]
    assert ladder([*base(*TIER2, *episodes(1, 10), *flagged()), child]) == ["tier-3"]


def test_episodes_before_the_response_onset_are_listed_as_not_counted() -> None:
    decision = decide(base(*tier1(100), *episodes(97, 40, 10)))[0]
    assert decision.topic == "tier-2"
    early = [n for n in decision.notes if n.key == "episode.before_response_onset"]
    assert [dict(n.params) for n in early] == [{"date": ago(97)[:10], "onset_days": "7"}]
