"""What recording issued cards costs the hook: latency with recording on and off.

In-process (Flask test client), so network noise does not hide the difference:

    .venv/bin/python bench/recording_cost.py                 # SQLite in a temp dir
    .venv/bin/python bench/recording_cost.py --database-url postgresql://u@127.0.0.1:5432/db
    .venv/bin/python bench/recording_cost.py --calls 2000 --json

Fires the CDS Hooks Sandbox's recorded patient-view call (a fresh hookInstance each time)
with MCAS_RECORD_CARDS on and off, alternating blocks so drift hits both equally, and
reports median, p95 and mean per call. While the pipeline issues no cards for that
request (an early branch), two cards of the real shape are appended to its answer so
that there is something to record. See docs/storage.md for results.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import latency_summary  # noqa: E402
from service import create_app  # noqa: E402
from service.pipeline.hook import HookResult  # noqa: E402
from service.web import hooks  # noqa: E402

SANDBOX = ROOT / "tests" / "real_clients" / "cds-hooks-sandbox" / "hook-request.json"
NOW = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)


def _synthetic(topic: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": f"{topic} card",
        "indicator": "info",
        "source": {"label": "MCAS CDS", "topic": {"system": "urn:bench", "code": topic}},
    }


def _ensure_cards(app: Any, body: dict[str, Any]) -> bool:
    response = app.test_client().post("/cds-services/mcas-therapy-tier", json=body)
    if response.status_code != 200:
        raise SystemExit(f"hook answered {response.status_code}: {response.get_data(True)}")
    if response.get_json()["cards"]:
        return False
    real = hooks.run_hook

    def with_cards(*args: Any, **kwargs: Any) -> HookResult:
        result = real(*args, **kwargs)
        result.cards = [*result.cards, _synthetic("tier-2"), _synthetic("albuterol")]
        return result

    hooks.run_hook = with_cards  # type: ignore[assignment]
    return True


def _time_calls(app: Any, body: dict[str, Any], calls: int) -> list[float]:
    client = app.test_client()
    out = []
    for _ in range(calls):
        request = copy.copy(body)
        request["hookInstance"] = str(uuid.uuid4())
        started = time.perf_counter()
        response = client.post("/cds-services/mcas-therapy-tier", json=request)
        out.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"hook answered {response.status_code}")
    return out




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per mode")
    parser.add_argument("--block", type=int, default=100, help="calls per alternating block")
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    body = json.loads(SANDBOX.read_text(encoding="utf-8"))["body"]
    with tempfile.TemporaryDirectory() as data_dir:
        config = {
            "DATA_DIR": data_dir,
            "PATIENT_HASH_SALT": "bench-salt-0123456789",
            "CLOCK": lambda: NOW,
            "LOG_LEVEL": "WARNING",
        }
        if args.database_url:
            config["DATABASE_URL"] = args.database_url
        on = create_app({**config, "RECORD_CARDS": True})
        off = create_app({**config, "RECORD_CARDS": False})
        synthetic = _ensure_cards(on, body)
        _time_calls(on, body, 20)  # warm-up: engine, migrations, caches
        _time_calls(off, body, 20)
        samples: dict[str, list[float]] = {"recording_on": [], "recording_off": []}
        done = 0
        while done < args.calls:
            block = min(args.block, args.calls - done)
            samples["recording_on"] += _time_calls(on, body, block)
            samples["recording_off"] += _time_calls(off, body, block)
            done += block
        backend = on.extensions["mcas_storage"].backend
        on.extensions["mcas_storage"].dispose()

    result: dict[str, Any] = {
        "backend": backend,
        "calls_per_mode": args.calls,
        "synthetic_cards": synthetic,
        **{mode: latency_summary(values) for mode, values in samples.items()},
    }
    result["median_cost_ms"] = round(
        result["recording_on"]["median_ms"] - result["recording_off"]["median_ms"], 3
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"backend: {backend}; {args.calls} calls per mode; synthetic cards: {synthetic}")
    for mode in ("recording_off", "recording_on"):
        s = result[mode]
        print(
            f"{mode:14} median {s['median_ms']:8.3f} ms  p95 {s['p95_ms']:8.3f} ms  "
            f"mean {s['mean_ms']:8.3f} ms"
        )
    print(f"recording costs {result['median_cost_ms']:.3f} ms at the median")


if __name__ == "__main__":
    main()
