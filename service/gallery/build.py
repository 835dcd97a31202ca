"""The card gallery's pages, built from the cards, the thresholds file and the fixtures.

Every fixture is fired at its own ``evaluatedAt`` (so dates in the cards do not move with
the calendar) through ``run_hook``; each topic is pictured by the card of the fixture that
shows it most typically (``_rank``: a ``<topic>--fires--`` fixture, a card that proposes
something, the shortest detail).
Nothing that changes between runs is written (uuids and hookInstances are not drawn), so
the same cards and fixtures always give the same pages: tests/gallery/ compares them
with the committed ones.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from service.cards_html import STYLESHEET
from service.cards_html.render import markdown_html, render_card
from service.cdshooks.envelope import ORDER_SELECT, ORDER_SIGN, load_hook_request
from service.errors import ServiceError
from service.knowledge.model import Knowledge
from service.ops.request_log import quiet_logs
from service.pipeline.hook import run_hook
from service.pipeline.orders import run_order_hook
from service.scenarios.fixtures import Fixture, request_for
from service.thresholds.model import Thresholds

log = logging.getLogger(__name__)

ORDER_HOOKS = frozenset({ORDER_SELECT, ORDER_SIGN})

# The command that rewrites everything here; the out-of-date test names it.
REGENERATE = "make card-gallery"
PAGE = "cards.md"  # under docs/
HTML = "cards/gallery.html"  # under docs/; the screenshots go beside it
RULES_DOC = "docs/clinical-rules.md"
# A row of docs/clinical-rules.md's card tables: | `topic` (indicator) | when | what |
_RULE_ROW = re.compile(r"^\|\s*`(?P<topic>[a-z0-9-]+)`[^|]*\|(?P<cells>.*)\|\s*$")
# A bare section number in a cell (the section sign and a number): cited with its
# document once copied out of it.
_BARE_SECTION = re.compile(r"(?<!\.md )§(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class Shown:
    fixture: Fixture
    card: Mapping[str, Any]


@dataclass(frozen=True)
class TopicEntry:
    topic: str
    title: str
    when: str
    says: str
    shown: Shown | None
    also: tuple[Fixture, ...] = ()

    @property
    def picture(self) -> str:
        return f"cards/{self.topic}.png"


@dataclass(frozen=True)
class Gallery:
    topics: tuple[TopicEntry, ...]
    failed: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # fixture, problem


def rules_rows(text: str) -> dict[str, tuple[str, str]]:
    """topic -> (when, what it says) from the card tables of docs/clinical-rules.md, their
    bare section numbers cited with the document."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        match = _RULE_ROW.match(line.strip())
        if match is None or match["topic"] in rows:
            continue
        cells = [_BARE_SECTION.sub(rf"{RULES_DOC} §\1", cell.strip())
                 for cell in match["cells"].split("|")]
        rows[match["topic"]] = (cells[0], cells[1] if len(cells) > 1 else "")
    return rows


def _cards_of(
    fixture: Fixture, knowledge: Knowledge, thresholds: Thresholds
) -> list[Mapping[str, Any]]:
    now = fixture.evaluated_at
    request = request_for(fixture, now)
    with quiet_logs():
        if fixture.hook in ORDER_HOOKS:
            # The order-time services (docs/clinical-rules.md §7): their own core.
            result = run_order_hook(
                load_hook_request(request, fixture.hook),
                knowledge=knowledge, thresholds=thresholds, now=now,
            )
        else:
            result = run_hook(
                load_hook_request(request), knowledge=knowledge, thresholds=thresholds,
                now=now,
            )
    return list(result.cards)


def _topic_of(card: Mapping[str, Any]) -> str:
    return str(((card.get("source") or {}).get("topic") or {}).get("code", ""))


def _rank(topic: str, shown: Shown) -> tuple[int, int, int, str]:
    """The most typical picture first: a fixture written for this topic, a card that
    proposes something (its buttons show), the shortest detail (the plain case, not one
    with extra findings such as clonal disease or data left out), then by name."""
    fixture = shown.fixture
    named = 0 if fixture.name.startswith(f"{topic}--fires--") else 1
    proposes = 0 if shown.card.get("suggestions") else 1
    return (named, proposes, len(str(shown.card.get("detail", ""))), fixture.name)


def collect(
    knowledge: Knowledge,
    thresholds: Thresholds,
    fixtures: Iterable[Fixture],
    rules_text: str = "",
) -> Gallery:
    seen: dict[str, list[Shown]] = {}
    failed: list[tuple[str, str]] = []
    for fixture in fixtures:
        if fixture.expected_status != 200:
            continue
        try:
            cards = _cards_of(fixture, knowledge, thresholds)
        except ServiceError as exc:
            failed.append((fixture.name, f"HTTP {exc.status}: {exc}"))
            continue
        for card in cards:
            seen.setdefault(_topic_of(card), []).append(Shown(fixture, card))
    rules = rules_rows(rules_text)
    known = [*knowledge.cards.topics, *knowledge.order_cards.topics]
    topics = known + sorted(set(seen) - set(known))
    entries = []
    for topic in topics:
        shown = sorted(seen.get(topic, []), key=lambda s: _rank(topic, s))
        text = knowledge.cards.topics.get(topic) or knowledge.order_cards.topics.get(topic)
        display = ((shown[0].card.get("source") or {}).get("topic") or {}).get("display") \
            if shown else None
        when, says = rules.get(topic, ("", ""))
        entries.append(TopicEntry(
            topic=topic,
            title=text.title if text is not None else str(display or topic),
            when=when,
            says=says,
            shown=shown[0] if shown else None,
            also=tuple(sorted((s.fixture for s in shown[1:]), key=lambda f: f.name)),
        ))
    return Gallery(tuple(entries), tuple(failed))


# docs/cards.md -------------------------------------------------------------------------


def _quote(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in text.splitlines()] or [">"]


def page_markdown(gallery: Gallery) -> str:
    lines = [
        "# The cards, topic by topic",
        "",
        f"Generated by `{REGENERATE}` from `cards/` and `fhir_fixtures/`; do not edit by "
        "hand. A test fails when this page is out of date.",
        "",
        "For the clinical committee: per card topic, what it is for (the rule from",
        "[docs/clinical-rules.md](../docs/clinical-rules.md)), a picture of the card as an EHR",
        "shows it, the scenario fixture it was drawn from, and its full text. Each fixture",
        "is evaluated at its own date, so the dates in the cards are the fixture's.",
        "The pictures come from [cards/gallery.html](cards/gallery.html) (headless",
        "Chromium); card wording lives in [cards/cards.yaml](../cards/cards.yaml) and",
        "[cards/sentences.yaml](../cards/sentences.yaml).",
        "",
    ]
    for entry in gallery.topics:
        lines.append(f"- [`{entry.topic}`](#{entry.topic}): {entry.title}")
    for entry in gallery.topics:
        lines += ["", f'<a id="{entry.topic}"></a>', "",
                  f"## `{entry.topic}`: {entry.title}", ""]
        if entry.when:
            lines.append(f"**When it appears:** {entry.when}")
            lines.append("")
        if entry.says:
            lines.append(f"**What it says:** {entry.says}")
            lines.append("")
        if entry.shown is None:
            lines.append("No fixture shows this card yet: add one (fhir_fixtures/README.md).")
            continue
        card, fixture = entry.shown.card, entry.shown.fixture
        lines += [
            f"![The {entry.topic} card]({entry.picture})",
            "",
            f"**Drawn from** `{fixture.name}`: {fixture.description}",
            "",
            f"**Indicator:** {card.get('indicator')}",
            "",
            "**Summary:**",
            "",
            *_quote(str(card.get("summary", ""))),
            "",
            "**Detail:**",
            "",
            *_quote(str(card.get("detail", ""))),
            "",
        ]
        suggestions = card.get("suggestions") or []
        if suggestions:
            lines.append("**Suggestions:** " + "; ".join(
                f"{s.get('label')}" for s in suggestions))
            lines.append("")
        reasons = card.get("overrideReasons") or []
        if reasons:
            lines.append("**Reasons offered when dismissing:** " + "; ".join(
                str(r.get("display")) for r in reasons))
            lines.append("")
        if entry.also:
            lines += [
                f"<details><summary>Also shown by {len(entry.also)} other "
                f"fixture{'s' if len(entry.also) > 1 else ''}</summary>",
                "",
                *(f"- `{f.name}`: {f.description}" for f in entry.also),
                "",
                "</details>",
            ]
    if gallery.failed:
        lines += ["", "## Fixtures that could not be drawn", ""]
        lines += [f"- `{name}`: {problem}" for name, problem in gallery.failed]
    return "\n".join(lines).rstrip() + "\n"


# docs/cards/gallery.html ---------------------------------------------------------------


def page_html(gallery: Gallery, stylesheet: str | None = None) -> str:
    """One page holding every topic's card; the screenshots are taken of it."""
    css = STYLESHEET.read_text(encoding="utf-8") if stylesheet is None else stylesheet
    sections = []
    for entry in gallery.topics:
        head = (f'<h2><code>{escape(entry.topic)}</code>: {escape(entry.title)}</h2>')
        when = (f'<div class="when"><strong>When it appears:</strong> '
                f"{markdown_html(entry.when)}</div>" if entry.when else "")
        if entry.shown is None:
            body = '<p class="none">No fixture shows this card yet.</p>'
        else:
            body = (f'<p class="fixture">Drawn from <code>{escape(entry.shown.fixture.name)}'
                    f"</code></p>{render_card(entry.shown.card)}")
        sections.append(
            f'<section class="topic" id="topic-{escape(entry.topic)}">{head}{when}{body}'
            "</section>")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>mcas-cds: the cards, topic by topic</title>",
        "<!-- Generated by `make card-gallery`; do not edit by hand. -->",
        f"<style>\n{css}\n{_PAGE_CSS}</style>",
        "</head>",
        "<body>",
        "<h1>mcas-cds: the cards, topic by topic</h1>",
        *sections,
        "</body>",
        "</html>",
    ]) + "\n"


_PAGE_CSS = """body { font: 15px/1.45 system-ui, sans-serif; margin: 1rem 1.5rem; color: #1a1a1a; }
.topic { margin: 0 0 2.5rem; max-width: 48rem; }
.topic h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; }
.topic .when p { display: inline; }
.topic .fixture, .topic .none { color: #555; font-size: .85rem; margin: .3rem 0 0; }
"""


def pages(gallery: Gallery) -> dict[str, str]:
    """Path under docs/ -> text, for every generated text file."""
    return {PAGE: page_markdown(gallery), HTML: page_html(gallery)}


def pictures(gallery: Gallery) -> list[str]:
    """The topics that get a picture (a fixture shows their card)."""
    return [entry.topic for entry in gallery.topics if entry.shown is not None]


def out_of_date(docs: Path, expected: Mapping[str, str]) -> list[str]:
    """The generated files under ``docs`` that differ from ``expected``."""
    stale = []
    for name, text in expected.items():
        path = docs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(f"docs/{name}")
    return stale
