"""Outcomes per card topic over a period: what a CDS governance committee reviews.

- ``issued``: cards issued (shown) in the period; ``patients``: distinct patients they
  were shown to (the salted patient hash, never the id). Exact while the period holds at
  most ``EXACT_PATIENTS_LIMIT`` shown cards; above that a HyperLogLog estimate (about
  1.6 % off) merged from the daily roll-up, and the report says ``patients_estimated``.
- ``snoozed``: cards held back by a snooze in the period (counted, never shown).
- ``accepted`` / ``overridden``: cards counted once per outcome, on the day of the
  ``outcomeTimestamp`` of the FIRST item of that outcome the service received for the card
  (service/storage/report_rows.py): a card counts in the period holding that day (a card
  may count in both outcomes). A repeated item of the same outcome never counts again,
  even in a later period.
- ``acceptance_rate``: accepted / (accepted + overridden), ``null`` without feedback;
  cards nobody acted on are not in it (CDS Hooks clients do not report "ignored").
- ``override_reasons``: overriding feedback items whose ``outcomeTimestamp`` lies in the
  period, per reason Coding, most frequent first; items without a reason count in
  ``overridden_without_reason``. User comments are counted, never shown: they are free
  text and may name a patient.
The same per service (patient-view, order-time), per thresholds version and per rules
version stamped on the cards (``unknown`` for cards recorded before migration 0009), and
per ISO week (the chart); ``rules_versions`` lists the rules versions issued in the period
with the first day each was. Test traffic (``mcas-cds check``'s cards and their feedback,
marked ``test``) is left out unless ``include_test``. Feedback for cards the service never
recorded is reported under topic ``unknown``.

Closed days come from the daily roll-up (service/storage/rollup.py), which the report
fills first when it finds closed days not rolled up; today, partial days at the period's
ends and feedback received after the roll-up's watermark are read from the live rows.
``rollup=False`` computes everything from the live rows (the reference the roll-up is
tested against).
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    distinct,
    false,
    func,
    select,
    true,
)

from service.ops import metrics
from service.storage import sketch
from service.storage.models import (
    feedback,
    issued_cards,
    report_daily_cards,
    report_daily_items,
    report_daily_outcomes,
    report_daily_patients,
    thresholds_versions,
)
from service.storage.report_rows import (
    ORDER_TIME,
    PATIENT_VIEW,
    acted_rows,
    acted_topic,
    card_rows,
    item_rows,
    patient_rows,
    service_of,
    unindexed,
)
from service.storage.rollup import (
    REPORT_BUDGET_SECONDS,
    day_text,
    midnight,
    monday,
    read_state,
    roll_up,
)

__all__ = ["ORDER_TIME", "PATIENT_VIEW", "outcomes_report", "report_csv", "report_table"]

# Above this many shown cards in the period, distinct patients come from the roll-up's
# sketches (estimated); up to it they are counted exactly from the covering index. That
# costs about 4 us a card on a quiet machine (78,000 cards: 0.35 s SQLite, 0.30 s
# PostgreSQL, bench/RESULTS.md) and four to five times that under a load of 9-10 on two
# cores: 50,000 cards stay under 1 s either way.
EXACT_PATIENTS_LIMIT = 50_000


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


class _Fold:
    """The report's numbers, added up from live and rolled-up rows of the same shape."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[str, Any]] = defaultdict(_counts)
        self.services: dict[str, dict[str, Any]] = defaultdict(_counts)
        self.by_version: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
        self.by_rules: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
        self.weekly: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
        self.rules_first: dict[str, str] = {}
        self.topic_rules_first: dict[tuple[str, str], str] = {}
        self.reasons: dict[tuple[str, str | None, str], list[Any]] = {}

    def cards(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """(topic, service, thresholds version, rules version, first day, week, status,
        cards)."""
        for topic, service, stamped, rules, day, week, status, count in rows:
            key = "issued" if status == "issued" else "snoozed" if status == "snoozed" else None
            if key is None:
                continue
            self.topics[topic][key] += count
            self.services[service][key] += count
            self.by_rules[(topic, rules)][key] += count
            if key == "issued":
                self.by_version[(topic, stamped)]["issued"] += count
                self.weekly[(topic, week)]["issued"] += count
                if day < self.rules_first.get(rules, "9999"):
                    self.rules_first[rules] = day
                if day < self.topic_rules_first.get((topic, rules), "9999"):
                    self.topic_rules_first[(topic, rules)] = day

    def acted(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """(topic, service, thresholds version, rules version, week, outcome, cards)."""
        for topic, service, stamped, rules, week, outcome, count in rows:
            if outcome not in {"accepted", "overridden"}:
                continue
            self.topics[topic][outcome] += count
            self.services[service][outcome] += count
            self.by_version[(topic, stamped)][outcome] += count
            self.by_rules[(topic, rules)][outcome] += count
            self.weekly[(topic, week)][outcome] += count

    def items(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """(topic, outcome, reason system, code, display, items, comments)."""
        for topic, outcome, system, code, display, count, comments in rows:
            if comments:
                self.topics[topic]["user_comments"] += comments
            if outcome != "overridden":
                continue
            if code is None:
                self.topics[topic]["overridden_without_reason"] += count
                continue
            found = self.reasons.setdefault((topic, system, code), [0, None])
            found[0] += count
            if display and (found[1] is None or display > found[1]):
                found[1] = display


def outcomes_report(
    engine: Engine,
    since: datetime,
    until: datetime,
    *,
    topic: str | None = None,
    include_test: bool = False,
    now: datetime | None = None,
    rollup: bool = True,
    rollup_budget: float | None = REPORT_BUDGET_SECONDS,
) -> dict[str, Any]:
    """The report; with ``rollup``, closed days not rolled up yet are rolled up first
    (for at most ``rollup_budget`` seconds; None: all of them, as the command line)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if rollup:
        roll_up(engine, now, budget_seconds=rollup_budget)
    fold = _Fold()
    with engine.connect() as connection:
        state = read_state(connection) if rollup else None
        rolled: tuple[datetime, datetime] | None = None
        if state is not None:
            first = midnight(since)
            if first < since:  # a partial first day is read live
                first += timedelta(days=1)
            last = min(midnight(until), state.closed_until)
            if last > first:
                rolled = (first, last)
        live = [(since, until)] if rolled is None else [
            (a, b) for a, b in ((since, rolled[0]), (rolled[1], until)) if a < b]

        card_filter = _card_filter(topic, include_test)
        for a, b in live:
            in_range = (issued_cards.c.issued_at >= a) & (issued_cards.c.issued_at < b)
            fold.cards(_live_cards(card_rows(connection, card_filter & in_range)))
            acted_where, items_where = _feedback_filters(
                (feedback.c.outcome_at >= a) & (feedback.c.outcome_at < b), topic, include_test)
            fold.acted(_live_acted(acted_rows(connection, acted_where)))
            fold.items(_live_items(item_rows(connection, items_where)))
        if rolled is not None and state is not None:
            days = (day_text(rolled[0]), day_text(rolled[1]))
            fold.cards(_rolled_cards(connection, days, state.batch, topic, include_test))
            fold.acted(_rolled_outcomes(connection, days, state.batch, topic, include_test))
            fold.items(_rolled_items(connection, days, state.batch, topic, include_test))
            # Late feedback: received after the watermark, dated in a rolled-up day.
            late = ((feedback.c.received_at > state.received_until)
                    & (unindexed(feedback.c.outcome_at) >= rolled[0])
                    & (unindexed(feedback.c.outcome_at) < rolled[1]))
            acted_where, items_where = _feedback_filters(late, topic, include_test)
            fold.acted(_live_acted(acted_rows(connection, acted_where)))
            fold.items(_live_items(item_rows(connection, items_where)))

        shown = sum(entry["issued"] for entry in fold.topics.values())
        estimated = rolled is not None and state is not None and shown > EXACT_PATIENTS_LIMIT
        if estimated and rolled is not None and state is not None:
            _estimated_patients(connection, fold, live, rolled, state.batch, topic,
                                include_test)
        else:
            _exact_patients(connection, fold, since, until, card_filter)

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
    report = _assemble(fold, since, until, topic, include_test, estimated, applied)
    metrics.record_report_seconds(time.perf_counter() - started, estimated)
    return report


def _live_cards(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for topic, service, stamped, rules, day, status, _test, count in rows:
        yield topic, service, stamped, rules, day, monday(day), status, count


def _live_acted(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for topic, service, stamped, rules, day, outcome, _test, count in rows:
        yield topic, service, stamped, rules, monday(day), outcome, count


def _live_items(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for topic, _day, _test, outcome, system, code, display, count, comments in rows:
        yield topic, outcome, system, code, display, count, comments


def _card_filter(topic: str | None, include_test: bool) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = true()
    if topic is not None:
        condition = issued_cards.c.topic == topic
    if not include_test:
        condition = condition & issued_cards.c.test.is_not(true())
    return condition


def _feedback_filters(when: ColumnElement[bool], topic: str | None,
                      include_test: bool) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(acted, items): acted rows are the card's topic, items the feedback's own."""
    if not include_test:
        when = when & feedback.c.test.is_not(true())
    if topic is None:
        return when, when
    return when & (acted_topic() == topic), when & (feedback.c.topic == topic)


def _rolled_where(table: Table, days: tuple[str, str], batch: int, topic: str | None,
                  include_test: bool) -> ColumnElement[bool]:
    condition = (table.c.day >= days[0]) & (table.c.day < days[1]) & (table.c.batch <= batch)
    if topic is not None:
        condition = condition & (table.c.topic == topic)
    if not include_test:
        condition = condition & (table.c.test == false())
    return condition


def _rolled_cards(connection: Connection, days: tuple[str, str], batch: int,
                  topic: str | None, include_test: bool) -> Iterable[tuple[Any, ...]]:
    # By week, with the first day (the rules versions' markers): a year is 52 groups.
    t = report_daily_cards
    return connection.execute(
        select(t.c.topic, t.c.service, t.c.thresholds_version, t.c.rules_version,
               func.min(t.c.day), t.c.week, t.c.status, func.sum(t.c.cards))
        .where(_rolled_where(t, days, batch, topic, include_test))
        .group_by(t.c.topic, t.c.service, t.c.thresholds_version, t.c.rules_version,
                  t.c.week, t.c.status))


def _rolled_outcomes(connection: Connection, days: tuple[str, str], batch: int,
                     topic: str | None, include_test: bool) -> Iterable[tuple[Any, ...]]:
    t = report_daily_outcomes
    return connection.execute(
        select(t.c.topic, t.c.service, t.c.thresholds_version, t.c.rules_version, t.c.week,
               t.c.outcome, func.sum(t.c.cards))
        .where(_rolled_where(t, days, batch, topic, include_test))
        .group_by(t.c.topic, t.c.service, t.c.thresholds_version, t.c.rules_version,
                  t.c.week, t.c.outcome))


def _rolled_items(connection: Connection, days: tuple[str, str], batch: int,
                  topic: str | None, include_test: bool) -> Iterable[tuple[Any, ...]]:
    t = report_daily_items
    return connection.execute(
        select(t.c.topic, t.c.outcome, t.c.override_system, t.c.override_code,
               func.max(t.c.override_display), func.sum(t.c["items"]), func.sum(t.c.comments))
        .where(_rolled_where(t, days, batch, topic, include_test))
        .group_by(t.c.topic, t.c.outcome, t.c.override_system, t.c.override_code))


def _exact_patients(connection: Connection, fold: _Fold, since: datetime, until: datetime,
                    card_filter: ColumnElement[bool]) -> None:
    shown = (card_filter & (issued_cards.c.issued_at >= since)
             & (issued_cards.c.issued_at < until) & (issued_cards.c.status == "issued"))
    patients = func.count(distinct(issued_cards.c.patient_hash))
    for name, count in connection.execute(
        select(issued_cards.c.topic, patients).where(shown).group_by(issued_cards.c.topic)
    ):
        fold.topics[name]["patients"] = count
    service = service_of(issued_cards.c.hook)
    for where, count in connection.execute(
        select(service, patients).where(shown).group_by(service)
    ):
        if count:
            fold.services[where]["patients"] = count


def _estimated_patients(connection: Connection, fold: _Fold, live: list[tuple[datetime, datetime]],
                        rolled: tuple[datetime, datetime], batch: int, topic: str | None,
                        include_test: bool) -> None:
    t = report_daily_patients
    days = (day_text(rolled[0]), day_text(rolled[1]))
    blobs: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for name, service, blob in connection.execute(
        select(t.c.topic, t.c.service, t.c.sketch)
        .where(_rolled_where(t, days, batch, topic, include_test))
    ):
        blobs[(name, service)].append(blob)
    # one merge per topic and service over all its days (numpy, not a loop per sketch)
    merged = {key: sketch.merge_all(found) for key, found in blobs.items()}
    by_topic: dict[str, sketch.Registers] = defaultdict(sketch.empty)
    by_service: dict[str, sketch.Registers] = defaultdict(sketch.empty)
    for (name, service), registers in merged.items():
        sketch.merge(by_topic[name], registers)
        sketch.merge(by_service[service], registers)
    card_filter = _card_filter(topic, include_test)
    for a, b in live:
        seen: dict[tuple[str, str], list[str]] = defaultdict(list)
        for _day, name, service, _test, patient in patient_rows(
            connection,
            card_filter & (issued_cards.c.issued_at >= a) & (issued_cards.c.issued_at < b),
        ):
            seen[(name, service)].append(patient)
        for (name, service), patients in seen.items():
            sketch.add(by_topic[name], patients)
            sketch.add(by_service[service], patients)
    for name, registers in by_topic.items():
        if name in fold.topics:
            fold.topics[name]["patients"] = sketch.estimate(registers)
    for service, registers in by_service.items():
        if service in fold.services:
            fold.services[service]["patients"] = sketch.estimate(registers)


def _assemble(fold: _Fold, since: datetime, until: datetime, topic: str | None,
              include_test: bool, estimated: bool,
              applied: list[dict[str, Any]]) -> dict[str, Any]:
    for (name, system, code), (count, display) in fold.reasons.items():
        reason: dict[str, Any] = {"system": system, "code": code, "count": count}
        if display:
            reason["display"] = display
        fold.topics[name]["override_reasons"].append(reason)
    rows = []
    for name in sorted(fold.topics):
        entry = fold.topics[name]
        _rate(entry)
        entry["override_reasons"].sort(key=lambda r: (-r["count"], r["system"] or "", r["code"]))
        rows.append({"topic": name, **entry})
    service_rows = []
    for name in sorted(fold.services):
        entry = {k: v for k, v in fold.services[name].items()
                 if k not in {"override_reasons", "overridden_without_reason", "user_comments"}}
        _rate(entry)
        service_rows.append({"service": name, **entry})
    version_rows = []
    for (name, stamped), entry in sorted(fold.by_version.items()):
        _rate(entry)
        version_rows.append({"topic": name, "thresholds_version": stamped,
                             **{k: entry[k] for k in ("issued", "accepted", "overridden",
                                                      "acceptance_rate")}})
    rules_rows = []
    for (name, rules), entry in sorted(fold.by_rules.items()):
        _rate(entry)
        rules_rows.append({"topic": name, "rules_version": rules,
                           "first_issued": fold.topic_rules_first.get((name, rules)),
                           **{k: entry[k] for k in ("issued", "snoozed", "accepted",
                                                    "overridden", "acceptance_rate")}})
    week_rows = [
        {"topic": name, "week": monday,
         **{k: entry[k] for k in ("issued", "accepted", "overridden")}}
        for (name, monday), entry in sorted(fold.weekly.items())
    ]
    return {
        "since": _iso(since),
        "until": _iso(until),
        "topic": topic,
        "include_test": include_test,
        "patients_estimated": estimated,
        "topics": rows,
        "services": service_rows,
        "by_thresholds_version": version_rows,
        "by_rules_version": rules_rows,
        "weekly": week_rows,
        "thresholds_changes": applied,
        "rules_versions": [
            {"rules_version": rules, "first_issued": day}
            for rules, day in sorted(fold.rules_first.items(), key=lambda item: (item[1], item[0]))
        ],
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


CSV_COLUMNS = ("scope", "name", "issued", "patients", "snoozed", "accepted", "overridden",
               "acceptance_rate", "overridden_without_reason", "override_reasons")


def report_csv(report: dict[str, Any]) -> str:
    """One row per topic, then one per service, then one per topic and rules version
    (scope ``rules_version``, name "<topic> rules <version>", patients empty), with the
    numbers of the JSON report; patients read "about N" when estimated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["topics"]:
        reasons = "; ".join(f"{r.get('display') or r['code']} ({r['count']})"
                            for r in row["override_reasons"])
        writer.writerow(_csv_cells("topic", row["topic"], row, reasons,
                                   estimated=report.get("patients_estimated", False)))
    for row in report["services"]:
        writer.writerow(_csv_cells("service", row["service"], row, "",
                                   estimated=report.get("patients_estimated", False)))
    for row in report.get("by_rules_version", []):
        # patients are not split by rules version: left empty
        writer.writerow(_csv_cells("rules_version", f"{row['topic']} rules {row['rules_version']}",
                                   {**row, "patients": ""}, ""))
    return out.getvalue()


def _csv_cells(scope: str, name: str, row: dict[str, Any], reasons: str,
               *, estimated: bool = False) -> list[str]:
    rate = row["acceptance_rate"]
    patients = f"about {row['patients']}" if estimated else str(row["patients"])
    return [
        _safe(scope), _safe(name), str(row["issued"]), patients,
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
        lines.append((row["topic"], *_numbers(row, report), "; ".join(reasons) or "-"))
    for row in report["services"]:
        lines.append((f"[{row['service']}]", *_numbers(row, report), ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    test = " (test traffic included)" if report.get("include_test") else ""
    out = [f"Card outcomes from {report['since']} until {report['until']}{test}"]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    if not report["topics"]:
        out.append("(no cards issued and no feedback in this period)")
    if report.get("patients_estimated"):
        out.append("patients: estimated (many cards in the period), about 1.6 % either way")
    seen = [f"{r['rules_version']} (first issued {r['first_issued']})"
            if r["rules_version"] != "unknown"
            else f"unknown (cards recorded before migration 0009, first {r['first_issued']})"
            for r in report.get("rules_versions", [])]
    if seen:
        out.append("rules versions: " + "; ".join(seen))
    return "\n".join(out)


def _numbers(row: dict[str, Any], report: dict[str, Any]) -> tuple[str, ...]:
    rate = "-" if row["acceptance_rate"] is None else f"{row['acceptance_rate']:.0%}"
    patients = (f"about {row['patients']}" if report.get("patients_estimated")
                else str(row["patients"]))
    return (str(row["issued"]), patients, str(row["snoozed"]),
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
