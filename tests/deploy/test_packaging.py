"""The installed package must carry every sub-package and the clinical data of cards/."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.fhir_builders import REPO


def test_every_service_subpackage_is_listed_for_installation() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "service").rglob("__init__.py")
    }
    assert found <= listed, f"not installed: {sorted(found - listed)}"
    assert "service.cards" in listed
    assert {"*.yaml", "*.md"} <= set(config["tool"]["setuptools"]["package-data"]["service.cards"])


def test_rules_and_facts_stay_free_of_flask_and_io() -> None:
    for folder in ("pipeline/rules", "pipeline/facts"):
        for module in (REPO / "service" / folder).glob("*.py"):
            source = module.read_text(encoding="utf-8")
            for forbidden in ("flask", "requests", "open(", "current_app"):
                assert forbidden not in source, f"{module.name} uses {forbidden}"


def test_the_administrator_page_ships_its_template_and_assets() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["service.web"]
    for pattern in patterns:
        assert list((REPO / "service" / "web").glob(pattern)), pattern
    assert {"templates/*.html", "static/*.js", "static/*.css"} <= set(patterns)


@pytest.mark.integration
def test_the_built_wheel_carries_templates_cards_fixtures_schemas_and_migrations(
    tmp_path: Path,
) -> None:
    # Build the wheel as an installer would, then look inside: the package moves of the
    # architecture must not leave data files behind.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("mcas_cds-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "service/web/templates/admin.html",
        "service/web/static/admin.js",
        "service/cards/cards.yaml",
        "service/cards/thresholds.yaml",
        "service/fhir_fixtures/README.md",
        "service/cdshooks/schemas/cds-hooks-2.0-response.schema.json",
        "service/storage/migrations/script.py.mako",
        "service/storage/migrations/versions/0001_issued_cards_and_feedback.py",
        "service/scenarios/__main__.py",
        "service/ops/probe.py",
        # the timeline app (docs/timeline.md): its package, pages, stylesheet, migration
        "service/timeline/picture.py",
        "service/web/templates/timeline.html",
        "service/web/static/timeline.css",
        "service/storage/migrations/versions/0004_timeline_sessions.py",
        # snoozes (issue 14): the decisive facts of each topic, the migration
        "service/cards/snooze.yaml",
        "service/storage/migrations/versions/0005_snooze_and_test_traffic.py",
        # cards drawn as HTML (preview, gallery) and their stylesheet (issue 14)
        "service/cards_html/render.py",
        "service/cards_html/static/cards.css",
        "service/gallery/__main__.py",
        "service/knowledge/overlay.py",
    ):
        assert expected in names, expected
    assert any(n.startswith("service/fhir_fixtures/") and n.endswith(".json") for n in names)
