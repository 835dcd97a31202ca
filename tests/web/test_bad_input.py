"""Bad input is a 4xx naming the field, never a 5xx (issue 17, "5xx on bad input").

Each test is named for a finding of the red-team run; docs/openapi.yaml and the route
fuzz test (tests/web/test_route_fuzz.py) cover the rest of the input space.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.outcomes import assert_outcome

HOOK = "/cds-services/mcas-therapy-tier"


def _hook_body(sandbox_hook: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(sandbox_hook["body"])
    body["prefetch"][key] = value
    return body


# -- prefetch shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [7, 0, 3.5])
def test_prefetch_entry_that_is_a_number_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.entry")


@pytest.mark.parametrize("entry", [True, False])
def test_prefetch_entry_that_is_a_boolean_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "observations", bundle))
    assert_outcome(response, 400, "prefetch.observations.entry")


@pytest.mark.parametrize("entry", [[1, 2], ["Condition"], [None], [[]], "entries", {"a": 1}])
def test_prefetch_entry_that_is_not_an_array_of_objects_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.entry")


@pytest.mark.parametrize(
    "value",
    [7, True, "Bundle", [], [{"resourceType": "Condition"}], {}, {"resourceType": 5}],
    ids=["number", "boolean", "string", "empty-array", "array", "no-resourceType", "bad-type"],
)
def test_prefetch_value_that_is_not_a_bundle_or_resource_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], value: Any
) -> None:
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "medicationStatements", value))
    assert_outcome(response, 400, "prefetch.medicationStatements")


@pytest.mark.parametrize("link", [5, True, "next", [1]])
def test_prefetch_bundle_link_that_is_not_an_array_of_objects_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], link: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": link, "entry": []}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.link")


@pytest.mark.parametrize("issue", [5, True, "error", [1], [{"severity": 5}]])
def test_prefetch_bundle_with_an_unreadable_operation_outcome_entry_is_unavailable_data(
    client: FlaskClient, sandbox_hook: dict[str, Any], issue: Any
) -> None:
    """An OperationOutcome entry whose issues cannot be read could be an error: the key's
    data count as unavailable, exactly as with an ``error`` entry (never a 5xx)."""

    def answer(issues: Any) -> Any:
        outcome = {"resourceType": "OperationOutcome", "issue": issues}
        bundle = {"resourceType": "Bundle", "entry": [{"resource": outcome}]}
        body = _hook_body(sandbox_hook, "conditions", bundle)
        del body["fhirServer"]  # nothing to fetch it from: the key stays unavailable
        return client.post(HOOK, json=body)

    expected = answer([{"severity": "error", "code": "processing"}])
    assert expected.status_code == 412
    got = answer(issue)
    assert (got.status_code, got.get_json()) == (expected.status_code, expected.get_json())


def test_prefetch_null_entry_and_unused_entry_members_still_answer(
    client: FlaskClient, sandbox_hook: dict[str, Any]
) -> None:
    """What stays accepted: ``entry: null`` (no entries), entries without a resource."""
    body = _hook_body(sandbox_hook, "observations", {"resourceType": "Bundle", "entry": None})
    body["prefetch"]["medicationStatements"] = {
        "resourceType": "Bundle",
        "entry": [{"fullUrl": "urn:uuid:1"}, {"resource": None}],
    }
    assert client.post(HOOK, json=body).status_code == 200
