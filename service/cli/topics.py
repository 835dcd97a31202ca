"""The card topics the service knows, read from its clinical knowledge (``cards/``).

Fixtures name the topics they expect; checking them against this list catches a typo
before it turns into a silently passing "absent" check.
"""

from __future__ import annotations

from pathlib import Path

from service.knowledge.loader import bundled_cards_dir, load_knowledge


def known_topics(cards_dir: Path | None = None) -> set[str]:
    """Patient-view and order-time topics (cards.yaml, order_cards.yaml)."""
    knowledge = load_knowledge(cards_dir or bundled_cards_dir())
    return set(knowledge.cards.topics) | set(knowledge.order_cards.topics)
