"""The timeline tests' launch rig, one per test module (tests/support/timeline_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.timeline_rig import Rig, launch_rig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with launch_rig(Path(tmp_path_factory.mktemp("timeline-rig"))) as started:
        yield started
