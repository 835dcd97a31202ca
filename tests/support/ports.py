"""Loopback ports for the servers the tests start, without the bind-release-reuse race.

Asking the kernel for a free port, closing it and starting a server on it later races
with every other process on the machine (and with parallel test runs): the port may be
taken in between. So each server here gets its port in a way that cannot race:

- in-process servers (werkzeug, http.server) bind port 0 and read the port they got;
- gunicorn binds ``127.0.0.1:0`` and says the port in its "Listening at: ..." log line
  (:func:`listening_url`);
- sekmet-fhir must know its own URL before it starts (its paging links and SMART token
  audience come from ``base_url`` in its settings), so it is handed a socket already
  bound to port 0 (uvicorn ``--fd``, :func:`bound_socket`);
- PostgreSQL cannot bind port 0: it listens on a Unix socket in its scratch folder
  (tests/support/postgres.py);
- a port where nothing listens (connection refused) is one held bound but not listening
  for the whole test (:func:`refusing_port`), so no server can appear on it meanwhile.

:func:`free_port` is kept for the two servers that can do none of these: the production
command whose public URL (``MCAS_PUBLIC_BASE_URL``, the tokens' audience) must name its
port before it starts (tests/cli/test_check_production.py), and
``mcas-cds serve --port N`` prints the URL it was given before it binds
(service/cli/serve.py), and its test checks that line, so ``--port 0`` would print
``:0``. There the race remains; losing it makes the server fail to start, visibly.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"Listening at: (http://[0-9.]+:[0-9]+)")


def free_port() -> int:
    """A loopback port free a moment ago; only for `mcas-cds serve` (see the module)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def bound_socket() -> socket.socket:
    """A TCP socket bound to a loopback port of the kernel's choice, not yet listening.

    Hand it to a server process (``pass_fds``) that listens on it; it refuses
    connections until then, and the port is never free for another process to take.
    No SO_REUSEADDR: with it, a second socket could bind the port while this one is
    not listening.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port where connections are refused for as long as the block runs."""
    with bound_socket() as sock:
        yield int(sock.getsockname()[1])


def listening_url(
    log_path: Path, process: subprocess.Popen[bytes], timeout: float = 60, after: int = 0
) -> str:
    """The ``http://127.0.0.1:PORT`` gunicorn says it listens at, read from its log
    (from byte ``after`` on: what an earlier server wrote to the same file is skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log_path.open("rb") as log:
            log.seek(after)
            text = log.read().decode("utf-8", errors="replace")
        found = _LISTENING.search(text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        time.sleep(0.05)
    raise RuntimeError(f"no 'Listening at' line in {log_path} within {timeout} s")
