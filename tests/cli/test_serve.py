"""mcas-cds serve starts the service on loopback, as make run does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.ports import free_port

pytestmark = pytest.mark.integration  # `mcas-cds serve` in a subprocess


def test_serve_answers_discovery() -> None:
    port = free_port()
    executable = Path(sys.executable).parent / "mcas-cds"
    # serve itself must set the local-testing mode of `make run`.
    local_mode = {"MCAS_AUTH_DISABLED", "MCAS_CORS_ORIGINS"}
    env = {k: v for k, v in os.environ.items() if k not in local_mode}
    process = subprocess.Popen(
        [str(executable), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "mcas-cds serve did not start"
                time.sleep(0.2)
        # No token needed (verification off) ...
        assert reply.status_code == 200
        assert reply.json()["services"][0]["id"] == "mcas-therapy-tier"
        # ... and CORS open to a locally served Sandbox, as `make run` does.
        preflight = requests.options(
            f"http://127.0.0.1:{port}/cds-services",
            headers={
                "Origin": "http://127.0.0.1:8080",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=5,
        )
        assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert f"mcas-cds on http://127.0.0.1:{port}/cds-services" in output
    assert "JWT verification is OFF" in output
