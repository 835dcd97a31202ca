"""Serving pieces that need no running server: worker count, warm-up, probe, log lines."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from service import settings
from service.ops import serving
from service.ops.gunicorn_logs import JsonLogger
from service.ops.probe import probe_url
from service.ops.warmup import WARM_MODELS, warm_fhir_models
from tests.support.paths import ROOT


def test_worker_count_follows_the_cgroup_cpu_limit(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert serving.available_cpus(tmp_path) == min(2, serving.available_cpus(tmp_path / "none"))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert serving.available_cpus(tmp_path) == serving.available_cpus(tmp_path / "none")
    (tmp_path / "cpu.max").write_text("10000 100000\n")
    assert serving.available_cpus(tmp_path) == 1


def test_worker_count_reads_cgroup_v1(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert serving.available_cpus(tmp_path) == 1


def test_serving_config_defaults_and_overrides() -> None:
    config = serving.serving_config({})
    assert config["BIND"] == "127.0.0.1:8080"
    assert config["WORKERS"] == serving.available_cpus()
    assert config["TIMEOUT"] == 30
    config = serving.serving_config({"MCAS_WORKERS": "3", "MCAS_BIND": "0.0.0.0:9000"})
    assert config["WORKERS"] == 3 and config["BIND"] == "0.0.0.0:9000"
    assert serving.serving_config({"MCAS_WORKERS": "auto"})["WORKERS"] >= 1


@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_bad_worker_counts_name_the_variable(raw: str) -> None:
    with pytest.raises(settings.SettingError, match="MCAS_WORKERS"):
        serving.serving_config({"MCAS_WORKERS": raw})


def test_probe_asks_loopback_on_the_bound_port() -> None:
    assert probe_url("0.0.0.0:8080") == "http://127.0.0.1:8080/healthz"
    assert probe_url("[::]:9000, 0.0.0.0:9001") == "http://127.0.0.1:9000/healthz"
    with pytest.raises(ValueError, match="unix"):
        probe_url("unix:/run/mcas.sock")


def test_every_model_warmed_validates() -> None:
    assert warm_fhir_models() == list(WARM_MODELS)


def test_every_r4b_model_the_service_validates_is_warmed() -> None:
    from service.pipeline.facts import validation

    warmed = set(WARM_MODELS)
    assert warmed >= validation.KNOWN_TYPES, validation.KNOWN_TYPES - warmed
    imported: set[str] = set()
    module_import = re.compile(r"fhir\.resources\.R4B\.(\w+) import (\w+)")
    for path in (ROOT / "service").rglob("*.py"):
        # fhirtypes are primitive types (dateTime, date): warm_fhir_models parses a date
        imported.update(name for module, name in module_import.findall(path.read_text("utf-8"))
                        if module != "fhirtypes")
    assert imported <= warmed, f"add to service/ops/warmup.py WARM_MODELS: {imported - warmed}"


def _logger(accesslog: str | None = "-") -> tuple[JsonLogger, io.StringIO]:
    cfg = SimpleNamespace(
        errorlog="-",
        accesslog=accesslog,
        loglevel="info",
        logconfig=None,
        logconfig_dict={},
        logconfig_json=None,
        syslog=False,
        syslog_addr=None,
        syslog_prefix=None,
        syslog_facility="user",
        disable_redirect_access_to_syslog=False,
        capture_output=False,
        user=0,
        group=0,
        umask=0,
        access_log_format="",
    )
    logger = JsonLogger(cfg)
    stream = io.StringIO()
    ours = [h for h in logger.access_log.handlers if getattr(h, "_gunicorn", False)]
    assert len(ours) == 1 and isinstance(ours[0], logging.StreamHandler)
    ours[0].setStream(stream)
    return logger, stream


def _access(logger: JsonLogger, path: str, status: str, query: str = "") -> None:
    response = SimpleNamespace(status=status, sent=42, headers=[])
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": f"{path}?{query}",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_AUTHORIZATION": "Bearer secret-token",
    }
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12.5))


def test_access_log_is_one_json_line_without_query_string_or_headers() -> None:
    logger, stream = _logger()
    _access(logger, "/cds-services/mcas-therapy-tier", "200 OK", query="patient=mcas-1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["logger"] == "gunicorn.access" and line["level"] == "INFO" and "ts" in line
    assert line["path"] == "/cds-services/mcas-therapy-tier"
    assert line["status"] == 200 and line["duration_ms"] == 12.5 and line["method"] == "POST"
    assert "mcas-1" not in lines[0] and "secret-token" not in lines[0]
    assert "10.0.0.7" not in lines[0]


def test_access_log_skips_successful_probes_and_hides_unknown_paths() -> None:
    logger, stream = _logger()
    _access(logger, "/healthz", "200 OK")
    _access(logger, "/metrics", "200 OK")
    _access(logger, "/readyz", "503 Service Unavailable")
    _access(logger, "/Patient/mcas-1", "404 Not Found")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["path"], line["status"]) for line in lines] == [
        ("/readyz", 503),
        ("(unmatched)", 404),
    ]


def test_workers_are_recycled_by_default_and_it_can_be_switched_off() -> None:
    # Issue 18: memory a worker keeps after large charts is given back by replacing it.
    config = serving.serving_config({})
    assert (config["MAX_REQUESTS"], config["MAX_REQUESTS_JITTER"]) == (5000, 500)
    off = serving.serving_config({"MCAS_MAX_REQUESTS": "0"})
    assert off["MAX_REQUESTS"] == 0
    with pytest.raises(ValueError, match="MCAS_MAX_REQUESTS"):
        serving.serving_config({"MCAS_MAX_REQUESTS": "-5"})


def test_the_gunicorn_configuration_passes_recycling_to_gunicorn(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.paths import ROOT

    show = (
        "import runpy\n"
        "found = runpy.run_path('deploy/gunicorn.conf.py')\n"
        "print(found['max_requests'], found['max_requests_jitter'])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "MCAS_MAX_REQUESTS": "700", "MCAS_MAX_REQUESTS_JITTER": "70"}
    out = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["700", "70"]
