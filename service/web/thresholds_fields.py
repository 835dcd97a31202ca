"""The thresholds' fields (meaning, unit) as the administrator API and page show them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import current_app

from service.knowledge.loader import bundled_cards_dir
from service.thresholds.fields import FieldInfo, field_infos


@cache
def _fields(cards_dir: str) -> list[FieldInfo]:
    return field_infos(Path(cards_dir))


def fields_info() -> list[FieldInfo]:
    return _fields(str(current_app.config.get("CARDS_DIR") or bundled_cards_dir()))
