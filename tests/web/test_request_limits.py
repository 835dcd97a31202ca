"""Request size limit (MAX_CONTENT_LENGTH): big real prefetches pass, absurd bodies get 413."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient

from service import create_app, settings
from tests.support.paths import load_recording

URL = "/cds-services/mcas-therapy-tier"


def body_with_observations(count: int) -> bytes:
    body = load_recording("hook-request.json")["body"]
    recorded = body["prefetch"]["observations"]["entry"]
    entries: list[dict[str, Any]] = []
    start = date(2020, 1, 1)
    for n in range(count):
        entry = copy.deepcopy(recorded[n % len(recorded)])
        resource = entry["resource"]
        resource["id"] = f"obs-{n}"
        resource["effectiveDateTime"] = (start + timedelta(hours=7 * n)).isoformat()
        entry["fullUrl"] = f"http://127.0.0.1:8090/fhir/Observation/obs-{n}"
        entries.append(entry)
    body["prefetch"]["observations"]["entry"] = entries
    body["prefetch"]["observations"]["total"] = count
    return json.dumps(body, separators=(",", ":")).encode()


def test_prefetch_with_5000_observations_passes_the_default_limit(client: FlaskClient) -> None:
    data = body_with_observations(5000)
    default_limit = settings.defaults(settings.all_settings())["MAX_CONTENT_LENGTH"]
    assert 1_000_000 < len(data) < default_limit  # a real test of the default, not a toy
    response = client.post(URL, data=data, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "cards" in response.get_json()


def test_body_over_the_limit_is_413_operation_outcome() -> None:
    client = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 4096}).test_client()
    response = client.post(URL, data=body_with_observations(50), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert b"Traceback" not in response.data


def test_a_long_body_over_a_small_limit_is_413() -> None:
    client = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 70_000}).test_client()
    data = body_with_observations(400)
    assert len(data) > 70_000
    response = client.post(URL, data=data, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"
