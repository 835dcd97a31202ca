"""A copy of the bundled cards/ folder to edit, for tests of what the loader refuses."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from service.knowledge.loader import bundled_cards_dir


def copy_cards(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(bundled_cards_dir(), target)
    return target


def edit(path: Path, change: Callable[[Any], object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
