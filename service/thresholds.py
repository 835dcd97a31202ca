"""PLACEHOLDER (being replaced by the clinical-core work): thresholds YAML loading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ThresholdsError(ValueError):
    pass


@dataclass(frozen=True)
class Thresholds:
    version: str


def load_thresholds(path: Path) -> Thresholds:
    return Thresholds(version="placeholder")
