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

# The order-time topics (docs/clinical-rules.md §7): cards of the mcas-order-safety
# services, judged per draft order (their texts: cards/order_cards.yaml).
ORDER_TOPICS: tuple[str, ...] = (
    "order-trigger-drug", "order-beta-blocker", "order-aspirin", "order-ranitidine",
    "order-ladder", "order-steroid-course",
)
# The order-time topics a snooze may hold back (docs/clinical-rules.md §7: only
# order-trigger-drug, after "Tolerated before"), and every topic with snooze_days.
SNOOZABLE_ORDER_TOPICS: tuple[str, ...] = ("order-trigger-drug",)
SNOOZE_TOPICS: tuple[str, ...] = TOPICS + SNOOZABLE_ORDER_TOPICS
# Every topic a card can carry, patient-view and order-time: what an administrator can
# switch off (cards_enabled).
ALL_TOPICS: tuple[str, ...] = TOPICS + ORDER_TOPICS
