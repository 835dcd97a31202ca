"""Latency summaries: median and p99 by nearest rank, in milliseconds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (p99 of 100 samples = the 99th)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0, "median_ms": None, "p99_ms": None, "min_ms": None, "max_ms": None}
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "min_ms": round(ordered[0] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95 (nearest rank) and mean in milliseconds: the in-process cost benches'
    summary (bench/recording_cost.py, bench/snooze_cost.py)."""
    ordered = sorted(seconds)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)
