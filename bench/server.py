"""gunicorn on loopback with 2 sync workers, started and stopped by the benchmark, and
the memory of its workers read from /proc (Linux)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
APP_TARGET = "service:create_app()"
WORKERS = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(port: int) -> tuple[list[str], str]:
    """The command and a note of where its configuration came from.

    The project's deploy/gunicorn.conf.py when it exists (the production settings), with
    bind and worker count fixed by the command line (which takes precedence); else an
    equivalent command line: sync workers, app preloaded before fork.
    """
    command = [sys.executable, "-m", "gunicorn"]
    if DEPLOY_CONFIG.is_file():
        command += ["--config", str(DEPLOY_CONFIG)]
        source = "deploy/gunicorn.conf.py"
    else:
        command += ["--preload", "--timeout", "30", "--graceful-timeout", "10"]
        source = "command line (deploy/gunicorn.conf.py absent)"
    command += [
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS),
        "--worker-class", "sync",
        APP_TARGET,
    ]
    return command, source


def _status_field(pid: int, name: str) -> int | None:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def rss(pid: int) -> int | None:
    return _status_field(pid, "VmRSS")


def peak_rss(pid: int) -> int | None:
    return _status_field(pid, "VmHWM")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
            return sorted(int(p) for p in listing.read().split())
    except OSError:
        return []


class Gunicorn:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.command, self.config_source = gunicorn_command(self.port)
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        if self.env.get("MCAS_ALLOWED_HOSTS"):
            # Tokens name the URL called (aud), here 127.0.0.1 and this port.
            self.env["MCAS_ALLOWED_HOSTS"] += f",127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.seen_workers: set[int] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, probe: Callable[[], dict[str, str]], timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start-up:\n{self.log_tail()}")
            if len(self.workers()) == WORKERS and self._answers(probe()):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def _answers(self, headers: dict[str, str]) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/cds-services", headers=headers)
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        found = children(self.process.pid)
        self.seen_workers.update(found)
        return found

    def workers_cpu(self) -> dict[int, float]:
        return {pid: cpu for pid in self.workers() if (cpu := cpu_seconds(pid)) is not None}

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class RssSampler:
    """Samples every worker's RSS at an interval, with a progress count beside it."""

    def __init__(self, server: Gunicorn, interval: float = 0.25) -> None:
        self.server = server
        self.interval = interval
        self.progress = 0
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._began = 0.0

    def _sample(self) -> None:
        workers = self.server.workers()
        self.samples.append({
            "t_s": round(time.perf_counter() - self._began, 3),
            "requests": self.progress,
            "rss_bytes": {str(pid): rss(pid) for pid in workers},
        })

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._began = time.perf_counter()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
