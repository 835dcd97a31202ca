"""mcas-cds check --no-prefetch: every fixture through the service's FHIR fallback.

A fixture at an exact time boundary ("an episode exactly 180 days ago") cannot hold
through a FHIR server: its dates were fixed when it was loaded, and the service evaluates
later. Such a fixture is not tested (with the reason), not failed; a fixture that fails
for another reason still fails.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.scenarios.fixtures import FIXTURES_DIR
from tests.support.cli import LOCAL_MODE

Run = Callable[..., tuple[int, str, str]]

BOUNDARY = [
    "tier-2--fires--episode-exactly-180-days-ago",
    "steroid-long-term--does-not-fire--exactly-14-days",
]
NOT_AT_A_BOUNDARY = "tier-2--fires--refractory-two-episodes"


def test_check_no_prefetch_reports_exact_boundary_fixtures_as_not_tested(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], fhir_server: str,
    tmp_path: Path,
) -> None:
    for name in [*BOUNDARY, NOT_AT_A_BOUNDARY]:
        shutil.copy(FIXTURES_DIR / f"{name}.json", fixtures_dir)
    code, out, _ = run_cli("fixtures", "load", "--fhir", fhir_server, "--fixtures-dir",
                           str(fixtures_dir))
    assert code == 0, out
    url = serve_app({**LOCAL_MODE, "FHIR_ALLOWED_SERVERS": [fhir_server]}).url
    report = tmp_path / "report.json"
    code, out, _ = run_cli("check", url, "--fixtures-dir", str(fixtures_dir), "--no-prefetch",
                           "--fhir-server", fhir_server, "--json", str(report))
    results = {r["name"]: r for r in json.loads(report.read_text())["results"]}
    for name in BOUNDARY:
        result = results[f"fixture {name}"]
        assert result["status"] == "not tested", result
        assert result["detail"].startswith("at an exact time boundary, which cannot hold "
                                           "through a FHIR server"), result
    assert results[f"fixture {NOT_AT_A_BOUNDARY}"]["status"] == "pass"
    assert code == 0, out


def test_check_no_prefetch_still_fails_a_boundary_fixture_that_fails_with_prefetch(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], fhir_server: str,
    tmp_path: Path,
) -> None:
    """Not tested only when the prefetch shows the boundary: a wrong expectation fails."""
    name = BOUNDARY[0]
    data = json.loads((FIXTURES_DIR / f"{name}.json").read_text())
    data["expectedTopics"] = ["tier-3"]
    data["request"]["context"]["patientId"] = "mcas-test-wrong-boundary"
    data["request"]["prefetch"]["patient"]["id"] = "mcas-test-wrong-boundary"
    text = json.dumps(data).replace(
        '"Patient/mcas-test-93af383136"', '"Patient/mcas-test-wrong-boundary"'
    )
    (fixtures_dir / "wrong-expectation.json").write_text(text)
    assert run_cli("fixtures", "load", "--fhir", fhir_server, "--fixtures-dir",
                   str(fixtures_dir))[0] == 0
    url = serve_app({**LOCAL_MODE, "FHIR_ALLOWED_SERVERS": [fhir_server]}).url
    report = tmp_path / "report.json"
    code, _, _ = run_cli("check", url, "--fixtures-dir", str(fixtures_dir), "--no-prefetch",
                         "--fhir-server", fhir_server, "--json", str(report))
    results = {r["name"]: r for r in json.loads(report.read_text())["results"]}
    assert results["fixture wrong-expectation"]["status"] == "fail"
    assert code == 1
