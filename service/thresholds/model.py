"""Administrator thresholds: every ``name = default`` of the clinical rules, as a frozen value.

The rules read only this module. Validation lives in ``service/thresholds/schema.py``
(``thresholds_from_mapping``) and the YAML file is read by ``service/thresholds/files.py``.
The defaults are in ``cards/thresholds.yaml``; their meaning, unit and clinical range in
``cards/thresholds_meta.yaml`` (docs/administration.md, "Clinical ranges").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

# The mediators with a threshold setting (rules v2: prostaglandin D2 has none; its
# reference range or the lab's interpretation decide).
ANALYTES_WITH_THRESHOLD: tuple[str, ...] = (
    "n_methylhistamine", "leukotriene_e4", "dinor_11b_pgf2a", "histamine_plasma",
)

# Settings of rules v1 that rules v2 removed, by dotted path: a thresholds file naming one
# is refused with this reason; a stored version holding one has it dropped on upgrade.
REMOVED_FIELDS: Mapping[str, str] = {
    "tryptase_factor": "removed in rules v2: the 20% + 2 rule's factor 1.2 is fixed",
    "tryptase_addend": "removed in rules v2: the 20% + 2 rule's addend 2 ng/mL is fixed",
    "mediator_thresholds.prostaglandin_d2": (
        "removed in rules v2: prostaglandin D2 has no threshold setting "
        "(its reference range or the lab's interpretation decide)"
    ),
}


class ThresholdsError(ValueError):
    """The thresholds file cannot be used; the message names the file, field and problem."""


@dataclass(frozen=True)
class Thresholds:
    lookback_days: int
    episode_merge_hours: float
    # An anaphylaxis episode dated only by recordedDate joins the cluster before it when it
    # lies within this many days after that cluster's first event (a follow-up visit).
    episode_followup_days: int
    # Administrator switches: count triggered anaphylaxis clusters, and respiratory events
    # with asthma/COPD on record, towards refractoriness (both false by default).
    count_triggered_anaphylaxis: bool
    count_respiratory_with_airway_disease: bool
    # Administrations/dispenses/orders of a drug at most this far apart form one course.
    course_gap_days: int
    min_trial_days: Mapping[int, int]  # tier -> days
    response_onset_days: Mapping[int, int]  # tier -> days after the tier's start
    recent_event_days: int
    min_anaphylaxis_episodes: int
    min_respiratory_events: int
    omalizumab_dose_mg_per_4_weeks: float
    mediator_thresholds: Mapping[str, float]
    tryptase_acute_window_hours: float
    tryptase_baseline_gap_hours: float
    tryptase_sm_flag: float  # ng/mL: a baseline at least this is a systemic mastocytosis flag
    steroid_max_days: int
    biologic_review_window_days: tuple[int, int]
    # Order time (docs/clinical-rules.md §7): a card shown at order-select is not shown
    # again at order-sign for the same draft order and topic when the same user answered
    # it (accepted or overridden) within this many minutes.
    order_dedupe_minutes: int
    cards_enabled: Mapping[str, bool]
    # After a clinician overrides a card, the same topic is not shown again to that patient
    # for this many days unless the facts behind it changed (docs/clinical-rules.md §8);
    # 0: never snooze.
    snooze_days: Mapping[str, int]
    # Which thresholds made a card: "sha256:" + 12 hex digits of the canonical values;
    # "v<n>.sha256:..." when stored version n is in force (docs/administration.md).
    version: str

    def enabled(self, topic: str) -> bool:
        return self.cards_enabled.get(topic, False)

    def snooze_for(self, topic: str) -> int:
        """Days an overridden ``topic`` stays snoozed (0, never, for a topic without one)."""
        return self.snooze_days.get(topic, 0)


def canonical_version(values: Mapping[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=float)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def leaves(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"min_trial_days.tier1": 28, "biologic_review_window_days.0": 90, ...}``"""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(leaves(value, path + "."))
        elif isinstance(value, list | tuple):
            out.update(leaves({str(i): item for i, item in enumerate(value)}, path + "."))
        else:
            out[path] = value
    return out


def is_number(value: object) -> TypeGuard[float]:
    """An int or float, never a bool (YAML `yes` is not 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _g(value: float) -> str:
    return f"{value:g}"


NO_RANGE = "no clinical range set"


@dataclass(frozen=True)
class FieldRange:
    """The clinical range and the warn bounds of one leaf (cards/thresholds_meta.yaml).

    ``minimum``/``maximum`` are inclusive; ``None`` is an open side (both ``None``: no
    clinical range, only the type and sign checks apply). ``after``/``after_by``: the value
    must also be at least ``after_by`` above the value of the leaf ``after``. Inside the
    range a value below ``warn_below`` or above ``warn_above`` is accepted with a warning.
    """

    minimum: float | None = None
    maximum: float | None = None
    warn_below: float | None = None
    warn_above: float | None = None
    after: str | None = None
    after_by: float = 0

    @property
    def has_range(self) -> bool:
        return self.minimum is not None or self.maximum is not None or self.after is not None

    def describe(self) -> str:
        """The range in words: "30 to 730", "biologic_review_window_days.0 + 30 to 365"."""
        if not self.has_range:
            return NO_RANGE
        low = _g(self.minimum) if self.minimum is not None else None
        if self.after is not None:
            relative = f"{self.after} + {_g(self.after_by)}"
            low = relative if low is None else f"{relative} (at least {low})"
        if self.maximum is None:
            return f"at least {low}"
        return f"at most {_g(self.maximum)}" if low is None else f"{low} to {_g(self.maximum)}"

    def problem(self, value: float, flat: Mapping[str, Any]) -> str | None:
        """Why ``value`` is outside the range (``flat``: every leaf, for ``after``)."""
        low, high = self.minimum, self.maximum
        if self.after is not None and is_number(flat.get(self.after)):
            relative = max(x for x in (low, flat[self.after] + self.after_by) if x is not None)
            # Past the maximum the other field is what is wrong (its own range says so).
            if high is None or relative <= high:
                low = relative
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        if low is not None and high is not None:
            bounds = f"between {_g(low)} and {_g(high)}"
        else:
            bounds = f"at least {_g(low)}" if low is not None else f"at most {_g(high or 0)}"
        rule = "clinical range of the rules"
        if self.after is not None:
            rule += f": {self.describe()}"
        return f"Must be {bounds} ({rule})."

    def warning(self, value: float, default: Any) -> str | None:
        """Why an accepted ``value`` is unusual (``default``: the file's value), or None."""
        if value == 0 and is_number(default) and default != 0:
            return f"0 is accepted but unusual: the default is {_g(default)}."
        if self.warn_below is not None and value < self.warn_below:
            return (f"{_g(value)} is accepted but unusually low (warning below "
                    f"{_g(self.warn_below)}; the default is {_g(default)}).")
        if self.warn_above is not None and value > self.warn_above:
            return (f"{_g(value)} is accepted but unusually high (warning above "
                    f"{_g(self.warn_above)}; the default is {_g(default)}).")
        return None


def range_warnings(
    values: Mapping[str, Any], ranges: Mapping[str, FieldRange], defaults: Mapping[str, Any]
) -> list[dict[str, str]]:
    """``{field, message}`` per leaf of a valid proposal that is unusual (6.14)."""
    flat, base = leaves(values), leaves(defaults)
    found = []
    for path, field_range in ranges.items():
        value = flat.get(path)
        if is_number(value):
            message = field_range.warning(value, base.get(path))
            if message:
                found.append({"field": path, "message": message})
    return found


@dataclass(frozen=True)
class Upgrade:
    """A stored version's values brought to this release's fields (``upgrade_values``)."""

    values: dict[str, Any]
    added: tuple[str, ...]  # dotted paths missing from the stored values: file default
    dropped: tuple[str, ...]  # dotted paths that are no longer settings: dropped

    @property
    def changed(self) -> bool:
        return bool(self.added or self.dropped)

    def note(self) -> str | None:
        """The upgrade note an administrator reads (field names, never values)."""
        if not self.changed:
            return None
        parts = []
        if self.added:
            parts.append(
                "took the thresholds file's value for " + ", ".join(self.added)
                + " (not a setting when this version was stored)"
            )
        if self.dropped:
            parts.append("dropped " + "; ".join(
                f"{path} ({REMOVED_FIELDS.get(path, 'no longer a setting')})"
                for path in self.dropped
            ))
        return "Upgraded to this release's thresholds: " + "; ".join(parts) + "."

    def as_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "dropped": list(self.dropped), "note": self.note()}


def upgrade_values(stored: Mapping[str, Any], defaults: Mapping[str, Any]) -> Upgrade:
    """The upgrade rule for stored versions (docs/administration.md).

    A field (at any depth) the stored values lack takes its value in ``defaults`` (the
    thresholds file in force); a stored field that is not in ``defaults`` is dropped. Both
    are listed. Every later release that adds or removes a threshold relies on this.
    """
    added: list[str] = []
    dropped: list[str] = []

    def walk(have: Mapping[str, Any], want: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, default in want.items():
            if key not in have:
                out[key] = _copy(default)
                added.append(prefix + key)
            elif isinstance(default, Mapping) and isinstance(have[key], Mapping):
                out[key] = walk(have[key], default, f"{prefix}{key}.")
            else:
                out[key] = have[key]
        dropped.extend(prefix + key for key in have if key not in want)
        return out

    values = walk(stored, defaults, "")
    return Upgrade(values=values, added=tuple(added), dropped=tuple(dropped))


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
