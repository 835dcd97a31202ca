"""What the rules compared, for the administrators' explain (issue 16).

The rules stay pure: they take a ``Recorder`` and tell it each comparison they make
(value, unit, threshold, operator, result) and each intermediate reading worth showing.
The hook passes ``NO_TRACE``, whose methods do nothing, so a hook call costs a few no-op
calls and no allocation beyond their arguments; ``Trace`` keeps everything for explain.
Nothing here changes a decision: a recorder only listens.

Order-time rules (service/pipeline/orders) judge one draft order at a time: their
comparisons and outcomes name it (``draft``, "MedicationRequest/<id>"); patient-view
entries leave it empty, and their JSON is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

Number = int | float


@dataclass(frozen=True)
class Comparison:
    """One comparison a rule made, e.g. refractory.trial: 100 d >= 28 -> True."""

    rule: str
    value: Number | None
    unit: str
    threshold: Number | None
    op: str
    result: bool
    detail: str = ""
    draft: str = ""  # order time: the draft order compared ("MedicationRequest/<id>")

    def as_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "rule": self.rule,
            "value": self.value,
            "unit": self.unit,
            "threshold": self.threshold,
            "op": self.op,
            "result": self.result,
        }
        if self.detail:
            entry["detail"] = self.detail
        if self.draft:
            entry["draft"] = self.draft
        return entry


@dataclass(frozen=True)
class Outcome:
    """A card topic's decision: fired, not fired, or held back after firing (and why).

    Order time: one per draft order and topic (``draft``); ``held`` names what held back
    a decision after its rule fired ("switched_off", "not_twice", "snoozed"), else "".
    """

    topic: str
    fired: bool
    why: str
    draft: str = ""
    held: str = ""


class Recorder(Protocol):
    enabled: bool

    def compare(
        self, rule: str, value: Number | None, unit: str, threshold: Number | None, op: str,
        result: bool, detail: str = "", *, draft: str = "",
    ) -> None: ...

    def observe(self, key: str, value: object) -> None: ...

    def outcome(self, topic: str, fired: bool, why: str, *, draft: str = "",
                held: str = "") -> None: ...


class NoTrace:
    """The hook's recorder: listens to nothing."""

    enabled = False

    def compare(
        self, rule: str, value: Number | None, unit: str, threshold: Number | None, op: str,
        result: bool, detail: str = "", *, draft: str = "",
    ) -> None:
        return None

    def observe(self, key: str, value: object) -> None:
        return None

    def outcome(self, topic: str, fired: bool, why: str, *, draft: str = "",
                held: str = "") -> None:
        return None


NO_TRACE: Recorder = NoTrace()


@dataclass
class Trace:
    """Explain's recorder: every comparison, reading and outcome, in the order made."""

    enabled: bool = True
    comparisons: list[Comparison] = field(default_factory=list)
    observed: dict[str, object] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)

    def compare(
        self, rule: str, value: Number | None, unit: str, threshold: Number | None, op: str,
        result: bool, detail: str = "", *, draft: str = "",
    ) -> None:
        self.comparisons.append(
            Comparison(rule, value, unit, threshold, op, result, detail, draft))

    def observe(self, key: str, value: object) -> None:
        self.observed[key] = value

    def outcome(self, topic: str, fired: bool, why: str, *, draft: str = "",
                held: str = "") -> None:
        self.outcomes.append(Outcome(topic, fired, why, draft, held))
