"""mcas-cds explain (issue 16): offline, a fixture by name or a saved request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for

Run = Callable[..., tuple[int, str, str]]


def test_explain_a_fixture_by_name_prints_the_arithmetic(run_cli: Run) -> None:
    code, out, _ = run_cli("explain", "tier-2--fires--refractory-two-episodes")
    assert code == 0
    assert "Cards: tier-2" in out
    assert "refractory.trial: 100 d >= 28 -> yes (tier 1 since 2026-08-17)" in out


def test_explain_a_saved_request_as_json(run_cli: Run, tmp_path: Path) -> None:
    fixture = load_fixture(FIXTURES_DIR / "omalizumab-dose--fires--150-mg-every-4-weeks.json")
    saved = tmp_path / "request.json"
    saved.write_text(json.dumps(request_for(fixture, fixture.evaluated_at)), encoding="utf-8")
    code, out, _ = run_cli("explain", str(saved), "--json",
                       "--now", fixture.evaluated_at.isoformat().replace("+00:00", "Z"))
    assert code == 0
    answer = json.loads(out)
    assert [c["topic"] for c in answer["cards"]] == ["omalizumab-dose"]
    assert any(c["rule"] == "omalizumab.dose" and c["result"] for c in answer["comparisons"])


def test_an_unknown_fixture_is_a_usage_error(run_cli: Run) -> None:
    code, _, err = run_cli("explain", "tier-2--fires--no-such-thing")
    assert code == 2 and "no fixture file or fixture named" in err


def test_explain_an_order_fixture_prints_each_drafts_comparisons(run_cli: Run) -> None:
    code, out, _ = run_cli("explain", "order-ladder--fires--omalizumab-with-tier-1-incomplete")
    assert code == 0
    assert "Cards: order-ladder" in out
    assert "1. MedicationRequest/draft-omalizumab: omalizumab 300 mg" in out
    assert ("order.ladder.tier1_incomplete [MedicationRequest/draft-omalizumab]: "
            "1 first-line classes < 2 -> yes") in out
    assert "    MedicationRequest/draft-omalizumab: shown" in out
    assert "card history: not read" in out


def test_explain_an_order_request_file_as_json(run_cli: Run, tmp_path: Path) -> None:
    fixture = load_fixture(FIXTURES_DIR / "order-beta-blocker--does-not-fire--"
                           "metoprolol-without-anaphylaxis.json")
    saved = tmp_path / "order-sign.json"
    saved.write_text(json.dumps(request_for(fixture, fixture.evaluated_at)), encoding="utf-8")
    code, out, _ = run_cli("explain", str(saved), "--json",
                           "--now", fixture.evaluated_at.isoformat().replace("+00:00", "Z"))
    assert code == 0
    answer = json.loads(out)
    assert answer["hook"] == "order-sign" and answer["cards"] == []
    [history] = [c for c in answer["comparisons"]
                 if c["rule"] == "order.beta_blocker.anaphylaxis_history"]
    assert (history["value"], history["result"], history["draft"]) == (
        0, False, "MedicationRequest/draft-metoprolol")
