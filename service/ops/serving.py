"""Serving under gunicorn: its settings, the worker count, and JSON-line logs.

``deploy/gunicorn.conf.py`` reads these; they are declared here so the one configuration
reference (docs/configuration.md) lists them with every other setting. Flask ignores them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from service.settings import Setting, parse_bool


def parse_workers(raw: str) -> int | None:
    if raw.strip().lower() in {"", "auto"}:
        return None
    workers = int(raw)
    if workers < 1:
        raise ValueError(f"expected a positive number of workers or 'auto', got {raw!r}")
    return workers


def parse_seconds(raw: str) -> int:
    seconds = int(raw)
    if seconds < 1:
        raise ValueError(f"expected a positive number of seconds, got {raw!r}")
    return seconds


def parse_count(raw: str) -> int:
    count = int(raw)
    if count < 0:
        raise ValueError(f"expected 0 or a positive number, got {raw!r}")
    return count


DEFAULT_BIND = "127.0.0.1:8080"

SETTINGS = (
    Setting(
        "BIND",
        DEFAULT_BIND,
        str,
        "gunicorn: address and port to listen on (`HOST:PORT`). The container image sets "
        "`0.0.0.0:8080`.",
    ),
    Setting(
        "WORKERS",
        None,
        parse_workers,
        "gunicorn: number of sync worker processes; `auto` or unset means one per CPU "
        "available to the container (its CPU limit, else its CPU set).",
    ),
    Setting(
        "TIMEOUT",
        30,
        parse_seconds,
        "gunicorn: seconds a worker may spend on one request before it is killed and "
        "replaced; also the grace period for requests in flight at shutdown.",
    ),
    Setting(
        "ACCESS_LOG",
        False,
        parse_bool,
        "gunicorn: also write gunicorn's own JSON access line per request (method, path "
        "without query string, status, duration). Off by default: the service logs every "
        "request itself (`service.request`). Successful probes and scrapes are never logged.",
    ),
    Setting(
        "MAX_REQUESTS",
        5000,
        parse_count,
        "gunicorn: a worker is replaced by a fresh one (forked from the preloaded master) "
        "after this many requests plus a random 0 to `MCAS_MAX_REQUESTS_JITTER`, so memory "
        "a worker's heap keeps after large requests is returned; `0` never replaces them.",
    ),
    Setting(
        "MAX_REQUESTS_JITTER",
        500,
        parse_count,
        "gunicorn: the random extra to `MCAS_MAX_REQUESTS`, so the workers are not all "
        "replaced at the same moment.",
    ),
)


def serving_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The serving settings: defaults, overridden by ``MCAS_*`` environment variables."""
    from service.settings import defaults, from_environment

    values = defaults(SETTINGS)
    values.update(from_environment(SETTINGS, os.environ if environ is None else environ))
    if values["WORKERS"] is None:
        values["WORKERS"] = available_cpus()
    return values


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: the cgroup CPU limit if there is one, else its CPU set.

    In a container ``os.cpu_count()`` reports the node's cores, and one worker per node
    core under a 2-CPU limit only adds memory and throttling.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def _cgroup_cpu_quota(cgroup_root: Path) -> float | None:
    try:  # cgroup v2: "max 100000" or "200000 100000"
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def drop_mismatched_script_name(request: Any, log: Any) -> None:
    """gunicorn ``pre_request``: ignore a forwarded ``SCRIPT_NAME`` the path does not start with.

    gunicorn takes ``SCRIPT_NAME`` from a trusted forwarder's header; when the request
    path does not start with it, gunicorn answers its own HTML 500 ("configuration
    problem") before the app can answer. Such a header is dropped here, so the app
    answers the path as sent (an OperationOutcome 404 for a path it does not serve). A
    ``SCRIPT_NAME`` that does prefix the path is kept, as gunicorn uses it.
    """
    forwarded = [value for name, value in request.headers if name == "SCRIPT_NAME"]
    if forwarded and not request.path.startswith(forwarded[-1]):  # gunicorn uses the last
        request.headers = [
            (name, value) for name, value in request.headers if name != "SCRIPT_NAME"
        ]
        log.warning("a forwarded SCRIPT_NAME does not prefix the request path: ignored")
