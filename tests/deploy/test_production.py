"""The production command, exactly as the README documents it and the image runs it.

gunicorn on loopback with 2 sync workers and JWT verification on, as deployed (a key made
here is the trusted EHR's): hooks are answered, the probes answer, refused tokens are
counted, and /metrics adds up what every worker counted, including a worker that was
killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from tests.support.auth_helpers import ISSUER, Signer, trust_file, write_json
from tests.support.production_server import (
    Server,
    documented_command,
    documented_environment,
    image_command,
    production_server,
    wait_until,
)

HOOK_ROUTE = "/cds-services/<service_id>"
HOOK_PATH = "/cds-services/mcas-therapy-tier"
# A scenario whose answer has cards of two topics, so counting per topic is seen.
FIXTURE = FIXTURES_DIR / "tier-2--fires--steroid-does-not-raise-tier.json"


def test_the_image_runs_the_documented_command() -> None:
    assert image_command() == documented_command()


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(f"{server.base_url}/metrics", timeout=5)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def hook_count(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    labels = frozenset({"route": HOOK_ROUTE, "method": "POST", "status": "200"}.items())
    return samples.get(("mcas_http_request_duration_seconds_count", labels), 0.0)


def cards_by_topic(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (name, labels), value in samples.items():
        if name == "mcas_cards_issued_total":  # summed over the test label
            counts[dict(labels)["topic"]] += int(value)
    return counts


def raw_post(port: int, path: str, body: bytes, token: str) -> socket.socket:
    """Send the headers and half the body, keeping one sync worker busy until the rest."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock


def finish_raw_post(sock: socket.socket, body: bytes) -> dict[str, Any]:
    sock.sendall(body[len(body) // 2 :])
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"200", head.decode(errors="replace")
    return json.loads(payload)


def rejections(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "mcas_token_rejections_total"
    }


@pytest.mark.integration
def test_production_command_serves_probes_hooks_and_aggregated_metrics(tmp_path: Path) -> None:
    command = documented_command()
    metrics_dir = tmp_path / "prometheus"
    # Left by an earlier run: its numbers must not count, and other files must stay.
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale")
    (metrics_dir / "unrelated.txt").write_text("keep")
    # Behind a reverse proxy, as deployed: the tokens name the public URL, not the
    # loopback port the server happens to get.
    base_url = "https://cds.example.org"
    ehr = Signer("ES384")
    jwks = write_json(tmp_path / "jwks.json", ehr.jwks())
    trust = trust_file(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])
    # The README exports what verification needs: the trust file and the public URL.
    assert set(documented_environment()) == {"MCAS_TRUST_FILE", "MCAS_PUBLIC_BASE_URL"}
    env = {
        "MCAS_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        # As in production (docs/operations.md): verification on, one trusted EHR, the
        # public base URL its tokens name, a configured salt.
        "MCAS_TRUST_FILE": str(trust),
        "MCAS_PUBLIC_BASE_URL": base_url,
        "MCAS_PATIENT_HASH_SALT": "production-test-salt-0123456789",
    }

    def token() -> str:
        return ehr.token(HOOK_PATH, base=base_url, now=time.time())

    fixture = load_fixture(FIXTURE)
    assert len(fixture.expected_topics) >= 2

    def body() -> bytes:
        return json.dumps(request_for(fixture, datetime.now(UTC))).encode()

    path = HOOK_PATH

    with production_server(command, tmp_path, env) as server:
        wait_until(lambda: len(server.worker_pids()) == 2, 30, "two workers")
        assert not (metrics_dir / "counter_99999.db").exists()
        assert (metrics_dir / "unrelated.txt").read_text() == "keep"

        ready = requests.get(f"{server.base_url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "pass"
        assert set(ready.json()["checks"]) == {"configuration", "database", "audience"}

        # One worker is held by a half-sent hook, so the other must answer the rest:
        # both workers count, and /metrics has to add their files up.
        held_body = body()
        held = raw_post(server.port, path, held_body, token())
        responses = [
            requests.post(
                f"{server.base_url}{path}",
                data=body(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
                timeout=10,
            )
            for _ in range(4)
        ]
        assert [r.status_code for r in responses] == [200] * 4
        answers = [r.json() for r in responses] + [finish_raw_post(held, held_body)]
        for answer in answers:
            topics = {card["source"]["topic"]["code"] for card in answer["cards"]}
            assert topics == fixture.expected_topics
        issued = Counter(
            card["source"]["topic"]["code"] for answer in answers for card in answer["cards"]
        )

        workers_with_metrics = {
            p.name.rsplit("_", 1)[1].removesuffix(".db")
            for p in metrics_dir.glob("histogram_*.db")
        }
        assert len(workers_with_metrics) == 2, "both workers should have answered"

        # Refused: no token, and a token used before (the replay cache spans the workers).
        url = f"{server.base_url}{path}"
        used = token()
        ok = requests.post(url, data=body(), headers={"Authorization": f"Bearer {used}"})
        assert ok.status_code == 200
        issued.update(card["source"]["topic"]["code"] for card in ok.json()["cards"])
        replay = requests.post(url, data=body(), headers={"Authorization": f"Bearer {used}"})
        missing = requests.post(url, data=body(), headers={"Content-Type": "application/json"})
        assert replay.status_code == 401 and missing.status_code == 401

        samples = scrape(server)
        assert hook_count(samples) == 6
        assert cards_by_topic(samples) == issued
        assert rejections(samples) == {"replayed": 1.0, "missing": 1.0}

        # A killed worker's counts stay in the totals (child_exit marks it dead).
        victim = sorted(server.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2,
            30,
            "the killed worker to be replaced",
        )
        samples = scrape(server)
        assert hook_count(samples) == 6
        assert cards_by_topic(samples) == issued
        assert rejections(samples) == {"replayed": 1.0, "missing": 1.0}

        probe = subprocess.run(
            [sys.executable, "-m", "service.ops.probe"],
            env={**os.environ, "MCAS_BIND": server.base_url.removeprefix("http://")},
            capture_output=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stderr

    assert server.process.returncode == 0
    lines = server.log_lines()
    records = [json.loads(line) for line in lines]  # every line is a JSON object
    messages = [record["message"] for record in records]
    assert any(m.startswith("ready: 2 workers") for m in messages)
    answered = [
        r
        for r in records
        if r["logger"] == "service.request" and r.get("route") == HOOK_ROUTE
    ]
    assert sorted(r["status"] for r in answered) == [200] * 6 + [401] * 2
    assert {r["reason"] for r in answered if r["status"] == 401} == {
        "jti already used",
        "no Authorization header",
    }
    answered = [r for r in answered if r["status"] == 200]
    assert all(set(r["topics"]) == fixture.expected_topics for r in answered)
    patient_id = fixture.request["context"]["patientId"]
    assert not any(patient_id in line for line in lines)
    assert not any("eyJ" in line for line in lines), "a JWT reached the log"
