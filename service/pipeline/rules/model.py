"""What the rules hand to the card builder: one Decision per card, with the facts behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from service.pipeline.facts.model import Event, Result, Therapy


@dataclass(frozen=True)
class Cluster:
    """Events less than episode_merge_hours apart: one episode, dated by its first event."""

    start: datetime
    events: tuple[Event, ...]


@dataclass(frozen=True)
class MediatorFinding:
    result: Result
    elevated: bool
    reason: str  # e.g. "180 pg/mg{creat} is above the threshold 104 pg/mg{creat}"
    # the other result of a tryptase 20% + 2 comparison (the baseline)
    baseline: Result | None = None


@dataclass(frozen=True)
class Decision:
    topic: str
    # values for the summary template of cards.yaml ({missing}, {tier}, {days}, ...)
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # plain sentences saying why the card fired, with dates and values
    reasons: tuple[str, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    episodes: tuple[Cluster, ...] = ()
    respiratory: tuple[Cluster, ...] = ()
    mediators: tuple[MediatorFinding, ...] = ()
    # drug classes to propose, in order (cards.yaml may only narrow this list)
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    in_scope: bool
    # False when every MCAS diagnosis is provisional, differential or unconfirmed
    confirmed: bool = True


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "undated"


def days_between(start: datetime, now: datetime) -> int:
    return int((now - start).total_seconds() // 86400)
