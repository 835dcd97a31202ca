"""The outcomes report's benchmark (issue 16) in a smoke run: it seeds, times and prints
well-formed results. Its speed is measured by the benchmark itself, never asserted."""

from __future__ import annotations

import json

import pytest

from bench.outcomes_report import main

pytestmark = pytest.mark.slow


def test_a_small_run_reports_every_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cards", "600", "--patients", "50", "--repeat", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["database"] == "sqlite" and result["cards"] == 600
    assert 0 < result["feedback"] < 600
    assert [(r["days"], r["topic"]) for r in result["runs"]] == [
        (30, None), (30, "tier-2"), (365, None), (365, "tier-2")]
    year = result["runs"][2]
    # every card of the year but the snoozed ones (5 %), which are not shown
    assert 500 < year["cards_in_period"] < 600 and year["median_s"] > 0
    assert result["first_report"]["cards_in_period"] > 0
    assert [(r["days"], r["topic"], r["exact_patients"])
            for r in result["exact_patients_runs"]] == [(30, None, True), (30, "tier-2", True)]
