"""A bounded load generator on loopback: N client threads, each with its own
``http.client`` connection, sending requests until a request budget or a time budget
runs out, whichever comes first.

Connections ask for keep-alive; gunicorn's sync workers answer ``Connection: close``
(they serve one request per connection by design), and ``http.client`` reconnects on
the next request, so connection set-up is part of every measured request, as it is for
an EHR calling a sync-worker deployment.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .stats import summarize

RequestHook = Callable[[int], None]


@dataclass
class LoadResult:
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    first_body: bytes | None = None

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": self.completed,
            "elapsed_s": round(self.elapsed, 3),
            "throughput_rps": round(self.completed / self.elapsed, 1) if self.elapsed else None,
            "latency": summarize(self.latencies),
            "errors": self.errors,
            "statuses": dict(sorted(self.statuses.items())),
        }


def run_load(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    headers: Callable[[], dict[str, str]],
    on_response: RequestHook | None = None,
    timeout: float = 60.0,
) -> LoadResult:
    """Send up to ``max_requests`` POSTs (cycling through ``bodies``) for at most
    ``max_seconds``; every request's latency and status are recorded."""
    result = LoadResult(concurrency)
    tickets = itertools.count()  # next() on a count is atomic under the GIL
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)
    deadline = 0.0

    def client() -> None:
        nonlocal deadline
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        start_gate.wait()
        try:
            while True:
                ticket = next(tickets)
                if ticket >= max_requests or time.perf_counter() >= deadline:
                    break
                body = bodies[ticket % len(bodies)]
                request_headers = headers()
                started = time.perf_counter()
                try:
                    connection.request("POST", path, body=body, headers=request_headers)
                    response = connection.getresponse()
                    payload = response.read()
                    status = str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    payload = b""
                    status = type(exc).__name__
                    connection.close()
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status == "200" and result.first_body is None:
                    result.first_body = payload
                if on_response is not None:
                    on_response(ticket)
        finally:
            connection.close()
            with lock:
                result.latencies.extend(latencies)
                result.statuses.update(statuses)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + max_seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    return result
