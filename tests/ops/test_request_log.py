"""JSON-line logs: one object per line carrying hookInstance, route, status, duration and
card topics; never a token, a patient's name or an identifier, even when things fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from tests.support.auth_helpers import BASE, DISCOVERY, ISSUER, Signer, auth_app, bearer, write_json
from tests.support.paths import load_recording
from tests.support.sandbox_replay import replay, sandbox_app

# What the recorded hook call carries that must never reach a log line.
SECRETS = (
    "Hartley",
    "Claire",
    "Elizabeth",
    "MRN-40021877",
    "mcas-1",
    "1987-06-19",
    "555-0143",
    "Linden",
    "COREPRACTITIONER1",
)


def log_lines(err: str) -> list[dict[str, Any]]:
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(obj, dict) for obj in parsed)
    return parsed


def assert_clean(err: str, token: str | None = None) -> None:
    for secret in SECRETS:
        assert secret not in err, secret
    if token is not None:
        for part in token.split("."):
            assert part not in err
        assert "Bearer" not in err


def test_hook_call_is_one_line_with_the_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = load_recording("hook-request.json")
    app = sandbox_app(tmp_path)
    response = replay(app, recording)
    assert response.status_code == 200
    err = capsys.readouterr().err
    requests = [line for line in log_lines(err) if line["message"] == "request answered"]
    assert len(requests) == 1
    line = requests[0]
    assert line["hookInstance"] == recording["body"]["hookInstance"]
    assert line["route"] == "/cds-services/<service_id>"
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float) and line["duration_ms"] >= 0
    cards = response.get_json()["cards"]
    assert line["topics"] == [card["source"]["topic"]["code"] for card in cards]
    assert line["iss"] == "https://sandbox.cds-hooks.org"
    assert {"ts", "level", "logger"} <= set(line)
    assert_clean(err, recording["headers"]["Authorization"].split()[1])


def test_refused_token_logs_the_reason_not_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer()
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    client = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}]).test_client()
    token = signer.token("/cds-services/elsewhere")
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 401
    err = capsys.readouterr().err
    lines = log_lines(err)
    assert any("InvalidAudience" in line.get("reason", "") for line in lines)
    request = next(line for line in lines if line["message"] == "request answered")
    assert request["status"] == 401 and request["route"] == "/cds-services"
    assert_clean(err, token)


def test_replayed_recording_leaves_no_token_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = sandbox_app(tmp_path)
    for name in ("discovery-request.json", "hook-request.json", "feedback-request.json"):
        recording = load_recording(name)
        replay(app, recording)
        replay(app, recording)  # the replay is refused and logged
    err = capsys.readouterr().err
    log_lines(err)
    for name in ("discovery-request.json", "hook-request.json", "feedback-request.json"):
        assert_clean(err, load_recording(name)["headers"]["Authorization"].split()[1])


def test_unexpected_error_shows_no_stack_trace_and_logs_no_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.web import hooks

    def broken(hook_request: Any, **kwargs: Any) -> Any:
        # An exception message quoting patient data, as a careless library might.
        patient = hook_request.prefetch["patient"]
        raise RuntimeError(f"boom reading {patient['name']} {patient['identifier']}")

    monkeypatch.setattr(hooks, "run_hook", broken)
    recording = load_recording("hook-request.json")
    response = replay(sandbox_app(tmp_path), recording)
    assert response.status_code == 500
    assert b"Traceback" not in response.data and b"Hartley" not in response.data
    err = capsys.readouterr().err
    error = next(line for line in log_lines(err) if line.get("exc_type") == "RuntimeError")
    assert "broken" in error["stack"]  # where it failed, for the operator
    assert_clean(err)


def test_failure_inside_authentication_is_a_bare_500(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.auth.verifier import TokenVerifier

    def broken(self: Any, token: str, audience: str, now: float) -> Any:
        raise RuntimeError(f"cannot handle {token}")

    monkeypatch.setattr(TokenVerifier, "_verify", broken)
    recording = load_recording("discovery-request.json")
    token = recording["headers"]["Authorization"].split()[1]
    response = replay(sandbox_app(tmp_path), recording)
    assert response.status_code == 500
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert b"Traceback" not in response.data and token.encode() not in response.data
    assert_clean(capsys.readouterr().err, token)


def test_log_level_setting(capsys: pytest.CaptureFixture[str]) -> None:
    client = create_app({"TESTING": True, "LOG_LEVEL": "WARNING"}).test_client()
    assert client.get("/cds-services").status_code == 200
    lines = log_lines(capsys.readouterr().err)
    assert not [line for line in lines if line["message"] == "request answered"]
    # The local-testing warning still shows at WARNING.
    assert any("verification is OFF" in line["message"] for line in lines)


def test_extra_fields_outside_the_allowlist_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    create_app({"TESTING": True})
    logging.getLogger("service.somewhere").warning(
        "careless call", extra={"patient": "Claire Hartley", "route": "/x"}
    )
    line = log_lines(capsys.readouterr().err)[-1]
    assert line["route"] == "/x" and "patient" not in line
