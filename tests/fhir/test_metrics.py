"""FHIR fallback calls and failures are counted per prefetch key."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.support.fhir_resolve import bundle, resolve
from tests.support.loopback import LoopbackServer, Reply

KEYS = ("patient", "conditions", "observations", "medicationStatements", "medicationRequests")


def counts(name: str) -> dict[str, float]:
    return {key: REGISTRY.get_sample_value(name, {"key": key}) or 0.0 for key in KEYS}


def test_successful_fallback_calls_are_counted_without_failures() -> None:
    calls, failures = counts("mcas_fhir_fallback_calls_total"), counts(
        "mcas_fhir_fallback_failures_total"
    )
    with LoopbackServer(lambda _: Reply(body=bundle())) as server:
        resolved = resolve(server.base_url, prefetch={"patient": {"resourceType": "Patient"}})
    assert resolved.unavailable == {}
    fetched = set(KEYS) - {"patient"}  # the prefetched key is never queried
    after_calls = counts("mcas_fhir_fallback_calls_total")
    assert {k: after_calls[k] - calls[k] for k in KEYS} == {
        k: 1.0 if k in fetched else 0.0 for k in KEYS
    }
    assert counts("mcas_fhir_fallback_failures_total") == failures


def test_a_server_that_is_down_counts_a_failure_per_key(refused_port: int) -> None:
    calls, failures = counts("mcas_fhir_fallback_calls_total"), counts(
        "mcas_fhir_fallback_failures_total"
    )
    resolved = resolve(f"http://127.0.0.1:{refused_port}/fhir")
    assert set(resolved.unavailable) == set(KEYS)
    after_calls = counts("mcas_fhir_fallback_calls_total")
    after_failures = counts("mcas_fhir_fallback_failures_total")
    assert all(after_calls[k] == calls[k] + 1 for k in KEYS)
    assert all(after_failures[k] == failures[k] + 1 for k in KEYS)
