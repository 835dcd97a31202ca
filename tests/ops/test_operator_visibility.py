"""What an operator needs to see in the logs and metrics (red-team findings, issue 17):
failures that were silent, or logged without what would fix them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from service import create_app
from tests.conftest import load_recording

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
    assert [line.get("prefetch_key") for line in lines] == ["observations"]


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
