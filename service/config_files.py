"""Reading the YAML (or JSON) files loaded at start-up: cards/, thresholds, trust file.

A file that cannot be read or parsed stops start-up with a message naming the file and,
for a syntax error, the line; each loader raises its own error type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def bundled_cards_dir() -> Path:
    """The cards/ shipped with the service (installed: service/cards; a checkout: cards/)."""
    here = Path(__file__).resolve().parent  # the service package
    installed = here / "cards"
    return installed if installed.is_dir() else here.parent / "cards"


def read_yaml(path: Path, origin: str, error: type[Exception]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{origin}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{origin}: not valid YAML{line}") from None
