"""Discovery (CDS Hooks 2.0 reqs 4-12): the fixed interface EHR administrators configure."""

from __future__ import annotations

from flask.testing import FlaskClient

MEDIATOR_LOINCS = [
    "21582-2", "44340-8", "13781-0", "33343-5", "101115-4",
    "94381-1", "97658-9", "14054-1", "34316-0",
]


def test_discovery_lists_the_services(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [
        ("mcas-therapy-tier", "patient-view"),
        # issue 15: the order-time services, one per hook, on the same core
        ("mcas-order-safety-select", "order-select"),
        ("mcas-order-safety-sign", "order-sign"),
    ]
    for service in services:
        for member in ("title", "description", "usageRequirements"):
            assert isinstance(service[member], str) and service[member]
        # the same prefetch templates as patient-view: facts are read the same way
        assert service["prefetch"] == services[0]["prefetch"]


def test_prefetch_templates_are_exactly_the_published_ones(client: FlaskClient) -> None:
    prefetch = client.get("/cds-services").get_json()["services"][0]["prefetch"]
    codes = ",".join(f"http://loinc.org|{code}" for code in MEDIATOR_LOINCS)
    assert prefetch == {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&code=" + codes,
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
        # every status that puts a therapy on record (docs/clinical-rules.md §6.19)
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
        "&status=active,on-hold,stopped,completed",
        # optional: they date a therapy's course (docs/clinical-rules.md §2, §6.9)
        "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}"
        "&status=completed",
        "medicationDispenses": "MedicationDispense?patient={{context.patientId}}"
        "&status=completed",
    }
