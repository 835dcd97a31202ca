"""Fewer cards: the fold (docs/clinical-rules.md §4 "Fewer cards").

When a ladder card is shown, ``mediator-evidence`` and ``biologic-review`` are not cards
of their own: their facts and proposals go into the ladder card (a ``tier-4`` or
``omalizumab-dose`` card *is* the review of the biologic). A pure step on Decisions,
run after the rules and after snoozing, before the cards are built: it folds whatever
list it is given, so when the ladder decision was held back (snoozed), the two stay
cards of their own.
"""

from __future__ import annotations

from dataclasses import replace

from service.knowledge.topics import LADDER_TOPICS
from service.pipeline.rules.model import Decision

# The cards that go into the ladder card, in the order the ladder card shows them.
FOLDED_TOPICS: tuple[str, ...] = ("mediator-evidence", "biologic-review")


def fold(decisions: list[Decision]) -> list[Decision]:
    """The decisions with mediator-evidence and biologic-review inside the ladder card.

    Without a ladder decision the list comes back unchanged (same order).
    """
    ladder = next((d for d in decisions if d.topic in LADDER_TOPICS), None)
    if ladder is None:
        return list(decisions)
    folded = tuple(
        d for topic in FOLDED_TOPICS for d in decisions if d.topic == topic
    )
    if not folded:
        return list(decisions)
    merged = replace(ladder, folded=(*ladder.folded, *folded))
    return [
        merged if d is ladder else d for d in decisions if d.topic not in FOLDED_TOPICS
    ]
