"""The outcome charts of the administrator page, drawn from the outcomes report (issue 16).

- ``weekly_svg``: one topic's cards issued, accepted and overridden per week, with a
  labelled vertical marker at each thresholds version applied in the period (dashed) and
  at the first day each rules version's cards were issued in it (dash-dot; cards recorded
  before migration 0009 carry no rules version and get no marker).
- ``reasons_svg``: override reasons per topic as stacked horizontal bars.
Readable without colour: each series has its own marker and line style, each reason its
own hatch, every number is written in text, and the page shows the same numbers in a
table beside each chart. SVG with presentation attributes only (``service.charts.svg``).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from service.charts.svg import strict_svg

# Okabe-Ito colours, each with a marker and a line style of its own.
SERIES = (
    ("issued", "Cards issued", "#0072B2", "o", "-"),
    ("accepted", "Accepted", "#009E73", "^", "--"),
    ("overridden", "Overridden", "#D55E00", "s", ":"),
)
HATCHES = ("//", "\\\\", "xx", "..", "++", "--", "oo", "**")
COLOURS = ("#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#F0E442", "#0072B2", "#D55E00",
           "#999999")
WIDTH_INCHES = 9.0
_RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "mcas-outcomes", "font.family": "DejaVu Sans",
       "font.size": 9, "hatch.linewidth": 0.6}


def _mondays(since: date, until: date) -> list[date]:
    start = since - timedelta(days=since.weekday())
    weeks = []
    while start < until:
        weeks.append(start)
        start += timedelta(days=7)
    return weeks


def _day(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date()


def _x(when: date, weeks: list[date]) -> float:
    return (when - weeks[0]).days / 7 - 0.5 if weeks else 0


def weekly_svg(report: dict[str, Any], topic: str) -> str:
    weeks = _mondays(_day(report["since"]), _day(report["until"]))
    counts = {(r["week"], key): r[key] for r in report["weekly"] if r["topic"] == topic
              for key, *_ in SERIES}
    tips: dict[str, str] = {}
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(WIDTH_INCHES, 3.4), dpi=100, layout="constrained")
        ax = figure.add_subplot()
        xs = list(range(len(weeks)))
        top = 1
        for key, label, colour, marker, style in SERIES:
            ys = [counts.get((w.isoformat(), key), 0) for w in weeks]
            top = max(top, *ys) if ys else top
            ax.plot(xs, ys, color=colour, marker=marker, linestyle=style, label=label,
                    gid=f"series-{key}")
            tips[f"series-{key}"] = f"{label} per week: " + ", ".join(
                f"{w.isoformat()}: {y}" for w, y in zip(weeks, ys, strict=True))
        for index, change in enumerate(report.get("thresholds_changes", [])):
            when = _day(change["created_at"])
            x = _x(when, weeks)
            gid = f"version-{index}"
            ax.axvline(x, color="#000000", linestyle="--", linewidth=1, gid=gid)
            ax.text(x, top * 1.08, f" thresholds v{change['number']}", fontsize=8,
                    va="bottom")
            tips[gid] = (f"Thresholds version {change['number']} ({change['action']}) applied "
                         f"on {when.isoformat()}")
        known = [r for r in report.get("rules_versions", []) if r["rules_version"] != "unknown"]
        for index, rules in enumerate(known):
            when = date.fromisoformat(rules["first_issued"])
            x = _x(when, weeks)
            gid = f"rules-{index}"
            ax.axvline(x, color="#000000", linestyle="-.", linewidth=1.2, gid=gid)
            # above the thresholds labels, so two markers in one week stay readable
            ax.text(x, top * 1.17, f" rules v{rules['rules_version']}", fontsize=8,
                    va="bottom")
            tips[gid] = (f"Rules version {rules['rules_version']}: first card issued on "
                         f"{when.isoformat()}")
        ax.set_xticks(xs, [w.strftime("%d %b") for w in weeks], rotation=45, ha="right")
        ax.set_ylim(0, top * 1.3 + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("cards per week")
        ax.grid(axis="y", color="#dddddd", linewidth=0.5)
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title(f"{topic}: cards per week (weeks from Monday, UTC); dashed: thresholds "
                     "version applied, dash-dot: rules version first issued", fontsize=9,
                     loc="left")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    summary = (f"Weekly cards issued, accepted and overridden for {topic} from "
               f"{report['since'][:10]} until {report['until'][:10]}; the table beside it "
               "lists the same numbers.")
    return strict_svg(buffer.getvalue(), tips, title=f"{topic} per week", summary=summary,
                      ident=f"weekly-{topic}", css_class="outcome-svg")


def reasons_svg(report: dict[str, Any]) -> str:
    topics = [r for r in report["topics"]
              if r["override_reasons"] or r["overridden_without_reason"]]
    reasons: list[str] = []
    for row in topics:
        for reason in row["override_reasons"]:
            name = reason.get("display") or reason["code"]
            if name not in reasons:
                reasons.append(name)
    if any(r["overridden_without_reason"] for r in topics):
        reasons.append("no reason given")
    tips: dict[str, str] = {}
    with matplotlib.rc_context(_RC):
        height = 1.4 + 0.45 * max(len(topics), 1)
        figure = Figure(figsize=(WIDTH_INCHES, height), dpi=100, layout="constrained")
        ax = figure.add_subplot()
        ys = list(range(len(topics)))
        left = [0] * len(topics)
        for index, reason in enumerate(reasons):
            widths = []
            for row in topics:
                if reason == "no reason given":
                    widths.append(row["overridden_without_reason"])
                else:
                    widths.append(sum(r["count"] for r in row["override_reasons"]
                                      if (r.get("display") or r["code"]) == reason))
            gid = f"reason-{index}"
            ax.barh(ys, widths, left=left, height=0.6, color=COLOURS[index % len(COLOURS)],
                    edgecolor="#333333", hatch=HATCHES[index % len(HATCHES)], label=reason,
                    gid=gid)
            for y, start, width in zip(ys, left, widths, strict=True):
                if width:
                    ax.text(start + width / 2, y, str(width), ha="center", va="center",
                            fontsize=8)
            tips[gid] = f"{reason}: " + ", ".join(
                f"{row['topic']} {w}" for row, w in zip(topics, widths, strict=True) if w)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys, [row["topic"] for row in topics])
        ax.invert_yaxis()
        ax.set_xlabel("overriding feedback items")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if reasons:
            ax.legend(loc="lower right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "No card was overridden in this period.", ha="center",
                    va="center", transform=ax.transAxes)
        ax.set_title("Override reasons per topic", fontsize=9, loc="left")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    summary = ("Override reasons per card topic as stacked bars, each reason with its own "
               "hatch; the table beside it lists the same numbers.")
    return strict_svg(buffer.getvalue(), tips, title="Override reasons", summary=summary,
                      ident="reasons", css_class="outcome-svg")
