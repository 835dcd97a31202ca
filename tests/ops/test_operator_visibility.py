"""What an operator needs to see in the logs and metrics (red-team findings, issue 17):
failures that were silent, or logged without what would fix them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.pipeline.prefetch import OPTIONAL_KEYS
from tests.support.paths import load_recording

HOOK = "/cds-services/mcas-therapy-tier"
RECORDED_AT = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)  # the Sandbox recording
# An allowed FHIR server that refuses connections: every fallback call fails at once.
DEAD_FHIR = "http://127.0.0.1:9/fhir"


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def hook_app(**config: Any) -> Flask:
    settings: dict[str, Any] = {"TESTING": True, "CLOCK": lambda: RECORDED_AT}
    settings.update(config)
    return create_app(settings)


def sandbox_body(fhir_server: str | None, without: tuple[str, ...]) -> dict[str, Any]:
    body = load_recording("hook-request.json")["body"]
    body["prefetch"] = {k: v for k, v in body["prefetch"].items() if k not in without}
    if fhir_server is None:
        body.pop("fhirServer", None)
        body.pop("fhirAuthorization", None)
    else:
        body["fhirServer"] = fhir_server
    return body


def test_fallback_key_unavailable_log_names_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    app = hook_app(FHIR_ALLOWED_SERVERS=[DEAD_FHIR])
    response = app.test_client().post(HOOK, json=sandbox_body(DEAD_FHIR, ("observations",)))
    assert response.status_code == 200
    lines = [
        line
        for line in log_lines(capsys.readouterr().err)
        if line["message"] == "FHIR fallback: key unavailable"
    ]
    # The optional keys of rules v2 (not in the recorded prefetch) are fetched too and fail
    # the same way; they are optional, so only the required one matters here.
    keys = [line.get("prefetch_key") for line in lines]
    assert [k for k in keys if k not in OPTIONAL_KEYS] == ["observations"]


def missing_count(key: str, cause: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"key": key, "cause": cause}
    return REGISTRY.get_sample_value("mcas_prefetch_missing_total", labels) or 0.0


@pytest.mark.parametrize(
    ("fhir_server", "cause", "named"),
    [
        (None, "no_fhir_server", "fhirServer"),
        ("http://127.0.0.1:8090/fhir", "fhir_server_not_allowed", "MCAS_FHIR_ALLOWED_SERVERS"),
    ],
)
def test_missing_data_without_an_allowed_fhir_server_is_logged_and_counted(
    capsys: pytest.CaptureFixture[str], fhir_server: str | None, cause: str, named: str
) -> None:
    before = missing_count("observations", cause)
    app = hook_app()  # no MCAS_FHIR_ALLOWED_SERVERS: no server may be queried
    response = app.test_client().post(HOOK, json=sandbox_body(fhir_server, ("observations",)))
    assert response.status_code == 200  # the Sandbox shows its cards ("All clear!" or not)
    assert missing_count("observations", cause) == before + 1
    lines = [
        line
        for line in log_lines(capsys.readouterr().err)
        if line.get("prefetch_key") == "observations" and line["level"] == "WARNING"
    ]
    assert len(lines) == 1
    assert named in lines[0]["reason"]


def test_required_data_missing_is_counted_too(capsys: pytest.CaptureFixture[str]) -> None:
    before = missing_count("conditions", "no_fhir_server")
    response = hook_app().test_client().post(HOOK, json=sandbox_body(None, ("conditions",)))
    assert response.status_code == 412
    assert missing_count("conditions", "no_fhir_server") == before + 1


# --- 401s that say what would fix them ---------------------------------------------------


def rejections(err: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(err) if line["message"] == "client token rejected"]


def auth_client(tmp_path: Any, signer: Any) -> Any:
    from tests.support.auth_helpers import ISSUER, auth_app, write_json

    jwks = write_json(tmp_path / "k.json", signer.jwks())
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}]).test_client()


def test_rejection_log_names_the_iss_that_arrived(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.auth_helpers import BASE, DISCOVERY, Signer, bearer

    signer = Signer()
    client = auth_client(tmp_path, signer)
    token = signer.token(iss="https://other-ehr.example.com")
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 401
    err = capsys.readouterr().err
    (line,) = rejections(err)
    assert line["token_iss"] == "https://other-ehr.example.com"
    assert line["expected_aud"] == BASE + DISCOVERY
    for part in token.split("."):
        assert part not in err


def test_rejection_log_names_the_aud_expected_and_the_aud_sent(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.auth_helpers import BASE, DISCOVERY, ISSUER, Signer, bearer

    signer = Signer()
    client = auth_client(tmp_path, signer)
    token = signer.token(base="http://cds.internal:8080")
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 401
    err = capsys.readouterr().err
    (line,) = rejections(err)
    assert line["token_iss"] == ISSUER
    assert line["expected_aud"] == BASE + DISCOVERY
    assert line["token_aud"] == "http://cds.internal:8080" + DISCOVERY
    assert "MCAS_PUBLIC_BASE_URL" in line["reason"]  # what to change if the EHR is right
    for part in token.split("."):
        assert part not in err


def test_the_request_log_line_of_a_401_carries_them_too(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.auth_helpers import BASE, DISCOVERY, Signer, bearer

    signer = Signer()
    client = auth_client(tmp_path, signer)
    token = signer.token(iss="https://other-ehr.example.com")
    client.get(DISCOVERY, base_url=BASE, headers=bearer(token))
    (line,) = [x for x in log_lines(capsys.readouterr().err) if x["message"] == "request answered"]
    assert line["status"] == 401
    assert line["token_iss"] == "https://other-ehr.example.com"
    assert line["expected_aud"] == BASE + DISCOVERY


# --- CORS refusals ---------------------------------------------------------------------

SANDBOX = "http://127.0.0.1:8080"


def cors_refusals(kind: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("mcas_cors_refusals_total", {"kind": kind}) or 0.0


def preflight(client: Any, origin: str) -> Any:
    return client.options(
        "/cds-services",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )


@pytest.mark.parametrize("configured", [SANDBOX, ""])
def test_cors_refusal_is_logged_and_counted(
    capsys: pytest.CaptureFixture[str], configured: str
) -> None:
    client = hook_app(CORS_ORIGINS=configured).test_client()
    before = cors_refusals("preflight")
    response = preflight(client, "http://evil.example")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert cors_refusals("preflight") == before + 1
    lines = log_lines(capsys.readouterr().err)
    (refusal,) = [line for line in lines if line["message"] == "CORS request refused"]
    assert "http://evil.example" in refusal["reason"] and "MCAS_CORS_ORIGINS" in refusal["reason"]
    (answered,) = [line for line in lines if line["message"] == "request answered"]
    assert answered["status"] == 403 and "MCAS_CORS_ORIGINS" in answered["reason"]


def test_an_allowed_preflight_is_still_a_204(capsys: pytest.CaptureFixture[str]) -> None:
    client = hook_app(CORS_ORIGINS=SANDBOX).test_client()
    before = cors_refusals("preflight")
    response = preflight(client, SANDBOX)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert cors_refusals("preflight") == before
    assert "CORS request refused" not in capsys.readouterr().err


def test_a_call_from_another_origin_is_counted(capsys: pytest.CaptureFixture[str]) -> None:
    client = hook_app(CORS_ORIGINS=SANDBOX).test_client()
    before = cors_refusals("request")
    response = client.get("/cds-services", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200  # answered; the browser withholds it from the page
    assert "Access-Control-Allow-Origin" not in response.headers
    assert cors_refusals("request") == before + 1
    assert "CORS request refused" in capsys.readouterr().err


# --- discovery with a trailing slash -----------------------------------------------------


def test_discovery_with_a_trailing_slash_answers_like_without() -> None:
    client = hook_app().test_client()
    plain = client.get("/cds-services")
    slashed = client.get("/cds-services/")
    assert slashed.status_code == 200
    assert slashed.get_json() == plain.get_json()


def test_discovery_with_a_trailing_slash_checks_the_token_for_that_url(tmp_path: Any) -> None:
    from tests.support.auth_helpers import BASE, Signer, bearer

    signer = Signer()
    client = auth_client(tmp_path, signer)
    token = signer.token("/cds-services/")
    assert client.get("/cds-services/", base_url=BASE, headers=bearer(token)).status_code == 200
    assert client.get("/cds-services/", base_url=BASE).status_code == 401
