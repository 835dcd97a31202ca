"""Every fixture scenario gives the same answer from its prefetch or from the FHIR server.

The fixture's resources (dates shifted to now) are loaded into the real FHIR server, and
the hook is fired once with the fixture's prefetch and once with no prefetch at all and
``fhirServer`` pointing at that server. Keys the fixture leaves unavailable (absent, an
OperationOutcome) stay unavailable on the server too: the SMART token lacks the scope to
read their resource type, so the server answers 403. Card topics (or the 412 and the keys
it names) must be the same.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from service.pipeline.prefetch import prefetch_templates, resolve_prefetch
from service.scenarios.fixtures import Fixture, iter_fixtures, request_for
from tests.support.fhir_fallback import make_app
from tests.support.sekmet_server import SekmetServer

FIXTURES = list(iter_fixtures())
NOW = datetime.now(UTC).replace(microsecond=0)  # one instant for the module: fixtures shift to it


@pytest.fixture(scope="module")
def app(fhir_server: SekmetServer) -> Flask:
    return make_app([fhir_server.base_url], CLOCK=lambda: NOW)


def _resource_type(template: str) -> str:
    return re.split(r"[/?]", template, maxsplit=1)[0]


def _prefetch_resources(prefetch: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            found.extend(
                e["resource"]
                for e in value.get("entry") or ()
                if isinstance(e.get("resource"), dict)
            )
        else:
            found.append(value)
    return [r for r in found if r.get("resourceType") != "OperationOutcome"]


def _with_subject(resources: list[dict[str, Any]], patient_id: str) -> list[dict[str, Any]]:
    """A search by patient finds only resources that name it; the prefetch's resources
    without ``subject`` are the context patient's (docs/clinical-rules.md §6.8), so they
    get it here."""
    return [
        r if "subject" in r or r.get("resourceType") in ("Patient", "Medication")
        else {**r, "subject": {"reference": f"Patient/{patient_id}"}}
        for r in resources
    ]


def _answer(response: Any) -> tuple[int, list[str]]:
    body = response.get_json()
    if response.status_code == 200:
        return 200, sorted(card["source"]["topic"]["code"] for card in body["cards"])
    keys = re.findall(r"Required data '(\w+)'", " ".join(i["diagnostics"] for i in body["issue"]))
    return response.status_code, sorted(keys)


def test_there_are_fixtures_to_compare() -> None:
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_same_cards_from_the_prefetch_or_from_the_fhir_server(
    fixture: Fixture, fhir_server: SekmetServer, app: Flask
) -> None:
    request = request_for(fixture, NOW)
    url = f"/cds-services/{fixture.service_id}"  # order fixtures: the order-time service
    prefetch = request.get("prefetch") or {}
    templates = prefetch_templates(app.extensions["mcas"].knowledge)

    # From the prefetch alone: no fhirServer, so nothing can be fetched.
    prefetch_only = copy.deepcopy(request)
    prefetch_only.pop("fhirServer", None)
    prefetch_only.pop("fhirAuthorization", None)
    expected = _answer(app.test_client().post(url, json=prefetch_only))
    assert expected[0] == fixture.expected_status

    # From the FHIR server alone, holding the same resources.
    patient_id = request["context"]["patientId"]
    refused = fhir_server.load(
        _with_subject(_prefetch_resources(prefetch), patient_id), tolerate=fixture.invalid
    )
    assert refused <= fixture.invalid
    unavailable = set(resolve_prefetch(prefetch, templates, None).unavailable)
    readable = {_resource_type(t) for key, t in templates.items() if key not in unavailable}
    from_server = copy.deepcopy(request)
    from_server.pop("prefetch", None)
    from_server["fhirServer"] = fhir_server.base_url
    from_server["fhirAuthorization"] = {
        "access_token": fhir_server.scoped_token(readable | {"Medication"}),
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": " ".join(f"user/{t}.read" for t in sorted(readable)),
        "subject": "mcas-cds",
    }
    actual = _answer(app.test_client().post(url, json=from_server))

    assert actual == expected
