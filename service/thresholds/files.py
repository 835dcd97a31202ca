"""The thresholds YAML file (default ``cards/thresholds.yaml``), read at start-up."""

from __future__ import annotations

from pathlib import Path

from service.config_files import read_yaml
from service.thresholds.model import Thresholds, ThresholdsError
from service.thresholds.schema import thresholds_from_mapping


def load_thresholds(path: Path) -> Thresholds:
    origin = f"thresholds file {path}"
    raw = read_yaml(path, origin, ThresholdsError)
    return thresholds_from_mapping(raw, origin=origin)
