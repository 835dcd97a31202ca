"""PLACEHOLDER (being replaced by the clinical-core work): loads cards/ data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .discovery import prefetch_templates


def bundled_cards_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "cards"
    return installed if installed.is_dir() else here.parent / "cards"


@dataclass(frozen=True)
class Knowledge:
    prefetch_templates: dict[str, str]


def load_knowledge(cards_dir: Path) -> Knowledge:
    mediators = yaml.safe_load((cards_dir / "mediators.yaml").read_text(encoding="utf-8"))
    loincs = [code for analyte in mediators["analytes"].values() for code in analyte["loinc"]]
    return Knowledge(prefetch_templates=prefetch_templates(loincs, mediators["loinc_system"]))
