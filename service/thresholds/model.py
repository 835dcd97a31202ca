"""Administrator thresholds: every ``name = default`` of the clinical rules, as a frozen value.

The rules read only this module. Validation lives in ``service/thresholds/schema.py``
(``thresholds_from_mapping``) and the YAML file is read by ``service/thresholds/files.py``.
The defaults are in ``cards/thresholds.yaml``; their meaning, unit and clinical range in
``cards/thresholds_meta.yaml`` (docs/clinical-rules.md §6.14).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    cards_enabled: Mapping[str, bool]
    # Which thresholds made a card: "sha256:" + 12 hex digits of the canonical values;
    # "v<n>.sha256:..." when stored version n is in force (docs/administration.md).
    version: str

    def enabled(self, topic: str) -> bool:
        return self.cards_enabled.get(topic, False)


def canonical_version(values: Mapping[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=float)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
