"""The card topics: every kind of card the patient-view service can show (cards/cards.yaml)."""

from __future__ import annotations

TOPICS: tuple[str, ...] = (
    "tier-1", "tier-2", "tier-3", "tier-4", "specialist-referral",
    "epinephrine-autoinjector", "albuterol", "aspirin-caution", "steroid-long-term",
    "mediator-evidence", "biologic-review",
)
# The therapy-ladder topics: at most one of them is shown.
LADDER_TOPICS: tuple[str, ...] = TOPICS[:5]
