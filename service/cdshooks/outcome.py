"""FHIR OperationOutcome: the one body every error answer carries (CDS Hooks 2.0 errors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

# FHIR IssueType codes for the statuses we answer.
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    500: "exception",
    503: "transient",
}


class Issue(TypedDict):
    severity: str
    code: str
    diagnostics: str
    expression: NotRequired[list[str]]


class OperationOutcome(TypedDict):
    resourceType: Literal["OperationOutcome"]
    issue: list[Issue]


def operation_outcome(
    status: int,
    messages: Sequence[str] | str,
    *,
    fields: Sequence[str | None] = (),
    severity: str = "error",
) -> OperationOutcome:
    """One issue per message; ``fields[i]`` (when given) becomes issue i's ``expression``."""
    if isinstance(messages, str):
        messages = [messages]
    code = _ISSUE_CODES.get(status, "processing")
    issues: list[Issue] = []
    for index, message in enumerate(messages):
        issue: Issue = {"severity": severity, "code": code, "diagnostics": message}
        field = fields[index] if index < len(fields) else None
        if field:
            issue["expression"] = [field]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}
