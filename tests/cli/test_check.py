"""mcas-cds check: a conformance self-test of a running service."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import CannedServer, free_port

Run = Callable[..., tuple[int, str, str]]


def row(out: str, name: str) -> list[str]:
    """The table row of a check, split into its columns."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
    cells = [cell.strip() for cell in lines[start].split("  ") if cell.strip()]
    for more in lines[start + 1 :]:
        if not more.startswith(" ") or not more.strip():
            break
        cells[-1] += " " + more.strip()  # the wrapped detail column
    return cells


def test_check_a_running_service(run_cli: Run, fixtures_dir: Path, live_service: str) -> None:
    code, out, err = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir))
    assert f"Checking {live_service} (mcas-therapy-tier, 1 fixtures, unsigned)" in out
    assert row(out, "discovery")[1] == "pass"
    assert "mcas-therapy-tier on patient-view; prefetch: patient, conditions" in out
    assert row(out, "fixture out-of-scope")[1:] == ["pass", "no cards, as expected"]
    assert row(out, "invalid tokens")[1:] == [
        "not tested", "server runs without token verification"
    ]
    # A progress line per step on stderr (not a terminal here, so one line each).
    progress = [line for line in err.splitlines() if " checking " in line]
    assert progress == [
        "[1/5] checking discovery…",
        "[2/5] checking fixture out-of-scope…",
        "[3/5] checking feedback…",
        "[4/5] checking CORS preflight…",
        "[5/5] checking invalid tokens…",
    ]
    summary = out.strip().splitlines()[-1]
    failed = int(summary.split(", ")[1].split()[0])
    assert code == (1 if failed else 0)


def test_check_reports_a_fixture_whose_topics_differ(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    path = fixtures_dir / "out-of-scope.json"
    data = json.loads(path.read_text())
    data["expectedTopics"] = ["tier-1"]
    path.write_text(json.dumps(data))
    code, out, _ = run_cli("check", live_service, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    assert row(out, "fixture out-of-scope")[1:] == ["FAIL", "missing tier-1"]
    assert "failed" in out.strip().splitlines()[-1]


def test_check_a_service_that_is_down(run_cli: Run, fixtures_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, _ = run_cli("check", url, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    for name in ("discovery", "fixture out-of-scope", "feedback", "CORS preflight"):
        assert row(out, name)[1] == "FAIL", name
    assert "cannot connect" in row(out, "discovery")[2]
    assert out.strip().splitlines()[-1] == "0 passed, 5 failed, 0 not tested"


def test_check_a_broken_service(run_cli: Run, fixtures_dir: Path, canned: CannedServer) -> None:
    """Answers everything with the same body and 200: discovery wrong, cards broken, CORS
    absent, any token accepted."""
    canned.set(200, {"cards": [{"summary": "", "indicator": "info"}]})
    code, out, _ = run_cli("check", canned.url, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    assert "'services' is a required property" in row(out, "discovery")[2]
    assert "no service with id 'mcas-therapy-tier'" in row(out, "discovery")[2]
    detail = row(out, "fixture out-of-scope")[2]
    assert detail.startswith("schema: ") and "'source' is a required property" in detail
    assert row(out, "feedback")[1] == "pass"
    assert "origin http://127.0.0.1:8080 not allowed" in row(out, "CORS preflight")[2]
    assert row(out, "invalid tokens")[1] == "not tested"


def test_check_fails_a_service_that_refuses_only_missing_tokens(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer, ec_key_pem: Path
) -> None:
    """A verifier that checks only that a token is there: every bad token must be a 401."""
    canned.set(401, {"resourceType": "OperationOutcome", "issue": []})

    # The canned server cannot look at the token, so answer 401 only without a header by
    # swapping its reply per request.
    handler = canned.httpd.RequestHandlerClass
    original = handler._answer

    def answer(self: object) -> None:
        has_token = "Authorization" in self.headers  # type: ignore[attr-defined]
        canned.set(200 if has_token else 401, {"services": []} if has_token else {})
        original(self)  # type: ignore[arg-type]

    handler.do_GET = answer  # type: ignore[method-assign]
    try:
        code, out, _ = run_cli(
            "check", canned.url, "--fixtures-dir", str(fixtures_dir),
            "--key", str(ec_key_pem), "--iss", "urn:test-ehr",
        )
    finally:
        handler.do_GET = original  # type: ignore[method-assign]
    assert code == 1
    detail = row(out, "invalid tokens")[2]
    assert detail.startswith("not refused with 401:")
    assert "malformed token -> HTTP 200" in detail and "alg none -> HTTP 200" in detail
    assert "wrong aud -> HTTP 200" in detail
