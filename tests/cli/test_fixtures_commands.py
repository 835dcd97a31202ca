"""mcas-cds fixtures list / validate / new / load."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from service.cli.scaffold import create_fixture
from service.scenarios.fixtures import load_fixture
from tests.support.cli import add_sandbox_fixture

Run = Callable[..., tuple[int, str, str]]


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_list_shows_name_topics_and_description(run_cli: Run, fixtures_dir: Path) -> None:
    add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli("fixtures", "list", "--fixtures-dir", str(fixtures_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "out-of-scope  (no cards)"
    sandbox = next(line for line in lines if line.startswith("sandbox-patient"))
    assert sandbox.split()[1:] == ["tier-2,", "albuterol"]
    assert "two anaphylaxis episodes" in out.replace("\n ", " ").replace("  ", " ")
    assert "2 fixtures in" in out


def test_list_reads_the_fixtures_dir_from_the_environment(
    run_cli: Run, fixtures_dir: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MCAS_FIXTURES_DIR", str(fixtures_dir))
    code, out, _ = run_cli("fixtures", "list")
    assert code == 0 and out.startswith("out-of-scope")


def test_list_of_a_missing_directory_is_a_usage_error(run_cli: Run, tmp_path: Path) -> None:
    code, out, err = run_cli("fixtures", "list", "--fixtures-dir", str(tmp_path / "nope"))
    assert code == 2
    assert "does not exist" in err and out == ""


def test_new_scaffolds_a_fixture_that_validates(run_cli: Run, tmp_path: Path) -> None:
    code, out, _ = run_cli("fixtures", "new", "my-scenario", "--fixtures-dir", str(tmp_path))
    assert code == 0 and "Created" in out
    data = json.loads((tmp_path / "my-scenario.json").read_text())
    assert data["expectedTopics"] == []
    assert data["request"]["hook"] == "patient-view"
    assert data["request"]["context"]["patientId"] == "mcas-test-my-scenario"
    instant = datetime.fromisoformat(data["evaluatedAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - instant) < timedelta(minutes=1)
    code, out, _ = run_cli("fixtures", "validate", str(tmp_path / "my-scenario.json"))
    assert code == 0, out
    assert "1 of 1 fixtures valid" in out
    # The library's own loader (used by the e2e tests) takes it as it is.
    loaded = load_fixture(tmp_path / "my-scenario.json")
    assert loaded.expected_topics == frozenset() and loaded.expected_status == 200


def test_new_gives_every_fixture_a_fresh_hook_instance(tmp_path: Path) -> None:
    first = json.loads(create_fixture(tmp_path, "a").read_text())
    second = json.loads(create_fixture(tmp_path, "b").read_text())
    assert first["request"]["hookInstance"] != second["request"]["hookInstance"]


def test_new_refuses_to_overwrite_and_bad_names(run_cli: Run, fixtures_dir: Path) -> None:
    code, _, err = run_cli("fixtures", "new", "out-of-scope", "--fixtures-dir", str(fixtures_dir))
    assert code == 2 and "exists" in err
    code, _, err = run_cli("fixtures", "new", "../escape", "--fixtures-dir", str(fixtures_dir))
    assert code == 2 and "not a fixture name" in err
    assert not (fixtures_dir.parent / "escape.json").exists()
    code, _, _ = run_cli(
        "fixtures", "new", "out-of-scope", "--force", "--fixtures-dir", str(fixtures_dir)
    )
    assert code == 0


def test_validate_the_recorded_sandbox_patient(run_cli: Run, fixtures_dir: Path) -> None:
    path = add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli("fixtures", "validate", str(path))
    assert code == 0, out
    assert "sandbox-patient: 12 resources" in out


def _validate(run_cli: Run, path: Path) -> tuple[int, str]:
    code, out, _ = run_cli("fixtures", "validate", str(path))
    return code, out


def test_validate_reports_a_resource_that_fails_r4b(run_cli: Run, fixtures_dir: Path) -> None:
    path = add_sandbox_fixture(fixtures_dir)

    def break_observation(data: dict[str, Any]) -> None:
        observation = data["request"]["prefetch"]["observations"]["entry"][0]["resource"]
        observation["effectiveDateTim"] = observation.pop("effectiveDateTime")
        observation["valueQuantity"]["value"] = "high"

    edit(path, break_observation)
    code, out = _validate(run_cli, path)
    assert code == 1
    assert "FAIL  sandbox-patient" in out
    assert "prefetch.observations.entry[0]: effectiveDateTim: Extra inputs are not" in out
    assert "prefetch.observations.entry[0]: valueQuantity.value" in out
    assert "0 of 1 fixtures valid" in out


def test_validate_accepts_invalid_resources_only_where_declared(
    run_cli: Run, fixtures_dir: Path
) -> None:
    path = add_sandbox_fixture(fixtures_dir)
    edit(path, lambda d: d.update(unreadable=["Condition/bad-status"]))
    code, out = _validate(run_cli, path)
    assert code == 1 and "unreadable: Condition/bad-status not in the prefetch" in out

    def add_bad(data: dict[str, Any]) -> None:
        patient_id = data["request"]["context"]["patientId"]
        entries = data["request"]["prefetch"]["conditions"]["entry"]
        # A status the rules need that cannot be read: left out and counted.
        entries.append(
            {"resource": {"resourceType": "Condition", "id": "bad-status",
                          "subject": {"reference": f"Patient/{patient_id}"},
                          "clinicalStatus": ["active"]}}
        )
        # No subject: invalid R4B, still read as the context patient's.
        entries.append({"resource": {"resourceType": "Condition", "id": "no-subject"}})
        data["nonconformant"] = ["Condition/no-subject"]

    edit(path, add_bad)
    code, out = _validate(run_cli, path)
    assert code == 0, out
    assert "invalid R4B on purpose: 1 unreadable, 1 nonconformant" in out

    first = json.loads(path.read_text())["request"]["prefetch"]["conditions"]["entry"][0]
    reference = f"Condition/{first['resource']['id']}"
    edit(path, lambda d: d["nonconformant"].append(reference))
    code, out = _validate(run_cli, path)
    assert code == 1 and f"{reference} is listed as nonconformant yet validates" in out

    edit(path, lambda d: d["unreadable"].append("Condition/no-subject"))
    code, out = _validate(run_cli, path)
    assert code == 1 and "both unreadable and nonconformant: Condition/no-subject" in out


def test_validate_refuses_the_replaced_malformed_member(
    run_cli: Run, fixtures_dir: Path
) -> None:
    path = add_sandbox_fixture(fixtures_dir)
    edit(path, lambda d: d.update(malformed=[]))
    code, out = _validate(run_cli, path)
    assert code == 1
    assert "'malformed' was replaced" in out and "'unreadable'" in out


def test_validate_checks_the_patient_of_a_nonconformant_resource(
    run_cli: Run, fixtures_dir: Path
) -> None:
    path = add_sandbox_fixture(fixtures_dir)

    def add(data: dict[str, Any]) -> None:
        data["request"]["prefetch"]["conditions"]["entry"].append(
            {"resource": {"resourceType": "Condition", "id": "other",
                          "subject": {"reference": "Patient/someone-else"},
                          "onsetDateTime": "last Tuesday"}}
        )
        data["nonconformant"] = ["Condition/other"]

    edit(path, add)
    code, out = _validate(run_cli, path)
    assert code == 1 and "refers to Patient/someone-else" in out


def test_validate_reports_fixture_field_and_envelope_problems(
    run_cli: Run, fixtures_dir: Path
) -> None:
    path = fixtures_dir / "out-of-scope.json"

    def spoil(data: dict[str, Any]) -> None:
        del data["description"]
        data["evaluatedAt"] = "2026-11-25T10:00:00"  # no zone
        data["expectedTopic"] = ["tier-1"]  # typo of expectedTopics
        data["request"]["hookInstance"] = "not-a-uuid"
        data["request"]["prefetch"]["labs"] = None
        data["request"]["prefetch"]["conditions"]["entry"] = [
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "Patient/someone-else"},
                }
            }
        ]

    edit(path, spoil)
    code, out = _validate(run_cli, path)
    assert code == 1
    assert "missing field 'description'" in out
    assert "has no time zone" in out
    assert "unknown field 'expectedTopic' (did you mean 'expectedTopics'?)" in out
    assert "request: hookInstance: Not a valid UUID." in out
    assert "unknown key(s) labs" in out
    assert "refers to Patient/someone-else, but context.patientId is 'oos-1'" in out


def test_validate_reports_json_errors_and_topic_contradictions(
    run_cli: Run, fixtures_dir: Path
) -> None:
    (fixtures_dir / "broken.json").write_text('{"description": "x",')
    path = fixtures_dir / "out-of-scope.json"
    edit(path, lambda d: d.update(expectedTopics=["albuterol"], absentTopics=["albuterol"]))
    code, out, _ = run_cli("fixtures", "validate", "--fixtures-dir", str(fixtures_dir))
    assert code == 1
    assert "FAIL  broken" in out and "not valid JSON" in out
    assert "both expected and absent: albuterol" in out
    assert "0 of 2 fixtures valid" in out


def test_load_puts_fixture_patients_into_the_fhir_server(
    run_cli: Run, fixtures_dir: Path, fhir_server: str
) -> None:
    add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli(
        "fixtures", "load", "--fhir", fhir_server, "--fixtures-dir", str(fixtures_dir)
    )
    assert code == 0, out
    assert "ok    sandbox-patient: Patient/mcas-test-sandbox, 12 resources" in out
    assert "ok    out-of-scope: Patient/oos-1, 1 resource" in out
    assert "2 of 2 fixtures loaded" in out

    patient = requests.get(f"{fhir_server}/Patient/mcas-test-sandbox", timeout=5).json()
    assert patient["name"][0]["family"] == "Hartley"
    conditions = requests.get(
        f"{fhir_server}/Condition?patient=mcas-test-sandbox", timeout=5
    ).json()
    assert conditions["total"] == 4
    # Dates moved by as long as the recording is old: the newest anaphylaxis (2026-10-22
    # when recorded on 2026-11-25) stays 34 days before today.
    onsets = sorted(
        datetime.fromisoformat(e["resource"]["onsetDateTime"])
        for e in conditions["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == "T78.2XXA"
    )
    assert abs((datetime.now(UTC) - onsets[-1]) - timedelta(days=34)) < timedelta(days=1)
    # The searches the service's prefetch uses find the loaded data.
    active = requests.get(
        f"{fhir_server}/MedicationRequest?patient=mcas-test-sandbox&status=active", timeout=5
    ).json()
    assert active["total"] == 1

    # Loading again changes nothing: PUTs with the same ids.
    code, _, _ = run_cli(
        "fixtures",
        "load",
        "sandbox-patient",
        "--fhir",
        fhir_server,
        "--fixtures-dir",
        str(fixtures_dir),
    )
    assert code == 0
    again = requests.get(
        f"{fhir_server}/Condition?patient=mcas-test-sandbox", timeout=5
    ).json()
    assert again["total"] == 4


def test_load_leaves_invalid_resources_out(
    run_cli: Run, fixtures_dir: Path, fhir_server: str
) -> None:
    path = fixtures_dir / "out-of-scope.json"

    def add(data: dict[str, Any]) -> None:
        entries = data["request"]["prefetch"]["conditions"]["entry"]
        entries.append({"resource": {"resourceType": "Condition", "id": "bad", "subject": 1}})
        # Its only fault is the missing subject: it is the patient's, and is loaded.
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "no-subject",
                    "code": {
                        "coding": [
                            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.909"}
                        ]
                    },
                }
            }
        )
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "oos-asthma",
                    "subject": {"reference": "Patient/oos-1"},
                    "code": {
                        "coding": [
                            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.909"}
                        ]
                    },
                }
            }
        )
        data["unreadable"] = ["Condition/bad"]
        data["nonconformant"] = ["Condition/no-subject"]

    edit(path, add)
    code, out, _ = run_cli(
        "fixtures",
        "load",
        "out-of-scope",
        "--fhir",
        fhir_server,
        "--fixtures-dir",
        str(fixtures_dir),
    )
    assert code == 0, out
    assert "3 resources, 1 invalid left out" in out
    found = requests.get(f"{fhir_server}/Condition?patient=oos-1", timeout=5).json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == [
        "oos-1-no-subject", "oos-1-oos-asthma"
    ]


def test_load_keeps_fixtures_apart_that_reuse_resource_ids(
    run_cli: Run, tmp_path: Path, fhir_server: str
) -> None:
    """Fixtures use short local ids (cond-1) over and over; loading all of them must not
    let one patient's Condition overwrite another's, and references must follow."""
    for name in ("first", "second"):
        path = create_fixture(tmp_path, name, patient_id=f"reuse-{name}")

        def add(data: dict[str, Any], name: str = name) -> None:
            prefetch = data["request"]["prefetch"]
            prefetch["conditions"]["entry"] = [{"resource": {
                "resourceType": "Condition", "id": "cond-1",
                "subject": {"reference": f"Patient/reuse-{name}"},
                "code": {"text": f"condition of {name}"},
            }}]
            prefetch["medicationStatements"]["entry"] = [{"resource": {
                "resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
                "medicationCodeableConcept": {"text": "cetirizine"},
                "subject": {"reference": f"Patient/reuse-{name}"},
                "reasonReference": [{"reference": "Condition/cond-1"}],
            }}]

        edit(path, add)
    code, out, _ = run_cli("fixtures", "load", "--fhir", fhir_server, "--fixtures-dir",
                           str(tmp_path))
    assert code == 0, out
    for name in ("first", "second"):
        found = requests.get(f"{fhir_server}/Condition?patient=reuse-{name}", timeout=5).json()
        assert [e["resource"]["code"]["text"] for e in found["entry"]] == [
            f"condition of {name}"
        ]
        statement = requests.get(
            f"{fhir_server}/MedicationStatement?patient=reuse-{name}", timeout=5
        ).json()["entry"][0]["resource"]
        assert statement["reasonReference"] == [{"reference": f"Condition/reuse-{name}-cond-1"}]


def test_load_into_an_unreachable_server_fails(
    run_cli: Run, fixtures_dir: Path, refused_port: int
) -> None:
    url = f"http://127.0.0.1:{refused_port}/fhir"
    code, out, err = run_cli("fixtures", "load", "--fhir", url, "--fixtures-dir",
                             str(fixtures_dir))
    assert code == 1
    assert out == ""
    assert err.startswith(f"mcas-cds: error: cannot reach the FHIR server at {url}")


def test_validate_checks_topics_against_the_services_cards(
    run_cli: Run, fixtures_dir: Path
) -> None:
    path = fixtures_dir / "out-of-scope.json"
    edit(path, lambda d: d.update(expectedTopics=["tier-2", "albuteroll"]))
    code, out = _validate(run_cli, path)
    assert code == 1
    assert "expectedTopics: unknown topic 'albuteroll' (known: albuterol, aspirin-caution," in out
    assert "'tier-2'" not in out


def test_mistyped_fixture_name_suggests_the_closest_names(run_cli: Run) -> None:
    """Not all 133 names on one line: the closest few, one per line."""
    from service.scenarios.fixtures import FIXTURES_DIR, fixture_paths

    names = [p.stem for p in fixture_paths(FIXTURES_DIR)]
    assert len(names) > 100
    code, out, err = run_cli("fire", "tier-2--fires--refractory-two-episode",
                             "--url", "http://127.0.0.1:9")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0] == (
        "mcas-cds: error: no fixture file or fixture named "
        "'tier-2--fires--refractory-two-episode' in " + str(FIXTURES_DIR) + "."
    )
    assert lines[1] == "Closest names:"
    suggested = [line.strip() for line in lines[2:] if line.startswith("  ")]
    assert suggested[0] == "tier-2--fires--refractory-two-episodes"
    assert 1 <= len(suggested) <= 5
    assert all(name in names for name in suggested)
    assert sum(name in err for name in names) <= 5 + 1  # + a longer name containing one
    assert lines[-1] == f"`mcas-cds fixtures list` shows all {len(names)}."

    # A part of a name finds the names that contain it.
    code, _, err = run_cli("fixtures", "load", "exactly-180", "--fhir", "http://127.0.0.1:9")
    assert code == 2
    suggested = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert suggested and all("exactly-180" in name for name in suggested)

    # Nothing close: no guesses, the way to the list.
    code, _, err = run_cli("fire", "zzzz", "--url", "http://127.0.0.1:9")
    assert code == 2
    assert "Closest names" not in err
    assert err.strip().splitlines()[-1] == f"`mcas-cds fixtures list` shows all {len(names)}."


def test_load_to_a_dead_url_stops_after_the_first_connection_failure(
    run_cli: Run, refused_port: int
) -> None:
    """Not 133 identical errors: one clear message, a non-zero exit."""
    url = f"http://127.0.0.1:{refused_port}/fhir"
    code, out, err = run_cli("fixtures", "load", "--fhir", url)  # every bundled fixture
    assert code == 1
    assert "cannot reach" not in out
    messages = [line for line in (out + err).splitlines() if "cannot reach" in line]
    assert messages == [
        f"mcas-cds: error: cannot reach the FHIR server at {url} (Connection refused); "
        "stopped after the first fixture, nothing loaded"
    ]
    assert len((out + err).strip().splitlines()) <= 3


SOURCE = "tier-2--fires--refractory-two-episodes"


def test_new_from_copies_a_fixture_under_the_test_patient_prefix(
    run_cli: Run, tmp_path: Path, live_service: str
) -> None:
    """`fixtures new NAME --from FIXTURE`: an existing scenario as the starting point, its
    patient renamed under the test-patient prefix (mcas-test-) everywhere it appears."""
    from service.scenarios.fixtures import FIXTURES_DIR

    source_path = FIXTURES_DIR / f"{SOURCE}.json"
    source = json.loads(source_path.read_text())
    old_id = source["request"]["context"]["patientId"]
    directory = tmp_path / "mine"
    code, out, err = run_cli("fixtures", "new", "tier-2-variant", "--from", SOURCE,
                             "--fixtures-dir", str(directory))
    assert code == 0, err
    path = directory / "tier-2-variant.json"
    assert f"Created {path} from {SOURCE} (patient mcas-test-tier-2-variant)" in out
    text = path.read_text()
    data = json.loads(text)
    assert data["request"]["context"]["patientId"] == "mcas-test-tier-2-variant"
    assert data["request"]["prefetch"]["patient"]["id"] == "mcas-test-tier-2-variant"
    assert old_id not in text
    assert '"Patient/mcas-test-tier-2-variant"' in text
    assert data["request"]["hookInstance"] != source["request"]["hookInstance"]
    assert data["expectedTopics"] == source["expectedTopics"]
    assert data["evaluatedAt"] == source["evaluatedAt"]  # its dates mean the same
    assert data["description"].startswith(f"Copied from {SOURCE}: ")
    code, out, _ = run_cli("fixtures", "validate", str(path))
    assert code == 0, out
    # The copy fires as its source does.
    code, out, _ = run_cli("fire", "tier-2-variant", "--url", live_service,
                           "--fixtures-dir", str(directory))
    assert code == 0, out
    assert "Topics as the fixture expects: tier-2" in out


def test_new_fixtures_get_patient_ids_under_the_test_prefix(
    run_cli: Run, tmp_path: Path
) -> None:
    code, _, _ = run_cli("fixtures", "new", "plain", "--fixtures-dir", str(tmp_path))
    assert code == 0
    data = json.loads((tmp_path / "plain.json").read_text())
    assert data["request"]["context"]["patientId"] == "mcas-test-plain"
    code, _, err = run_cli("fixtures", "new", "other", "--patient-id", "pt-123",
                           "--fixtures-dir", str(tmp_path))
    assert code == 2
    assert "mcas-test-" in err
    code, _, err = run_cli("fixtures", "new", "copy", "--from", "no-such-fixture",
                           "--fixtures-dir", str(tmp_path))
    assert code == 2 and "no fixture file or fixture named 'no-such-fixture'" in err
