"""The command, its schemas and the fixtures ship with the package (an integration team
may install it without the repository)."""

from __future__ import annotations

import tomllib

from tests.support.paths import ROOT


def test_console_script_schemas_and_fixtures_are_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["scripts"]["mcas-cds"] == "service.cli:main"
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"]["service.fhir_fixtures"] == "fhir_fixtures"
    assert "*.json" in setuptools["package-data"]["service.fhir_fixtures"]
    assert "*.json" in setuptools["package-data"]["service.cdshooks.schemas"]
    assert {"service.cli", "service.cdshooks.schemas", "service.fhir_fixtures"} <= set(
        setuptools["packages"]
    )
