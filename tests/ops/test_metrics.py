"""/metrics in one process: route histograms, cards per topic, the recording API."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service import create_app
from service.ops import metrics


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: FlaskClient, **headers: str) -> dict[str, Any]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return {
        family.name: family
        for family in text_string_to_metric_families(response.get_data(as_text=True))
    }


def test_latency_is_recorded_per_url_rule_not_per_path(
    client: FlaskClient, sandbox_hook: dict[str, Any]
) -> None:
    labels = {"route": "/cds-services/<service_id>", "method": "POST", "status": "200"}
    before = sample("mcas_http_request_duration_seconds_count", **labels)
    response = client.post("/cds-services/mcas-therapy-tier", json=sandbox_hook["body"])
    assert response.status_code == 200
    assert sample("mcas_http_request_duration_seconds_count", **labels) == before + 1

    families = scrape(client)
    routes = {
        s.labels["route"] for s in families["mcas_http_request_duration_seconds"].samples
    }
    assert "/cds-services/<service_id>" in routes
    assert not any("mcas-therapy-tier" in route for route in routes)
    patient_id = sandbox_hook["body"]["context"]["patientId"]
    assert patient_id not in client.get("/metrics").get_data(as_text=True)


def test_unknown_paths_share_one_label(client: FlaskClient) -> None:
    before = sample(
        "mcas_http_request_duration_seconds_count", route="unmatched", method="GET", status="404"
    )
    client.get("/Patient/123")
    client.get("/Patient/456")
    after = sample(
        "mcas_http_request_duration_seconds_count", route="unmatched", method="GET", status="404"
    )
    assert after == before + 2


def test_cards_are_counted_per_topic(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, sandbox_hook: dict[str, Any]
) -> None:
    from service.pipeline.hook import HookResult
    from service.web import hooks

    cards = [
        {"source": {"label": "x", "topic": {"code": "mcas-tier-2-suggestion"}}},
        {"source": {"label": "x", "topic": {"code": "mcas-tier-2-suggestion"}}},
        {"source": {"label": "x", "topic": {"code": "mcas-data-missing"}}},
    ]
    monkeypatch.setattr(hooks, "run_hook", lambda *a, **k: HookResult(cards=cards))
    pv = {"service": "mcas-therapy-tier", "test": "false"}
    two = {"topic": "mcas-tier-2-suggestion", **pv}
    missing = {"topic": "mcas-data-missing", **pv}
    before_two = sample("mcas_cards_issued_total", **two)
    before_missing = sample("mcas_cards_issued_total", **missing)
    response = client.post("/cds-services/mcas-therapy-tier", json=sandbox_hook["body"])
    assert response.status_code == 200
    # The Sandbox's patient (mcas-1) is no test patient.
    assert sample("mcas_cards_issued_total", **two) == before_two + 2
    assert sample("mcas_cards_issued_total", **missing) == before_missing + 1


def test_cards_and_latency_are_counted_per_service(
    client: FlaskClient, sandbox_hook: dict[str, Any]
) -> None:
    """Issue 15: the order-time services have their own cards and hook latency series."""
    from tests.support.orders import SIGN_URL, order_request

    sign = {"service": "mcas-order-safety-sign"}
    pv = {"service": "mcas-therapy-tier"}
    # order fixtures are test patients (mcas-test-...)
    sign_cards = {"topic": "order-trigger-drug", "test": "true", **sign}
    cards = sample("mcas_cards_issued_total", **sign_cards)
    order_calls = sample("mcas_hook_duration_seconds_count", **sign)
    pv_calls = sample("mcas_hook_duration_seconds_count", **pv)
    request = order_request("order-trigger-drug--fires--ibuprofen-at-order-sign")
    assert client.post(SIGN_URL, json=request).status_code == 200
    assert client.post("/cds-services/mcas-therapy-tier", json=sandbox_hook["body"]
                       ).status_code == 200
    assert sample("mcas_cards_issued_total", **sign_cards) == cards + 1
    assert sample("mcas_hook_duration_seconds_count", **sign) == order_calls + 1
    assert sample("mcas_hook_duration_seconds_count", **pv) == pv_calls + 1
    assert "mcas_hook_duration_seconds" in scrape(client)


def test_folded_cards_are_counted_per_topic(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, sandbox_hook: dict[str, Any]
) -> None:
    """The fold (docs/clinical-rules.md §4): the sandbox patient's mediator-evidence card
    goes into the tier-2 card when its observations are real absence."""
    body = {**sandbox_hook["body"],
            "prefetch": {**sandbox_hook["body"]["prefetch"], "observations": None}}
    before = sample("mcas_cards_folded_total", topic="mediator-evidence")
    response = client.post("/cds-services/mcas-therapy-tier", json=body)
    assert response.status_code == 200
    assert "mediator-evidence" not in [
        c["source"]["topic"]["code"] for c in response.get_json()["cards"]]
    assert sample("mcas_cards_folded_total", topic="mediator-evidence") == before + 1


def test_recording_api_counts_fallbacks_rejections_and_storage_failures() -> None:
    calls = sample("mcas_fhir_fallback_calls_total", key="observations")
    failures = sample("mcas_fhir_fallback_failures_total", key="observations")
    metrics.record_fallback("observations", ok=True)
    metrics.record_fallback("observations", ok=False)
    assert sample("mcas_fhir_fallback_calls_total", key="observations") == calls + 2
    assert sample("mcas_fhir_fallback_failures_total", key="observations") == failures + 1

    expired = sample("mcas_token_rejections_total", reason="expired")
    metrics.record_token_rejection("expired")
    assert sample("mcas_token_rejections_total", reason="expired") == expired + 1

    stored = sample("mcas_storage_failures_total", operation="record_cards")
    metrics.record_storage_failure("record_cards")
    assert sample("mcas_storage_failures_total", operation="record_cards") == stored + 1


def test_label_values_are_bounded() -> None:
    metrics.record_token_rejection("bad\nreason {with} \"quotes\"" + "x" * 200)
    values = {
        s.labels["reason"]
        for family in REGISTRY.collect()
        if family.name == "mcas_token_rejections"
        for s in family.samples
    }
    assert all(len(v) <= 64 and "\n" not in v and '"' not in v for v in values)


def test_metrics_token_guards_the_scrape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_METRICS_TOKEN", "scrape-secret")
    client = create_app({"TESTING": True}).test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.is_json
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "mcas_cards_issued" in scrape(client, Authorization="Bearer scrape-secret")


def test_metrics_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_METRICS_ENABLED", "false")
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/healthz").status_code == 200
