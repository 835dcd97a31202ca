"""Prefetch tokens and the list of FHIR servers the service may query.

Service requirements: 55 (`{{` `}}` delimiters), 56 (context paths and user
identifiers), 57 (only root-level primitive context fields), 59 (`context.` names).
"""

from __future__ import annotations

import pytest

from service import create_app, settings
from service.fhir.allowlist import Allowlist, parse_allowed, under
from service.fhir.tokens import render
from service.pipeline.prefetch import Unavailable

CONTEXT = {"patientId": "p 1", "userId": "Practitioner/dr-9", "encounterId": "e1", "n": 3}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/p%201"),
        ("Condition?patient={{context.patientId}}", "Condition?patient=p+1"),
        (
            "MedicationRequest?status=active&patient={{context.patientId}}",
            "MedicationRequest?patient=p+1&status=active",
        ),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/dr-9"),
        (
            "Encounter?_id={{ context.encounterId }}&_count={{context.n}}",
            "Encounter?_count=3&_id=e1",
        ),
    ],
)
def test_render_fills_and_encodes(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "Encounter/{{context.missing}}",
        "Patient/{{userPatientId}}",  # the user is a Practitioner
        "X?a={{context.patientId.id}}",
        "X?a={{somethingElse}}",
    ],
)
def test_unknown_or_unusable_tokens_are_unavailable(template: str) -> None:
    with pytest.raises(Unavailable, match="token"):
        render(template, CONTEXT)


@pytest.mark.parametrize("patient_id", [".", ".."])
def test_a_context_value_cannot_climb_the_server_path(patient_id: str) -> None:
    with pytest.raises(Unavailable):
        render("Patient/{{context.patientId}}", {"patientId": patient_id})
    assert render("Condition?patient={{context.patientId}}", {"patientId": patient_id})


def test_non_primitive_context_fields_are_not_tokens() -> None:
    with pytest.raises(Unavailable):
        render("X?a={{context.draftOrders}}", {"draftOrders": {"resourceType": "Bundle"}})


ALLOWED = Allowlist(parse_allowed(["https://EHR.example.org/fhir/", "http://10.0.0.5:8080"]))


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org/fhir",
        "https://ehr.example.org:443/fhir/",
        "HTTPS://ehr.example.org/fhir/r4",
        "http://10.0.0.5:8080/anything",
    ],
)
def test_allowed_after_normalisation(url: str) -> None:
    assert ALLOWED.allows_base(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/fhir",  # scheme differs
        "https://ehr.example.org:8443/fhir",  # port differs
        "https://ehr.example.org/fhirevil",  # prefix, but not by whole segments
        "https://ehr.example.org/",  # above the allowed path
        "https://ehr.example.org.attacker.net/fhir",
        "https://user:pw@ehr.example.org/fhir",
        "https://ehr.example.org/fhir/../admin",
        "https://ehr.example.org/fhir/%2e%2e/admin",
        "https://ehr.example.org/fhir?x=1",
        "http://10.0.0.5/anything",  # default port 80 is not 8080
        "ftp://ehr.example.org/fhir",
        "not a url",
    ],
)
def test_refused(url: str) -> None:
    assert not ALLOWED.allows_base(url)


def test_next_links_must_stay_under_the_server() -> None:
    base = "https://ehr.example.org/fhir"
    assert under(base, "https://ehr.example.org/fhir/Observation?_page=2")
    assert under(base, "https://ehr.example.org/fhir?_getpages=abc")
    assert not under(base, "https://ehr.example.org/other/Observation?_page=2")
    assert not under(base, "https://evil.example.org/fhir/Observation?_page=2")


def test_a_bad_allowed_server_entry_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_FHIR_ALLOWED_SERVERS", "https://ok.example.org/fhir, ehr.local")
    with pytest.raises(settings.SettingError, match="MCAS_FHIR_ALLOWED_SERVERS"):
        create_app()


def test_allowed_servers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MCAS_FHIR_ALLOWED_SERVERS", "https://a.example.org/fhir,https://b.example.org"
    )
    monkeypatch.setenv("MCAS_FHIR_DEADLINE", "1.5")
    config = create_app().config
    assert config["FHIR_ALLOWED_SERVERS"] == ["https://a.example.org/fhir", "https://b.example.org"]
    assert config["FHIR_DEADLINE"] == 1.5


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_the_deadline_must_be_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MCAS_FHIR_DEADLINE", value)
    with pytest.raises(settings.SettingError, match="MCAS_FHIR_DEADLINE"):
        create_app()
