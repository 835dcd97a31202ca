"""Start the documented production command on loopback for a test, and stop it after.

It binds a port of the kernel's choice (``MCAS_BIND=127.0.0.1:0``); gunicorn says which in
its log (tests/support/ports.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.paths import ROOT
from tests.support.ports import listening_url

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
README = ROOT / "README.md"


def _documented_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Production", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: the Production section has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def documented_command() -> list[str]:
    """The one production command of the README's "Production" section."""
    commands = [line for line in _documented_lines() if not line.startswith("export ")]
    assert len(commands) == 1, "README: the Production block must hold exactly one command"
    return shlex.split(commands[0])


def documented_environment() -> dict[str, str]:
    """The settings the README's Production block exports before the command."""
    exported: dict[str, str] = {}
    for line in _documented_lines():
        if line.startswith("export "):
            for assignment in shlex.split(line)[1:]:
                name, _, value = assignment.partition("=")
                exported[name] = value
    return exported


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the Dockerfile's final stage, in exec form."""
    import json

    final_stage = DOCKERFILE.read_text(encoding="utf-8").rsplit("\nFROM ", 1)[1]
    parts: dict[str, list[str]] = {"ENTRYPOINT": [], "CMD": []}
    for instruction in ("ENTRYPOINT", "CMD"):
        found = re.findall(rf"^{instruction} (\[.*\])\s*$", final_stage, re.M)
        if found:
            parts[instruction] = json.loads(found[-1])
    return parts["ENTRYPOINT"] + parts["CMD"]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, OSError):
            if predicate():  # type: ignore[operator]
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def production_server(
    command: list[str], workdir: Path, extra_env: Mapping[str, str], port: int = 0
) -> Iterator[Server]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MCAS_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(extra_env)
    # Port 0 unless the caller must know the port before the start (its public URL).
    env["MCAS_BIND"] = f"127.0.0.1:{port}"
    # Files the service writes (embedded SQLite, replay cache) stay in the test's folder.
    env.setdefault("MCAS_DATA_DIR", str(workdir / "data"))
    env.setdefault("MCAS_REPLAY_CACHE", str(workdir / "replay-cache.sqlite3"))
    # The command's own program from this environment's bin/, as the image's PATH has it.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        server = Server(process, listening_url(log_path, process), log_path)
        wait_until(
            lambda: process.poll() is None
            and requests.get(f"{server.base_url}/healthz", timeout=2).status_code == 200,
            timeout=60,
            what="the production server to answer /healthz",
        )
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
