"""mcas-cds check: what it prints. Concise by default (a progress line on stderr, failures
in full, what was not tested, a summary), everything with --verbose, only failures with
--failures-only."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import add_sandbox_fixture

Run = Callable[..., tuple[int, str, str]]


def _break_one_fixture(fixtures_dir: Path) -> None:
    path = fixtures_dir / "out-of-scope.json"
    data = json.loads(path.read_text())
    data["expectedTopics"] = ["tier-1"]
    path.write_text(json.dumps(data))


def _many_fixtures(fixtures_dir: Path, count: int) -> None:
    """Copies of the scaffolded patient: a library as long as a real one."""
    text = (fixtures_dir / "out-of-scope.json").read_text()
    for number in range(count):
        (fixtures_dir / f"copy-{number:03d}.json").write_text(text)


def test_check_output_is_concise_when_all_pass(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    """The finding: 284 lines even when all pass. Now: the header, what was not tested
    (one line here) and the summary; the progress goes to stderr, a few lines off a
    terminal whatever the number of fixtures."""
    _many_fixtures(fixtures_dir, 60)
    add_sandbox_fixture(fixtures_dir)
    code, out, err = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir))
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) <= 5, out
    assert lines[0].startswith(f"Checking {live_service} (mcas-therapy-tier, 62 fixtures")
    assert "fixture copy-001" not in out  # passing checks are not listed
    assert lines[-1] == "65 passed, 0 failed, 1 not tested"
    assert any(
        "invalid tokens" in line and "server runs without token verification" in line
        for line in lines
    ), out
    progress = [line for line in err.splitlines() if "checking " in line]
    assert 2 <= len(progress) <= 12, err
    assert progress[-1].startswith("[66/66] ")


def test_check_output_shows_failures_in_full(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    _break_one_fixture(fixtures_dir)
    code, out, _ = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    failure = [line for line in out.splitlines() if "fixture out-of-scope" in line]
    assert failure and "FAIL" in failure[0], out
    assert "missing tier-1" in out
    assert "discovery" not in out.replace("checking discovery", "")  # passed: not listed
    assert out.strip().splitlines()[-1] == "3 passed, 1 failed, 1 not tested"


def test_check_failures_only_prints_failures_and_the_summary(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    _break_one_fixture(fixtures_dir)
    code, out, _ = run_cli(
        "check", live_service, "--fixtures-dir", str(fixtures_dir), "--failures-only"
    )
    assert code == 1
    assert "missing tier-1" in out
    assert "invalid tokens" not in out  # not tested, but not a failure
    assert out.strip().splitlines()[-1] == "3 passed, 1 failed, 1 not tested"

    # All passing: the summary alone.
    (fixtures_dir / "out-of-scope.json").unlink()
    add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli(
        "check", live_service, "--fixtures-dir", str(fixtures_dir), "--failures-only"
    )
    assert code == 0
    assert out.strip().splitlines() == ["4 passed, 0 failed, 1 not tested"]


def test_check_verbose_prints_every_check(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    code, out, _ = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir),
                           "--verbose")
    assert code == 0
    for name in ("discovery", "fixture out-of-scope", "feedback", "CORS preflight",
                 "invalid tokens"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
