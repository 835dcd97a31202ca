"""Administrator thresholds: every ``name = default`` of the clinical rules, as a frozen value.

The rules read only this module. Validation lives in ``service/thresholds/schema.py``
(``thresholds_from_mapping``) and the YAML file is read by ``service/thresholds/files.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANALYTES_WITH_THRESHOLD: tuple[str, ...] = (
    "n_methylhistamine", "leukotriene_e4", "dinor_11b_pgf2a", "histamine_plasma",
    "prostaglandin_d2",
)


class ThresholdsError(ValueError):
    """The thresholds file cannot be used; the message names the file, field and problem."""


@dataclass(frozen=True)
class Thresholds:
    lookback_days: int
    episode_merge_hours: float
    min_trial_days: Mapping[int, int]  # tier -> days
    min_anaphylaxis_episodes: int
    min_respiratory_events: int
    mediator_thresholds: Mapping[str, float | None]
    tryptase_acute_window_hours: float
    tryptase_factor: float
    tryptase_addend: float
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


