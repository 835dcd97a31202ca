"""``fixtures new``: a fixture file that already validates, ready to be filled in.

The skeleton is a patient without an MCAS diagnosis: out of scope, so no cards are
expected. Adding a D89.4x Condition and the medications turns it into a real scenario.
``--from FIXTURE`` starts from an existing scenario instead: a copy with a fresh
``hookInstance`` and its patient renamed everywhere. Either way the patient's id starts
with the test-patient prefix (``mcas-test-``, or ``MCAS_TEST_PATIENT_PREFIX``).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.scenarios.fixtures import Fixture, scenario_patient_prefix

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def skeleton(name: str, patient_id: str, now: datetime) -> dict[str, Any]:
    evaluated_at = now.astimezone(UTC).replace(microsecond=0)
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": "unknown",
        "birthDate": "1980-01-01",
    }
    return {
        "description": (
            f"{name}: describe the clinical situation and why the expected topics follow "
            "(docs/clinical-rules.md §...). As scaffolded: no MCAS diagnosis, so out of scope, "
            "no cards."
        ),
        "evaluatedAt": evaluated_at.isoformat().replace("+00:00", "Z"),
        "expectedTopics": [],
        "request": {
            "hookInstance": str(uuid.uuid4()),
            "hook": "patient-view",
            # Every key is in the prefetch, so the FHIR server is named but never needed.
            "fhirServer": "https://fhir.example.org/r4",
            "context": {"patientId": patient_id, "userId": "Practitioner/example"},
            "prefetch": {
                "patient": patient,
                "conditions": _searchset([]),
                "observations": _searchset([]),
                "medicationStatements": _searchset([]),
                "medicationRequests": _searchset([]),
            },
        },
    }


def default_patient_id(name: str) -> str:
    """The test-patient prefix and the fixture name, as a FHIR id ([A-Za-z0-9-.], <= 64)."""
    return (scenario_patient_prefix() + re.sub(r"[^A-Za-z0-9.-]", "-", name))[:64]


def _renamed(node: Any, pattern: re.Pattern[str], new_id: str) -> Any:
    if isinstance(node, dict):
        return {key: _renamed(value, pattern, new_id) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(item, pattern, new_id) for item in node]
    if isinstance(node, str):
        return pattern.sub(new_id, node)
    return node


def copy_of(source: Fixture, patient_id: str) -> dict[str, Any]:
    """The source fixture with a fresh hookInstance and its patient renamed everywhere:
    the id, ``Patient/<id>`` references, search parameters. The dates stay: they mean the
    same relative to its ``evaluatedAt``."""
    data = copy.deepcopy(source.raw)
    context = source.request.get("context")
    old_id = context.get("patientId") if isinstance(context, dict) else None
    if isinstance(old_id, str) and old_id:
        # The id as a whole token: FHIR ids are made of [A-Za-z0-9-.].
        pattern = re.compile(rf"(?<![A-Za-z0-9.-]){re.escape(old_id)}(?![A-Za-z0-9.-])")
        data["request"] = _renamed(data["request"], pattern, patient_id)
        if isinstance(data.get("malformed"), list):
            data["malformed"] = _renamed(data["malformed"], pattern, patient_id)
    if "hookInstance" in data["request"]:
        data["request"]["hookInstance"] = str(uuid.uuid4())
    data["description"] = f"Copied from {source.name}: {data.get('description', '')}"
    return data


def create_fixture(
    directory: Path,
    name: str,
    *,
    patient_id: str | None = None,
    now: datetime | None = None,
    force: bool = False,
    source: Fixture | None = None,
) -> Path:
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"'{name}' is not a fixture name: use lower-case letters, digits, '-', '_' or '.'"
            " (at most 64 characters), starting with a letter or digit"
        )
    path = directory / f"{name}.json"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; choose another name or pass --force")
    patient = patient_id or default_patient_id(name)
    if source is not None:
        data = copy_of(source, patient)
    else:
        data = skeleton(name, patient, now or datetime.now(UTC))
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
