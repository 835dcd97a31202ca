"""Outcomes per card topic over a period: what a CDS governance committee reviews.

- ``issued``: cards issued (shown) in the period; ``patients``: distinct patients they
  were shown to (the salted patient hash, never the id).
- ``snoozed``: cards held back by a snooze in the period (counted, never shown), once
  issued cards record it (issue 14).
- ``accepted`` / ``overridden``: distinct cards with such feedback whose
  ``outcomeTimestamp`` lies in the period (a card may count in both).
- ``acceptance_rate``: accepted / (accepted + overridden), ``null`` without feedback;
  cards nobody acted on are not in it (CDS Hooks clients do not report "ignored").
- ``override_reasons``: overriding feedback items per reason Coding, most frequent first;
  items without a reason count in ``overridden_without_reason``. User comments are
  counted, never shown: they are free text and may name a patient.
The same per service (patient-view, order-time), per thresholds version stamped on the
cards, and per ISO week (the chart). Test traffic (``mcas-cds check``'s cards and their
feedback, marked ``test``) is left out unless ``include_test``.
Feedback for cards the service never recorded is reported under topic ``unknown``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    select,
    true,
)

from service.storage.feedback_store import UNKNOWN_TOPIC
from service.storage.models import feedback, issued_cards, thresholds_versions

PATIENT_VIEW = "patient-view"
ORDER_TIME = "order-time"


def _column(table: Any, name: str) -> Column[Any] | None:
    """A column added by a later migration (issues 14, 15), or None before it is there."""
    found: Column[Any] | None = table.c.get(name)
    return found


def _service_of(hook: Any) -> ColumnElement[str]:
    """patient-view for cards of that hook (and rows from before the hook was recorded),
    order-time for the order hooks (order-select, order-sign)."""
    if hook is None:
        return literal(PATIENT_VIEW)
    return case((hook.like("order-%"), literal(ORDER_TIME)), else_=literal(PATIENT_VIEW))


def _day(moment: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC date of ``moment`` as text YYYY-MM-DD, cheaply: weeks are folded in Python.

    SQLite stores the UTC wall time as text ("2026-11-25 12:00:00.000000"), so its first
    ten characters are the date; PostgreSQL converts the instant to UTC first.
    """
    # Literal SQL, not bound parameters: the same expression in SELECT and GROUP BY must
    # read the same to PostgreSQL.
    if dialect == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), moment),
                            literal_column("'YYYY-MM-DD'"))
    return func.substr(moment, literal_column("1"), literal_column("10"))


def _monday(day: str) -> str:
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def _counts() -> dict[str, Any]:
    return {
        "issued": 0,
        "patients": 0,
        "snoozed": 0,
        "accepted": 0,
        "overridden": 0,
        "acceptance_rate": None,
        "override_reasons": [],
        "overridden_without_reason": 0,
        "user_comments": 0,
    }


def _rate(entry: dict[str, Any]) -> None:
    acted = entry["accepted"] + entry["overridden"]
    entry["acceptance_rate"] = round(entry["accepted"] / acted, 4) if acted else None


def outcomes_report(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    topic: str | None = None,
    include_test: bool = False,
) -> dict[str, Any]:
    """The report. Few queries, each one pass over the period through an index (0007):
    the cards grouped by everything the report splits by, folded here; distinct patients
    per topic and per service; the feedback per card and outcome; reasons; comments."""
    dialect = engine.dialect.name
    status = _column(issued_cards, "status")
    issued_test = _column(issued_cards, "test")
    feedback_test = _column(feedback, "test")
    hook = _column(issued_cards, "hook")
    service = _service_of(hook)

    card_period = (issued_cards.c.issued_at >= since) & (issued_cards.c.issued_at < until)
    if topic is not None:
        card_period &= issued_cards.c.topic == topic
    if issued_test is not None and not include_test:
        card_period &= issued_test.is_not(true())
    shown = card_period if status is None else card_period & (status == "issued")

    in_period = (feedback.c.outcome_at >= since) & (feedback.c.outcome_at < until)
    if feedback_test is not None and not include_test:
        in_period &= feedback_test.is_not(true())
    about_topic = in_period if topic is None else in_period & (feedback.c.topic == topic)

    topics: dict[str, dict[str, Any]] = defaultdict(_counts)
    services: dict[str, dict[str, Any]] = defaultdict(_counts)
    by_version: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
    weekly: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
    version = func.coalesce(issued_cards.c.thresholds_version, "unknown")

    with engine.connect() as connection:
        state = status if status is not None else literal("issued")
        day = _day(issued_cards.c.issued_at, dialect)
        for name, where, stamped, when, kind, count in connection.execute(
            select(issued_cards.c.topic, service, version, day, state, func.count())
            .where(card_period)
            .group_by(issued_cards.c.topic, service, version, day, state)
        ):
            key = "issued" if kind == "issued" else "snoozed" if kind == "snoozed" else None
            if key is None:
                continue
            topics[name][key] += count
            services[where][key] += count
            if key == "issued":
                by_version[(name, stamped)]["issued"] += count
                weekly[(name, _monday(when))]["issued"] += count
        patients = func.count(distinct(issued_cards.c.patient_hash))
        for name, count in connection.execute(
            select(issued_cards.c.topic, patients).where(shown).group_by(issued_cards.c.topic)
        ):
            topics[name]["patients"] = count
        by_service = (select(service, patients).where(shown).group_by(service)
                      if hook is not None else select(service, patients).where(shown))
        for where, count in connection.execute(by_service):
            if count:
                services[where]["patients"] = count

        # Each card counts once per outcome, dated by its first such feedback in the period.
        per_card = (
            select(feedback.c.card_uuid, feedback.c.outcome,
                   func.min(feedback.c.topic).label("topic"),
                   func.min(feedback.c.outcome_at).label("first_at"))
            .where(in_period)
            .group_by(feedback.c.card_uuid, feedback.c.outcome)
            .subquery()
        )
        acted_topic = func.coalesce(issued_cards.c.topic, per_card.c.topic, UNKNOWN_TOPIC)
        first_day = _day(per_card.c.first_at, dialect)
        acted = (
            select(acted_topic, service, version, first_day, per_card.c.outcome, func.count())
            .select_from(per_card.outerjoin(
                issued_cards, issued_cards.c.card_uuid == per_card.c.card_uuid))
            .group_by(acted_topic, service, version, first_day, per_card.c.outcome)
        )
        if topic is not None:
            acted = acted.where(acted_topic == topic)
        for name, where, stamped, when, outcome, count in connection.execute(acted):
            if outcome not in {"accepted", "overridden"}:
                continue
            topics[name][outcome] += count
            services[where][outcome] += count
            by_version[(name, stamped)][outcome] += count
            weekly[(name, _monday(when))][outcome] += count

        overridden = about_topic & (feedback.c.outcome == "overridden")
        # Reasons and comments by the topic stored with the feedback (the card's, looked
        # up when it arrived; "unknown" for a card the service never recorded): no join.
        for name, system, code, display, count in connection.execute(
            select(
                feedback.c.topic,
                feedback.c.override_system,
                feedback.c.override_code,
                func.max(feedback.c.override_display),
                func.count(),
            )
            .where(overridden)
            .group_by(feedback.c.topic, feedback.c.override_system, feedback.c.override_code)
        ):
            if code is None:
                topics[name]["overridden_without_reason"] += count
                continue
            reason = {"system": system, "code": code, "count": count}
            if display:
                reason["display"] = display
            topics[name]["override_reasons"].append(reason)

        for name, count in connection.execute(
            select(feedback.c.topic, func.count())
            .where(about_topic & feedback.c.user_comment.is_not(None))
            .group_by(feedback.c.topic)
        ):
            topics[name]["user_comments"] = count

        applied = [
            {"number": number, "created_at": _iso(created), "action": action}
            for number, created, action in connection.execute(
                select(thresholds_versions.c.id, thresholds_versions.c.created_at,
                       thresholds_versions.c.action)
                .where(and_(thresholds_versions.c.created_at >= since,
                            thresholds_versions.c.created_at < until))
                .order_by(thresholds_versions.c.id)
            )
        ]

    rows = []
    for name in sorted(topics):
        entry = topics[name]
        _rate(entry)
        entry["override_reasons"].sort(key=lambda r: (-r["count"], r["system"] or "", r["code"]))
        rows.append({"topic": name, **entry})
    service_rows = []
    for name in sorted(services):
        entry = {k: v for k, v in services[name].items()
                 if k not in {"override_reasons", "overridden_without_reason", "user_comments"}}
        _rate(entry)
        service_rows.append({"service": name, **entry})
    version_rows = []
    for (name, stamped), entry in sorted(by_version.items()):
        _rate(entry)
        version_rows.append({"topic": name, "thresholds_version": stamped,
                             **{k: entry[k] for k in ("issued", "accepted", "overridden",
                                                      "acceptance_rate")}})
    week_rows = [
        {"topic": name, "week": monday,
         **{k: entry[k] for k in ("issued", "accepted", "overridden")}}
        for (name, monday), entry in sorted(weekly.items())
    ]
    return {
        "since": _iso(since),
        "until": _iso(until),
        "topic": topic,
        "include_test": include_test,
        "topics": rows,
        "services": service_rows,
        "by_thresholds_version": version_rows,
        "weekly": week_rows,
        "thresholds_changes": applied,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


CSV_COLUMNS = ("scope", "name", "issued", "patients", "snoozed", "accepted", "overridden",
               "acceptance_rate", "overridden_without_reason", "override_reasons")


def report_csv(report: dict[str, Any]) -> str:
    """One row per topic, then one per service, with the numbers of the JSON report."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["topics"]:
        reasons = "; ".join(f"{r.get('display') or r['code']} ({r['count']})"
                            for r in row["override_reasons"])
        writer.writerow(_csv_cells("topic", row["topic"], row, reasons))
    for row in report["services"]:
        writer.writerow(_csv_cells("service", row["service"], row, ""))
    return out.getvalue()


def _csv_cells(scope: str, name: str, row: dict[str, Any], reasons: str) -> list[str]:
    rate = row["acceptance_rate"]
    return [
        _safe(scope), _safe(name), str(row["issued"]), str(row["patients"]),
        str(row["snoozed"]), str(row["accepted"]), str(row["overridden"]),
        "" if rate is None else f"{rate:.4f}",
        str(row.get("overridden_without_reason", "")), _safe(reasons),
    ]


def _safe(text: str) -> str:
    """No spreadsheet formula from a stored text (a reason display from an EHR)."""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def report_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table for a terminal: topics, then services."""
    header = ("topic", "issued", "patients", "snoozed", "accepted", "overridden",
              "acceptance", "override reasons")
    lines: list[tuple[str, ...]] = [header]
    for row in report["topics"]:
        reasons = [
            f"{r.get('display') or r['code']} ({r['count']})" for r in row["override_reasons"]
        ]
        if row["overridden_without_reason"]:
            reasons.append(f"no reason given ({row['overridden_without_reason']})")
        lines.append((row["topic"], *_numbers(row), "; ".join(reasons) or "-"))
    for row in report["services"]:
        lines.append((f"[{row['service']}]", *_numbers(row), ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    test = " (test traffic included)" if report.get("include_test") else ""
    out = [f"Card outcomes from {report['since']} until {report['until']}{test}"]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    if not report["topics"]:
        out.append("(no cards issued and no feedback in this period)")
    return "\n".join(out)


def _numbers(row: dict[str, Any]) -> tuple[str, ...]:
    rate = "-" if row["acceptance_rate"] is None else f"{row['acceptance_rate']:.0%}"
    return (str(row["issued"]), str(row["patients"]), str(row["snoozed"]),
            str(row["accepted"]), str(row["overridden"]), rate)


DEFAULT_PERIOD_DAYS = 30


def parse_instant(raw: str, name: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 instant with a time zone."""

    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"{name}: expected a date (2026-11-01) or an ISO 8601 instant") from None
    if moment.tzinfo is None:
        if "T" in raw or " " in raw.strip():
            raise ValueError(f"{name}: an instant needs a time zone, e.g. Z")
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"{name}: outside the years 1 to 9999 in UTC") from None


def parse_period(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until): until defaults to now, since to 30 days before until."""

    end = parse_instant(until, "until") if until else now
    try:
        start = (
            parse_instant(since, "since") if since else end - timedelta(days=DEFAULT_PERIOD_DAYS)
        )
    except OverflowError:
        raise ValueError("since: the default period would start before year 1") from None
    if start >= end:
        raise ValueError("since: must be before until")
    return start, end
