"""Mediator evidence, units and the tryptase 20% + 2 rule.

docs/clinical-rules.md §2, §6.7, §6.9.
"""

from __future__ import annotations

from tests.support.fhir_builders import ago, condition, mcas, observation, tier1, topics

LTE4, NMH, PGD2, HIST, TRYPTASE = "33343-5", "44340-8", "14054-1", "34316-0", "21582-2"


def evidence_card(*observations: dict, **kwargs) -> bool:
    """mediator-evidence shown? An unexplained episode 5 days and 3 hours ago makes a
    result taken 5 days ago "collected within 24 h after the onset of an episode" (rules
    v2: a single elevated result at another time is not objective evidence)."""
    attack = condition("T78.2XXA", onset=ago(5, hours=3), clinical="resolved")
    return "mediator-evidence" in topics([mcas(), *tier1(100), attack, *observations], **kwargs)


def test_no_result_fires_the_card_and_unavailable_observations_suppress_it() -> None:
    assert evidence_card()
    assert not evidence_card(unavailable=("observations",))


def test_threshold_in_the_expected_unit_decides_even_against_a_flag() -> None:
    assert not evidence_card(observation(LTE4, 180, "pg/mg{creat}", when=ago(5)))
    assert evidence_card(observation(LTE4, 104, "pg/mg{creat}", when=ago(5)))  # not above
    assert evidence_card(observation(LTE4, 90, "pg/mg{creat}", when=ago(5), flag="H"))
    assert not evidence_card(observation(NMH, 201, "ug/g{creat}", when=ago(5)))
    assert not evidence_card(observation(HIST, 9, "nmol/L", when=ago(5)))
    assert not evidence_card(observation("97658-9", 1900, "pg/mg{creat}", when=ago(5)))


def test_other_unit_falls_back_to_flag_or_reference_range() -> None:
    assert evidence_card(observation(LTE4, 180, "pg/mg", when=ago(5)))  # no flag, no range
    assert not evidence_card(observation(LTE4, 50, "pg/mg", when=ago(5), flag="H"))
    assert not evidence_card(observation(LTE4, 50, "pg/mg", when=ago(5), flag="HH"))
    assert not evidence_card(observation(LTE4, 50, "pg/mg", when=ago(5), flag="A"))
    assert evidence_card(observation(LTE4, 50, "pg/mg", when=ago(5), flag="N", high=60))
    assert not evidence_card(observation(LTE4, 70, "pg/mg", when=ago(5), high=60))


def test_prostaglandin_d2_has_no_default_threshold() -> None:
    assert evidence_card(observation(PGD2, 9999, "pg/mg{creat}", when=ago(5)))
    assert not evidence_card(observation(PGD2, 10, "pg/mg{creat}", when=ago(5), flag="H"))


def test_only_final_amended_corrected_results_count() -> None:
    assert evidence_card(observation(LTE4, 180, "pg/mg{creat}", when=ago(5), status="preliminary"))
    assert not evidence_card(observation(LTE4, 180, "pg/mg{creat}", when=ago(5), status="amended"))


def test_future_results_are_ignored() -> None:
    assert evidence_card(observation(LTE4, 180, "pg/mg{creat}", when=ago(-1)))


def episode(days: float) -> dict:
    return condition("T78.2XXA", onset=ago(days), clinical="resolved")


def test_tryptase_20_plus_2_met() -> None:
    # baseline 6.1 -> limit 1.2 * 6.1 + 2 = 9.32; acute 14.3 taken 3 h after the episode
    resources = [episode(30), observation(TRYPTASE, 14.3, "ng/mL", when=ago(30, hours=-3)),
                 observation(TRYPTASE, 6.1, "ng/mL", when=ago(300))]
    assert not evidence_card(*resources)


def test_tryptase_20_plus_2_not_met() -> None:
    resources = [episode(30), observation(TRYPTASE, 9.3, "ng/mL", when=ago(30, hours=-3)),
                 observation(TRYPTASE, 6.1, "ng/mL", when=ago(300))]
    assert evidence_card(*resources)


def test_tryptase_acute_window_is_1_h_before_to_4_h_after_the_onset() -> None:
    # rules v2: acute from 1 h before to tryptase_acute_window_hours = 4 after (inclusive)
    for hours in (1, -4):
        resources = [episode(30), observation(TRYPTASE, 20, "ug/L", when=ago(30, hours=hours)),
                     observation(TRYPTASE, 5, "ng/mL", when=ago(200))]
        assert not evidence_card(*resources)
    for late in (ago(30, hours=-4, seconds=-1), ago(30, hours=1, seconds=1)):
        outside = [episode(30), observation(TRYPTASE, 20, "ng/mL", when=late),
                   observation(TRYPTASE, 5, "ng/mL", when=ago(200))]
        assert evidence_card(*outside)  # no acute value


def test_baseline_is_the_nearest_eligible_value() -> None:
    # rules v2: the nearest eligible baseline (9, 100 days ago), not the lowest (4)
    resources = [episode(30), observation(TRYPTASE, 12, "ng/mL", when=ago(30)),
                 observation(TRYPTASE, 4, "ng/mL", when=ago(200)),
                 observation(TRYPTASE, 9, "ng/mL", when=ago(100))]
    assert evidence_card(*resources)  # 12 is not above 1.2 * 9 + 2 = 12.8
    nearer = [*resources[:2], observation(TRYPTASE, 4, "ng/mL", when=ago(60))]
    assert not evidence_card(*nearer, resources[3])  # 12 > 1.2 * 4 + 2


def test_a_tryptase_within_24_h_after_an_episode_is_never_a_baseline() -> None:
    # acute 12 at the onset; 4 ng/mL taken 20 h after the onset is not eligible; 9 is
    resources = [episode(30), observation(TRYPTASE, 12, "ng/mL", when=ago(30)),
                 observation(TRYPTASE, 4, "ng/mL", when=ago(29, hours=4)),
                 observation(TRYPTASE, 9, "ng/mL", when=ago(100))]
    assert evidence_card(*resources)


def test_a_single_tryptase_is_never_evidence_even_flagged() -> None:
    assert evidence_card(observation(TRYPTASE, 40, "ng/mL", when=ago(3), flag="HH"))
    assert evidence_card(episode(3), observation(TRYPTASE, 40, "ng/mL", when=ago(3)))


def test_tryptase_in_another_unit_is_not_used() -> None:
    resources = [episode(30), observation(TRYPTASE, 14.3, "mg/L", when=ago(30)),
                 observation(TRYPTASE, 6.1, "ng/mL", when=ago(300))]
    assert evidence_card(*resources)


def test_follow_up_codes_do_not_make_a_tryptase_acute() -> None:
    resources = [condition("T78.2XXD", onset=ago(30)),
                 observation(TRYPTASE, 14.3, "ng/mL", when=ago(30)),
                 observation(TRYPTASE, 6.1, "ng/mL", when=ago(300))]
    assert evidence_card(*resources)
