"""The benchmark's smoke run (issue 8): it completes and writes well-formed results with
no errors. Speed itself is never asserted here: bench/ measures it (`make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.patients import PATIENT_NAMES
from bench.report import evaluate_targets

pytestmark = pytest.mark.integration  # runs the benchmark, gunicorn included

ROOT = Path(__file__).resolve().parents[2]
TARGET_IDS = {
    "heavy_p99_http_1_client", "extreme_p99_http_1_client", "heavy_hook_vs_floor",
    "extreme_hook_vs_floor", "typical_throughput", "no_errors_under_load", "memory_flat",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench-results")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    files = list(out.glob("*-quick.json"))
    assert len(files) == 1
    return json.loads(files[0].read_text(encoding="utf-8")), completed.stdout


def _latency_ok(summary: dict[str, Any]) -> None:
    assert summary["n"] > 0
    assert 0 < summary["min_ms"] <= summary["median_ms"] <= summary["p99_ms"] <= summary["max_ms"]


def test_quick_run_measures_every_patient_in_both_configurations(quick_run) -> None:
    results, _ = quick_run
    assert results["meta"]["mode"] == "quick"
    assert set(results["patients"]) == set(PATIENT_NAMES)
    assert set(results["configs"]) == {"off", "deployed"}
    for config in results["configs"].values():
        assert set(config["features"].values()) <= {"on", "off", "n/a"}
        for name in PATIENT_NAMES:
            inproc = config["inprocess"][name]
            for measure in ("floor", "hook", "floor_cpu", "hook_cpu", "floor_gc_paused"):
                assert inproc[measure]["n"] > 0
            _latency_ok(inproc["floor"])
            _latency_ok(inproc["hook"])
            assert inproc["ratio"] > 0
            assert inproc["errors"] == 0, inproc["statuses"]
            phases = config["http"][name]
            assert set(phases) == {"c1", "c4", "c16"}
            for phase in phases.values():
                assert phase["requests"] > 0
                assert phase["errors"] == 0, phase["statuses"]
                assert set(phase["statuses"]) == {"200"}
                assert phase["throughput_rps"] > 0
                assert "server_cpu_ms_per_request" in phase
                _latency_ok(phase["latency"])


def test_quick_run_has_a_memory_run_and_worker_peaks(quick_run) -> None:
    results, _ = quick_run
    deployed = results["configs"]["deployed"]
    memory = deployed["memory"]
    assert memory["requests"] == results["meta"]["plan"]["memory_requests"]
    assert memory["errors"] == 0
    assert len(memory["summary"]["workers"]) == 2
    assert memory["samples"] and all(s["rss_bytes"] for s in memory["samples"])
    assert len(deployed["peak_rss_mib"]) == 2
    assert all(mib > 0 for mib in deployed["peak_rss_mib"].values())


def test_quick_run_reports_every_target_and_prints_the_table(quick_run) -> None:
    results, stdout = quick_run
    for name, config in results["configs"].items():
        targets = results["targets"][name]
        assert {t["id"] for t in targets} == TARGET_IDS
        assert all(t["met"] in (True, False, None) for t in targets)
        assert targets == evaluate_targets(config)
        by_id = {t["id"]: t for t in targets}
        assert by_id["no_errors_under_load"]["measured"] == 0
    assert "targets (issue 8)" in stdout
    assert "results: " in stdout


def test_quick_run_patients_get_their_expected_cards(quick_run) -> None:
    results, _ = quick_run
    for config in results["configs"].values():
        for name, verdict in config["cards"].items():
            assert verdict.startswith("ok: "), (name, verdict)
