"""One tree's hook in-process against ``json.loads``, for ``python -m bench.ab``.

Run as a script with ``PYTHONPATH`` set to the tree under test, so ``service`` is that
tree's; it imports nothing from ``bench`` (the tree's bench may differ). Arguments: a JSON
file with ``settings`` (the app's settings), ``bodies`` ({patient: path}), ``tokens`` (a
list of bearer tokens, one per request, or empty) and ``iterations`` ({patient: n}).
After the warm-up it prints ``ready`` and then runs one block per line it reads
(``<patient> <n>``), answering one JSON line: the thread CPU and wall time of each
``json.loads(body)`` and of each hook call through the test client, interleaved call by
call. The harness alternates the trees block by block.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import sys
import time
from pathlib import Path

HOOK_PATH = "/cds-services/mcas-therapy-tier"


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    tokens: list[str] = list(spec["tokens"])
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink):
        from service import create_app

        app = create_app(dict(spec["settings"]))
    client = app.test_client()
    bodies = {name: Path(path).read_bytes() for name, path in spec["bodies"].items()}

    def headers() -> dict[str, str]:
        found = {"Content-Type": "application/json"}
        if tokens:
            found["Authorization"] = "Bearer " + tokens.pop()
        return found

    with contextlib.redirect_stderr(sink):
        for body in bodies.values():  # warm-up, then freeze as the gunicorn config does
            for _ in range(3):
                assert client.post(HOOK_PATH, data=body, headers=headers()).status_code == 200
        gc.collect()
        gc.freeze()
    print("ready", flush=True)
    # Then one block per line from the harness: "<patient> <n>" -> one JSON line with the
    # n calls' timings, so the harness can interleave the trees block by block.
    for line in sys.stdin:
        name, _, count = line.strip().partition(" ")
        if not name:
            break
        body = bodies[name]
        timings: dict[str, list[float]] = {"floor_cpu": [], "floor_wall": [], "hook_cpu": [],
                                           "hook_wall": []}
        errors = 0
        with contextlib.redirect_stderr(sink):
            for _ in range(int(count)):
                c0, w0 = time.thread_time(), time.perf_counter()
                json.loads(body)
                c1, w1 = time.thread_time(), time.perf_counter()
                request_headers = headers()
                c2, w2 = time.thread_time(), time.perf_counter()
                response = client.post(HOOK_PATH, data=body, headers=request_headers)
                c3, w3 = time.thread_time(), time.perf_counter()
                errors += response.status_code != 200
                timings["floor_cpu"].append(c1 - c0)
                timings["floor_wall"].append(w1 - w0)
                timings["hook_cpu"].append(c3 - c2)
                timings["hook_wall"].append(w3 - w2)
        sink.seek(0)
        sink.truncate()
        print(json.dumps({"patient": name, "errors": errors, **timings}), flush=True)


if __name__ == "__main__":
    main()
