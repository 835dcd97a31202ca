"""Assertions on error answers: a FHIR OperationOutcome, never HTML or a traceback."""

from __future__ import annotations

from typing import Any


def assert_outcome(response: Any, status: int, field: str | None = None) -> list[dict[str, Any]]:
    """``response`` is a ``status`` OperationOutcome; with ``field``, an issue names it.

    An issue names a field by its ``expression`` (FHIRPath-like dotted path), exactly.
    Works for Flask test responses and ``requests`` responses alike.
    """
    data = response.data if hasattr(response, "data") else response.content
    assert response.status_code == status, (response.status_code, data[:500])
    assert b"Traceback" not in data and b"<html" not in data.lower(), data[:500]
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issues: list[dict[str, Any]] = body["issue"]
    assert issues and all(issue["diagnostics"] for issue in issues), body
    if field is not None:
        named = [expr for issue in issues for expr in issue.get("expression", [])]
        assert field in named, f"no issue names {field!r}: {issues}"
    return issues
