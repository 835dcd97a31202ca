"""``fixtures load --fhir URL``: puts the fixture patients into a FHIR server, so an EHR
simulator (the CDS Hooks Sandbox) or the service's FHIR fallback can read them.

Each fixture becomes one transaction Bundle of PUTs (idempotent: loading twice changes
nothing), with its dates moved to today like a fired fixture. Fixtures reuse short local
ids (``cond-1`` in many files), so every resource but the Patient gets its patient's id as
a prefix, and references between the fixture's resources follow. Resources that fail R4B
validation (the fixture's ``unreadable`` and ``nonconformant`` ones) are left out and
reported: a FHIR server would refuse the whole transaction for them. A resource whose only
fault is a missing ``subject`` is the patient's (docs/clinical-rules.md §6.8): it gets the patient's
reference and is loaded, so a search by patient finds it as the prefetch did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from service.cli.client import short_reason
from service.cli.fixture_checks import prefetch_resources, resource_problems
from service.scenarios.fixtures import Fixture, request_for

FHIR_JSON = "application/fhir+json"


@dataclass
class LoadResult:
    fixture: str
    patient_id: str
    loaded: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    # No connection at all (refused, unknown host, bad URL): the next fixture will not fare
    # better, so loading stops.
    unreachable: bool = False


def _resource_id(fixture: str, where: str) -> str:
    # Deterministic, so a second load overwrites rather than duplicates.
    digest = hashlib.sha256(f"{fixture}:{where}".encode()).hexdigest()[:16]
    return f"fx-{digest}"


def _scoped_id(patient_id: str, resource_id: str) -> str:
    """``{patient}-{id}``: unique across fixtures, within FHIR's 64-character id limit."""
    scoped = f"{patient_id}-{resource_id}"
    if len(scoped) <= 64:
        return scoped
    return "fx-" + hashlib.sha256(scoped.encode()).hexdigest()[:40]


def _rewrite_references(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in mapping:
                out[key] = mapping[value]
            else:
                out[key] = _rewrite_references(value, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite_references(item, mapping) for item in node]
    return node


# Resource types whose R4B model requires a patient ``subject``.
_SUBJECT_REQUIRED = frozenset({"Condition", "MedicationStatement", "MedicationRequest"})


def _with_subject(resource: Any, patient_id: str) -> Any:
    if (
        isinstance(resource, Mapping)
        and resource.get("resourceType") in _SUBJECT_REQUIRED
        and "subject" not in resource
    ):
        return {**resource, "subject": {"reference": f"Patient/{patient_id}"}}
    return resource


def fixture_resources(fixture: Fixture, now: datetime | None = None) -> tuple[
    str, list[dict[str, Any]], list[str]
]:
    """(patientId, resources to PUT, notes on what was left out)."""
    request = request_for(fixture, now or datetime.now(UTC))
    patient_id = str(request["context"]["patientId"])
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[str] = []
    for where, resource in prefetch_resources(request.get("prefetch") or {}):
        resource = _with_subject(resource, patient_id)
        problems = resource_problems(resource)
        if problems:
            skipped.append(f"{where}: {problems[0]}")
            continue
        if resource.get("resourceType") in ("OperationOutcome", "Bundle"):
            continue  # stands for a failed query, not for data
        resource = dict(resource)
        resource.setdefault("id", _resource_id(fixture.name, where))
        resources[(resource["resourceType"], resource["id"])] = resource
    if ("Patient", patient_id) not in resources:
        # The Sandbox opens a chart by reading Patient/{id}: the patient must exist.
        resources[("Patient", patient_id)] = {"resourceType": "Patient", "id": patient_id}
    mapping = {
        f"{kind}/{rid}": f"{kind}/{_scoped_id(patient_id, rid)}"
        for kind, rid in resources
        if kind != "Patient"
    }
    scoped = []
    for (kind, rid), resource in resources.items():
        resource = _rewrite_references(resource, mapping)
        if kind != "Patient":
            resource["id"] = _scoped_id(patient_id, rid)
        scoped.append(resource)
    return patient_id, scoped, skipped


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, Mapping) and body.get("resourceType") == "OperationOutcome":
        texts = [str(i.get("diagnostics") or i.get("code")) for i in body.get("issue") or []]
        return f"HTTP {response.status_code}: " + "; ".join(texts)[:400]
    return f"HTTP {response.status_code}"


def load_fixture_into(
    session: requests.Session,
    base_url: str,
    fixture: Fixture,
    *,
    now: datetime | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    patient_id, resources, skipped = fixture_resources(fixture, now)
    result = LoadResult(fixture=fixture.name, patient_id=patient_id, skipped=skipped)
    try:
        response = session.post(
            base_url.rstrip("/"),
            data=json.dumps(transaction(resources)),
            headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
            timeout=timeout,
        )
    except requests.ReadTimeout:
        result.error = f"no answer from {base_url} within {timeout:g} s"
        return result
    except requests.RequestException as exc:
        reason = exc.args[0] if exc.args else exc
        result.error = f"cannot reach the FHIR server at {base_url} ({short_reason(reason)})"
        result.unreachable = True
        return result
    if response.status_code != 200:
        result.error = _error_text(response)
        return result
    result.loaded = len(resources)
    return result


def shared_patients(fixtures: list[Fixture]) -> dict[str, list[str]]:
    """Patient ids used by more than one fixture: their records mix in a FHIR server."""
    users: dict[str, list[str]] = {}
    for fixture in fixtures:
        context = fixture.request.get("context") or {}
        users.setdefault(str(context.get("patientId")), []).append(fixture.name)
    return {pid: names for pid, names in users.items() if len(names) > 1}
