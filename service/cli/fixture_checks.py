"""Checks a fixture file: its own fields, the request envelope, every FHIR resource
(fhir.resources R4B) and the topics it names (against the service's known topics).

Returns problems as readable sentences; an empty list means the fixture is sound.
Resources listed in ``"unreadable"`` (left out and counted by the service) or
``"nonconformant"`` (still read) as ``ResourceType/id`` must fail full R4B validation;
every other resource must pass (fhir_fixtures/README.md describes the format).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.cdshooks.envelope import CONTEXT_SCHEMAS, load_hook_request
from service.errors import ServiceError
from service.scenarios.fixtures import FixtureError, parse_instant

REQUIRED_FIELDS: dict[str, type] = {
    "description": str, "evaluatedAt": str, "expectedTopics": list, "request": dict
}
OPTIONAL_FIELDS: dict[str, type] = {
    "expectedStatus": int,
    "absentTopics": list,
    "unreadable": list,
    "nonconformant": list,
    "unavailableKeys": list,
    # Per expected topic: what its card must suggest or say (fhir_fixtures/README.md).
    "suggests": dict,
    "firstSuggestion": dict,
    "mentions": dict,
}
PER_TOPIC_FIELDS = ("suggests", "firstSuggestion", "mentions")
# Resources declared to fail full R4B validation, and what the service does with them.
INVALID_FIELDS = ("unreadable", "nonconformant")
# Resources pointing at a patient through one of these elements must point at the
# fixture's own patient, or the FHIR server and the prefetch would disagree.
PATIENT_REFERENCE_FIELDS = ("subject", "patient")


@dataclass
class Report:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resources: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def prefetch_resources(prefetch: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, resource) for every resource in a prefetch: Bundle entries and single ones."""
    for key, value in prefetch.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and value.get("resourceType") == "Bundle":
            for index, entry in enumerate(value.get("entry") or []):
                resource = entry.get("resource") if isinstance(entry, Mapping) else None
                yield f"prefetch.{key}.entry[{index}]", resource
        else:
            yield f"prefetch.{key}", value


def resource_problems(resource: Any) -> list[str]:
    """Why a resource fails R4B validation (first few errors), or nothing."""
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, Mapping):
        return ["is not a JSON object"]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return ["has no resourceType"]
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return [f"resourceType {resource_type!r} is not a FHIR R4B resource"]
    if resource_type == "Bundle":
        # Entries are checked one by one; one bad entry must not hide the others.
        resource = {k: v for k, v in resource.items() if k != "entry"}
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        errors = exc.errors()
        messages = [
            f"{'.'.join(str(p) for p in err.get('loc', ())) or resource_type}: {err.get('msg')}"
            for err in errors[:3]
        ]
        if len(errors) > 3:
            messages.append(f"... and {len(errors) - 3} more")
        return messages
    except (ValueError, TypeError) as exc:  # model validators raise these too
        return [str(exc)]
    return []


def _check_fields(data: Mapping[str, Any], report: Report) -> None:
    for name, kind in REQUIRED_FIELDS.items():
        if name not in data:
            report.problems.append(f"missing field '{name}'")
        elif not isinstance(data[name], kind):
            report.problems.append(f"'{name}' must be a {kind.__name__}")
    for name, kind in OPTIONAL_FIELDS.items():
        if name in data and kind is not object and not isinstance(data[name], kind):
            report.problems.append(f"'{name}' must be a {kind.__name__}")
    if "malformed" in data:
        report.problems.append(
            "'malformed' was replaced: list each resource under 'unreadable' (the service "
            "leaves it out and counts it) or 'nonconformant' (invalid R4B, still read)"
        )
    known = [*REQUIRED_FIELDS, *OPTIONAL_FIELDS]
    for name in sorted(set(data) - set(known) - {"malformed"}):
        # A near miss is a typo that would silently switch a check off; anything else may
        # be a newer member of the format this version does not know.
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if close:
            report.problems.append(f"unknown field '{name}' (did you mean '{close[0]}'?)")
        else:
            report.notes.append(f"field '{name}' not checked")
    if isinstance(data.get("description"), str) and not data["description"].strip():
        report.problems.append("'description' is empty: say what the scenario shows")
    if "evaluatedAt" in data:
        try:
            parse_instant(data["evaluatedAt"], require_zone=True)
        except FixtureError as exc:
            report.problems.append(str(exc))


def _list(value: Any) -> list[Any]:
    """A JSON array member, or an empty one when it is missing or not an array."""
    return value if isinstance(value, list) else []


def _check_topics(data: Mapping[str, Any], known: set[str], report: Report) -> None:
    expected = _list(data.get("expectedTopics"))
    absent = _list(data.get("absentTopics"))
    for label, topics in (("expectedTopics", expected), ("absentTopics", absent)):
        for topic in topics:
            if not isinstance(topic, str):
                report.problems.append(f"{label}: {topic!r} is not a string")
            elif known and topic not in known:
                report.problems.append(
                    f"{label}: unknown topic '{topic}' (known: {', '.join(sorted(known))})"
                )
        duplicates = sorted({t for t in topics if isinstance(t, str) and topics.count(t) > 1})
        if duplicates:
            report.problems.append(f"{label}: listed twice: {', '.join(duplicates)}")
    both = sorted(set(map(str, expected)) & set(map(str, absent)))
    if both:
        report.problems.append(f"topic(s) both expected and absent: {', '.join(both)}")
    for name in PER_TOPIC_FIELDS:
        per_topic = data.get(name)
        if isinstance(per_topic, dict):
            stray = sorted(set(per_topic) - set(map(str, expected)))
            if stray:
                report.problems.append(f"{name}: {', '.join(stray)} not in expectedTopics")
    status = data.get("expectedStatus", 200)
    if isinstance(status, int) and status != 200 and expected:
        report.problems.append(f"expectedStatus {status} answers no cards, yet topics are expected")


def _patient_reference(resource: Mapping[str, Any]) -> str | None:
    for name in PATIENT_REFERENCE_FIELDS:
        value = resource.get(name)
        reference = value.get("reference") if isinstance(value, Mapping) else None
        if isinstance(reference, str):
            return reference
    return None


def _check_request(
    data: Mapping[str, Any], prefetch_keys: set[str], report: Report
) -> None:
    request = data.get("request")
    if not isinstance(request, Mapping):
        return
    expected_status = data.get("expectedStatus", 200)
    hook = request.get("hook")
    try:
        # Each hook's envelope (order-select/order-sign: draftOrders, selections).
        load_hook_request(dict(request), hook if hook in CONTEXT_SCHEMAS else "patient-view")
    except ServiceError as exc:
        if expected_status != exc.status:
            report.problems.extend(f"request: {message}" for message in exc.messages)
    prefetch = request.get("prefetch") or {}
    if not isinstance(prefetch, Mapping):
        return
    unknown = sorted(set(prefetch) - prefetch_keys) if prefetch_keys else []
    if unknown:
        report.problems.append(
            f"request.prefetch: unknown key(s) {', '.join(unknown)} "
            f"(the service asks for {', '.join(sorted(prefetch_keys))})"
        )
    patient_id = (request.get("context") or {}).get("patientId")
    declared = {
        name: [str(ref) for ref in _list(data.get(name))]
        for name in INVALID_FIELDS
    }
    both = sorted(set(declared["unreadable"]) & set(declared["nonconformant"]))
    if both:
        report.problems.append(f"both unreadable and nonconformant: {', '.join(both)}")
    invalid = {ref: name for name in INVALID_FIELDS for ref in declared[name]}
    unavailable = data.get("unavailableKeys")
    for key in unavailable if isinstance(unavailable, list) else []:
        if prefetch_keys and key not in prefetch_keys:
            report.problems.append(f"unavailableKeys: '{key}' is not a prefetch key")
    failing: set[str | None] = set()
    for where, resource in prefetch_resources(prefetch):
        report.resources += 1
        reference = _reference(resource)
        problems = resource_problems(resource)
        if problems:
            if reference in invalid:
                failing.add(reference)
            else:
                report.problems.extend(f"{where}: {message}" for message in problems)
            # A nonconformant resource is still read: its patient must still be the one.
            if reference not in invalid or invalid[reference] != "nonconformant":
                continue
        elif reference in invalid:
            report.problems.append(
                f"{where}: {reference} is listed as {invalid[reference]} yet validates"
            )
        subject = _patient_reference(resource)
        if patient_id and subject and subject != f"Patient/{patient_id}":
            report.problems.append(
                f"{where}: refers to {subject}, but context.patientId is '{patient_id}'"
            )
        if resource.get("resourceType") == "Patient" and resource.get("id") != patient_id:
            report.problems.append(f"{where}: Patient id differs from context.patientId")
    present = failing | _references(prefetch)
    for name in INVALID_FIELDS:
        missing = sorted(set(declared[name]) - present)
        if missing:
            report.problems.append(f"{name}: {', '.join(missing)} not in the prefetch")
    counts = {
        name: sum(ref in failing for ref in set(declared[name])) for name in INVALID_FIELDS
    }
    if any(counts.values()):
        report.notes.append(
            f"invalid R4B on purpose: {counts['unreadable']} unreadable, "
            f"{counts['nonconformant']} nonconformant"
        )


def _reference(resource: Any) -> str | None:
    if isinstance(resource, Mapping) and resource.get("resourceType") and resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    return None


def _references(prefetch: Mapping[str, Any]) -> set[str]:
    return {ref for _, r in prefetch_resources(prefetch) if (ref := _reference(r))}


def validate_fixture(path: Path, known_topics: set[str], prefetch_keys: set[str]) -> Report:
    report = Report(name=path.stem)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.problems.append("no such file")
        return report
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"not valid JSON: {exc}")
        return report
    if not isinstance(data, dict):
        report.problems.append("the file must hold a JSON object")
        return report
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", path.stem):
        report.problems.append("file name: use lower-case letters, digits, '-', '_' or '.'")
    _check_fields(data, report)
    _check_topics(data, known_topics, report)
    _check_request(data, prefetch_keys, report)
    return report
