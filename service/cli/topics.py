"""The card topics the service knows, read from its clinical knowledge (``cards/``).

Fixtures name the topics they expect; checking them against this list catches a typo
before it turns into a silently passing "absent" check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..knowledge import bundled_cards_dir, load_knowledge


def _topics_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {str(key) for key in node}
    if isinstance(node, list):
        return {str(item["code"] if isinstance(item, dict) else item) for item in node}
    return set()


def known_topics(cards_dir: Path | None = None) -> set[str]:
    directory = cards_dir or bundled_cards_dir()
    topics = getattr(load_knowledge(directory), "topics", None)
    if topics:
        return {str(topic) for topic in topics}
    found: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "topics" in data:
            found |= _topics_in(data["topics"])
    return found
