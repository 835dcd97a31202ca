"""Every runtime setting: its Flask config key, environment variable, default and meaning.

Order of precedence, lowest first (as in the Flask tutorial): these defaults, then
environment variables, then the mapping handed to ``create_app`` (tests).
``docs/configuration.md`` documents each one; a test keeps the two in step.

Feature modules declare their own settings next to the code that reads them and are
listed in ``_SETTING_MODULES`` so the reference stays in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "MCAS_"


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "THRESHOLDS_FILE",
        None,
        str,
        "Path of the thresholds YAML file. Default: `thresholds.yaml` of the bundled `cards/`.",
    ),
    Setting(
        "CARDS_DIR",
        None,
        str,
        "Directory holding the clinical knowledge (code sets, drug table, card texts, "
        "references). Default: the `cards/` bundled with the package.",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        32 * 1024 * 1024,
        int,
        "Largest accepted request body in bytes; larger bodies get 413. The default "
        "leaves room for a prefetch of several thousand Observations.",
    ),
    Setting("LOG_LEVEL", "INFO", str, "Python log level of the service's JSON-line logs."),
)

# Modules that declare a SETTINGS tuple of their own.
_SETTING_MODULES: tuple[str, ...] = ()


def all_settings() -> tuple[Setting, ...]:
    found: list[Setting] = list(CORE_SETTINGS)
    for name in _SETTING_MODULES:
        found.extend(importlib.import_module(name).SETTINGS)
    return tuple(found)


class SettingError(ValueError):
    """A setting's environment value cannot be parsed."""


def defaults(settings: Iterable[Setting]) -> dict[str, Any]:
    return {s.key: s.default for s in settings}


def from_environment(settings: Iterable[Setting], environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in settings:
        raw = environ.get(setting.env)
        if raw is None:
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise SettingError(f"{setting.env}: {exc}") from None
    return values
