"""Outcomes per card topic over a period: what a CDS governance committee reviews.

- ``issued``: cards issued in the period.
- ``accepted`` / ``overridden``: distinct cards with such feedback whose
  ``outcomeTimestamp`` lies in the period (a card may count in both).
- ``acceptance_rate``: accepted / (accepted + overridden), ``null`` without feedback;
  cards nobody acted on are not in it (CDS Hooks clients do not report "ignored").
- ``override_reasons``: overriding feedback items per reason Coding, most frequent first;
  items without a reason count in ``overridden_without_reason``. User comments are
  counted, never shown: they are free text and may name a patient.
- ``snoozed``: cards held back in the period because a clinician had overridden the same
  card and its facts had not changed (docs/clinical-rules.md §8); not in ``issued``.
Feedback for cards the service never recorded is reported under topic ``unknown``.
Test patients' cards and feedback (issue 14) are left out unless ``include_test``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, distinct, false, func, select

from service.storage.feedback_store import UNKNOWN_TOPIC
from service.storage.models import feedback, issued_cards


def outcomes_report(
    engine: Engine, since: datetime, until: datetime, *, include_test: bool = False
) -> dict[str, Any]:
    topics: dict[str, dict[str, Any]] = defaultdict(_empty_topic)
    topic_of_feedback = func.coalesce(issued_cards.c.topic, feedback.c.topic, UNKNOWN_TOPIC)
    joined = feedback.outerjoin(issued_cards, issued_cards.c.card_uuid == feedback.c.card_uuid)
    in_period = (feedback.c.outcome_at >= since) & (feedback.c.outcome_at < until)
    issued_in_period = (issued_cards.c.issued_at >= since) & (issued_cards.c.issued_at < until)
    if not include_test:
        in_period = in_period & feedback.c.test.is_(false())
        issued_in_period = issued_in_period & issued_cards.c.test.is_(false())

    with engine.connect() as connection:
        issued = (
            select(issued_cards.c.topic, issued_cards.c.status, func.count())
            .where(issued_in_period)
            .group_by(issued_cards.c.topic, issued_cards.c.status)
        )
        for topic, status, count in connection.execute(issued):
            topics[topic]["snoozed" if status == "snoozed" else "issued"] += count

        outcomes = (
            select(
                topic_of_feedback, feedback.c.outcome, func.count(distinct(feedback.c.card_uuid))
            )
            .select_from(joined)
            .where(in_period)
            .group_by(topic_of_feedback, feedback.c.outcome)
        )
        for topic, outcome, count in connection.execute(outcomes):
            topics[topic][outcome] = count

        overridden = in_period & (feedback.c.outcome == "overridden")
        reasons = (
            select(
                topic_of_feedback,
                feedback.c.override_system,
                feedback.c.override_code,
                func.max(feedback.c.override_display),
                func.count(),
            )
            .select_from(joined)
            .where(overridden)
            .group_by(topic_of_feedback, feedback.c.override_system, feedback.c.override_code)
        )
        for topic, system, code, display, count in connection.execute(reasons):
            if code is None:
                topics[topic]["overridden_without_reason"] += count
                continue
            reason = {"system": system, "code": code, "count": count}
            if display:
                reason["display"] = display
            topics[topic]["override_reasons"].append(reason)

        comments = (
            select(topic_of_feedback, func.count())
            .select_from(joined)
            .where(in_period & feedback.c.user_comment.is_not(None))
            .group_by(topic_of_feedback)
        )
        for topic, count in connection.execute(comments):
            topics[topic]["user_comments"] = count

    rows = []
    for topic in sorted(topics):
        entry = topics[topic]
        acted = entry["accepted"] + entry["overridden"]
        entry["acceptance_rate"] = round(entry["accepted"] / acted, 4) if acted else None
        entry["override_reasons"].sort(key=lambda r: (-r["count"], r["system"] or "", r["code"]))
        rows.append({"topic": topic, **entry})
    return {
        "since": _iso(since),
        "until": _iso(until),
        "include_test": include_test,
        "topics": rows,
    }


def _empty_topic() -> dict[str, Any]:
    return {
        "issued": 0,
        "snoozed": 0,
        "accepted": 0,
        "overridden": 0,
        "acceptance_rate": None,
        "override_reasons": [],
        "overridden_without_reason": 0,
        "user_comments": 0,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def report_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table for a terminal."""
    header = ("topic", "issued", "accepted", "overridden", "acceptance", "override reasons")
    lines = [header]
    for row in report["topics"]:
        rate = "-" if row["acceptance_rate"] is None else f"{row['acceptance_rate']:.0%}"
        reasons = [
            f"{r.get('display') or r['code']} ({r['count']})" for r in row["override_reasons"]
        ]
        if row["overridden_without_reason"]:
            reasons.append(f"no reason given ({row['overridden_without_reason']})")
        lines.append(
            (
                row["topic"],
                str(row["issued"]),
                str(row["accepted"]),
                str(row["overridden"]),
                rate,
                "; ".join(reasons) or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = [f"Card outcomes from {report['since']} until {report['until']}"]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    if not report["topics"]:
        out.append("(no cards issued and no feedback in this period)")
    return "\n".join(out)


DEFAULT_PERIOD_DAYS = 30


def parse_instant(raw: str, name: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 instant with a time zone."""
    from datetime import UTC

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
    from datetime import timedelta

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
