"""The card topics the service knows, read from its clinical knowledge (``cards/``).

Fixtures name the topics they expect; checking them against this list catches a typo
before it turns into a silently passing "absent" check.
"""

from __future__ import annotations

import os
from pathlib import Path

from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.overlay import CardsFiles, overlay_paths

OVERLAY_ENV = "MCAS_CARDS_OVERLAY"


def cards_files(cards_dir: Path | None, overlays: list[Path] | None) -> CardsFiles:
    """``cards_dir`` (default: bundled) with the overlays given, else those of
    ``MCAS_CARDS_OVERLAY``, as the service itself would read them."""
    chosen = overlays if overlays is not None else overlay_paths(os.environ.get(OVERLAY_ENV))
    return CardsFiles(cards_dir or bundled_cards_dir(), chosen)


def known_topics(cards: Path | CardsFiles | None = None) -> set[str]:
    """Patient-view and order-time topics (cards.yaml, order_cards.yaml)."""
    knowledge = load_knowledge(cards or bundled_cards_dir())
    return set(knowledge.cards.topics) | set(knowledge.order_cards.topics)
