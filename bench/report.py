"""Targets of issue 8, the memory verdict, and the printed table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Memory counts as flat when no worker grows by more than this between the end of the
# warm-up (the first tenth of the requests) and the end of the run.
MEMORY_FLAT_PERCENT = 5.0
MEMORY_WARMUP_FRACTION = 0.1
MiB = 1024 * 1024


def memory_summary(samples: Sequence[dict[str, Any]], total_requests: int) -> dict[str, Any]:
    """Per worker: RSS after warm-up, at the end, growth, and the least-squares slope."""
    by_worker: dict[str, list[tuple[int, int]]] = {}
    for sample in samples:
        for pid, value in sample["rss_bytes"].items():
            if value is not None:
                by_worker.setdefault(pid, []).append((sample["requests"], value))
    warm = total_requests * MEMORY_WARMUP_FRACTION
    workers: dict[str, Any] = {}
    for pid, points in by_worker.items():
        after = [(n, v) for n, v in points if n >= warm] or points[-1:]
        baseline, end = after[0][1], after[-1][1]
        workers[pid] = {
            "rss_after_warmup_mib": round(baseline / MiB, 1),
            "rss_end_mib": round(end / MiB, 1),
            "rss_max_mib": round(max(v for _, v in points) / MiB, 1),
            "growth_mib": round((end - baseline) / MiB, 2),
            "growth_percent": round((end - baseline) / baseline * 100, 2),
            "slope_mib_per_1000_requests": _slope(after),
            "samples": len(points),
        }
    growths = [w["growth_percent"] for w in workers.values()]
    return {
        "requests": total_requests,
        "workers": workers,
        # A worker that was replaced mid-run (max_requests, crash) hides growth: say so.
        "workers_replaced": len(by_worker) > 2,
        "max_growth_percent": max(growths) if growths else None,
        "flat": bool(growths) and max(growths) <= MEMORY_FLAT_PERCENT,
    }


def _slope(points: Sequence[tuple[int, int]]) -> float | None:
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(cov / var * 1000 / MiB, 3)


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _target(ident: str, text: str, measured: float | None, limit: float, unit: str,
            *, at_most: bool) -> dict[str, Any]:
    met = None if measured is None else (measured <= limit if at_most else measured >= limit)
    return {"id": ident, "target": text, "measured": measured, "limit": limit,
            "unit": unit, "met": met}


def evaluate_targets(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 8's targets for one configuration's results."""
    http = config.get("http") or {}
    inproc = config.get("inprocess") or {}
    targets = [
        _target("heavy_p99_http_1_client", "heavy p99 over HTTP, 1 client < 50 ms",
                _get(http, "heavy", "c1", "latency", "p99_ms"), 50, "ms", at_most=True),
        _target("extreme_p99_http_1_client", "extreme p99 over HTTP, 1 client < 150 ms",
                _get(http, "extreme", "c1", "latency", "p99_ms"), 150, "ms", at_most=True),
        _target("heavy_hook_vs_floor", "heavy hook median <= 2x floor (in-process)",
                _get(inproc, "heavy", "ratio"), 2.0, "x", at_most=True),
        _target("extreme_hook_vs_floor", "extreme hook median <= 2x floor (in-process)",
                _get(inproc, "extreme", "ratio"), 2.0, "x", at_most=True),
    ]
    typical = http.get("typical") or {}
    rates = [(phase["throughput_rps"], key) for key, phase in typical.items()
             if phase.get("throughput_rps") is not None]
    best = max(rates) if rates else (None, None)
    row = _target("typical_throughput", "typical >= 500 req/s on 2 workers",
                  best[0], 500, "req/s", at_most=False)
    row["at"] = best[1]
    targets.append(row)
    if http:
        errors = sum(phase.get("errors", 0) for patient in http.values()
                     for phase in patient.values())
        memory_errors = _get(config, "memory", "errors") or 0
        targets.append(_target("no_errors_under_load", "no errors under load",
                               errors + memory_errors, 0, "errors", at_most=True))
    else:
        targets.append(_target("no_errors_under_load", "no errors under load", None, 0,
                               "errors", at_most=True))
    memory = config.get("memory")
    growth = _get(memory or {}, "summary", "max_growth_percent")
    row = _target("memory_flat", f"worker RSS flat over the memory run (growth <= "
                  f"{MEMORY_FLAT_PERCENT:g}%)", growth,
                  MEMORY_FLAT_PERCENT, "%", at_most=True)
    if memory and _get(memory, "summary", "workers_replaced"):
        row["note"] = "a worker was replaced during the run: growth may be hidden"
    targets.append(row)
    return targets


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"mcas-cds benchmark  {meta['timestamp']}  mode={meta['mode']}  "
        f"commit={meta.get('commit', '?')[:10]}  cpus={meta['cpus']}  "
        f"1-min load avg start/end {meta['loadavg_start']}/{meta.get('loadavg_end', '-')}",
        "NOTE: shared machine; client, server and other jobs share the same cores, so the "
        "numbers are noisy (compare within one run).",
        "",
    ]
    patients = results["patients"]
    lines.append("patients: " + "; ".join(
        f"{name} {p['resources']} resources, {p['body_bytes'] / 1e6:.2f} MB"
        for name, p in patients.items()))
    lines.append("")
    lines.append("in-process, ms (median unless p99): floor = json.loads of the body, hook = "
                 "the same body through the app's test client; cpu = thread CPU time")
    lines.append("  ratio* = hook / floor measured with the garbage collector paused, as the "
                 "hook runs")
    header = (f"{'config':<10}{'patient':<9}{'floor':>8}{'hook':>8}{'p99':>8}{'ratio':>7}"
              f"{'ratio*':>7}{'floor cpu':>10}{'hook cpu':>9}{'ratio':>7}{'err':>5}  cards")
    lines.append(header)
    lines.append("-" * len(header))
    for name, config in results["configs"].items():
        for patient in patients:
            inproc = _get(config, "inprocess", patient) or {}
            lines.append(
                f"{name:<10}{patient:<9}"
                f"{_fmt(_get(inproc, 'floor', 'median_ms'), 2):>8}"
                f"{_fmt(_get(inproc, 'hook', 'median_ms'), 2):>8}"
                f"{_fmt(_get(inproc, 'hook', 'p99_ms'), 2):>8}"
                f"{_fmt(inproc.get('ratio'), 2):>7}"
                f"{_fmt(inproc.get('ratio_gc_paused_floor'), 2):>7}"
                f"{_fmt(_get(inproc, 'floor_cpu', 'median_ms'), 2):>10}"
                f"{_fmt(_get(inproc, 'hook_cpu', 'median_ms'), 2):>9}"
                f"{_fmt(inproc.get('ratio_cpu'), 2):>7}"
                f"{inproc.get('errors', '-'):>5}  {config.get('cards', {}).get(patient, '-')}"
            )
        features = config.get("features", {})
        lines.append(f"{'':<10}features: token verification {features.get('token_verification')}"
                     f", card recording {features.get('card_recording')}")
    if any(config.get("http") for config in results["configs"].values()):
        lines.append("")
        lines.append("over HTTP (gunicorn, 2 sync workers, loopback): latency ms at 1 client, "
                     "req/s at 1/4/16 clients; srv cpu = workers' CPU ms per request (c1); "
                     "cap = req/s 2 dedicated cores would serve at that cost")
        header = (f"{'config':<10}{'patient':<9}{'median':>8}{'p99':>8}{'rps c1':>8}"
                  f"{'rps c4':>8}{'rps c16':>8}{'srv cpu':>9}{'cap':>8}{'err':>5}")
        lines.append(header)
        lines.append("-" * len(header))
        for name, config in results["configs"].items():
            for patient in patients:
                http = _get(config, "http", patient) or {}
                errors = sum(phase.get("errors", 0) for phase in http.values())
                lines.append(
                    f"{name:<10}{patient:<9}"
                    f"{_fmt(_get(http, 'c1', 'latency', 'median_ms'), 2):>8}"
                    f"{_fmt(_get(http, 'c1', 'latency', 'p99_ms'), 2):>8}"
                    f"{_fmt(_get(http, 'c1', 'throughput_rps'), 0):>8}"
                    f"{_fmt(_get(http, 'c4', 'throughput_rps'), 0):>8}"
                    f"{_fmt(_get(http, 'c16', 'throughput_rps'), 0):>8}"
                    f"{_fmt(_get(http, 'c1', 'server_cpu_ms_per_request'), 2):>9}"
                    f"{_fmt(_get(http, 'c1', 'cpu_bound_capacity_rps'), 0):>8}"
                    f"{errors:>5}"
                )
        sources = {c["gunicorn"] for c in results["configs"].values() if c.get("gunicorn")}
        lines.append("gunicorn configuration: " + "; ".join(sorted(sources)))
    lines.append("")
    cost = results.get("feature_cost")
    if cost:
        lines.append("cost of the features (configuration minus off, median ms; cpu = CPU "
                     "time, less sensitive to other load):")
        for name, per_patient in cost.items():
            for patient, row in per_patient.items():
                lines.append(
                    f"  {name:<9} {patient:<9} in-process "
                    f"{_fmt(row.get('inprocess_ms'), 2):>7} (cpu "
                    f"{_fmt(row.get('inprocess_cpu_ms'), 2):>6})   http c1 "
                    f"{_fmt(row.get('http_c1_ms'), 2):>7} (server cpu "
                    f"{_fmt(row.get('http_server_cpu_ms'), 2):>6})")
        lines.append("")
    for name, config in results["configs"].items():
        memory = config.get("memory")
        if not memory:
            continue
        lines.append(f"memory ({name}): {memory['requests']} requests "
                     f"({memory['mix']}), {memory['concurrency']} clients, "
                     f"{memory['elapsed_s']:.1f} s, errors {memory['errors']}")
        for pid, worker in memory["summary"]["workers"].items():
            lines.append(
                f"  worker {pid}: RSS {worker['rss_after_warmup_mib']} MiB after warm-up -> "
                f"{worker['rss_end_mib']} MiB at end ({worker['growth_percent']:+.1f}%), "
                f"max {worker['rss_max_mib']} MiB, slope "
                f"{_fmt(worker['slope_mib_per_1000_requests'], 3)} MiB/1000 req")
        peaks = config.get("peak_rss_mib") or {}
        if peaks:
            lines.append("  peak RSS (VmHWM) per worker over the whole server run: "
                         + ", ".join(f"{pid}: {mib} MiB" for pid, mib in peaks.items()))
        lines.append("")
    caveat = "  [quick mode: numbers not meaningful]" if meta["mode"] == "quick" else ""
    lines.append(f"targets (issue 8){caveat}:")
    names = list(results["configs"])
    lines.append(f"  {'target':<58}" + "".join(f"{n:>22}" for n in names))
    rows = {name: {t["id"]: t for t in results["targets"].get(name, [])} for name in names}
    for ident in (rows[names[0]] if names else {}):
        first = rows[names[0]][ident]
        cells = []
        for name in names:
            row = rows[name].get(ident)
            if row is None:
                cells.append(f"{'-':>22}")
                continue
            measured = _fmt(row["measured"], 2 if row["unit"] == "x" else 1)
            cells.append(f"{measured + ' ' + row['unit'] + ' ' + _verdict(row['met']):>22}")
        lines.append(f"  {first['target']:<58}" + "".join(cells))
    return "\n".join(lines)
