"""Where things are: the repository root and the recorded CDS Hooks Sandbox traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_DIR = ROOT / "tests" / "real_clients" / "cds-hooks-sandbox"


def load_recording(name: str) -> Any:
    return json.loads((SANDBOX_DIR / name).read_text(encoding="utf-8"))
