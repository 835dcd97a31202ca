"""The installed package must carry every sub-package and the clinical data of cards/."""

from __future__ import annotations

import tomllib

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
