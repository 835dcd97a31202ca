"""The course drawn: server-rendered SVG (matplotlib) and the same facts as table rows.

Why matplotlib: the best-kept plotting library on PyPI (NumFOCUS, releases every few
months, typed), pure server-side SVG with no JavaScript and no CDN, its object API
(``Figure``, no pyplot) is safe in threads, and the administration outcomes view can
draw its charts with the same code. Its SVG carries ``style`` attributes and one
``<style>`` element, which a strict Content-Security-Policy (no inline style) would
block; ``service.charts.svg`` rewrites them as SVG presentation attributes, drops the metadata,
and adds a ``<title>`` (the hover text) to every mark.

Readable without colour: every tier has its own hatch and a "T<n>" label, counted and
not-counted episodes differ by shape (filled triangle / open circle), elevated mediator
results by shape (filled square / open square), and every mark is labelled in text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import matplotlib
from matplotlib import dates as mdates
from matplotlib.figure import Figure

from service.charts.svg import strict_svg
from service.pipeline.rules.model import day
from service.timeline.course import Course

# Tier colours (Okabe-Ito, safe for colour-blind readers) and hatches, so print in grey
# and colour-blind readers still tell the tiers apart; "T<n>" is written on every bar.
TIER_STYLE = {
    1: ("#56B4E9", "//"),
    2: ("#009E73", "\\\\"),
    3: ("#E69F00", "xx"),
    4: ("#CC79A7", ".."),
    None: ("#999999", ""),
}
WIDTH_INCHES = 9.8  # 980 px at 100 dpi: fits a 1024 px side panel with its margins


@dataclass(frozen=True)
class Row:
    """One line of the table alternative (and of the picture)."""

    lane: str
    date: str
    what: str
    detail: str


def rows(course: Course) -> list[Row]:
    """The table: lane by lane, oldest first within a lane."""
    found: list[Row] = []
    for t in course.therapies:
        tier = f"tier {t.tier}" if t.tier else "no tier (never raises it)"
        found.append(Row("Therapies", day(t.start), f"{t.label} ({tier})",
                         f"active since {day(t.start)}" + (f"; {t.dose}" if t.dose else "")))
    for m in course.marks:
        lane = "Anaphylaxis" if m.kind == "anaphylaxis" else "Respiratory events"
        found.append(Row(lane, day(m.when), ("Counted: " if m.counted else "Not counted: ")
                         + m.label, m.why))
    for p in course.mediators:
        threshold = f"threshold {p.threshold:g} {p.unit}" if p.threshold is not None else (
            "no threshold in this unit")
        found.append(Row("Mediators", day(p.when), p.analyte,
                         f"{'elevated' if p.elevated else 'not elevated'}: {p.reason} "
                         f"({threshold})"))
    for pair in course.tryptase:
        found.append(Row("Tryptase", day(pair.acute_when),
                         f"acute {pair.acute:g} ng/mL, baseline {pair.baseline:g} ng/mL "
                         f"({day(pair.baseline_when)})",
                         f"{'elevated' if pair.elevated else 'not elevated'}: {pair.reason}"))
    for w in course.windows:
        found.append(Row("Trial windows", day(w.start), f"tier {w.tier} trial",
                         f"{day(w.start)} to {day(w.end)} ({(w.end - w.start).days} days)"))
    lanes = list(dict.fromkeys(r.lane for r in found))
    return sorted(found, key=lambda r: (lanes.index(r.lane), r.date))


def _lanes(course: Course) -> list[str]:
    lanes = [_therapy_lane(t.tier, t.label) for t in course.therapies]
    lanes += ["Anaphylaxis", "Respiratory"]
    analytes = list(dict.fromkeys(p.analyte for p in course.mediators))
    lanes += analytes
    if course.tryptase:
        lanes.append("Tryptase pairs")
    return lanes


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # matplotlib's default date epoch


def _x(when: datetime) -> float:
    """A moment as matplotlib's date number (days since its epoch)."""
    return (when - EPOCH).total_seconds() / 86400


def _stagger(seen: dict[float, int], lane: float) -> float:
    """Above the mark, then below it, in turn, so neighbouring labels do not overlap."""
    count = seen.get(lane, 0)
    seen[lane] = count + 1
    return 0.3 if count % 2 == 0 else -0.38


def _therapy_lane(tier: int | None, label: str) -> str:
    return f"T{tier} {label}" if tier else f"(no tier) {label}"


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(course: Course) -> str:
    """The picture as an SVG document fragment (no XML prolog), safe under a strict CSP."""
    tips: dict[str, str] = {}
    lanes = _lanes(course)
    height = 1.6 + 0.42 * len(lanes)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mcas-timeline",
                                "font.family": "DejaVu Sans", "font.size": 9,
                                "hatch.linewidth": 0.6}):
        figure = Figure(figsize=(WIDTH_INCHES, height), dpi=100, layout="constrained")
        ax = figure.add_subplot()
        y = {name: len(lanes) - i for i, name in enumerate(lanes)}
        left = _x(course.start - timedelta(days=7))
        right = _x(course.now + timedelta(days=7))
        ax.set_xlim(left, right)
        ax.set_ylim(0.3, len(lanes) + 0.9)
        # The lookback and each tier's trial window, shaded and labelled.
        ax.axvspan(_x(course.lookback_from), _x(course.now),
                   facecolor="#f0f0f0", edgecolor="#bbbbbb", zorder=0, gid="lookback")
        tips["lookback"] = (f"Lookback: {day(course.lookback_from)} to {day(course.now)}; "
                            "only events inside it count")
        top = len(lanes) + 0.55
        ax.text(_x(course.lookback_from), 0.45,
                f" lookback ({(course.now - course.lookback_from).days} days)",
                va="center", fontsize=8)
        for index, w in enumerate(course.windows):
            colour, hatch = TIER_STYLE.get(w.tier, TIER_STYLE[None])
            gid = f"window-{index}"
            ax.axvspan(_x(w.start), _x(w.end), ymin=0, ymax=1,
                       facecolor="none", edgecolor=colour, hatch=hatch, alpha=0.35,
                       zorder=0.5, gid=gid)
            tips[gid] = (f"Tier {w.tier} trial window: {day(w.start)} to {day(w.end)} "
                         f"({(w.end - w.start).days} days)")
            ax.text(_x(w.start), top - 0.3 * (index % 2), f" T{w.tier} trial",
                    va="center", fontsize=8)
        now_x = _x(course.now)
        ax.axvline(now_x, color="#000000", linestyle="--", linewidth=1)
        ax.text(now_x, top, "now ", ha="right", va="center", fontsize=8)
        for index, t in enumerate(course.therapies):
            lane = y[_therapy_lane(t.tier, t.label)]
            colour, hatch = TIER_STYLE.get(t.tier, TIER_STYLE[None])
            start = _x(t.start) if t.start is not None else left
            gid = f"therapy-{index}"
            ax.barh(lane, now_x - start, left=start, height=0.5, color=colour,
                    edgecolor="#333333", hatch=hatch, gid=gid)
            tips[gid] = (f"{t.label}: tier {t.tier or 'none'}, since {day(t.start)}"
                         + (f", {t.dose}" if t.dose else ""))
            ax.text(start, lane, f" since {day(t.start)}", va="center", fontsize=8)
        seen: dict[float, int] = {}  # labels already written in each lane
        for index, m in enumerate(course.marks):
            lane = y["Anaphylaxis" if m.kind == "anaphylaxis" else "Respiratory"]
            marker = ("^" if m.kind == "anaphylaxis" else "D") if m.counted else "o"
            gid = f"mark-{index}"
            ax.plot([_x(m.when)], [lane], marker=marker, markersize=9,
                    color="#000000", markerfacecolor="#D55E00" if m.counted else "#ffffff",
                    linestyle="none", gid=gid)
            tips[gid] = f"{day(m.when)}: {m.label}. {m.why[0].upper()}{m.why[1:]}."
            ax.text(_x(m.when), lane + _stagger(seen, lane),
                    "counted" if m.counted else "not counted", ha="center", fontsize=7)
        for index, p in enumerate(course.mediators):
            if p.when is None:
                continue
            lane = y[p.analyte]
            gid = f"mediator-{index}"
            ax.plot([_x(p.when)], [lane], marker="s", markersize=8,
                    color="#000000", markerfacecolor="#D55E00" if p.elevated else "#ffffff",
                    linestyle="none", gid=gid)
            value = f"{p.value:g}" if p.value is not None else "?"
            limit = f" / {p.threshold:g}" if p.threshold is not None else ""
            ax.text(_x(p.when), lane + _stagger(seen, lane), f"{value}{limit} {p.unit or ''}",
                    ha="center", fontsize=7)
            tips[gid] = f"{day(p.when)}: {p.analyte}: {p.reason}"
        for index, pair in enumerate(course.tryptase):
            lane = y["Tryptase pairs"]
            gid = f"tryptase-{index}"
            xs = [_x(pair.baseline_when), _x(pair.acute_when)]
            ax.plot(xs, [lane, lane], color="#555555", linewidth=1, gid=gid + "-line")
            ax.plot(xs[:1], [lane], marker="o", markersize=7, color="#000000",
                    markerfacecolor="#ffffff", linestyle="none")
            ax.plot(xs[1:], [lane], marker="^", markersize=9, color="#000000",
                    markerfacecolor="#D55E00" if pair.elevated else "#ffffff",
                    linestyle="none", gid=gid)
            ax.text(xs[1], lane + 0.28,
                    f"acute {pair.acute:g} vs 20% + 2 line {pair.limit:.1f} ng/mL",
                    ha="center", fontsize=7)
            tips[gid] = f"Tryptase {day(pair.acute_when)}: {pair.reason}"
        ax.set_yticks([y[name] for name in lanes], [_short(name) for name in lanes])
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=10))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_title(
            f"Current tier {course.current_tier or 'none'}; counted anaphylaxis episodes "
            f"{course.counted_episodes} of {course.min_episodes} needed; thresholds "
            f"{course.thresholds_version}",
            fontsize=9, loc="left",
        )
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _strict_svg(buffer.getvalue(), tips, _summary(course))


def _summary(course: Course) -> str:
    return (
        f"MCAS course of the patient up to {day(course.now)}: current tier "
        f"{course.current_tier or 'none'}, {course.counted_episodes} counted anaphylaxis "
        f"episodes ({course.min_episodes} needed), {len(course.therapies)} therapies, "
        f"{len(course.mediators)} mediator results. The table below lists the same facts."
    )


def _strict_svg(document: str, tips: dict[str, str], summary: str) -> str:
    return strict_svg(document, tips, title="MCAS timeline", summary=summary,
                      ident="timeline", css_class="timeline-svg")
