"""The benchmark run: in-process floor and hook, then gunicorn over loopback, for each
configuration; prints the table and writes bench/results/<timestamp>.json."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .features import CONFIG_NAMES, EXTRA_CONFIG_NAMES, Available, BenchConfig, iter_configs
from .inprocess import HOOK_PATH, TEST_CLIENT_BASE, measure_inprocess, topics_of
from .load import run_load
from .patients import PATIENT_NAMES, Patient, make_patient
from .report import evaluate_targets, memory_summary, render
from .server import Gunicorn, RssSampler, peak_rss
from .stats import ratio

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CONCURRENCY = (1, 4, 16)
MiB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    mode: str
    # In-process: measured iterations (after warm-up) per patient.
    inprocess: dict[str, int]
    inprocess_warmup: int
    # HTTP: request budget per patient and phase, and time budget per phase.
    http_requests: dict[str, int]
    http_seconds: float
    http_seconds_one_client: float
    http_warmup: int
    memory_requests: int
    memory_concurrency: int


FULL = Plan(
    mode="full",
    inprocess={"typical": 400, "heavy": 150, "extreme": 50},
    inprocess_warmup=20,
    http_requests={"typical": 4000, "heavy": 800, "extreme": 200},
    http_seconds=8.0,
    http_seconds_one_client=15.0,
    http_warmup=4,
    memory_requests=10_000,
    memory_concurrency=4,
)
QUICK = Plan(
    mode="quick",
    inprocess={"typical": 5, "heavy": 3, "extreme": 2},
    inprocess_warmup=1,
    http_requests={"typical": 20, "heavy": 6, "extreme": 3},
    http_seconds=5.0,
    http_seconds_one_client=5.0,
    http_warmup=1,
    memory_requests=100,
    memory_concurrency=4,
)
# The memory run: mostly typical charts, one in ten heavy.
MEMORY_MIX = ("typical",) * 9 + ("heavy",)


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
            text=True, check=True, cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _loadavg() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _cards_verdict(patient: Patient, topics: list[str] | None) -> str:
    if topics is None:
        return "no 200 response"
    if set(topics) == patient.expected_topics:
        return "ok: " + ",".join(topics)
    expected = ",".join(sorted(patient.expected_topics))
    return f"UNEXPECTED: got [{','.join(topics)}], expected [{expected}]"


def _inprocess(config: BenchConfig, patients: dict[str, Patient], plan: Plan,
               log_path: Path) -> dict[str, Any]:
    from service import create_app

    results: dict[str, Any] = {}
    headers = config.headers(TEST_CLIENT_BASE + HOOK_PATH)
    # The service's request logs are part of its cost; they go to a file, not the terminal.
    with log_path.open("a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        app = create_app(dict(config.settings))
        # As the production gunicorn configuration does before forking its workers: warm
        # up, then move everything alive out of the collector's reach, so a collection
        # during the timed calls costs what it costs in a worker, not more.
        warm = config.headers(TEST_CLIENT_BASE + HOOK_PATH)
        for patient in patients.values():
            app.test_client().post(HOOK_PATH, data=patient.body, headers=warm())
        gc.collect()
        gc.freeze()
        for name, patient in patients.items():
            iterations = plan.inprocess[name]
            headers.prepare(iterations + plan.inprocess_warmup)
            measured = measure_inprocess(app, patient, iterations=iterations,
                                         warmup=plan.inprocess_warmup, headers=headers)
            measured["ratio"] = ratio(measured["hook"]["median_ms"],
                                      measured["floor"]["median_ms"])
            measured["ratio_cpu"] = ratio(measured["hook_cpu"]["median_ms"],
                                          measured["floor_cpu"]["median_ms"])
            measured["ratio_gc_paused_floor"] = ratio(measured["hook"]["median_ms"],
                                                      measured["floor_gc_paused"]["median_ms"])
            results[name] = measured
            print(f"  in-process {config.name:<8} {name:<8} floor "
                  f"{measured['floor']['median_ms']} ms, hook {measured['hook']['median_ms']} ms "
                  f"(x{measured['ratio']}; CPU x{measured['ratio_cpu']}), errors "
                  f"{measured['errors']}", flush=True)
        gc.unfreeze()
    return results


def _http(config: BenchConfig, patients: dict[str, Patient], plan: Plan, workdir: Path,
          with_memory: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {}}
    server = Gunicorn(config.environment(), workdir / "gunicorn.log")
    out["gunicorn"] = server.config_source
    with server:
        server.start(probe=config.headers(server.base_url + "/cds-services"))
        headers = config.headers(server.base_url + HOOK_PATH)
        topics: dict[str, list[str] | None] = {}
        for name, patient in patients.items():
            phases: dict[str, Any] = {}
            headers.prepare(plan.http_warmup)
            run_load("127.0.0.1", server.port, HOOK_PATH, [patient.body], concurrency=1,
                     max_requests=plan.http_warmup, max_seconds=30, headers=headers)
            for clients in CONCURRENCY:
                budget = plan.http_requests[name]
                seconds = plan.http_seconds_one_client if clients == 1 else plan.http_seconds
                headers.prepare(budget)
                cpu_before = server.workers_cpu()
                result = run_load("127.0.0.1", server.port, HOOK_PATH, [patient.body],
                                  concurrency=clients, max_requests=budget,
                                  max_seconds=seconds, headers=headers)
                phases[f"c{clients}"] = result.as_dict()
                phases[f"c{clients}"].update(_server_cpu(cpu_before, server.workers_cpu(),
                                                         result.completed))
                if name not in topics and result.first_body is not None:
                    topics[name] = topics_of(json.loads(result.first_body))
                summary = phases[f"c{clients}"]
                print(f"  http       {config.name:<8} {name:<8} c={clients:<2} "
                      f"{summary['requests']} req, {summary['throughput_rps']} req/s, median "
                      f"{summary['latency']['median_ms']} ms, p99 {summary['latency']['p99_ms']}"
                      f" ms, errors {summary['errors']}, server CPU "
                      f"{summary['server_cpu_ms_per_request']} ms/req", flush=True)
            out["http"][name] = phases
        out["http_topics"] = topics
        if with_memory:
            out["memory"] = _memory(server, headers, patients, plan)
        out["peak_rss_mib"] = {
            str(pid): round((peak_rss(pid) or 0) / MiB, 1) for pid in server.workers()
        }
        out["workers_seen"] = len(server.seen_workers)
    return out


def _server_cpu(before: dict[int, float], after: dict[int, float],
                requests: int) -> dict[str, Any]:
    """The workers' CPU per request over a phase, and the rate 2 dedicated cores could
    serve at that cost: a noise-resistant view of what the wall clock shows."""
    used = sum(after[pid] - before[pid] for pid in after if pid in before)
    if not requests or used <= 0:
        return {"server_cpu_ms_per_request": None, "cpu_bound_capacity_rps": None}
    per_request = used / requests
    return {
        "server_cpu_ms_per_request": round(per_request * 1000, 3),
        "cpu_bound_capacity_rps": round(len(after) / per_request, 1),
    }


def _memory(server: Gunicorn, headers: Any, patients: dict[str, Patient],
            plan: Plan) -> dict[str, Any]:
    mix = [patients[name].body for name in MEMORY_MIX if name in patients]
    if not mix:
        return {}
    headers.prepare(plan.memory_requests)
    with RssSampler(server) as sampler:
        def progress(ticket: int) -> None:
            sampler.progress = max(sampler.progress, ticket + 1)

        result = run_load("127.0.0.1", server.port, HOOK_PATH, mix,
                          concurrency=plan.memory_concurrency,
                          max_requests=plan.memory_requests, max_seconds=900,
                          headers=headers, on_response=progress)
    summary = memory_summary(sampler.samples, result.completed)
    print(f"  memory     {result.completed} req in {result.elapsed:.1f} s, errors "
          f"{result.errors}, max growth {summary['max_growth_percent']}%", flush=True)
    return {
        "requests": result.completed,
        "mix": "9 typical : 1 heavy",
        "concurrency": plan.memory_concurrency,
        "elapsed_s": round(result.elapsed, 2),
        "errors": result.errors,
        "statuses": dict(result.statuses),
        "summary": summary,
        "samples": sampler.samples,
    }


def run(plan: Plan, *, configs: tuple[str, ...], patient_names: tuple[str, ...],
        seed: int, http: bool, memory_configs: tuple[str, ...],
        out_dir: Path | None) -> tuple[dict[str, Any], Path]:
    started = datetime.now(UTC)
    available = Available.detect()
    patients = {name: make_patient(name, seed=seed) for name in patient_names}
    results: dict[str, Any] = {
        "meta": {
            "timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mode": plan.mode,
            "commit": _commit(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_start": _loadavg(),
            "seed": seed,
            "plan": plan.__dict__,
            "available": available.__dict__,
            "note": "Shared machine: the load generator, gunicorn and other jobs share the "
                    "same cores; numbers are noisy.",
        },
        "patients": {
            name: {"resources": p.resource_count, "counts": p.counts,
                   "body_bytes": len(p.body), "expected_topics": sorted(p.expected_topics)}
            for name, p in patients.items()
        },
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="mcas-bench-") as tmp:
        for config in iter_configs(configs, available, Path(tmp)):
            workdir = Path(tmp) / config.name
            entry: dict[str, Any] = {"features": config.features,
                                     "settings": sorted(config.settings)}
            print(f"[{config.name}] token verification {config.features['token_verification']},"
                  f" card recording {config.features['card_recording']}", flush=True)
            entry["inprocess"] = _inprocess(config, patients, plan, workdir / "inprocess.log")
            if http:
                entry.update(_http(config, patients, plan, workdir,
                                   with_memory=config.name in memory_configs))
            entry["cards"] = {
                name: _cards_verdict(
                    patient,
                    (entry.get("http_topics") or {}).get(name)
                    or entry["inprocess"][name]["topics"],
                )
                for name, patient in patients.items()
            }
            results["configs"][config.name] = entry
    results["feature_cost"] = _feature_cost(results["configs"])
    results["targets"] = {name: evaluate_targets(config)
                          for name, config in results["configs"].items()}
    results["meta"]["loadavg_end"] = _loadavg()
    results["meta"]["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{plan.mode}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results, path


def _feature_cost(configs: dict[str, Any]) -> dict[str, Any]:
    """Per configuration other than 'off': its median minus off's, per patient."""
    off = configs.get("off")
    if off is None:
        return {}

    def delta(config: Any, *path: str) -> float | None:
        a, b = config, off
        for key in path:
            a = (a or {}).get(key)
            b = (b or {}).get(key)
        return None if a is None or b is None else round(a - b, 3)

    cost: dict[str, Any] = {}
    for name, config in configs.items():
        if name == "off":
            continue
        cost[name] = {
            patient: {
                "inprocess_ms": delta(config, "inprocess", patient, "hook", "median_ms"),
                "inprocess_cpu_ms": delta(config, "inprocess", patient, "hook_cpu",
                                          "median_ms"),
                "http_c1_ms": delta(config, "http", patient, "c1", "latency", "median_ms"),
                "http_server_cpu_ms": delta(config, "http", patient, "c1",
                                            "server_cpu_ms_per_request"),
            }
            for patient in config.get("inprocess", {})
        }
    return cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a few requests per phase, seconds not minutes")
    parser.add_argument("--configs", default=",".join(CONFIG_NAMES),
                        help="comma-separated, from: off,deployed (the default: both) and "
                             "tokens,recording (one feature on, to attribute its cost)")
    parser.add_argument("--patients", default=",".join(PATIENT_NAMES),
                        help="comma-separated subset of: typical,heavy,extreme")
    parser.add_argument("--no-http", action="store_true",
                        help="in-process only (no gunicorn)")
    parser.add_argument("--memory", default="deployed",
                        help="configurations that get the memory run (comma-separated; "
                             "'none' for none; default: deployed)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"directory for the JSON results (default: {RESULTS_DIR})")
    args = parser.parse_args(argv)
    configs = tuple(c for c in args.configs.split(",") if c)
    names = tuple(p for p in args.patients.split(",") if p)
    bad = [c for c in configs if c not in CONFIG_NAMES + EXTRA_CONFIG_NAMES] + [
        p for p in names if p not in PATIENT_NAMES]
    if bad:
        parser.error(f"unknown: {', '.join(bad)}")
    memory = () if args.memory == "none" else tuple(args.memory.split(","))
    began = time.perf_counter()
    results, path = run(QUICK if args.quick else FULL, configs=configs, patient_names=names,
                        seed=args.seed, http=not args.no_http, memory_configs=memory,
                        out_dir=args.out)
    print()
    print(render(results))
    print(f"\nresults: {path}  ({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
