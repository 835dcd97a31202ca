"""The thresholds YAML files, read at start-up: the values (default
``cards/thresholds.yaml``) and the clinical ranges of ``cards/thresholds_meta.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from service.config_files import bundled_cards_dir, read_yaml
from service.thresholds.model import FieldRange, Thresholds, ThresholdsError
from service.thresholds.schema import ranges_from_meta, thresholds_from_mapping

META_FILE = "thresholds_meta.yaml"


def load_ranges(cards_dir: Path | None = None) -> dict[str, FieldRange]:
    """The clinical range of every field, from ``thresholds_meta.yaml`` of ``cards_dir``
    (default: the bundled cards/)."""
    path = (cards_dir or bundled_cards_dir()) / META_FILE
    origin = f"thresholds metadata {path}"
    return ranges_from_meta(read_yaml(path, origin, ThresholdsError), origin=origin)


def load_thresholds(path: Path, ranges: Mapping[str, FieldRange] | None = None) -> Thresholds:
    """The thresholds file, validated against ``ranges`` (default: the bundled ones)."""
    origin = f"thresholds file {path}"
    raw = read_yaml(path, origin, ThresholdsError)
    return thresholds_from_mapping(
        raw, ranges=load_ranges() if ranges is None else ranges, origin=origin
    )
