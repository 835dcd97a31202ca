"""Prometheus metrics: what the service counts, and ``/metrics`` to scrape them.

Other modules record through the small functions below (``record_cards``,
``record_hook_latency``, ``record_fallback``, ``record_token_rejection``,
``record_storage_failure``, ``record_snoozed``, ``record_snooze_read_failure``,
``record_feedback``, ``record_timeline_*``) and never touch
prometheus-client directly, so metric names and labels stay in one place.

Labels are bounded by construction: routes are Flask URL rules (``/cds-services/<service_id>``,
never the raw path), topics and prefetch keys come from ``cards/``, rejection reasons and
storage operations are short fixed codes chosen by the code that records them. No label
ever carries a patient id, a token or free text from a request.

Under gunicorn every worker is its own process. prometheus-client's multiprocess mode,
switched on by ``PROMETHEUS_MULTIPROC_DIR`` (``deploy/gunicorn.conf.py`` sets it before the
app is imported), writes each worker's values to files in that directory and ``/metrics``
adds them up, so a scrape sees all workers whichever one answers it.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.settings import Setting, parse_bool

SETTINGS = (
    Setting(
        "METRICS_ENABLED",
        True,
        parse_bool,
        "Serve Prometheus metrics at `/metrics` on the service's own port. Metrics hold no "
        "patient data; keep `/metrics` off the Ingress all the same (see docs/operations.md).",
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        str,
        "If set, `/metrics` answers only requests carrying `Authorization: Bearer <token>` "
        "(Prometheus: `authorization.credentials` of the scrape config). Keep it in a Secret.",
    ),
)

# Latency buckets: a hook answers in tens of milliseconds from prefetch, a FHIR fallback
# can take seconds; gunicorn's timeout (30 s) bounds the top.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_LATENCY = Histogram(
    "mcas_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask route (URL rule), method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
# Set once at start: the same in every worker of a pod, so the largest is the pod's.
CARDS_OVERLAY_FILES = Gauge(
    "mcas_cards_overlay_files",
    "Site overlay files (MCAS_CARDS_OVERLAY) merged over the cards this process serves.",
    multiprocess_mode="max",
)
CARDS_ISSUED = Counter(
    "mcas_cards_issued",
    "Cards returned by the hook, by CDS service id, card topic (source.topic.code) and test "
    "traffic (test=\"true\": a test patient, MCAS_TEST_PATIENT_PREFIX / "
    "MCAS_TEST_PATIENT_IDS).",
    ["service", "topic", "test"],
)
HOOK_LATENCY = Histogram(
    "mcas_hook_duration_seconds",
    "Time to answer a hook call that reached the service's core (envelope to cards, "
    "recording included), by CDS service id: mcas-therapy-tier (patient-view), "
    "mcas-order-safety-select, mcas-order-safety-sign. Refused calls are not in it.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
CARDS_SNOOZED = Counter(
    "mcas_cards_snoozed",
    "Cards held back because a clinician overrode the same card for the patient and its "
    "facts have not changed (docs/clinical-rules.md §8), by topic and test traffic.",
    ["topic", "test"],
)
SNOOZE_READ_FAILURES = Counter(
    "mcas_snooze_read_failures",
    "Hook calls whose card history could not be read within its budget, so the cards were "
    "shown unsnoozed, by reason: error, timeout, or paused (skipped during the back-off "
    "after a database failure).",
    ["reason"],
)
FEEDBACK_ITEMS = Counter(
    "mcas_feedback_items",
    "Feedback items stored (duplicates not counted), by outcome and test traffic.",
    ["outcome", "test"],
)
CARDS_FOLDED = Counter(
    "mcas_cards_folded",
    "Cards not shown on their own because they went into the ladder card (mediator-evidence, "
    "biologic-review: docs/clinical-rules.md section 4, Fewer cards), by topic.",
    ["topic"],
)
FALLBACK_CALLS = Counter(
    "mcas_fhir_fallback_calls",
    "Calls to the EHR's FHIR server for prefetch data the EHR did not send, by prefetch key.",
    ["key"],
)
FALLBACK_FAILURES = Counter(
    "mcas_fhir_fallback_failures",
    "FHIR fallback calls that failed (error status, timeout, unreadable answer), by key.",
    ["key"],
)
PREFETCH_MISSING = Counter(
    "mcas_prefetch_missing",
    "Prefetch keys a hook call lacked while no FHIR server could be queried for them, by "
    "key and cause (no_fhir_server: the request named none; fhir_server_not_allowed: not "
    "in MCAS_FHIR_ALLOWED_SERVERS). The hook answered without that data.",
    ["key", "cause"],
)
CORS_REFUSALS = Counter(
    "mcas_cors_refusals",
    "Browser calls under /cds-services from an origin not in MCAS_CORS_ORIGINS, by kind: "
    "preflight (answered 403) or request (answered without CORS headers).",
    ["kind"],
)
TOKEN_REJECTIONS = Counter(
    "mcas_token_rejections",
    "Requests refused with 401 because the bearer JWT was missing or invalid, by reason.",
    ["reason"],
)
STORAGE_FAILURES = Counter(
    "mcas_storage_failures",
    "Storage failures by operation: record_cards counts cards not recorded (the hook still "
    "answered), store_feedback counts feedback calls answered 503, read_thresholds counts "
    "failed re-reads of the active thresholds version (the last good one stayed in use).",
    ["operation"],
)

TIMELINE_LAUNCHES = Counter(
    "mcas_timeline_launches",
    "SMART EHR launches of the timeline app begun (a valid launch and iss reached the "
    "authorization server).",
)
TIMELINE_PICTURES = Counter(
    "mcas_timeline_pictures",
    "Timeline pictures shown (a finished launch, or a reload within the session).",
)
TIMELINE_FAILURES = Counter(
    "mcas_timeline_failures",
    "Timeline launches or pictures that ended on an error page, by reason (a fixed code, "
    "docs/timeline.md lists them).",
    ["reason"],
)

REPLAY_CACHE_OUTAGES = Counter(
    "mcas_replay_cache_outages",
    "Token claims the shared replay cache (database) could not take, by what was done: "
    "local (checked against this host's cache only) or refused (answered 503).",
    ["outcome"],
)

EXPLAIN_CALLS = Counter(
    "mcas_explain_calls",
    "Explain calls by administrators (POST /admin/api/explain, issue 16), by source: "
    "request (a pasted CDS Hooks request) or fixture; refused ones count as refused.",
    ["source"],
)
PURGED_ROWS = Counter(
    "mcas_purged_rows",
    "Rows deleted by the retention purge (flask --app service db purge), by table.",
    ["table"],
)
ROLLUP_DAYS = Counter(
    "mcas_report_days_rolled_up",
    "UTC days the outcomes report rolled up into its daily counts (service/storage/rollup.py), "
    "by who did it: report (the report found closed days) or purge (db purge).",
    ["by"],
)
REPORT_SECONDS = Histogram(
    "mcas_outcomes_report_seconds",
    "Time the outcomes report took (GET /admin/api/feedback-report, its charts and the "
    "feedback-report command), the roll-up of closed days it did included; by patients: "
    "exact (a period of few cards) or estimated (the roll-up's sketches).",
    ["patients"],
    buckets=LATENCY_BUCKETS,
)

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.:\-]")


def _label(value: str) -> str:
    """A label value that cannot grow the series count without bound by accident."""
    return _UNSAFE_LABEL.sub("_", value)[:64] or "unknown"


def record_cards_overlay(files: int) -> None:
    CARDS_OVERLAY_FILES.set(files)


def _test_label(test: bool) -> str:
    return "true" if test else "false"


def record_cards(
    topics: Iterable[str], service: str = "mcas-therapy-tier", test: bool = False
) -> None:
    """Count the cards of one hook answer, one increment per card, by service and topic."""
    for topic in topics:
        CARDS_ISSUED.labels(
            service=_label(service), topic=_label(topic), test=_test_label(test)
        ).inc()


def record_hook_latency(service: str, seconds: float) -> None:
    """Time one answered hook call of CDS service ``service`` (a discovery id)."""
    HOOK_LATENCY.labels(service=_label(service)).observe(seconds)


def record_snoozed(topics: Iterable[str], test: bool = False) -> None:
    """Count the cards of one hook call held back by a snooze, by topic."""
    for topic in topics:
        CARDS_SNOOZED.labels(topic=_label(topic), test=_test_label(test)).inc()


def record_snooze_read_failure(reason: str) -> None:
    """Count one hook call shown unsnoozed: ``error``, ``timeout`` or ``paused``."""
    SNOOZE_READ_FAILURES.labels(reason=_label(reason)).inc()


def record_feedback(outcome: str, test: bool, count: int = 1) -> None:
    """Count ``count`` stored feedback items of one outcome."""
    FEEDBACK_ITEMS.labels(outcome=_label(outcome), test=_test_label(test)).inc(count)


def record_folded(topics: Iterable[str]) -> None:
    """Count the cards of one hook answer folded into its ladder card, by topic."""
    for topic in topics:
        CARDS_FOLDED.labels(topic=_label(topic)).inc()


def record_fallback(key: str, ok: bool) -> None:
    """Count one call to the EHR's FHIR server for prefetch ``key``, and whether it failed."""
    FALLBACK_CALLS.labels(key=_label(key)).inc()
    if not ok:
        FALLBACK_FAILURES.labels(key=_label(key)).inc()


def record_prefetch_missing(key: str, cause: str) -> None:
    """Count one prefetch ``key`` left missing because no FHIR server could be queried."""
    PREFETCH_MISSING.labels(key=_label(key), cause=_label(cause)).inc()


def record_cors_refusal(kind: str) -> None:
    """Count one browser call refused by the CORS allowlist: ``preflight`` or ``request``."""
    CORS_REFUSALS.labels(kind=_label(kind)).inc()


def record_token_rejection(reason: str) -> None:
    """Count one refused token; ``reason`` is a short fixed code such as ``expired``."""
    TOKEN_REJECTIONS.labels(reason=_label(reason)).inc()


def record_storage_failure(operation: str) -> None:
    """Count one storage failure: ``record_cards`` per card, ``store_feedback`` per call."""
    STORAGE_FAILURES.labels(operation=_label(operation)).inc()


def record_timeline_launch() -> None:
    """Count one timeline launch sent on to the authorization server."""
    TIMELINE_LAUNCHES.inc()


def record_timeline_picture() -> None:
    """Count one timeline picture shown."""
    TIMELINE_PICTURES.inc()


def record_timeline_failure(reason: str) -> None:
    """Count one timeline failure; ``reason`` is a short fixed code such as ``no_patient``."""
    TIMELINE_FAILURES.labels(reason=_label(reason)).inc()


def record_replay_cache_outage(outcome: str) -> None:
    """Count one token claim made while the shared replay cache was down: local/refused."""
    REPLAY_CACHE_OUTAGES.labels(outcome=_label(outcome)).inc()


def record_explain(source: str) -> None:
    """Count one explain call: ``request``, ``fixture`` or ``refused``."""
    EXPLAIN_CALLS.labels(source=_label(source)).inc()


def record_purged(table: str, rows: int) -> None:
    """Count rows the retention purge deleted from ``table``."""
    PURGED_ROWS.labels(table=_label(table)).inc(rows)


def record_rolled_up(days: int, by: str) -> None:
    """Count days rolled up: ``by`` is ``report`` or ``purge``."""
    if days:
        ROLLUP_DAYS.labels(by=_label(by)).inc(days)


def record_report_seconds(seconds: float, estimated: bool) -> None:
    # A label, so no series exists before the first report: a labelless metric would
    # make a file for the preloading master under gunicorn's multiprocess mode.
    REPORT_SECONDS.labels(patients="estimated" if estimated else "exact").observe(seconds)


def _route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def _start_timer() -> None:
    g.mcas_request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("mcas_request_started", None)
    if started is not None:
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        REQUEST_LATENCY.labels(
            route=_route_label(), method=method, status=str(response.status_code)
        ).observe(time.perf_counter() - started)
    return response


def _exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # A fresh registry per scrape, as prometheus-client's multiprocess guide says:
        # the collector reads every worker's files, live and dead.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            abort(401, description="Metrics need the configured bearer token.")
    return Response(_exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time every request; serve ``/metrics`` unless switched off."""
    # First in line, so time spent in other before_request hooks (token checks) counts
    # and requests those hooks refuse are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
    if app.config["METRICS_ENABLED"]:
        app.register_blueprint(bp)
