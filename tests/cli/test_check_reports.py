"""mcas-cds check: machine-readable reports for CI (--junit FILE, --json FILE)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import add_sandbox_fixture

Run = Callable[..., tuple[int, str, str]]


def _break_one_fixture(fixtures_dir: Path) -> None:
    path = fixtures_dir / "out-of-scope.json"
    data = json.loads(path.read_text())
    data["expectedTopics"] = ["tier-1"]
    path.write_text(json.dumps(data))


def test_check_junit_report_parses_as_junit_xml(
    run_cli: Run, fixtures_dir: Path, live_service: str, tmp_path: Path
) -> None:
    _break_one_fixture(fixtures_dir)
    add_sandbox_fixture(fixtures_dir)
    report = tmp_path / "reports" / "report.xml"
    code, out, _ = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir),
                           "--junit", str(report))
    assert code == 1
    root = ET.parse(report).getroot()  # well-formed XML, or this raises
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "mcas-cds check"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "discovery", "fixture out-of-scope", "fixture sandbox-patient", "feedback",
        "CORS preflight", "invalid tokens",
    ]
    for element in (root, suite):
        assert element.get("tests") == "6"
        assert element.get("failures") == "1"
        assert element.get("errors") == "0"
        assert element.get("skipped") == "1"
        assert float(element.get("time") or "x") >= 0
    by_name = {c.get("name"): c for c in cases}
    failure = by_name["fixture out-of-scope"].find("failure")
    assert failure is not None and failure.get("message") == "missing tier-1"
    skipped = by_name["invalid tokens"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "server runs without token verification"
    passed = by_name["fixture sandbox-patient"]
    assert passed.find("failure") is None and passed.find("skipped") is None
    assert passed.get("classname") == "mcas-cds.check.fixture"
    assert all(float(c.get("time") or "x") >= 0 for c in cases)
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["url"] == live_service
    assert properties["service"] == "mcas-therapy-tier"
    assert f"JUnit report: {report}" in out


def test_check_json_report(
    run_cli: Run, fixtures_dir: Path, live_service: str, tmp_path: Path
) -> None:
    _break_one_fixture(fixtures_dir)
    report = tmp_path / "report.json"
    code, _, _ = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir),
                         "--json", str(report))
    assert code == 1
    data = json.loads(report.read_text())
    assert data["url"] == live_service
    assert data["service"] == "mcas-therapy-tier"
    assert data["signedAs"] is None
    assert data["summary"] == {"passed": 3, "failed": 1, "notTested": 1, "total": 5}
    assert data["exitStatus"] == 1
    results = {r["name"]: r for r in data["results"]}
    assert results["fixture out-of-scope"]["status"] == "fail"
    assert results["fixture out-of-scope"]["detail"] == "missing tier-1"
    assert results["invalid tokens"]["status"] == "not tested"
    assert results["discovery"]["status"] == "pass"
    assert all(r["seconds"] >= 0 for r in data["results"])


def test_check_json_report_on_stdout(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    """`--json -`: stdout is exactly the report (for jq), the rest goes to stderr."""
    code, out, err = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir),
                             "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["summary"]["failed"] == 0
    assert "1 not tested" in err.strip().splitlines()[-1]
