"""What the rules hand to the card builder: one Decision per card, with the facts behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from service.pipeline.facts.model import Event, Result, Therapy


@dataclass(frozen=True)
class Cluster:
    """Events merged into one episode, dated by its first event (docs/clinical-rules.md §6.4)."""

    start: datetime
    events: tuple[Event, ...]
    # events that joined by the next-day or follow-up rule: (event, "next_day" | "follow_up")
    merges: tuple[tuple[Event, str], ...] = ()

    @property
    def last(self) -> datetime:
        return max(e.when for e in self.events if e.when is not None)


@dataclass(frozen=True)
class Note:
    """A sentence of cards/sentences.yaml with the facts that fill its placeholders."""

    key: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def note(key: str, **params: object) -> Note:
    return Note(key, MappingProxyType({k: str(v) for k, v in params.items()}))


@dataclass(frozen=True)
class MediatorFinding:
    result: Result
    elevated: bool
    reason: str  # e.g. "180 pg/mg{creat} is above the threshold 104 pg/mg{creat}"
    # the other result of a tryptase 20% + 2 comparison (the baseline)
    baseline: Result | None = None
    # False: no threshold in its unit, no flag, no reference range: not assessable
    # (docs/clinical-rules.md §2 "Mediator results")
    assessable: bool = True


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
    # sentences of cards/sentences.yaml, in the order the card shows them
    notes: tuple[Note, ...] = ()
    # sentences that open the detail (the systemic mastocytosis flag)
    lead: tuple[Note, ...] = ()
    # therapies on record of the proposed classes: their drug is not proposed again
    withheld: tuple[Therapy, ...] = ()
    # cards folded into this ladder card (service/pipeline/fold.py): mediator-evidence,
    # biologic-review; their facts and proposals are shown inside this card
    folded: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class Scope:
    in_scope: bool
    # False when every MCAS diagnosis is provisional, differential or unconfirmed
    confirmed: bool = True
    # the code of a clonal mast cell disease on record (treatment cards suppressed)
    clonal: str | None = None
    monoclonal: bool = False  # an in-scope MCAS Condition coded D89.41


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "undated"


def days_between(start: datetime, now: datetime) -> int:
    return int((now - start).total_seconds() // 86400)
