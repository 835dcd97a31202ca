"""The floor and the hook in-process: ``json.loads`` of the body, then the same body
through the app's test client, interleaved so both see the same machine load."""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask

from .patients import Patient
from .stats import summarize

HOOK_PATH = "/cds-services/mcas-therapy-tier"
# The test client's URL, hence the token audience in-process.
TEST_CLIENT_BASE = "http://localhost"


def topics_of(response_json: Any) -> list[str]:
    cards = response_json.get("cards", []) if isinstance(response_json, dict) else []
    return sorted(card.get("source", {}).get("topic", {}).get("code", "?") for card in cards)


def measure_inprocess(
    app: Flask,
    patient: Patient,
    *,
    iterations: int,
    warmup: int,
    headers: Callable[[], dict[str, str]],
) -> dict[str, Any]:
    client = app.test_client()
    body = patient.body
    floor: list[float] = []
    hook: list[float] = []
    # CPU time of this thread beside wall time: on a shared machine the wall clock also
    # counts the time other processes held the core, CPU time much less so.
    floor_cpu: list[float] = []
    hook_cpu: list[float] = []
    # The hook pauses the garbage collector while it runs (service/ops/gc_pause.py): the
    # floor measured the same way shows how much of the hook is parsing.
    floor_gc_paused: list[float] = []
    statuses: Counter[int] = Counter()
    topics: list[str] | None = None
    for index in range(warmup + iterations):
        cpu_started = time.thread_time()
        started = time.perf_counter()
        json.loads(body)
        parsed = time.perf_counter()
        cpu_parsed = time.thread_time()
        gc.disable()
        paused_started = time.perf_counter()
        json.loads(body)
        paused_parsed = time.perf_counter()
        gc.enable()
        request_headers = headers()
        cpu_sent = time.thread_time()
        sent = time.perf_counter()
        response = client.post(HOOK_PATH, data=body, headers=request_headers)
        answered = time.perf_counter()
        cpu_answered = time.thread_time()
        statuses[response.status_code] += 1
        if topics is None and response.status_code == 200:
            topics = topics_of(response.get_json())
        if index >= warmup:
            floor.append(parsed - started)
            hook.append(answered - sent)
            floor_cpu.append(cpu_parsed - cpu_started)
            floor_gc_paused.append(paused_parsed - paused_started)
            hook_cpu.append(cpu_answered - cpu_sent)
    errors = sum(count for status, count in statuses.items() if status != 200)
    return {
        "floor": summarize(floor),
        "hook": summarize(hook),
        "floor_cpu": summarize(floor_cpu),
        "floor_gc_paused": summarize(floor_gc_paused),
        "hook_cpu": summarize(hook_cpu),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "topics": topics,
    }
