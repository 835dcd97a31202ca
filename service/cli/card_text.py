"""Cards as a clinician would read them, in a terminal: summary, indicator, topic,
the detail wrapped, suggestions with their actions, links and override reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.cli.output import Style, width, wrap

_INDICATOR_STYLE = {"critical": ("red", "bold"), "warning": ("yellow", "bold"), "info": ("cyan",)}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _object(value: Any) -> Mapping[str, Any]:
    """A JSON object member, or an empty one when it is missing or not an object."""
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The JSON objects of a list member; anything else (a broken response) is skipped."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _action_line(action: Mapping[str, Any]) -> str:
    kind = _text(action.get("type")) or "?"
    description = _text(action.get("description"))
    resource = action.get("resource")
    target = ""
    if isinstance(resource, Mapping):
        target = _text(resource.get("resourceType"))
        # a drug draft names its medication, a referral or test draft its code
        concept = resource.get("medicationCodeableConcept") or resource.get("code")
        if isinstance(concept, Mapping):
            codings = concept.get("coding") or []
            names = [_text(c.get("display")) or _text(c.get("code")) for c in codings if c]
            label = _text(concept.get("text")) or ", ".join(n for n in names if n)
            if label:
                target += f" ({label})"
    elif action.get("resourceId"):
        target = _text(action.get("resourceId"))
    return f"{kind} {target}: {description}".replace("  ", " ").strip(": ")


def render_card(card: Mapping[str, Any], index: int, style: Style) -> list[str]:
    indicator = _text(card.get("indicator")) or "?"
    source = _object(card.get("source"))
    topic = _object(source.get("topic"))
    code = _text(topic.get("code"))
    badge = style(f"[{indicator.upper()}]", *_INDICATOR_STYLE.get(indicator, ()))
    lines = [f"{index}. {badge} {style(_text(card.get('summary')), 'bold')}"]
    meta = []
    if code:
        meta.append(f"topic: {code}")
    if source.get("label"):
        meta.append(f"source: {source['label']}")
    if source.get("url"):
        meta.append(str(source["url"]))
    if meta:
        lines.append("   " + style(" | ".join(meta), "dim"))
    detail = _text(card.get("detail"))
    if detail:
        lines.append("")
        lines.extend(wrap(detail, "   ", width()))
    suggestions = _objects(card.get("suggestions"))
    if suggestions:
        behaviour = _text(card.get("selectionBehavior"))
        heading = "Suggestions" + (f" (choose {behaviour})" if behaviour else "")
        lines += ["", "   " + style(heading + ":", "bold")]
        for suggestion in suggestions:
            mark = " (recommended)" if suggestion.get("isRecommended") else ""
            lines.extend(wrap(f"- {_text(suggestion.get('label'))}{mark}", "   "))
            for action in _objects(suggestion.get("actions")):
                lines.extend(wrap(f"  -> {_action_line(action)}", "   "))
    links = _objects(card.get("links"))
    if links:
        lines += ["", "   " + style("Links:", "bold")]
        for link in links:
            lines.extend(wrap(f"- {_text(link.get('label'))}", "   "))
            lines.append("     " + style(_text(link.get("url")), "blue"))
    reasons = _objects(card.get("overrideReasons"))
    if reasons:
        names = [_text(r.get("display")) or _text(r.get("code")) for r in reasons]
        lines += ["", *wrap("Override reasons: " + "; ".join(names), "   ")]
    return lines


def render_cards(cards: Sequence[Mapping[str, Any]], style: Style) -> list[str]:
    if not cards:
        return ["No cards: the service has no guidance for this patient."]
    lines: list[str] = []
    for index, card in enumerate(cards, start=1):
        if lines:
            lines.append("")
        lines.extend(render_card(card, index, style) if isinstance(card, Mapping) else [
            f"{index}. (not a card object)"
        ])
    return lines


def topics_of(cards: Sequence[Any]) -> list[str]:
    found = []
    for card in cards:
        try:
            found.append(str(card["source"]["topic"]["code"]))
        except (KeyError, TypeError):
            continue
    return found
