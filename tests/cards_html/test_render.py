"""Cards drawn as HTML: card text is data, so everything is escaped and nothing runs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from service.cards_html.render import markdown_html, render_card, safe_url

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'


def card(**changes: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "uuid": "0b7f8a53-4f3e-4a37-8d0c-9f2f7a1e5c11",
        "summary": "Consider famotidine",
        "indicator": "warning",
        "detail": "**Why this card**\n\n- Ranitidine active since 2025-11-30.",
        "source": {"label": "mcas-cds", "url": "https://pubmed.ncbi.nlm.nih.gov/31476322/",
                   "topic": {"system": "s", "code": "ranitidine-switch"}},
        "suggestions": [{"label": "Draft famotidine", "uuid": "u-1", "actions": [
            {"type": "create", "description": "Propose famotidine as a draft order."}]}],
        "selectionBehavior": "at-most-one",
        "links": [{"label": "Weiler 2019", "url": "https://pubmed.ncbi.nlm.nih.gov/31476322/",
                   "type": "absolute"},
                  {"label": "MCAS timeline", "url": "https://cds.example.org/timeline/launch",
                   "type": "smart"}],
        "overrideReasons": [{"system": "s", "code": "patient-declined",
                             "display": "Patient declined"}],
    }
    made.update(changes)
    return made


class _Collect(HTMLParser):
    """Every start tag with its attributes, to assert on structure rather than text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> _Collect:
    collector = _Collect()
    collector.feed(html)
    collector.close()
    return collector


def test_a_card_shows_indicator_summary_detail_buttons_links_source_and_reasons() -> None:
    html = render_card(card())
    tags = parsed(html)
    assert tags.tags[0] == ("article", {"class": "cds-card cds-card--warning",
                                        "data-topic": "ranitidine-switch"})
    text = " ".join(tags.text)
    for shown in ("Warning", "Consider famotidine", "Why this card", "Draft famotidine",
                  "Propose famotidine as a draft order.", "Weiler 2019", "(app)",
                  "Source:", "mcas-cds", "Dismiss with a reason:", "Patient declined"):
        assert shown in text
    assert ("strong", {}) in tags.tags  # the Markdown was rendered
    buttons = [attrs for tag, attrs in tags.tags if tag == "button"]
    assert buttons == [{"type": "button", "class": "cds-card__button"}]
    hrefs = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
    assert hrefs == ["https://pubmed.ncbi.nlm.nih.gov/31476322/",
                     "https://cds.example.org/timeline/launch",
                     "https://pubmed.ncbi.nlm.nih.gov/31476322/"]
    # Nothing that changes between runs: the uuids are not drawn.
    assert "0b7f8a53" not in html and "u-1" not in html


def test_hostile_card_text_is_shown_as_text_and_never_runs() -> None:
    hostile = card(
        summary=HOSTILE,
        detail=f"{HOSTILE}\n\n[click](javascript:alert(1)) [data](data:text/html,x) "
               f"![pic](https://evil.example/p.png) <a href='https://e.example'>raw</a>",
        indicator='warning" onmouseover="alert(1)',
        source={"label": HOSTILE, "url": "javascript:alert(1)"},
        suggestions=[{"label": HOSTILE, "actions": [{"type": "create", "description": HOSTILE}]}],
        links=[{"label": HOSTILE, "url": "javascript:alert(1)", "type": "absolute"},
               {"label": "ok", "url": 'https://a.example/"><script>', "type": "absolute"}],
        overrideReasons=[{"system": "s", "code": "c", "display": HOSTILE}],
    )
    html = render_card(hostile)
    tags = parsed(html)
    names = {tag for tag, _ in tags.tags}
    assert names <= {"article", "header", "span", "p", "div", "strong", "ul", "li", "button",
                      "a", "em"}, names
    assert not any(key.startswith("on") or key == "style"
                   for _, attrs in tags.tags for key in attrs)
    hrefs = [attrs.get("href") for tag, attrs in tags.tags if tag == "a"]
    # Only http(s) addresses, each one attribute value; an image is a link, never loaded.
    assert hrefs == ["https://evil.example/p.png", 'https://a.example/"><script>']
    # An unknown indicator gets the neutral colour and is shown as text.
    assert tags.tags[0][1]["class"] == "cds-card cds-card--info"
    text = "".join(tags.text)
    assert text.count('<script>alert("x")</script>') >= 5
    assert "<a href='https://e.example'>raw</a>" in text
    assert "<script" not in re.sub(r"&lt;script", "", html).replace('"><script>', "")


def test_markdown_keeps_only_web_and_mail_links() -> None:
    assert safe_url("https://doi.org/10.1159/000501079")
    assert safe_url("mailto:allergy@example.org")
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x",
                "file:///etc/passwd", "vbscript:x", "/relative", "http://[bad"):
        assert not safe_url(bad), bad
    html = markdown_html("[doi](https://doi.org/10.1159/000501079) [x](file:///etc/passwd)")
    assert '<a rel="noopener noreferrer" href="https://doi.org/10.1159/000501079">' in html
    assert "file:" in html and 'href="file:' not in html


def test_the_same_card_always_gives_the_same_html() -> None:
    first, second = card(), card(uuid="another-uuid")
    second["suggestions"][0]["uuid"] = "another"
    assert render_card(first) == render_card(second)
