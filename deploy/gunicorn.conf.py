"""gunicorn configuration for production.

The production command (README, Dockerfile CMD)::

    gunicorn -c deploy/gunicorn.conf.py "service:create_app()"

Sync workers (a hook is CPU-bound: parse, validate, evaluate), one per available CPU by
default, the app preloaded in the master and the FHIR models warmed there before fork,
then ``gc.freeze()`` so the workers share those pages instead of copying them.
Settings come from ``MCAS_*`` environment variables (docs/configuration.md);
``GUNICORN_CMD_ARGS`` still overrides anything here for a one-off.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Prometheus multiprocess mode must be chosen before prometheus_client is first imported,
# that is before the app (preloaded below) is: each worker then writes its metrics to
# files in this directory and /metrics adds them up.
_inherited = dict(os.environ)
_multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _multiproc_dir:
    # Values left by a previous run would be added to this one's: start without them.
    # Only prometheus-client's own files go: the directory may hold other things.
    Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)
    for _stale in Path(_multiproc_dir).glob("*.db"):
        _stale.unlink(missing_ok=True)
else:
    _multiproc_dir = tempfile.mkdtemp(prefix="mcas-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _multiproc_dir

from service.auth.audience import parse_trusted_proxies  # noqa: E402 - after the switch
from service.ops.serving import serving_config  # noqa: E402 - after the multiprocess switch

_config = serving_config()

wsgi_app = "service:create_app()"
bind = [part.strip() for part in _config["BIND"].split(",") if part.strip()]
worker_class = "sync"
workers = _config["WORKERS"]
preload_app = True

# A hook answers in tens of milliseconds; a FHIR fallback is bounded by its own timeouts.
# A worker silent for longer than this is stuck and gets replaced.
timeout = _config["TIMEOUT"]
graceful_timeout = _config["TIMEOUT"]
# A worker is replaced after MCAS_MAX_REQUESTS (+ jitter) requests: the new one is forked
# from the preloaded, frozen master, so memory a worker kept after large charts is given
# back (bench/RESULTS.md, issue 18). The request in flight is finished first.
max_requests = _config["MAX_REQUESTS"]
max_requests_jitter = _config["MAX_REQUESTS_JITTER"] if max_requests else 0
# Sync workers close the connection after each response; keep-alive is the proxy's job.
keepalive = 2

# The heartbeat file lives in memory, not on a (possibly read-only or slow) disk.
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108
# No control socket: it would need a writable home directory; scale with replicas.
control_socket_disable = True

logger_class = "service.ops.gunicorn_logs.JsonLogger"
errorlog = "-"
accesslog = "-" if _config["ACCESS_LOG"] else None
loglevel = os.environ.get("MCAS_LOG_LEVEL", "info").lower()
# X-Forwarded-Proto and a SCRIPT_NAME header count only from the reverse proxies named in
# MCAS_TRUSTED_PROXIES, as in the app (service/web/proxies.py); by default from nobody,
# not even loopback (issue 17). Connections over a Unix socket are always trusted.
forwarded_allow_ips = ",".join(parse_trusted_proxies(os.environ.get("MCAS_TRUSTED_PROXIES", "")))


def when_ready(server: Any) -> None:
    """Master, app loaded, before the first fork: warm the models, then freeze the heap."""
    from service.ops.warmup import warm_fhir_models

    warmed = warm_fhir_models()
    # Everything allocated so far lives as long as the master; moving it out of the
    # collector's reach keeps collections in the workers from touching (and copying)
    # the shared pages.
    gc.collect()
    gc.freeze()
    server.log.info(
        "ready: %d workers, %d FHIR models warmed, metrics in %s",
        workers,
        len(warmed),
        _multiproc_dir,
    )


def pre_request(worker: Any, req: Any) -> None:
    """A forwarded SCRIPT_NAME the path does not start with: ignored, never an HTML 500."""
    from service.ops.serving import drop_mismatched_script_name

    drop_mismatched_script_name(req, worker.log)


def child_exit(server: Any, worker: Any) -> None:
    """A worker died: retire its live gauges so /metrics stops counting it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory this configuration made up (not one it was given)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in _inherited:
        shutil.rmtree(_multiproc_dir, ignore_errors=True)
