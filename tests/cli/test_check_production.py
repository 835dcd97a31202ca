"""mcas-cds check as CI gates a deployment: against the README's production command.

gunicorn with JWT verification on (a trust file and a key made by `mcas-cds keys new`),
the public base URL set, and no CORS: a server-to-server deployment, as Epic or Oracle
backends call it. `mcas-cds check --origin none --junit report.xml` passes, twice in a row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.ports import free_port
from tests.support.production_server import (
    Server,
    documented_command,
    documented_environment,
    production_server,
)

ISSUER = "https://ehr.production-test.invalid"
MCAS_CDS = Path(sys.executable).parent / "mcas-cds"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    made = subprocess.run([str(MCAS_CDS), "keys", "new", str(directory), "--iss", ISSUER],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return directory


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[Server]:
    """The README's production command, its exported settings pointed at this test."""
    workdir = tmp_path_factory.mktemp("production")
    port = free_port()
    env = {
        **documented_environment(),
        "MCAS_TRUST_FILE": str(keys / "trust.yaml"),
        "MCAS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MCAS_WORKERS": "2",
        "MCAS_PATIENT_HASH_SALT": "production-check-salt-0123456789",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
    }
    assert "MCAS_CORS_ORIGINS" not in env and "MCAS_AUTH_DISABLED" not in env
    with production_server(documented_command(), workdir, env, port) as server:
        yield server


def run_check(server: Server, keys: Path, report: Path) -> subprocess.CompletedProcess[str]:
    """The command line a CI job runs, in a process of its own."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MCAS_")}
    return subprocess.run(
        [str(MCAS_CDS), "check", server.base_url, "--origin", "none", "--junit", str(report),
         "--key", str(keys / "private-key.pem"), "--iss", ISSUER],
        capture_output=True, text=True, timeout=600, env=environment,
    )


def test_check_origin_none_passes_against_the_production_command(
    deployment: Server, keys: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.xml"
    done = run_check(deployment, keys, report)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0" and suite.get("errors") == "0", done.stdout
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert int(suite.get("tests") or 0) == len(cases) > 100  # every bundled fixture
    cors = cases["CORS preflight"].find("skipped")
    assert cors is not None and "--origin none" in (cors.get("message") or "")
    tokens = cases["invalid tokens"]
    assert tokens.find("failure") is None and tokens.find("skipped") is None
    assert cases["feedback"].find("failure") is None
    # Concise: the heading, what was not tested, the summary.
    assert len(done.stdout.strip().splitlines()) < 15, done.stdout
    assert done.stdout.strip().splitlines()[-1].endswith(" 0 failed, 1 not tested")


def test_check_run_twice_against_the_same_deployment_passes_both_times(
    deployment: Server, keys: Path, tmp_path: Path
) -> None:
    for run in ("first", "second"):
        report = tmp_path / f"{run}.xml"
        done = run_check(deployment, keys, report)
        assert done.returncode == 0, f"{run} run: {done.stdout}{done.stderr}"
        suite = ET.parse(report).getroot().find("testsuite")
        assert suite is not None and suite.get("failures") == "0", f"{run} run"


def test_check_sends_a_fresh_hook_instance_and_jti_on_every_call_of_every_run(
    run_cli: Run, fixtures_dir: Path, canned: Any, ec_key_pem: Path
) -> None:
    """Why a second run passes: nothing of a run is replayed in the next one."""
    for _ in range(2):
        run_cli("check", canned.url, "--fixtures-dir", str(fixtures_dir), "--origin", "none",
                "--key", str(ec_key_pem), "--iss", "urn:test-ehr")
    requests = canned.requests
    tokens = [
        r["headers"]["Authorization"].removeprefix("Bearer ")
        for r in requests
        if r["headers"].get("Authorization", "").startswith("Bearer ey")
    ]
    jtis = [jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens]
    assert len(jtis) >= 10 and len(set(jtis)) == len(jtis)
    hook_instances = [
        json.loads(r["body"])["hookInstance"]
        for r in requests
        if r["method"] == "POST" and not r["path"].endswith("/feedback")
    ]
    assert len(hook_instances) >= 2 and len(set(hook_instances)) == len(hook_instances)
