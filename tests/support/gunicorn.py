"""The service under gunicorn on 127.0.0.1, as deployed: several sync worker processes.

gunicorn binds a port of the kernel's choice (``127.0.0.1:0``) and says which in its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.ports import listening_url


class Gunicorn:
    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        workers: int = 3,
        ready_path: str = "/cds-services",
    ) -> None:
        """``ready_path`` must answer 200 once it serves (/healthz when tokens are checked)."""
        self.ready_path = ready_path
        log_path = log_dir / "gunicorn.log"
        self.log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        start = self.log.tell()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                "127.0.0.1:0",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
                "--log-level",
                "info",  # the "Listening at" line
                "service:create_app()",
            ],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.workers = workers
        try:
            self.base = listening_url(log_path, self.process, after=start)
            self.port = int(self.base.rsplit(":", 1)[1])
            self.wait_ready()
        except BaseException:
            self.stop()  # never leave a server behind when start-up fails
            raise

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                answered = requests.get(self.base + self.ready_path, timeout=5).status_code
            except requests.RequestException:
                answered = None
            if answered == 200 and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # Field 4, after the parenthesised command name, is the parent pid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry))
        return pids

    def kill_workers(self) -> list[int]:
        killed = []
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                # gone between the listing and the kill (a worker the arbiter was already
                # replacing): nothing to kill, and no reason to fail the test's setup
                continue
            killed.append(pid)
        return killed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
