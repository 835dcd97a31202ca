"""Workers' memory through a long run with 5 MB charts in the mix (issue 18).

    python -m bench.memory_soak --requests 10000                     # this checkout
    python -m bench.memory_soak --ref d538540 --env MCAS_MAX_REQUESTS=0

gunicorn with 2 sync workers and the tree's deploy/gunicorn.conf.py, as deployed (tokens
verified, cards recorded), 4 clients sending a fixed mix (default 8 typical : 1 heavy :
1 extreme, the extreme chart a 5 MB request), every worker's RSS sampled 4 times a
second from /proc. The table gives, for each tenth of the run, the mean and the largest
RSS of the workers alive, so where memory levels off shows whether or not workers are
replaced (``MCAS_MAX_REQUESTS``); also how many worker processes served the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .ab import RESULTS_DIR, WORKTREE, Headers, _hook_server, _post_ok, extract
from .features import Available, TokenMint, build_config
from .inprocess import HOOK_PATH
from .load import run_load
from .patients import make_patient
from .server import free_port, rss

MiB = 2**20
SEGMENT = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default=WORKTREE)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--mix", default="typical:8,heavy:1,extreme:1")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for gunicorn")
    args = parser.parse_args(argv)
    mix: list[bytes] = []
    for part in args.mix.split(","):
        name, _, count = part.partition(":")
        mix += [make_patient(name).body] * int(count)
    started = datetime.now(UTC)
    mint = TokenMint()
    with tempfile.TemporaryDirectory(prefix="mcas-soak-") as tmp_name:
        tmp = Path(tmp_name)
        tree = extract(args.ref, tmp / "trees")
        config = build_config("deployed", Available.detect(), tmp / "deployed", mint)
        env = config.environment() | dict(item.split("=", 1) for item in args.env)
        port = free_port()
        server = _hook_server(tree, env, port, tmp / "gunicorn.log", "soak")
        headers = Headers(mint, f"http://127.0.0.1:{port}{HOOK_PATH}")

        def warm() -> bool:
            headers.prepare(1)
            return _post_ok(port, mix[0], headers())

        server.start(warm)
        samples: list[dict[str, Any]] = []
        progress = [0]
        stop = threading.Event()
        seen: set[int] = set()

        def sample() -> None:
            while not stop.wait(0.25):
                workers = server.workers()
                seen.update(workers)
                sizes = {pid: rss(pid) for pid in workers}
                samples.append({"requests": progress[0], "rss": {str(p): s for p, s in
                                                                 sizes.items() if s}})

        sampler = threading.Thread(target=sample, daemon=True)
        load_before = round(os.getloadavg()[0], 2)
        began = time.perf_counter()
        sampler.start()
        try:
            # In segments, tokens signed before each: a token lives 5 minutes, a long run
            # with tokens signed up front would end in 401s.
            statuses: Counter[str] = Counter()
            completed = 0
            while completed < args.requests:
                segment = min(SEGMENT, args.requests - completed)
                headers.prepare(segment + args.clients)
                offset = completed

                def done(ticket: int, offset: int = offset) -> None:
                    progress[0] = max(progress[0], offset + ticket + 1)

                part = run_load("127.0.0.1", port, HOOK_PATH, mix[offset % len(mix):]
                                + mix[:offset % len(mix)], concurrency=args.clients,
                                max_requests=segment, max_seconds=3600, headers=headers,
                                on_response=done)
                statuses.update(part.statuses)
                completed += part.completed
        finally:
            stop.set()
            sampler.join()
            server.stop()
        elapsed = time.perf_counter() - began
        errors = sum(n for status, n in statuses.items() if status != "200")
    windows = []
    for tenth in range(10):
        low, high = args.requests * tenth / 10, args.requests * (tenth + 1) / 10
        sizes = [size for s in samples if low <= s["requests"] < high
                 for size in s["rss"].values()]
        windows.append({
            "requests": f"{int(low)}-{int(high)}",
            "mean_mib": round(statistics.mean(sizes) / MiB, 1) if sizes else None,
            "max_mib": round(max(sizes) / MiB, 1) if sizes else None,
        })
    out = {
        "meta": {"timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "tree": tree.commit,
                 "env": args.env, "mix": args.mix, "clients": args.clients,
                 "loadavg_1m_start": load_before, "loadavg_1m_end": round(os.getloadavg()[0], 2)},
        "requests": completed, "errors": errors,
        "statuses": dict(statuses), "elapsed_s": round(elapsed, 1),
        "worker_processes": len(seen), "windows": windows, "samples": samples,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"soak-{started.strftime('%Y%m%dT%H%M%SZ')}-{tree.label}.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{tree.commit} {' '.join(args.env)}: {completed} requests in {elapsed:.0f} s, "
          f"errors {errors}, {len(seen)} worker processes, load "
          f"{load_before}->{out['meta']['loadavg_1m_end']}")
    print("tenth of the run   mean RSS MiB   max RSS MiB")
    for window in windows:
        print(f"{window['requests']:<18} {window['mean_mib']!s:>12} {window['max_mib']!s:>13}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
