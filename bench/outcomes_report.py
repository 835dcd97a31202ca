"""How long the administrators' outcomes report takes over a million issued cards (issue 16).

    .venv/bin/python -m bench.outcomes_report                       # SQLite in a temp dir
    .venv/bin/python -m bench.outcomes_report --database-url postgresql://...
    .venv/bin/python -m bench.outcomes_report --cards 2000 --json   # smoke run

Seeds the database (migrated to head) with ``--cards`` issued cards spread over a year
(14 topics, 50,000 patients, a thresholds version every two months, 20 % order-time cards,
5 % snoozed rows) and feedback on 30% of them (accepted or overridden with one of the
card reasons, or none), then times ``outcomes_report``:
- the FIRST report (30 days, all topics, without the HTTP report's time budget, as
  ``flask feedback-report`` runs it), which fills the daily roll-up for every closed day
  of the year (service/storage/rollup.py), timed on its own;
- then over the default 30 days and over the whole year, each ``--repeat`` times (median
  and max), for all topics and for one topic, reading the roll-up;
- the 30-day reports once more with distinct patients counted exactly (no sketches), to
  see what the exact count costs (service/storage/report.py EXACT_PATIENTS_LIMIT).
Each run records the machine's 1-minute load average. Target: under 1 s. Results:
bench/RESULTS.md, "Outcomes report".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import Engine

from service.storage import report as report_module
from service.storage.migrate import upgrade
from service.storage.models import feedback, issued_cards, thresholds_versions
from service.storage.report import outcomes_report

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TOPICS = ("tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose",
          "tier-4", "specialist-referral", "epinephrine-autoinjector", "albuterol",
          "aspirin-caution", "steroid-long-term", "ranitidine-switch", "mediator-evidence",
          "biologic-review")
REASONS = (("patient-declined", "Patient declined"), ("already-addressed", "Already addressed"),
           ("not-indicated", "Not indicated"), (None, None))
SYSTEM = "https://mcas-cds.invalid/override-reason"
BATCH = 10_000
TARGET_SECONDS = 1.0


def seed(engine: Engine, cards: int, patients: int, seed_value: int) -> float:
    """Insert the synthetic history; seconds taken."""
    rng = random.Random(seed_value)
    started = time.perf_counter()
    versions = [f"v{n}.sha256:{n:012x}" for n in range(1, 8)]
    with engine.begin() as connection:
        for number in range(1, 8):
            connection.execute(insert(thresholds_versions).values(
                content_hash=f"sha256:{number:012x}", values_json="{}", changes_json="[]",
                author="bench", reason="bench", created_at=NOW - timedelta(days=60 * (7 - number)),
                parent_id=number - 1 if number > 1 else None,
                action="apply" if number > 1 else "import", rollback_of=None))
    year = 365 * 86400
    made = 0
    while made < cards:
        rows, answers = [], []
        for _ in range(min(BATCH, cards - made)):
            made += 1
            age = rng.random() * year
            when = NOW - timedelta(seconds=age)
            card = uuid.UUID(int=rng.getrandbits(128)).hex
            topic = TOPICS[min(int(rng.expovariate(0.35)), len(TOPICS) - 1)]
            snoozed = rng.random() < 0.05
            rows.append({
                "card_uuid": card, "topic": topic, "hook_instance": card[:32],
                "issued_at": when,
                "thresholds_version": versions[min(int((year - age) / (60 * 86400)), 6)],
                "patient_hash": f"{rng.randrange(patients):064x}",
                "hook": "order-sign" if rng.random() < 0.2 else "patient-view",
                "status": "snoozed" if snoozed else "issued",
                "rules_version": "2" if age < year / 2 else None,
            })
            if not snoozed and rng.random() < 0.3:
                accepted = rng.random() < 0.55
                code, display = (None, None) if accepted else rng.choice(REASONS)
                outcome_at = when + timedelta(minutes=rng.randrange(1, 120))
                answers.append({
                    "item_key": uuid.UUID(int=rng.getrandbits(128)).hex, "card_uuid": card,
                    "topic": topic, "outcome": "accepted" if accepted else "overridden",
                    "outcome_at": outcome_at,
                    "override_system": SYSTEM if code else None, "override_code": code,
                    "override_display": display,
                    "received_at": outcome_at + timedelta(seconds=rng.randrange(1, 30)),
                })
        with engine.begin() as connection:
            connection.execute(insert(issued_cards), rows)
            if answers:
                connection.execute(insert(feedback), answers)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def time_report(engine: Engine, days: int, repeat: int, topic: str | None,
                exact: bool = False) -> dict[str, Any]:
    since = NOW - timedelta(days=days)
    taken = []
    report: dict[str, Any] = {}
    limit = report_module.EXACT_PATIENTS_LIMIT
    if exact:
        report_module.EXACT_PATIENTS_LIMIT = 10**12
    load = os.getloadavg()[0]
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            report = outcomes_report(engine, since, NOW, topic=topic, now=NOW)
            taken.append(time.perf_counter() - started)
    finally:
        report_module.EXACT_PATIENTS_LIMIT = limit
    return {
        "days": days,
        "topic": topic,
        "exact_patients": not report["patients_estimated"],
        "median_s": round(statistics.median(taken), 4),
        "max_s": round(max(taken), 4),
        "cards_in_period": sum(r["issued"] for r in report["topics"]),
        "load_1min": round(max(load, os.getloadavg()[0]), 2),
        "met": max(taken) < TARGET_SECONDS,
    }


def time_fill(engine: Engine) -> dict[str, Any]:
    """The first report from the command line (no time budget): it rolls up every closed
    day of the year, then reports the last 30 days."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    report = outcomes_report(engine, NOW - timedelta(days=30), NOW, now=NOW,
                             rollup_budget=None)
    taken = time.perf_counter() - started
    return {"days": 30, "topic": None, "exact_patients": not report["patients_estimated"],
            "median_s": round(taken, 4), "max_s": round(taken, 4),
            "cards_in_period": sum(r["issued"] for r in report["topics"]),
            "load_1min": round(max(load, os.getloadavg()[0]), 2), "met": taken < TARGET_SECONDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mcas-report-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = create_engine(url)
        upgrade(engine, "head")
        seeding = seed(engine, args.cards, args.patients, args.seed)
        with engine.connect() as connection:
            counted = connection.execute(select(func.count()).select_from(issued_cards))
            cards = int(counted.scalar_one())
            answered = connection.execute(select(func.count()).select_from(feedback))
            feedback_rows = int(answered.scalar_one())
        first = time_fill(engine)  # the roll-up of every closed day, as the CLI's first report
        runs = [time_report(engine, days, args.repeat, topic)
                for days in (30, 365) for topic in (None, "tier-2")]
        exact = [time_report(engine, 30, args.repeat, topic, exact=True)
                 for topic in (None, "tier-2")]
        engine.dispose()
    result = {
        "database": engine.dialect.name,
        "cards": cards,
        "feedback": feedback_rows,
        "seed_seconds": round(seeding, 1),
        "target_seconds": TARGET_SECONDS,
        "first_report": first,
        "runs": runs,
        "exact_patients_runs": exact,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['database']}: {cards:,} cards, {feedback_rows:,} feedback items "
              f"(seeded in {seeding:.0f} s)")
        print(f"  first report (fills the roll-up): {first['median_s']:.3f} s, "
              f"load {first['load_1min']}")
        for run in [*runs, *exact]:
            kind = "exact" if run["exact_patients"] else "estimated"
            print(f"  {run['days']:>3} days, {run['topic'] or 'all topics':<10} "
                  f"median {run['median_s']:.3f} s, max {run['max_s']:.3f} s over "
                  f"{run['cards_in_period']:,} cards, patients {kind}, load "
                  f"{run['load_1min']}: {'met' if run['met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
