"""Prefetch values that carry an OperationOutcome (docs/clinical-rules.md §6.9)."""

from __future__ import annotations

from typing import Any

import pytest

from service.pipeline.prefetch import Unavailable, resources_of


def _bundle_with(outcome: dict[str, Any]) -> dict[str, Any]:
    condition = {"resourceType": "Condition", "id": "c1"}
    return {"resourceType": "Bundle", "type": "searchset", "total": 1, "entry": [
        {"resource": condition, "search": {"mode": "match"}},
        {"resource": outcome, "search": {"mode": "outcome"}},
    ]}


@pytest.mark.parametrize("issue", [1.5, -6.9e-179, 7, True, None, "error", {"severity": "x"}])
def test_an_outcome_whose_issues_cannot_be_read_makes_the_key_missing(issue: Any) -> None:
    """Found by the property test (tests/pipeline/facts/test_properties.py): a number as
    ``issue`` made the hook answer 500. Unreadable, it is taken as an error: missing data
    never passes for absent data."""
    outcome = {"resourceType": "OperationOutcome", "issue": issue}
    with pytest.raises(Unavailable):
        resources_of(_bundle_with(outcome))


def test_warnings_alone_keep_the_bundle() -> None:
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "warning", "code": "informational"}]}
    assert [r["id"] for r in resources_of(_bundle_with(outcome))] == ["c1"]


@pytest.mark.parametrize("issue", ["junk", {"code": "x"}, {"severity": {"level": "error"}},
                                   {"severity": ["error"]}])
def test_an_issue_whose_severity_cannot_be_read_makes_the_key_missing(issue: Any) -> None:
    """Beside a warning, an issue that is not an object or whose severity cannot be read
    may be the error: the key is missing, never absent (docs/clinical-rules.md §6.9)."""
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "warning", "code": "informational"}, issue]}
    with pytest.raises(Unavailable):
        resources_of(_bundle_with(outcome))
