"""``fixtures new``: a fixture file that already validates, ready to be filled in.

The skeleton is a patient without an MCAS diagnosis: out of scope, so no cards are
expected. Adding a D89.4x Condition and the medications turns it into a real scenario.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def create_fixture(
    directory: Path,
    name: str,
    *,
    patient_id: str | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> Path:
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"'{name}' is not a fixture name: use lower-case letters, digits, '-', '_' or '.'"
            " (at most 64 characters), starting with a letter or digit"
        )
    path = directory / f"{name}.json"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; choose another name or pass --force")
    # A FHIR id allows [A-Za-z0-9-.] only, at most 64 characters.
    patient = patient_id or re.sub(r"[^A-Za-z0-9.-]", "-", name)[:64]
    data = skeleton(name, patient, now or datetime.now(UTC))
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
