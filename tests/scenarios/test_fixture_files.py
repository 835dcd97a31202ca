"""The scenario files themselves: format, realistic FHIR R4, codes only from knowledge.md.

A fixture that is wrong in itself would make the e2e tests prove nothing, so each one is
checked here before it is fired (fhir_fixtures/README.md describes the format).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from service.cdshooks.discovery import SERVICE_HOOKS
from service.scenarios.fixtures import (
    SERVICE_FOR_HOOK,
    Fixture,
    FixtureError,
    fixture_paths,
    iter_fixtures,
    load_fixture,
)
from tests.support.scenarios import (
    HOOK_SERVICES,
    KNOWN_TOPICS,
    ORDER_TOPICS,
    PREFETCH_KEYS,
    REQUIRED_PREFETCH_KEYS,
)

FIXTURES = list(iter_fixtures())

NAME_RE = re.compile(
    r"(?P<topic>[a-z0-9-]+?)--(?:(?:fires|does-not-fire)--)?[a-z0-9]+(?:-[a-z0-9]+)*"
)

ICD10CM = ("http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90")
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# knowledge.md, normalised (upper case, no dot); entries ending in * are families.
KNOWN_ICD10CM = _codes(
    "D8940 D8941 D8942 D8943 D8949 D8944 D4701 D4702 D4709 Q822 C962* C943* "
    "T782* T780* T886* T805* T783* Z87892 R062 R061 R060* "
    # v2 additions: clonal exclusion, airway disease, other indications of a biologic,
    # trigger codes, steroid replacement, transplant, pregnancy (O00-O9A, Z33.1)
    "D470* J45* J440 J441 J4489 J449 L501 L508 L20* J33* Z9101* K200 L281 T63* "
    "E27* E230 E896 Z94* O* Z331"
)
KNOWN_SNOMED = _codes(
    "39579001 41291007 4386001 56018004 126485001 195967001 16697871000119100 "
    # v2 additions: mastocytosis (exclusion), COPD, other indications, pregnancy
    "397016004 414653009 397012002 118615008 397356009 397358005 397357000 1255137009 "
    "128924002 13645005 24079001 51611005 42265009 736499003 414285001 235599003 63501000 "
    "77386006"
)
KNOWN_LOINC = _codes("21582-2 44340-8 13781-0 33343-5 101115-4 94381-1 97658-9 14054-1 34316-0")
KNOWN_RXNORM = _codes(
    "20610 356887 28889 275635 87636 3498 5553 4278 2541 42319 9143 88249 114970 40575 "
    "42612 3992 435 237159 1191 302379 1876376 8640 8638 6902 3264 "
    # product-level codes seen in real data
    "1870230 1014678 1014676 311372 997501 997488 1049630 312617 745752 859088 746763 "
    "801095 351137 745791 746466 "
    # v2 additions: order-time triggers, beta-blockers, budesonide
    "5640 3355 140587 7052 2670 6754 4337 3423 8787 6918 20352 10600 1202 7226 6185 19484 "
    "19831"
)
# Code systems a fixture may use besides the knowledge.md ones: FHIR's own terminology
# (statuses, interpretation, categories), UCUM, and deliberately local systems.
OTHER_SYSTEMS = re.compile(
    r"^(http://terminology\.hl7\.org/CodeSystem/|http://unitsofmeasure\.org$|http://example\.org/)"
)


def _ids(fixtures: list[Fixture]) -> list[str]:
    return [f.name for f in fixtures]


def resources_in(request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(prefetch key, resource) for every resource the prefetch carries, and
    ("draftOrders", resource) for the draft orders of an order-time request."""
    drafts = (request.get("context") or {}).get("draftOrders")
    if isinstance(drafts, dict):
        for entry in drafts.get("entry", ()):
            yield "draftOrders", entry["resource"]
    for key, value in (request.get("prefetch") or {}).items():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry", ()):
                yield key, entry["resource"]
        else:
            yield key, value


def _codings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "system" in node and "code" in node and isinstance(node.get("code"), str):
            yield node
        for child in node.values():
            yield from _codings(child)
    elif isinstance(node, list):
        for child in node:
            yield from _codings(child)


def _known(system: str, code: str) -> bool:
    if system in ICD10CM:
        normal = code.upper().replace(".", "")
        return any(
            normal.startswith(k[:-1]) if k.endswith("*") else normal == k for k in KNOWN_ICD10CM
        )
    if system == SNOMED:
        return code in KNOWN_SNOMED
    if system == LOINC:
        return code in KNOWN_LOINC
    if system == RXNORM:
        return code in KNOWN_RXNORM
    return OTHER_SYSTEMS.match(system) is not None


def _validation_error(resource: dict[str, Any]) -> str | None:
    try:
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)
    except (KeyError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return str(exc).splitlines()[0]
    return None


def test_there_are_fixtures_for_every_topic() -> None:
    assert len(FIXTURES) >= 40
    covered = set().union(*(f.expected_topics for f in FIXTURES))
    assert covered == KNOWN_TOPICS
    assert any(f.expected_status == 200 and not f.expected_topics for f in FIXTURES)
    assert any(f.expected_status == 412 for f in FIXTURES)


def test_fixture_names_and_hook_instances_are_unique() -> None:
    instances = [f.request["hookInstance"] for f in FIXTURES]
    assert len(set(instances)) == len(instances)
    assert len(fixture_paths()) == len(FIXTURES)


def test_the_replaced_malformed_member_is_refused(tmp_path: Path) -> None:
    data = json.loads(FIXTURES[0].path.read_text(encoding="utf-8"))
    data["malformed"] = ["Condition/x"]
    path = tmp_path / "old-format.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FixtureError, match="'malformed' was replaced by 'unreadable'"):
        load_fixture(path)
    del data["malformed"]
    data["unreadable"] = data["nonconformant"] = ["Condition/x"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FixtureError, match="both unreadable and nonconformant"):
        load_fixture(path)


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_format(fixture: Fixture) -> None:
    assert load_fixture(fixture.path) == fixture
    assert NAME_RE.fullmatch(fixture.name), "name: <topic or area>--[does-not-]fire--<what>"
    assert fixture.description.strip()
    assert fixture.evaluated_at.utcoffset() is not None
    assert fixture.expected_topics <= KNOWN_TOPICS
    assert fixture.absent_topics <= KNOWN_TOPICS
    assert fixture.expected_status in {200, 412}
    if fixture.expected_status != 200:
        assert not fixture.expected_topics
    # The file name says what it expects.
    topic = NAME_RE.fullmatch(fixture.name).group("topic")  # type: ignore[union-attr]
    if "--does-not-fire--" in fixture.name:
        assert topic not in fixture.expected_topics and topic in fixture.absent_topics
    elif "--fires--" in fixture.name:
        # a card of its own, or folded into the ladder card (docs/clinical-rules.md §4)
        assert topic in fixture.expected_topics | fixture.folded_topics
    elif topic == "out-of-scope":
        assert not fixture.expected_topics
    assert fixture.unavailable_keys <= PREFETCH_KEYS
    for groups in fixture.suggests.values():
        assert groups and all(group <= KNOWN_RXNORM for group in groups)
    for codes in fixture.first_suggestion.values():
        assert codes <= KNOWN_RXNORM


def test_fixtures_fire_at_the_services_of_the_discovery_document() -> None:
    assert {hook: service for service, hook in SERVICE_HOOKS.items()} == SERVICE_FOR_HOOK
    assert SERVICE_FOR_HOOK == HOOK_SERVICES
    hooks = {f.hook for f in FIXTURES}
    assert hooks == set(HOOK_SERVICES), "fixtures for every hook the service answers"


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_request_is_a_complete_hook_call(fixture: Fixture) -> None:
    request = fixture.request
    assert request["hook"] in HOOK_SERVICES
    uuid.UUID(request["hookInstance"])
    patient_id = request["context"]["patientId"]
    assert patient_id and request["context"]["userId"]
    if request["hook"] == "patient-view":
        assert not fixture.expected_topics & ORDER_TOPICS
    else:
        # order-select / order-sign (CDS Hooks 2.0): draftOrders is a Bundle of draft
        # orders, each with an id; order-select names the orders just selected.
        assert fixture.name.startswith(("order-", "out-of-scope--", "missing-data--"))
        assert fixture.expected_topics <= ORDER_TOPICS
        drafts = request["context"]["draftOrders"]
        assert drafts["resourceType"] == "Bundle" and drafts["type"] == "collection"
        ids = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in drafts["entry"]]
        assert ids and len(set(ids)) == len(ids)
        if request["hook"] == "order-select":
            assert set(request["context"]["selections"]) <= set(ids)
        else:
            assert "selections" not in request["context"]
    prefetch = request["prefetch"]
    assert set(prefetch) <= PREFETCH_KEYS
    missing = REQUIRED_PREFETCH_KEYS - set(prefetch)
    if missing or fixture.unavailable_keys:
        # "Missing and cannot be fetched" (docs/clinical-rules.md §6.9) only holds without a
        # fhirServer.
        assert "fhirServer" not in request
    else:
        assert request["fhirServer"].startswith("https://")
    for key, value in prefetch.items():
        if value is None or value.get("resourceType") != "Bundle":
            continue
        assert value["type"] == "searchset"
        matches = [e for e in value.get("entry", ()) if e["search"]["mode"] == "match"]
        assert value["total"] == len(matches), key


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_resources_are_valid_r4b_except_the_declared_invalid(fixture: Fixture) -> None:
    """Declared ``unreadable`` and ``nonconformant`` resources fail full R4B validation;
    every other resource passes it (fhir_fixtures/README.md)."""
    patient_id = fixture.request["context"]["patientId"]
    seen: set[str] = set()
    errors: dict[str, str | None] = {}
    for _key, resource in resources_in(fixture.request):
        ref = f"{resource['resourceType']}/{resource['id']}"
        assert ref not in seen, f"{ref} twice"
        seen.add(ref)
        errors[ref] = _validation_error(resource)
        subject = resource.get("subject")
        if subject is not None:
            assert subject == {"reference": f"Patient/{patient_id}"}, ref
        elif resource["resourceType"] == "Patient":
            assert resource["id"] == patient_id
    assert not fixture.unreadable & fixture.nonconformant
    assert fixture.unreadable <= seen, "declared unreadable but not in the prefetch"
    assert fixture.nonconformant <= seen, "declared nonconformant but not in the prefetch"
    for ref, error in errors.items():
        if ref in fixture.unreadable:
            assert error is not None, f"{ref} is declared unreadable but validates"
        elif ref in fixture.nonconformant:
            assert error is not None, f"{ref} is declared nonconformant but validates"
        else:
            assert error is None, f"{ref}: {error}"
    for key, value in (fixture.request.get("prefetch") or {}).items():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            shell = {k: v for k, v in value.items() if k != "entry"}
            assert _validation_error(shell) is None, key


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_uses_only_knowledge_md_codes(fixture: Fixture) -> None:
    unknown = [
        (coding["system"], coding["code"])
        for _key, resource in resources_in(fixture.request)
        for coding in _codings(resource)
        if not _known(coding["system"], coding["code"])
    ]
    assert unknown == []


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_every_bundled_fixture_is_a_test_patient(fixture: Fixture) -> None:
    # Fixtures fired at a real deployment (mcas-cds check, fire) must be recognisable as
    # test traffic by the default MCAS_TEST_PATIENT_PREFIX, so they never reach the
    # outcomes an administrator reads.
    patient_id = fixture.request["context"]["patientId"]
    assert patient_id.startswith("mcas-test-"), patient_id
    text = json.dumps(fixture.request.get("prefetch", {}))
    assert all(ref.startswith("Patient/mcas-test-")
               for ref in re.findall(r'Patient/[^"]+', text)), fixture.name


def test_folded_topics_need_a_ladder_card_and_are_not_expected_twice(tmp_path: Path) -> None:
    folded = next(f for f in FIXTURES if f.folded_topics)
    data = json.loads(folded.path.read_text(encoding="utf-8"))
    path = tmp_path / "folded.json"
    for change, message in (
        ({"foldedTopics": ["albuterol"]}, "foldedTopics may only list"),
        ({"expectedTopics": ["albuterol"]}, "needs a ladder card"),
        ({"expectedTopics": [*data["expectedTopics"], *data["foldedTopics"]]},
         "also expected or absent"),
    ):
        path.write_text(json.dumps({**data, **change}), encoding="utf-8")
        with pytest.raises(FixtureError, match=message):
            load_fixture(path)


def test_some_fixtures_show_each_fold() -> None:
    """docs/clinical-rules.md §4 "Fewer cards": both folds are exercised end to end."""
    assert {"mediator-evidence", "biologic-review"} <= set().union(
        *(f.folded_topics for f in FIXTURES))
