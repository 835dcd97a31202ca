"""Prefetch resolution straight through the FHIR fallback, for the tests that point it at
a loopback server (tests/support/loopback.py): no Flask request, no hook around it.
"""

from __future__ import annotations

from typing import Any

from service.fhir import fetcher_for
from service.pipeline.prefetch import ResolvedPrefetch, prefetch_templates, resolve_prefetch
from tests.support.fhir_fallback import make_app

TOKEN = "loopback-token"


def bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    searchset: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        searchset["link"] = [{"relation": "next", "url": next_url}]
    return searchset


def fallback_templates() -> dict[str, str]:
    return dict(prefetch_templates(make_app([]).extensions["mcas"].knowledge))


def resolve(
    base_url: str,
    *,
    allowed: list[str] | None = None,
    prefetch: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **config: Any,
) -> ResolvedPrefetch:
    settings = {"FHIR_ALLOWED_SERVERS": [base_url] if allowed is None else allowed, **config}
    fetcher = fetcher_for(base_url, TOKEN, context or {"patientId": "p-1"}, settings)
    return resolve_prefetch(prefetch or {}, fallback_templates(), fetcher)
