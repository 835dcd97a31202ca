"""A site's overlay over the bundled ``cards/`` (``MCAS_CARDS_OVERLAY``).

A site adds what its EHR needs (product codes, trigger drugs, its referral code, a checked
dose-form coding) in one or more small YAML files instead of copying the whole folder, so
the next release's cards still arrive. Each top-level key of an overlay file names a file
of ``cards/`` by its stem (``drugs:`` extends ``drugs.yaml``) and holds part of that file:

- a mapping merges key by key, recursively (new keys are added);
- a list appends the overlay's items, leaving out items equal to one already there;
- a scalar (text, number, true/false) replaces the bundled one;
- ``!override`` before a mapping or a list replaces the bundled value whole instead of
  merging (the only way to drop an entry: give the full list you want);
- nothing is ever removed otherwise, and an empty value (``key:`` with nothing after it)
  over a mapping or a list is refused rather than read as "remove everything".

Later overlay files apply over earlier ones. The merged file is then validated by the same
schema as the bundled one (service/knowledge/schemas.py), so an overlay cannot make
``cards/`` say what the service would refuse; every message names the overlay file.
``thresholds.yaml`` and ``thresholds_meta.yaml`` are not overlaid: thresholds have their
own file setting and the administration page (docs/administration.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from service.config_files import read_yaml
from service.knowledge.model import KnowledgeError

OVERRIDE_TAG = "!override"
# Files of cards/ an overlay may not extend, and where their values are changed instead.
NOT_OVERLAID: Mapping[str, str] = {
    "thresholds": "thresholds are set with MCAS_THRESHOLDS_FILE or on the administration page",
    "thresholds_meta": "the clinical ranges of thresholds come with the release "
    "(or from your own MCAS_CARDS_DIR)",
}


@dataclass(frozen=True)
class Override:
    """A value written with ``!override``: it replaces the bundled value instead of merging."""

    value: Any


class _OverlayLoader(yaml.SafeLoader):
    """The safe loader plus the ``!override`` tag."""


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    raise yaml.constructor.ConstructorError(
        None, None, f"{OVERRIDE_TAG} goes before a mapping or a list (a plain value "
        "replaces the bundled one by itself)", node.start_mark)


_OverlayLoader.add_constructor(OVERRIDE_TAG, _construct_override)


@dataclass(frozen=True)
class OverlayFile:
    path: Path
    sections: Mapping[str, Any]  # file stem -> the part of that file


def overlay_paths(setting: str | Iterable[str | Path] | None) -> tuple[Path, ...]:
    """The overlay files of the ``CARDS_OVERLAY`` setting: comma-separated text or a list."""
    if not setting:
        return ()
    parts = setting.split(",") if isinstance(setting, str) else setting
    return tuple(Path(str(part).strip()) for part in parts if str(part).strip())


def overlaid_files(cards_dir: Path) -> list[str]:
    """The stems of the files of ``cards_dir`` an overlay may extend."""
    return sorted(p.stem for p in cards_dir.glob("*.yaml") if p.stem not in NOT_OVERLAID)


def read_overlay(path: Path, cards_dir: Path) -> OverlayFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"cards overlay {path}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_OverlayLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f": {problem}" if problem else ""
        raise KnowledgeError(f"cards overlay {path}: not valid YAML{line}{detail}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise KnowledgeError(
            f"cards overlay {path}: must hold a mapping whose keys name files of cards/")
    known = overlaid_files(cards_dir)
    for key, section in data.items():
        if key in NOT_OVERLAID:
            raise KnowledgeError(
                f"cards overlay {path}: section '{key}' cannot be overlaid: {NOT_OVERLAID[key]}")
        if key not in known:
            raise KnowledgeError(
                f"cards overlay {path}: unknown section '{key}'; a section is named after "
                f"the file of cards/ it extends: {', '.join(known)}")
        if not isinstance(section, Mapping):
            raise KnowledgeError(
                f"cards overlay {path}: section '{key}' must be a mapping (part of {key}.yaml)")
    return OverlayFile(path, dict(data))


def merge(base: Any, overlay: Any, where: str) -> Any:
    """``overlay`` merged over ``base`` (the rules of this module's docstring).

    ``where`` is the overlay file and the path reached, for messages.
    """
    if isinstance(overlay, Override) or base is None:
        return _plain(overlay)
    if isinstance(base, Mapping):
        if not isinstance(overlay, Mapping):
            raise KnowledgeError(
                f"{where}: the bundled value is a mapping; the overlay gives "
                f"{_kind(overlay)} (merge entries into it, or write {OVERRIDE_TAG} to replace it)")
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = (
                merge(base[key], value, f"{where}.{key}") if key in base else _plain(value))
        return merged
    if isinstance(base, list):
        if not isinstance(overlay, list):
            raise KnowledgeError(
                f"{where}: the bundled value is a list; the overlay gives {_kind(overlay)} "
                f"(list the items to add, or write {OVERRIDE_TAG} to replace it)")
        appended = list(base)
        for item in (_plain(i) for i in overlay):
            if item not in appended:
                appended.append(item)
        return appended
    if isinstance(overlay, Mapping | list):
        raise KnowledgeError(
            f"{where}: the bundled value is {_kind(base)}; the overlay gives {_kind(overlay)}")
    return overlay


def _plain(value: Any) -> Any:
    """``value`` with any ``!override`` inside it unwrapped (a new entry has nothing to merge)."""
    if isinstance(value, Override):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"the value {value!r}"


class CardsFiles:
    """The files of ``cards/`` as the service reads them: each with the overlays merged in.

    Every file of ``cards/`` is read through ``read`` (service/knowledge/loader.py), so an
    overlay section reaches any file, including one a later release adds; ``check_used``
    refuses an overlay section for a file nothing read.
    """

    def __init__(self, directory: Path, overlays: Sequence[Path] = ()) -> None:
        self.directory = directory
        self.overlays = tuple(read_overlay(path, directory) for path in overlays)
        self._used: set[str] = set()

    def read(self, name: str) -> tuple[Any, str]:
        """The file's data with the overlays merged over it, and its origin for messages."""
        path = self.directory / name
        data = read_yaml(path, str(path), KnowledgeError)
        stem = Path(name).stem
        self._used.add(stem)
        applied: list[str] = []
        for overlay in self.overlays:
            if stem not in overlay.sections:
                continue
            where = f"cards overlay {overlay.path}: {stem}"
            data = merge({} if data is None else data, overlay.sections[stem], where)
            applied.append(str(overlay.path))
        if not applied:
            return data, str(path)
        return data, f"{path} with the cards overlay {', '.join(applied)} (section '{stem}')"

    def check_used(self) -> None:
        for overlay in self.overlays:
            for stem in overlay.sections:
                if stem not in self._used:
                    raise KnowledgeError(
                        f"cards overlay {overlay.path}: section '{stem}' extends {stem}.yaml, "
                        "which the service does not read with the cards loader")
