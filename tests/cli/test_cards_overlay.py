"""`mcas-cds fixtures validate` reads the cards with the site overlay, as the service does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from service.scenarios.fixtures import FIXTURES_DIR

Run = Callable[..., tuple[int, str, str]]
FIXTURE = FIXTURES_DIR / "epinephrine-autoinjector--does-not-fire--product-code.json"


def test_a_bad_overlay_is_named_and_a_good_one_is_used(run_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("drug:\n  x: 1\n", encoding="utf-8")
    code, _, err = run_cli("fixtures", "validate", str(FIXTURE), "--cards-overlay", str(bad))
    assert code == 2 and f"cards overlay {bad}: unknown section 'drug'" in err

    good = tmp_path / "good.yaml"
    good.write_text("mediators:\n  analytes: {}\n", encoding="utf-8")
    code, out, _ = run_cli("fixtures", "validate", str(FIXTURE), "--cards-overlay", str(good))
    assert code == 0 and "1 of 1 fixtures valid" in out


def test_the_overlay_comes_from_the_environment_by_default(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("codes:\n  systems:\n    icd10cm:\n      url: x\n", encoding="utf-8")
    monkeypatch.setenv("MCAS_CARDS_OVERLAY", str(bad))
    code, _, err = run_cli("fixtures", "validate", str(FIXTURE))
    assert code == 2 and "systems.icd10cm.url: Unknown field" in err
