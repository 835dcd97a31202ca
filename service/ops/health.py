"""Liveness and readiness: ``/healthz`` and ``/readyz``, and the registry of readiness checks.

``/healthz`` answers as long as a worker can run Python: it touches nothing else, so a
slow database never makes an orchestrator kill healthy pods (liveness). ``/readyz`` runs
every registered check (configuration loaded, storage reachable, ...) and answers 503
while any fails, so a load balancer stops sending hooks to an instance that cannot
answer them (readiness).

Features register their own checks next to the code they guard::

    from service.ops import health
    health.register_check(app, "database", lambda: engine.connect().close())

A check returns normally when ready and raises when not. What it raises goes to the log;
the probe's answer names only the check and, for a :class:`NotReady`, its message, so a
connection string or a host name in an exception never reaches the caller.

Neither route is behind the JWT: orchestrators and load balancers carry no token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from service.ops.state import EXTENSION_KEY, state

log = logging.getLogger(__name__)

REGISTRY_KEY = "mcas.health"
PROBE_PATHS = ("/healthz", "/readyz")

Check = Callable[[], None]


class NotReady(Exception):
    """Raised by a check with a message that is safe to show to whoever probes."""


@dataclass
class CheckRegistry:
    checks: dict[str, Check] = field(default_factory=dict)

    def register(self, name: str, check: Check) -> None:
        if name in self.checks:
            raise ValueError(f"readiness check {name!r} is registered twice")
        self.checks[name] = check

    def run(self) -> tuple[bool, dict[str, dict[str, object]]]:
        results: dict[str, dict[str, object]] = {}
        ready = True
        for name, check in self.checks.items():
            started = time.perf_counter()
            try:
                check()
            except NotReady as exc:
                ready = False
                results[name] = {"status": "fail", "output": str(exc)}
                log.warning("readiness check failed", extra={"check": name, "reason": str(exc)})
            except Exception as exc:
                ready = False
                results[name] = {"status": "fail", "output": f"{type(exc).__name__}"}
                log.warning(
                    "readiness check failed",
                    exc_info=True,
                    extra={"check": name, "error_type": type(exc).__name__},
                )
            else:
                results[name] = {"status": "pass"}
            results[name]["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
        return ready, results


def registry(app: Flask | None = None) -> CheckRegistry:
    target = app if app is not None else current_app
    checks: CheckRegistry = target.extensions.setdefault(REGISTRY_KEY, CheckRegistry())
    return checks


def register_check(app: Flask, name: str, check: Check) -> None:
    """Add a readiness check; ``/readyz`` fails while ``check()`` raises."""
    registry(app).register(name, check)


def _configuration_loaded() -> None:
    # create_app stops on a bad thresholds file; this guards against an app whose state
    # was never installed or whose thresholds provider (reloadable at run time) fails.
    if EXTENSION_KEY not in current_app.extensions:
        raise NotReady("service state not installed")
    current = state()
    if not current.knowledge.mediator_loincs:
        raise NotReady("clinical knowledge not loaded")
    current.thresholds()


bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify({"status": "pass"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    ready, checks = registry().run()
    body = {"status": "pass" if ready else "fail", "checks": checks}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    registry(app)
    register_check(app, "configuration", _configuration_loaded)
    app.register_blueprint(bp)
