"""Properties of reading the record (docs/clinical-rules.md §2, Reading a resource).

For patients taken from the scenario fixtures, with faults put in by hypothesis
(tests/support/fhir_strategies.py):

(a) a fault in an element the rules do not read (subject, unknown elements, narrative,
    meta, identifier, note, extension) never changes the decisions, and is not counted;
(b) a fault in an element they read (a date, a code, a status, a value) never raises and
    is counted: an unreadable date makes the fact undated, an unreadable code, status or
    value leaves that resource out, and only that resource;
(c) no resource shape makes the hook answer with a 5xx.

Bounded (150 examples each, ``MCAS_PROPERTY_EXAMPLES`` to search deeper) and marked
``slow``: ``make test`` runs them, ``make test-fast`` does not.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from service import create_app
from service.cdshooks.envelope import load_hook_request
from service.errors import PreconditionFailed
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.facts import Facts, extract_facts
from service.pipeline.hook import run_hook
from service.pipeline.orders import run_order_hook
from service.pipeline.prefetch import prefetch_templates, resolve_prefetch
from service.scenarios.fixtures import Fixture, iter_fixtures
from service.thresholds.files import load_thresholds
from tests.support import fhir_strategies as fs

pytestmark = pytest.mark.slow

KNOWLEDGE = load_knowledge(bundled_cards_dir())
THRESHOLDS = load_thresholds(bundled_cards_dir() / "thresholds.yaml")
URL = "/cds-services/mcas-therapy-tier"
# 150 examples each in `make test`, the same ones every run (CI must not fail on a draw
# that a different seed would not make); MCAS_PROPERTY_EXAMPLES=2000 for a deeper, random
# search, which prints a reproduce blob when it finds something.
_DEEP = os.environ.get("MCAS_PROPERTY_EXAMPLES")
PROPERTY = settings(
    max_examples=int(_DEEP or "150"),
    derandomize=_DEEP is None,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Clonal codes still count from an unreadable Condition (docs/clinical-rules.md §1), so
# such a Condition is not simply "left out".
CLONAL_PREFIXES = ("D470", "Q822", "C962", "C943")
UNDATED_NOT_COUNTED = frozenset({"MedicationAdministration", "MedicationDispense"})
CLONAL_SNOMED = frozenset({"397016004", "414653009", "397012002", "118615008", "397356009",
                           "397358005", "397357000", "1255137009", "128924002"})


def _base_fixtures() -> list[Fixture]:
    """Scenario patients whose every resource is valid R4B: faults are then ours alone."""
    return [f for f in iter_fixtures() if not f.invalid and not f.unavailable_keys]


BASES = _base_fixtures()


def _facts(request: dict[str, Any]) -> Facts:
    prefetch = resolve_prefetch(request.get("prefetch") or {}, prefetch_templates(KNOWLEDGE))
    return extract_facts(prefetch, KNOWLEDGE, request["context"]["patientId"])


def _decide(request: dict[str, Any], now: datetime) -> tuple[str, ...]:
    """The topics the rules decide (sorted), or ("412",)."""
    hook = request.get("hook", "patient-view")
    try:
        if hook == "patient-view":
            result = run_hook(load_hook_request(copy.deepcopy(request)), knowledge=KNOWLEDGE,
                              thresholds=THRESHOLDS, now=now)
        else:  # an order-time fixture (docs/clinical-rules.md §7): the order core
            result = run_order_hook(load_hook_request(copy.deepcopy(request), hook),
                                    knowledge=KNOWLEDGE, thresholds=THRESHOLDS, now=now)
    except PreconditionFailed:
        return ("412",)
    return tuple(sorted(result.topics))


def _counts(facts: Facts) -> Mapping[tuple[str, str], int]:
    """What the facts count as left out or undated, by (resource type, problem)."""
    return dict(facts.reading)


def _content(facts: Facts) -> Facts:
    """The facts without their counts."""
    return dataclasses.replace(facts, reading={})


def _is_clonal(resource: dict[str, Any]) -> bool:
    concept = resource.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else ():
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, str):
            normal = code.upper().replace(".", "")
            if normal.startswith(CLONAL_PREFIXES) or code in CLONAL_SNOMED:
                return True
    return False


@st.composite
def patients(draw: st.DrawFn) -> tuple[Fixture, dict[str, Any]]:
    fixture = draw(st.sampled_from(BASES))
    return fixture, copy.deepcopy(fixture.request)


# (a) --------------------------------------------------------------------------------------

@pytest.mark.skipif(not BASES, reason="no scenario fixtures")
@PROPERTY
@given(data=st.data())
def test_faults_where_the_rules_do_not_look_change_nothing(data: st.DataObject) -> None:
    fixture, request = data.draw(patients())
    resources = fs.prefetch_resources(request)
    count = data.draw(st.integers(min_value=1, max_value=max(1, min(4, len(resources)))))
    picked = data.draw(st.lists(st.sampled_from(range(len(resources))), min_size=count,
                                max_size=count, unique=True))
    faulty = request
    done = []
    for position in picked:
        key, index, resource = resources[position]
        label, changed = data.draw(fs.unused_fault(resource))
        faulty = fs.replace_resource(faulty, key, index, changed)
        done.append(label)
    note(f"fixture {fixture.name}; faults: {done}")
    now = fixture.evaluated_at
    assert _decide(faulty, now) == _decide(request, now)
    assert _counts(_facts(faulty)) == _counts(_facts(request))


# (b) --------------------------------------------------------------------------------------

def _read_resources(request: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """The resources the rules read: taking one out changes the facts."""
    base = _facts(request)
    read = []
    for key, index, resource in fs.prefetch_resources(request):
        if resource.get("resourceType") not in fs.DATE_PATHS:
            continue
        if _facts(fs.replace_resource(request, key, index, None)) != base:
            read.append((key, index, resource))
    return read


_READ_CACHE: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}


def _read_in(fixture: Fixture, request: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    if fixture.name not in _READ_CACHE:
        _READ_CACHE[fixture.name] = _read_resources(request)
    return _READ_CACHE[fixture.name]


@pytest.mark.skipif(not BASES, reason="no scenario fixtures")
@PROPERTY
@given(data=st.data())
def test_faults_where_the_rules_look_never_raise_and_are_counted(data: st.DataObject) -> None:
    fixture, request = data.draw(patients())
    candidates = [
        (key, index, resource, kind)
        for key, index, resource in _read_in(fixture, request)
        for kind in fs.used_fault_kinds(resource)
    ]
    if not candidates:
        return
    key, index, resource, kind = data.draw(st.sampled_from(candidates))
    label, changed = data.draw(fs.used_fault(resource, kind))
    note(f"fixture {fixture.name}; fault: {label}")
    faulty = fs.replace_resource(request, key, index, changed)

    before, after = _facts(request), _facts(faulty)  # never raises
    _decide(faulty, fixture.evaluated_at)  # neither do the rules and the cards
    problem = "undated" if kind == "date" else "left_out"
    kind_of = str(resource["resourceType"])
    assert _counts(after).get((kind_of, problem), 0) == (
        _counts(before).get((kind_of, problem), 0) + 1
    ), f"{label}: not counted as {problem}"
    without = _facts(fs.replace_resource(request, key, index, None))
    if problem == "undated":
        # An unreadable date makes the fact undated, not absent; except that an
        # administration or dispense counts only when dated (docs/clinical-rules.md §2,
        # Start of a therapy: rules v2 6.17).
        if kind_of not in UNDATED_NOT_COUNTED:
            assert _content(after) != _content(without), f"{label}: the fact was dropped"
    elif not _is_clonal(resource):
        # An unreadable code, status or value leaves that resource out, and only it.
        assert _content(after) == _content(without), f"{label}: more than the resource"


# (c) --------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def hook_client() -> Any:
    app = create_app({"TESTING": True, "AUTH_DISABLED": True, "CLOCK": lambda: NOW})
    return app.test_client()


def _answer(client: Any, request: dict[str, Any], url: str = URL) -> TestResponse:
    return client.post(url, json=request)  # type: ignore[no-any-return]


# Shapes that made the hook answer 500 once, kept as explicit examples.
FOUND = [
    # An OperationOutcome entry whose ``issue`` is a number (prefetch resolution).
    {
        "hook": "patient-view",
        "hookInstance": "0e0f4d8e-2c61-4f7e-9a4e-5d2b1c0a9f31",
        "context": {"userId": "Practitioner/fuzz", "patientId": "pt-fuzz"},
        "prefetch": {"conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "OperationOutcome", "issue": -6.9e-179}}]}},
    },
]


@PROPERTY
@given(request=fs.hook_requests())
@example(request=FOUND[0])
def test_no_prefetch_shape_makes_the_hook_fail(hook_client: Any, request: dict[str, Any]) -> None:
    response = _answer(hook_client, request)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.skipif(not BASES, reason="no scenario fixtures")
@PROPERTY
@given(data=st.data())
def test_no_resource_shape_among_real_ones_makes_the_hook_fail(
    hook_client: Any, data: st.DataObject
) -> None:
    """A real patient with a few resources of any shape added to its Bundles."""
    fixture, request = data.draw(patients())
    request["context"]["patientId"] = "pt-fuzz"
    prefetch = request["prefetch"]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        key = data.draw(st.sampled_from(sorted(prefetch)))
        value = prefetch[key]
        shape = data.draw(fs.resource_shapes())
        if isinstance(value, dict) and isinstance(value.get("entry"), list):
            value["entry"].append({"resource": shape, "search": {"mode": "match"}})
        else:
            prefetch[key] = data.draw(fs.prefetch_values())
    note(f"fixture {fixture.name}")
    response = _answer(hook_client, request, f"/cds-services/{fixture.service_id}")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
