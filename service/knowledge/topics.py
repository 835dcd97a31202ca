"""The card topics: every kind of card the patient-view service can show (cards/cards.yaml)."""

from __future__ import annotations

# The therapy-ladder topics (docs/clinical-rules.md §4): at most one of them is shown.
LADDER_TOPICS: tuple[str, ...] = (
    "tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose", "tier-4",
    "specialist-referral",
)
# Safety and quality topics, each independent of the ladder.
SAFETY_TOPICS: tuple[str, ...] = (
    "epinephrine-autoinjector", "albuterol", "aspirin-caution", "steroid-long-term",
    "ranitidine-switch", "mediator-evidence", "biologic-review",
)
TOPICS: tuple[str, ...] = LADDER_TOPICS + SAFETY_TOPICS
