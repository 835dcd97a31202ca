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


def _discovery_once_up(
    process: subprocess.Popen[bytes], port: int, what: str
) -> requests.Response:
    """Discovery from the server ``process`` starts on ``port``, once it answers (30 s)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=1)
        except requests.ConnectionError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.2)


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
        reply = _discovery_once_up(process, port, "mcas-cds serve")
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


def _start_serve(*argv: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    executable = Path(sys.executable).parent / "mcas-cds"
    process = subprocess.Popen(
        [str(executable), "serve", "--port", str(port), *argv],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            return process, base
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate(timeout=10)[0].decode()
                raise AssertionError(f"mcas-cds serve did not start: {output}") from None
            time.sleep(0.2)


def test_serve_verify_tokens_keeps_the_cors_default(tmp_path: Path) -> None:
    """The guide's Sandbox with verification on (section 6.3) needs CORS as much as without."""
    from service.cli import main

    assert main(["keys", "new", str(tmp_path / "keys")]) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCAS_")}
    env["MCAS_TRUST_FILE"] = str(tmp_path / "keys" / "trust.yaml")
    env["MCAS_DATA_DIR"] = str(tmp_path / "data")
    process, base = _start_serve("--verify-tokens", env=env)
    try:
        refused = requests.get(f"{base}/cds-services", timeout=5)
        assert refused.status_code == 401  # verification is on
        preflight = requests.options(
            f"{base}/cds-services",
            headers={
                "Origin": "http://127.0.0.1:8080",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=5,
        )
        assert preflight.headers.get("Access-Control-Allow-Origin") == "http://127.0.0.1:8080"
    finally:
        process.terminate()
        process.communicate(timeout=10)


ROOT = Path(__file__).resolve().parents[2]


def test_make_run_takes_a_port(tmp_path: Path) -> None:
    """`make run PORT=5050`, for a machine where 5000 is taken (macOS AirPlay, say)."""
    import signal

    shown = subprocess.run(["make", "-n", "run", f"VENV={sys.prefix}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
    assert "--port 5000" in shown.stdout, shown.stdout + shown.stderr  # the default
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCAS_")}
    env["MCAS_DATA_DIR"] = str(tmp_path)  # not the checkout's instance/ folder
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"VENV={sys.prefix}"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        reply = _discovery_once_up(process, port, "make run PORT=...")
        assert reply.status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=10)
