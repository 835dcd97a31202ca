"""docs/architecture.md stays true, and the import contracts catch a leak by name."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"


def _named_paths() -> set[str]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    return {
        path.rstrip("/")
        for path in re.findall(r"`((?:service|cards|fhir_fixtures|tests)/[\w./-]*)`", text)
        if "<" not in path
    }


def test_every_path_the_architecture_names_exists() -> None:
    paths = _named_paths()
    # The places the issue asks the map to name.
    for required in (
        "service/pipeline/rules",  # the patient-view rules
        "service/thresholds/admin.py",  # the thresholds administration
        "service/fhir",  # the FHIR fallback
        "service/pipeline/card_builder.py",  # card building
        "service/pipeline/ports.py",  # the storage port
    ):
        assert required in paths, f"docs/architecture.md does not name {required}"
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_service_keeps_at_most_five_top_level_modules() -> None:
    modules = sorted(p.name for p in (REPO / "service").glob("*.py"))
    assert len(modules) <= 5, modules


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    return subprocess.run(
        command,
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration  # lint-imports in a subprocess
def test_the_import_contracts_hold() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


@pytest.mark.integration  # lint-imports in a subprocess
def test_a_flask_import_in_a_rule_breaks_the_contracts_by_name(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "service", tree / "service", ignore=skip)
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    rule = tree / "service" / "pipeline" / "rules" / "ladder.py"
    rule.write_text(rule.read_text(encoding="utf-8") + "\nimport flask  # a leak\n")

    done = _lint_imports(tree)

    assert done.returncode != 0
    assert "The hook core, the CDS Hooks model and the knowledge and thresholds models do no" in (
        done.stdout
    )
    assert "BROKEN" in done.stdout
    assert "service.pipeline.rules.ladder -> flask" in done.stdout
