from __future__ import annotations

import pytest

from service import create_app, settings
from tests.support.paths import ROOT


def test_configuration_reference_is_current() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == settings.reference_markdown(), (
        "docs/configuration.md is stale: python -m service.settings > docs/configuration.md"
    )


def test_every_setting_has_an_environment_variable_and_a_doc() -> None:
    for setting in settings.all_settings():
        assert setting.env.startswith("MCAS_") and setting.doc


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_MAX_CONTENT_LENGTH", "2048")
    assert create_app().config["MAX_CONTENT_LENGTH"] == 2048


def test_unparseable_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_MAX_CONTENT_LENGTH", "lots")
    with pytest.raises(settings.SettingError, match="MCAS_MAX_CONTENT_LENGTH"):
        create_app()
