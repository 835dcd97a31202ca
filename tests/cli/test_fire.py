"""mcas-cds fire: the real app on loopback, and a canned server for what the app never
answers (broken responses, server errors)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from service.cli.signing import public_jwk, thumbprint
from tests.support.cli import CannedServer

Run = Callable[..., tuple[int, str, str]]

FULL_CARD = {
    "uuid": "7d3f2a9e-5b61-4c0a-9f3e-3c5a00000001",
    "summary": "Consider adding a leukotriene modifier (tier 2)",
    "indicator": "warning",
    "detail": "Tier 1 complete since **2026-06-28**:\n\n- cetirizine 10 mg daily\n"
    "- famotidine 20 mg twice daily\n\nTwo anaphylaxis episodes since then. " + "word " * 40,
    "source": {
        "label": "MCAS therapy ladder",
        "url": "https://example.org/mcas",
        "topic": {"system": "https://example.org/topics", "code": "tier-2"},
    },
    "selectionBehavior": "at-most-one",
    "suggestions": [
        {
            "label": "Add montelukast 10 mg daily",
            "uuid": "s-1",
            "isRecommended": True,
            "actions": [
                {
                    "type": "create",
                    "description": "Draft a montelukast order",
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "status": "draft",
                        "intent": "proposal",
                        "medicationCodeableConcept": {"text": "montelukast 10 mg tablet"},
                    },
                }
            ],
        }
    ],
    "overrideReasons": [
        {
            "system": "https://example.org/override",
            "code": "declined",
            "display": "Patient declined",
        }
    ],
    "links": [
        {"label": "Guideline summary", "url": "https://example.org/guide", "type": "absolute"}
    ],
}


def fire(run_cli: Run, fixtures_dir: Path, url: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(
        "fire", "out-of-scope", "--url", url, "--fixtures-dir", str(fixtures_dir), *extra
    )


def test_fire_at_the_real_service(run_cli: Run, fixtures_dir: Path, live_service: str) -> None:
    code, out, _ = fire(run_cli, fixtures_dir, live_service)
    assert code == 0, out
    assert f"POST {live_service}/cds-services/mcas-therapy-tier" in out
    assert "unsigned" in out
    assert "HTTP 200 (hookInstance " in out
    assert "No cards: the service has no guidance for this patient." in out
    assert "Topics as the fixture expects: none" in out


@pytest.mark.parametrize("suffix", ["", "/", "/cds-services", "/cds-services/mcas-therapy-tier"])
def test_fire_takes_base_discovery_or_service_url(
    run_cli: Run, fixtures_dir: Path, live_service: str, suffix: str
) -> None:
    code, out, _ = fire(run_cli, fixtures_dir, live_service + suffix)
    assert code == 0, out
    assert f"POST {live_service}/cds-services/mcas-therapy-tier (unsigned)" in out


def test_fire_a_file_path(run_cli: Run, fixtures_dir: Path, live_service: str) -> None:
    code, out, _ = run_cli("fire", str(fixtures_dir / "out-of-scope.json"), "--url", live_service)
    assert code == 0, out


def test_fire_sends_shifted_dates_and_a_fresh_hook_instance(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    fixture = json.loads((fixtures_dir / "out-of-scope.json").read_text())
    for _ in range(2):
        code, _, _ = fire(run_cli, fixtures_dir, canned.url)
        assert code == 0
    sent = [json.loads(r["body"]) for r in canned.requests]
    instances = {s["hookInstance"] for s in sent}
    assert len(instances) == 2 and fixture["request"]["hookInstance"] not in instances
    assert all(uuid.UUID(i) for i in instances)
    assert sent[0]["context"] == fixture["request"]["context"]
    assert canned.requests[0]["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in canned.requests[0]["headers"]


def test_fire_renders_cards_readably(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    canned.set(200, {"cards": [FULL_CARD]})
    code, out, _ = fire(run_cli, fixtures_dir, canned.url)
    assert code == 0, out
    assert "1. [WARNING] Consider adding a leukotriene modifier (tier 2)" in out
    assert "topic: tier-2 | source: MCAS therapy ladder | https://example.org/mcas" in out
    assert "   - cetirizine 10 mg daily" in out
    assert max(len(line) for line in out.splitlines() if "word" in line) <= 120
    assert "Suggestions (choose at-most-one):" in out
    assert "- Add montelukast 10 mg daily (recommended)" in out
    assert (
        "-> create MedicationRequest (montelukast 10 mg tablet): Draft a montelukast order" in out
    )
    assert "- Guideline summary" in out and "https://example.org/guide" in out
    assert "Override reasons: Patient declined" in out
    # Expected no cards, got tier-2: said plainly, yet the exchange itself is sound.
    assert "Topics differ from the fixture: unexpected tier-2" in out
    assert "\x1b[" not in out  # no colour codes when not on a terminal


@pytest.mark.parametrize(
    ("body", "violation"),
    [
        ({"cards": [{**FULL_CARD, "summary": "x" * 140}]}, "cards[0].summary"),
        (
            {"cards": [{k: v for k, v in FULL_CARD.items() if k != "selectionBehavior"}]},
            "'selectionBehavior' is a dependency of 'suggestions'",
        ),
        ({"cards": [{**FULL_CARD, "detail": None}]}, "cards[0].detail: null"),
        ({"cards": [{**FULL_CARD, "links": []}]}, "cards[0].links: []"),
        (
            {"cards": [{**FULL_CARD, "overrideReasons": [{"system": "s", "code": "c"}]}]},
            "'display' is a required property",
        ),
        ({"cards": [{**FULL_CARD, "indicator": "urgent"}]}, "cards[0].indicator"),
        (
            {"cards": [{**FULL_CARD, "source": {"url": "https://example.org"}}]},
            "'label' is a required property",
        ),
        ({"card": []}, "'cards' is a required property"),
    ],
)
def test_fire_fails_on_a_response_that_breaks_the_schema(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer, body: Any, violation: str
) -> None:
    canned.set(200, body)
    code, out, _ = fire(run_cli, fixtures_dir, canned.url)
    assert code == 1
    assert "The response breaks the CDS Hooks 2.0 response schema:" in out
    assert violation in out


def test_fire_fails_on_an_http_error_and_shows_the_outcome(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    canned.set(
        500,
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "exception",
                    "diagnostics": "Internal error in the CDS service.",
                }
            ],
        },
    )
    code, out, _ = fire(run_cli, fixtures_dir, canned.url)
    assert code == 1
    assert "error: HTTP 500 (expected 200): Internal error in the CDS service." in out


def test_fire_fails_on_a_body_that_is_not_json(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    canned.set(200, b"<html>hello</html>", {"Content-Type": "text/html"})
    code, out, _ = fire(run_cli, fixtures_dir, canned.url)
    assert code == 1 and "the answer is not JSON" in out


def test_fire_fails_when_nothing_listens(
    run_cli: Run, fixtures_dir: Path, refused_port: int
) -> None:
    code, out, _ = fire(run_cli, fixtures_dir, f"http://127.0.0.1:{refused_port}")
    assert code == 1 and "cannot connect (Connection refused)" in out


def test_fire_accepts_the_status_a_fixture_expects(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    path = fixtures_dir / "out-of-scope.json"
    data = json.loads(path.read_text())
    data["expectedStatus"] = 400
    data["request"]["context"].pop("patientId")
    path.write_text(json.dumps(data))
    code, out, _ = fire(run_cli, fixtures_dir, live_service)
    assert code == 0, out
    assert "HTTP 400" in out and "as this fixture expects" in out
    assert "context.patientId" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fire", "no-such-fixture", "--url", "http://127.0.0.1:1"], "no fixture file or fixture"),
        (["fire", "out-of-scope", "--url", "ftp://example.org"], "is not an http(s) URL"),
        (["fire", "out-of-scope", "--url", "http://127.0.0.1:1", "--iss", "x"], "need --key"),
    ],
)
def test_fire_usage_errors_exit_2(
    run_cli: Run, fixtures_dir: Path, argv: list[str], message: str
) -> None:
    code, _out, err = run_cli(*argv, "--fixtures-dir", str(fixtures_dir))
    assert code == 2 and message in err


def test_fire_key_needs_issuer_and_a_readable_key(
    run_cli: Run, fixtures_dir: Path, ec_key_pem: Path, tmp_path: Path
) -> None:
    code, _, err = fire(run_cli, fixtures_dir, "http://127.0.0.1:1", "--key", str(ec_key_pem))
    assert code == 2 and "--key needs --iss" in err
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    code, _, err = fire(
        run_cli,
        fixtures_dir,
        "http://127.0.0.1:1",
        "--key",
        str(junk),
        "--iss",
        "https://ehr.example.org",
    )
    assert code == 2 and "not an unencrypted PEM private key" in err


def _public_pem(private_pem: Path) -> bytes:
    key: Any = serialization.load_pem_private_key(private_pem.read_bytes(), None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("key_fixture", "alg"), [("ec_key_pem", "ES384"), ("rsa_key_pem", "RS384")]
)
def test_fire_signs_a_jwt_the_way_an_ehr_does(
    run_cli: Run,
    fixtures_dir: Path,
    canned: CannedServer,
    request: pytest.FixtureRequest,
    key_fixture: str,
    alg: str,
) -> None:
    key_path: Path = request.getfixturevalue(key_fixture)
    issuer = "https://ehr.example.org"
    before = int(time.time())
    code, out, _ = fire(
        run_cli,
        fixtures_dir,
        canned.url + "/cds-services/",
        "--key",
        str(key_path),
        "--iss",
        issuer,
        "--kid",
        "ehr-key-1",
    )
    assert code == 0, out
    assert f"signed as {issuer}" in out
    authorization = canned.requests[0]["headers"]["Authorization"]
    assert authorization.startswith("Bearer ")
    token = authorization.removeprefix("Bearer ")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": "ehr-key-1"}
    called = f"{canned.url}/cds-services/mcas-therapy-tier"
    claims = jwt.decode(
        token,
        _public_pem(key_path),
        algorithms=[alg],
        audience=called,  # the exact URL called, no trailing slash
        issuer=issuer,
        options={"require": ["iss", "aud", "exp", "iat", "jti"]},
    )
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 300
    assert uuid.UUID(claims["jti"])


def test_every_call_gets_its_own_jti_and_the_default_kid_is_the_thumbprint(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer, ec_key_pem: Path
) -> None:
    for _ in range(2):
        fire(run_cli, fixtures_dir, canned.url, "--key", str(ec_key_pem), "--iss", "urn:ehr")
    tokens = [r["headers"]["Authorization"].split()[1] for r in canned.requests]
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 2
    key: Any = serialization.load_pem_private_key(ec_key_pem.read_bytes(), None)
    assert jwt.get_unverified_header(tokens[0])["kid"] == thumbprint(public_jwk(key))


def test_fire_signs_with_a_private_jwk(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer, ec_key_pem: Path, tmp_path: Path
) -> None:
    key: Any = serialization.load_pem_private_key(ec_key_pem.read_bytes(), None)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    jwk["kid"] = "from-the-jwk"
    path = tmp_path / "key.jwk.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    code, out, _ = fire(run_cli, fixtures_dir, canned.url, "--key", str(path), "--iss", "urn:e")
    assert code == 0, out
    token = canned.requests[0]["headers"]["Authorization"].split()[1]
    assert jwt.get_unverified_header(token)["kid"] == "from-the-jwk"
    jwt.decode(
        token,
        _public_pem(ec_key_pem),
        algorithms=["ES384"],
        audience=f"{canned.url}/cds-services/mcas-therapy-tier",
    )


def test_fire_json_prints_the_raw_response(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    canned.set(200, {"cards": [FULL_CARD]})
    code, out, _ = fire(run_cli, fixtures_dir, canned.url, "--json")
    assert code == 0
    start = out.index("{")
    end = out.rindex("}") + 1
    assert json.loads(out[start:end]) == {"cards": [FULL_CARD]}


def test_fire_without_prefetch_names_the_fhir_server(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    code, _, _ = fire(
        run_cli,
        fixtures_dir,
        canned.url,
        "--no-prefetch",
        "--fhir-server",
        "http://127.0.0.1:9/fhir",
    )
    assert code == 0
    sent = json.loads(canned.requests[0]["body"])
    assert "prefetch" not in sent and sent["fhirServer"] == "http://127.0.0.1:9/fhir"


def test_fire_the_recorded_sandbox_patient_at_the_real_service(
    run_cli: Run, fixtures_dir: Path, live_service: str
) -> None:
    """The patient the CDS Hooks Sandbox sent gets tier-2 and albuterol (its README)."""
    from tests.support.cli import add_sandbox_fixture

    add_sandbox_fixture(fixtures_dir)
    code, out, _ = run_cli("fire", "sandbox-patient", "--url", live_service,
                           "--fixtures-dir", str(fixtures_dir))
    assert code == 0, out
    assert "topic: tier-2" in out and "topic: albuterol" in out
    assert "Suggestions (choose" in out and "Links:" in out and "Override reasons:" in out
    assert "Topics as the fixture expects: tier-2, albuterol" in out


def test_fire_reports_a_badly_broken_card_without_crashing(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer
) -> None:
    canned.set(200, {"cards": [{**FULL_CARD, "suggestions": ["x", 3], "links": "none",
                                "source": "MCAS"}, "not a card"]})
    code, out, _ = fire(run_cli, fixtures_dir, canned.url)
    assert code == 1
    assert "1. [WARNING] Consider adding a leukotriene modifier" in out
    assert "2. (not a card object)" in out
    assert "cards[0].suggestions[0]" in out and "cards[1]" in out


def test_fire_json_stdout_is_exactly_the_json(
    run_cli: Run, fixtures_dir: Path, canned: CannedServer, refused_port: int
) -> None:
    """`fire --json | jq` must work: the response alone on stdout, the rest on stderr."""
    canned.set(200, {"cards": [FULL_CARD]})
    code, out, err = fire(run_cli, fixtures_dir, canned.url, "--json")
    assert code == 0
    assert json.loads(out) == {"cards": [FULL_CARD]}
    assert "HTTP 200 (hookInstance " in err
    assert "out-of-scope: " in err and f"POST {canned.url}" in err

    # An error status: its body is still the JSON on stdout; what went wrong, on stderr.
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "diagnostics": "bad"}]}
    canned.set(400, outcome)
    code, out, err = fire(run_cli, fixtures_dir, canned.url, "--json")
    assert code == 1
    assert json.loads(out) == outcome
    assert "error: HTTP 400 (expected 200): bad" in err

    # Nothing listens: nothing on stdout.
    code, out, err = fire(run_cli, fixtures_dir, f"http://127.0.0.1:{refused_port}", "--json")
    assert code == 1
    assert out == "" and "cannot connect" in err


def test_a_referral_or_test_draft_is_named_by_its_code() -> None:
    """Cards propose ServiceRequest drafts too (docs/clinical-rules.md §5)."""
    import io

    from service.cli.card_text import render_cards
    from service.cli.output import Style

    card = {**FULL_CARD, "suggestions": [{"label": "Draft referral", "uuid": "s-2", "actions": [{
        "type": "create", "description": "Propose a draft referral.",
        "resource": {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                     "code": {"text": "Referral to allergy and immunology"}}}]}]}
    out = "\n".join(render_cards([card], Style(io.StringIO())))
    assert ("-> create ServiceRequest (Referral to allergy and immunology): Propose a draft "
            "referral.") in out
