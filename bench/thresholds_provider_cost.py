"""What reading the active thresholds costs the hook (docs/administration.md, replicas).

    .venv/bin/python bench/thresholds_provider_cost.py              # SQLite in a temp dir
    .venv/bin/python bench/thresholds_provider_cost.py --database-url postgresql://u@127.0.0.1:5432/db

Measures the provider the hook calls once per request, with a stored version active:
- fresh copy (the common case: within MCAS_THRESHOLDS_REFRESH_SECONDS): a clock check;
- stale copy, pointer unchanged (once per interval per process): one small query;
- file mode (MCAS_THRESHOLDS_SOURCE=file), for comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.thresholds.fields import thresholds_to_mapping  # noqa: E402

TOKEN = "bench-admin-token-" + "x" * 32


def _per_call(call: Any, calls: int, repeats: int = 5) -> float:
    """Median over repeats of the mean seconds per call."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        config: dict[str, Any] = {"DATA_DIR": data, "ADMIN_TOKEN": TOKEN, "AUTH_DISABLED": True,
                                  "LOG_LEVEL": "WARNING"}
        if args.database_url:
            config["DATABASE_URL"] = args.database_url
            config["PATIENT_HASH_SALT"] = "bench-salt-0123456789"
            config["DB_AUTO_MIGRATE"] = "always"
        app = create_app(config)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        client = app.test_client()
        active = client.get("/admin/api/thresholds", headers=headers).get_json()
        provider = app.extensions["mcas"].thresholds
        values = thresholds_to_mapping(provider.file_thresholds)
        values["steroid_max_days"] = 15 if active["values"]["steroid_max_days"] != 15 else 14
        applied = client.post("/admin/api/thresholds/apply", headers=headers, json={
            "values": values, "base_version": active["version"], "author": "bench",
            "reason": "benchmark"})
        if applied.status_code != 201:
            raise SystemExit(f"apply answered {applied.status_code}: {applied.get_data(True)}")
        provider()
        provider.refresh_seconds = 3600.0
        fresh = _per_call(provider, args.calls)
        provider.refresh_seconds = 0.0
        provider.invalidate()  # the copy from the fresh phase is good for an hour
        stale = _per_call(provider, max(200, args.calls // 200))
        file_app = create_app({**config, "THRESHOLDS_SOURCE": "file"})
        file_mode = _per_call(file_app.extensions["mcas"].thresholds, args.calls)
        backend = app.extensions["mcas_storage"].backend
        app.extensions["mcas_storage"].dispose()
    result = {
        "backend": backend,
        "fresh_copy_ns": round(fresh * 1e9),
        "stale_copy_us": round(stale * 1e6, 1),
        "file_mode_ns": round(file_mode * 1e9),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"backend {backend}")
        print(f"fresh copy (every hook):          {result['fresh_copy_ns']:>8} ns per call")
        print(f"stale copy (once per interval):   {result['stale_copy_us']:>8} us per call")
        print(f"file mode:                        {result['file_mode_ns']:>8} ns per call")


if __name__ == "__main__":
    main()
