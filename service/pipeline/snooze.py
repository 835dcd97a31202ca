"""Learning from overrides (docs/clinical-rules.md §8): which decisions are held back as snoozed.

When a clinician overrides a card (feedback outcome ``overridden``, any reason), the same
topic (and key, for order-time cards) is not shown again to that patient for the topic's
``snooze_days``, counted from the override, unless the card's fingerprint
(service/pipeline/fingerprint.py) changed. An accepted card never snoozes; a card whose
snooze an administrator cleared no longer does; ``snooze_days`` 0 never snoozes.

Pure: the past cards come from the ``CardHistory`` port (service/pipeline/ports.py) the
caller read. Snoozing is decided before folding, so a snoozed ladder card leaves the cards
it would have folded in to be shown on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.pipeline.ports import PastCard
from service.pipeline.rules.model import Decision
from service.thresholds.model import Thresholds

OVERRIDDEN = "overridden"
# Topics whose snooze follows one override reason only (docs/clinical-rules.md §7: an
# order-time trigger drug "tolerated before"); every other topic: any override.
SNOOZE_REASON: dict[str, str] = {"order-trigger-drug": "tolerated-before"}


def _reason_snoozes(card: PastCard) -> bool:
    return SNOOZE_REASON.get(card.topic, card.override_code) == card.override_code


@dataclass(frozen=True)
class Snoozed:
    """A decision held back: its topic, its fingerprint, and the override that snoozed it."""

    topic: str
    fingerprint: str
    overridden_card: str
    until: datetime
    snooze_key: str | None = None


def history_since(topics: Iterable[str], thresholds: Thresholds, now: datetime) -> datetime | None:
    """How far back the history must be read for these topics; None: none can be snoozed."""
    longest = max((thresholds.snooze_for(t) for t in topics), default=0)
    return now - timedelta(days=longest) if longest > 0 else None


def snoozing_card(
    past: Sequence[PastCard],
    *,
    topic: str,
    fingerprint: str,
    days: int,
    now: datetime,
    snooze_key: str | None = None,
) -> PastCard | None:
    """The overridden card that keeps ``topic`` snoozed now, or None (show it).

    General enough for any service: order-time cards pass their ``snooze_key``
    (ingredient and route) and their own ``days``.
    """
    if days <= 0:
        return None
    window = timedelta(days=days)
    for card in reversed(past):  # the latest override first
        if (
            card.topic == topic
            and card.snooze_key == snooze_key
            and card.status == "issued"
            and card.outcome == OVERRIDDEN
            and _reason_snoozes(card)
            and card.outcome_at is not None
            and card.snooze_cleared_at is None
            and card.fingerprint == fingerprint
            and now - card.outcome_at < window
        ):
            return card
    return None


def hold_back(
    decisions: Sequence[Decision],
    fingerprints: dict[str, str],
    past: Sequence[PastCard],
    thresholds: Thresholds,
    now: datetime,
) -> tuple[list[Decision], list[Snoozed]]:
    """(the decisions to show, the ones held back as snoozed), in their order."""
    shown: list[Decision] = []
    held: list[Snoozed] = []
    for decision in decisions:
        days = thresholds.snooze_for(decision.topic)
        card = snoozing_card(
            past,
            topic=decision.topic,
            fingerprint=fingerprints[decision.topic],
            days=days,
            now=now,
        )
        if card is None or card.outcome_at is None:
            shown.append(decision)
            continue
        held.append(
            Snoozed(
                topic=decision.topic,
                fingerprint=fingerprints[decision.topic],
                overridden_card=card.card_uuid,
                until=card.outcome_at + timedelta(days=days),
            )
        )
    return shown, held


def active_snoozes(
    past: Sequence[PastCard], thresholds: Thresholds, now: datetime
) -> list[tuple[PastCard, datetime]]:
    """(the latest override, until when) per topic and key that may still snooze its card
    now, for administrators; whether it does depends on the facts (the fingerprint) at
    the next hook call."""
    latest: dict[tuple[str, str | None], tuple[PastCard, datetime]] = {}
    for card in past:
        days = thresholds.snooze_for(card.topic)
        if (
            days <= 0
            or card.status != "issued"
            or card.outcome != OVERRIDDEN
            or not _reason_snoozes(card)
            or card.outcome_at is None
            or card.snooze_cleared_at is not None
            or card.fingerprint is None
        ):
            continue
        until = card.outcome_at + timedelta(days=days)
        if until > now:
            key = (card.topic, card.snooze_key)
            if key not in latest or latest[key][0].outcome_at < card.outcome_at:  # type: ignore[operator]
                latest[key] = (card, until)
    return sorted(latest.values(), key=lambda pair: (pair[0].topic, pair[0].snooze_key or ""))
