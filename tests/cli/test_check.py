"""mcas-cds check: a conformance self-test of a running service."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cli import LOCAL_MODE, CannedServer, add_sandbox_fixture

ISSUER = "https://ehr.test.invalid"

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
    add_sandbox_fixture(fixtures_dir)
    code, out, err = run_cli(
        "check", "--verbose", live_service, "--fixtures-dir", str(fixtures_dir)
    )
    assert f"Checking {live_service} (mcas-therapy-tier, 2 fixtures, unsigned)" in out
    assert row(out, "discovery")[1] == "pass"
    assert row(out, "discovery")[2].startswith(
        "mcas-therapy-tier on patient-view; prefetch: patient, conditions"
    )
    assert row(out, "fixture out-of-scope")[1:] == ["pass", "no cards, as expected"]
    assert row(out, "fixture sandbox-patient")[1:] == ["pass", "tier-2, albuterol"]
    assert row(out, "feedback")[1:] == ["pass", "HTTP 200 for 'overridden' on a card it answered"]
    assert row(out, "CORS preflight")[1:] == [
        "pass", "http://127.0.0.1:8080 allowed on discovery, service, feedback"
    ]
    assert row(out, "invalid tokens")[1:] == [
        "not tested", "server runs without token verification"
    ]
    # A progress line per step on stderr (not a terminal here, so one line each).
    progress = [line for line in err.splitlines() if " checking " in line]
    assert progress == [
        "[1/6] checking discovery…",
        "[2/6] checking fixture out-of-scope…",
        "[3/6] checking fixture sandbox-patient…",
        "[4/6] checking feedback…",
        "[5/6] checking CORS preflight…",
        "[6/6] checking invalid tokens…",
    ]
    assert out.strip().splitlines()[-1] == "5 passed, 0 failed, 1 not tested"
    assert code == 0


def _verifying_service(serve_app: Callable[..., Any], run_cli: Run, tmp_path: Path) -> str:
    """The real app with JWT verification on, trusting a key made by `keys new`."""
    assert run_cli("keys", "new", str(tmp_path / "keys"), "--iss", ISSUER)[0] == 0
    served = serve_app(
        {
            "AUTH_DISABLED": False,
            "TRUST_FILE": str(tmp_path / "keys" / "trust.yaml"),
            "REPLAY_CACHE": "memory",
            "CORS_ORIGINS": "http://127.0.0.1:8080",
        }
    )
    served.app.config["PUBLIC_BASE_URL"] = served.url  # the port is known only now
    return served.url


def test_check_a_service_that_verifies_tokens(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    url = _verifying_service(serve_app, run_cli, tmp_path)
    add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli(
        "check", "--verbose", url, "--fixtures-dir", str(fixtures_dir),
        "--key", str(tmp_path / "keys" / "private-key.pem"), "--iss", ISSUER,
    )
    assert f"signed as {ISSUER}" in out
    assert row(out, "fixture sandbox-patient")[1:] == ["pass", "tier-2, albuterol"]
    assert row(out, "feedback")[1] == "pass"
    assert row(out, "invalid tokens")[1:] == [
        "pass", "401 for no Authorization header, malformed token, alg none, wrong aud"
    ]
    assert out.strip().splitlines()[-1] == "6 passed, 0 failed, 0 not tested"
    assert code == 0


def test_check_a_verifying_service_without_a_key(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    url = _verifying_service(serve_app, run_cli, tmp_path)
    code, out, _ = run_cli("check", "--verbose", url, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    assert row(out, "discovery")[1] == "FAIL"
    assert "HTTP 401 (the service wants a signed JWT: pass --key and --iss)" in row(
        out, "discovery"
    )[2]
    assert row(out, "fixture out-of-scope")[1:] == [
        "not tested", "the service requires a signed JWT: pass --key and --iss"
    ]
    assert row(out, "invalid tokens")[1] == "pass"


def test_fire_signed_at_a_verifying_service(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    url = _verifying_service(serve_app, run_cli, tmp_path)
    key = str(tmp_path / "keys" / "private-key.pem")
    code, out, _ = run_cli("fire", "out-of-scope", "--url", url, "--fixtures-dir",
                           str(fixtures_dir), "--key", key, "--iss", ISSUER)
    assert code == 0, out
    code, out, _ = run_cli("fire", "out-of-scope", "--url", url, "--fixtures-dir",
                           str(fixtures_dir), "--key", key, "--iss", "https://someone.else")
    assert code == 1
    assert "error: HTTP 401 (expected 200): The bearer token is missing or invalid." in out


def test_check_reports_a_fixture_whose_topics_differ(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    path = fixtures_dir / "out-of-scope.json"
    data = json.loads(path.read_text())
    data["expectedTopics"] = ["tier-1"]
    path.write_text(json.dumps(data))
    code, out, _ = run_cli("check", "--verbose", live_service, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    assert row(out, "fixture out-of-scope")[1:] == ["FAIL", "missing tier-1"]
    assert "failed" in out.strip().splitlines()[-1]


def test_check_a_service_that_is_down(
    run_cli: Run, fixtures_dir: Path, refused_port: int
) -> None:
    url = f"http://127.0.0.1:{refused_port}"
    code, out, _ = run_cli("check", "--verbose", url, "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    for name in ("discovery", "fixture out-of-scope", "feedback", "CORS preflight"):
        assert row(out, name)[1] == "FAIL", name
    assert "cannot connect" in row(out, "discovery")[2]
    assert out.strip().splitlines()[-1] == "0 passed, 5 failed, 0 not tested"


def test_check_a_broken_service(run_cli: Run, fixtures_dir: Path, canned: CannedServer) -> None:
    """Answers everything with the same body and 200: discovery wrong, cards broken, CORS
    absent, any token accepted."""
    canned.set(200, {"cards": [{"summary": "", "indicator": "info"}]})
    code, out, _ = run_cli("check", "--verbose", canned.url, "--fixtures-dir", str(fixtures_dir),
                           "--origin", "http://127.0.0.1:8080")
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
            "check", "--verbose", canned.url, "--fixtures-dir", str(fixtures_dir),
            "--key", str(ec_key_pem), "--iss", "urn:test-ehr",
        )
    finally:
        handler.do_GET = original  # type: ignore[method-assign]
    assert code == 1
    detail = row(out, "invalid tokens")[2]
    assert detail.startswith("not refused with 401:")
    assert "malformed token -> HTTP 200" in detail and "alg none -> HTTP 200" in detail
    assert "wrong aud -> HTTP 200" in detail


def test_check_every_fixture_through_the_fhir_fallback(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], fhir_server: str
) -> None:
    """The local-EHR recipe: fixture patients loaded into a FHIR server, the hook sent
    without prefetch, the service reading everything from that server."""
    add_sandbox_fixture(fixtures_dir)
    missing = fixtures_dir / "missing-conditions.json"
    data = json.loads((fixtures_dir / "out-of-scope.json").read_text())
    del data["request"]["prefetch"]["conditions"]
    data.update(expectedStatus=412, expectedTopics=[], unavailableKeys=["conditions"])
    data["request"].pop("fhirServer")
    missing.write_text(json.dumps(data))
    code, out, _ = run_cli("fixtures", "load", "--fhir", fhir_server, "--fixtures-dir",
                           str(fixtures_dir))
    assert code == 0, out
    url = serve_app({**LOCAL_MODE, "FHIR_ALLOWED_SERVERS": [fhir_server]}).url
    code, out, _ = run_cli("check", "--verbose", url, "--fixtures-dir", str(fixtures_dir),
                           "--no-prefetch", "--fhir-server", fhir_server)
    assert row(out, "fixture sandbox-patient")[1:] == ["pass", "tier-2, albuterol"]
    assert row(out, "fixture out-of-scope")[1] == "pass"
    assert row(out, "fixture missing-conditions")[1:] == [
        "not tested", "a missing-data scenario: not meaningful without prefetch"
    ]
    assert code == 0, out

    # The same server not on the service's allowlist: required data cannot be had.
    url = serve_app(LOCAL_MODE).url
    code, out, _ = run_cli("check", "--verbose", url, "--fixtures-dir", str(fixtures_dir),
                           "--no-prefetch", "--fhir-server", fhir_server)
    assert code == 1
    assert "HTTP 412 (expected 200)" in row(out, "fixture sandbox-patient")[2]


def test_check_every_order_fixture_at_a_verifying_service(
    run_cli: Run, fixtures_dir: Path, serve_app: Callable[..., Any], tmp_path: Path
) -> None:
    """Issue 15: the order-time fixtures (order-select, order-sign) fired over HTTP with JWT
    verification on; each goes to the service of its hook, and discovery lists both."""
    from service.scenarios.fixtures import FIXTURES_DIR, iter_fixtures

    order = [f for f in iter_fixtures(FIXTURES_DIR) if f.hook != "patient-view"]
    assert len(order) >= 10
    for fixture in order:
        (fixtures_dir / fixture.path.name).write_text(fixture.path.read_text())
    url = _verifying_service(serve_app, run_cli, tmp_path)
    key = str(tmp_path / "keys" / "private-key.pem")
    code, out, _ = run_cli("check", "--verbose", url, "--fixtures-dir", str(fixtures_dir),
                           "--key", key, "--iss", ISSUER)
    discovery = " ".join(row(out, "discovery")[1:])
    assert discovery.startswith("pass "), out
    assert "also mcas-order-safety-select, mcas-order-safety-sign" in discovery
    for fixture in order:
        assert " ".join(row(out, f"fixture {fixture.name}")[1:]).startswith("pass"), out
    assert " ".join(row(out, "fixture order-ranitidine--fires--ranitidine-draft")[1:]) == (
        "pass order-ranitidine")
    assert code == 0, out

    code, out, _ = run_cli("fire", "order-trigger-drug--fires--ibuprofen-at-order-sign",
                           "--url", url, "--fixtures-dir", str(fixtures_dir),
                           "--key", key, "--iss", ISSUER)
    assert code == 0, out
    assert f"POST {url}/cds-services/mcas-order-safety-sign" in out
    assert "ibuprofen 400 mg tablet: NSAIDs can trigger mast cell mediator release" in out
