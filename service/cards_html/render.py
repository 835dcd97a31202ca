"""One CDS Hooks card as an HTML fragment, the way an EHR shows it.

Card text is data, never markup: the summary, labels and reasons are escaped; the detail
is GitHub Flavored Markdown rendered by markdown-it-py with raw HTML off (``<b>`` is shown
as text), no images (an EHR card loads nothing from elsewhere) and only http(s) and
mailto links. Nothing card-specific that changes between runs (uuids, the thresholds
extension) is drawn, so the same card always gives the same HTML. No inline style or
script: the classes are styled by static/cards.css.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

INDICATOR_LABELS: Mapping[str, str] = {
    "info": "Info",
    "warning": "Warning",
    "critical": "Critical",
}
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.validateLink = safe_url  # type: ignore[method-assign]
    return md


def safe_url(url: str) -> bool:
    """An absolute http(s) or mailto address: nothing that runs or reads local files."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


_MD = _markdown()


def markdown_html(text: str) -> str:
    """The card detail (GitHub Flavored Markdown) as HTML; raw HTML in it is escaped."""
    html: str = _MD.render(text)
    # Links leave the EHR's frame: a new context that learns nothing about the page.
    return html.replace("<a href=", '<a rel="noopener noreferrer" href=')


def _text(value: Any) -> str:
    return escape(str(value), quote=True)


def _link(url: Any, label: str) -> str:
    if isinstance(url, str) and safe_url(url):
        return f'<a href="{_text(url)}" rel="noopener noreferrer">{label}</a>'
    return label


def _suggestions(suggestions: Iterable[Mapping[str, Any]]) -> str:
    items = []
    for suggestion in suggestions:
        actions = "".join(
            f'<li class="cds-card__action">{_text(action.get("description", ""))}</li>'
            for action in suggestion.get("actions") or ()
            if action.get("description")
        )
        recommended = (
            ' <span class="cds-card__recommended">(recommended)</span>'
            if suggestion.get("isRecommended") else ""
        )
        items.append(
            '<li class="cds-card__suggestion">'
            f'<button type="button" class="cds-card__button">{_text(suggestion.get("label", ""))}'
            f"</button>{recommended}"
            + (f'<ul class="cds-card__actions">{actions}</ul>' if actions else "")
            + "</li>"
        )
    return '<ul class="cds-card__suggestions">' + "".join(items) + "</ul>" if items else ""


def _links(links: Iterable[Mapping[str, Any]]) -> str:
    items = []
    for link in links:
        label = _text(link.get("label", ""))
        app = ' <span class="cds-card__app">(app)</span>' if link.get("type") == "smart" else ""
        items.append(f'<li class="cds-card__link">{_link(link.get("url"), label)}{app}</li>')
    return '<ul class="cds-card__links">' + "".join(items) + "</ul>" if items else ""


def _reasons(reasons: Iterable[Mapping[str, Any]]) -> str:
    items = "".join(
        f'<li class="cds-card__reason">{_text(reason.get("display") or reason.get("code", ""))}'
        "</li>"
        for reason in reasons
    )
    if not items:
        return ""
    return (
        '<div class="cds-card__dismiss"><p class="cds-card__dismiss-title">'
        "Dismiss with a reason:</p>"
        f'<ul class="cds-card__reasons">{items}</ul></div>'
    )


def render_card(card: Mapping[str, Any]) -> str:
    """``card`` (a CDS Hooks card as sent) as an ``<article>`` fragment."""
    indicator = card.get("indicator")
    known = indicator if isinstance(indicator, str) and indicator in INDICATOR_LABELS else "info"
    label = INDICATOR_LABELS[known] if indicator == known else _text(indicator)
    source = card.get("source") or {}
    topic = (source.get("topic") or {}).get("code")
    detail = card.get("detail")
    parts = [
        f'<article class="cds-card cds-card--{known}"'
        + (f' data-topic="{_text(topic)}"' if topic else "")
        + ">",
        '<header class="cds-card__head">'
        f'<span class="cds-card__indicator">{label}</span>'
        f'<p class="cds-card__summary">{_text(card.get("summary", ""))}</p></header>',
    ]
    if isinstance(detail, str) and detail:
        parts.append(f'<div class="cds-card__detail">{markdown_html(detail)}</div>')
    parts.append(_suggestions(card.get("suggestions") or ()))
    parts.append(_links(card.get("links") or ()))
    if source.get("label"):
        parts.append(
            '<p class="cds-card__source">Source: '
            f"{_link(source.get('url'), _text(source['label']))}</p>"
        )
    parts.append(_reasons(card.get("overrideReasons") or ()))
    parts.append("</article>")
    return "".join(part for part in parts if part)


def render_cards(cards: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(render_card(card) for card in cards)
