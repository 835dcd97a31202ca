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
from service.settings import Setting, parse_bool

log = logging.getLogger(__name__)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "READY_REQUIRES_DATABASE",
        False,
        parse_bool,
        "`true`: /readyz fails (503) while the database is unreachable. Default `false`: "
        "hooks are still answered during a database outage (cards are then not recorded "
        "and feedback gets 503), so the pod stays ready and /readyz reports the database "
        "as failing with `\"status\": \"warn\"`. See docs/operations.md, \"Probes\".",
    ),
)

REGISTRY_KEY = "mcas.health"
PROBE_PATHS = ("/healthz", "/readyz")

Check = Callable[[], None]


class NotReady(Exception):
    """Raised by a check with a message that is safe to show to whoever probes."""


@dataclass
class CheckRegistry:
    """Readiness checks by name, each marked whether its failure stops the hooks.

    A check that *blocks hooks* (configuration, trusted clients, the expected audience)
    fails when the service cannot answer a hook; one that does not (the database: cards
    are then not recorded and feedback gets 503, but hooks are answered) only says that
    something cannot be recorded. /readyz answers 503 only while a *required* check
    fails: by default those that block hooks (``required`` can say otherwise).
    """

    checks: dict[str, Check] = field(default_factory=dict)
    blocks_hooks: dict[str, bool] = field(default_factory=dict)
    required: dict[str, bool] = field(default_factory=dict)

    def register(
        self, name: str, check: Check, *, blocks_hooks: bool = True, required: bool | None = None
    ) -> None:
        if name in self.checks:
            raise ValueError(f"readiness check {name!r} is registered twice")
        self.checks[name] = check
        self.blocks_hooks[name] = blocks_hooks
        self.required[name] = blocks_hooks if required is None else required

    def mark_blocking(self, name: str) -> None:
        """A later feature makes ``name``'s failure stop the hooks too (and so required)."""
        self.blocks_hooks[name] = True
        self.required[name] = True

    def run(self) -> tuple[bool, dict[str, dict[str, object]]]:
        results: dict[str, dict[str, object]] = {}
        ready = True
        for name, check in self.checks.items():
            started = time.perf_counter()
            try:
                check()
            except NotReady as exc:
                results[name] = {"status": "fail", "output": str(exc)}
                log.warning("readiness check failed", extra={"check": name, "reason": str(exc)})
            except Exception as exc:
                results[name] = {"status": "fail", "output": f"{type(exc).__name__}"}
                log.warning(
                    "readiness check failed",
                    exc_info=True,
                    extra={"check": name, "error_type": type(exc).__name__},
                )
            else:
                results[name] = {"status": "pass"}
            if results[name]["status"] == "fail" and self.required[name]:
                ready = False
            results[name]["blocksHooks"] = self.blocks_hooks[name]
            results[name]["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
        return ready, results


def registry(app: Flask | None = None) -> CheckRegistry:
    target = app if app is not None else current_app
    checks: CheckRegistry = target.extensions.setdefault(REGISTRY_KEY, CheckRegistry())
    return checks


def register_check(
    app: Flask, name: str, check: Check, *, blocks_hooks: bool = True, required: bool | None = None
) -> None:
    """Add a readiness check; ``/readyz`` fails while ``check()`` raises, if it is required
    (by default: if it blocks hooks). Its answer says which checks fail and which block."""
    registry(app).register(name, check, blocks_hooks=blocks_hooks, required=required)


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
    failing = [name for name, result in checks.items() if result["status"] == "fail"]
    body = {
        # pass: all checks pass; warn: something cannot be recorded, hooks are answered.
        "status": "fail" if not ready else "warn" if failing else "pass",
        "canAnswerHooks": not any(checks[name]["blocksHooks"] for name in failing),
        "failing": failing,
        "checks": checks,
    }
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    registry(app)
    register_check(app, "configuration", _configuration_loaded)
    app.register_blueprint(bp)
