"""Reading codes from raw FHIR JSON: systems (URI or OID form) and normalised codes.

These run on the raw dicts, before any model validation, so they never trust the shape:
anything that is not the expected JSON type is simply not a match, and nothing raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from service.knowledge.model import Knowledge, normalise_icd10


def items(value: Any) -> list[Any]:
    """The entries of a JSON array; [] for anything that is not one."""
    return value if isinstance(value, list) else []


def codings(concept: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(concept, dict):
        return
    for coding in items(concept.get("coding")):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            yield coding


def codes_in(concept: Any, system: str, knowledge: Knowledge) -> list[str]:
    """The codes of `concept` under code system `system` (its URI or an OID form).

    The same test as ``codings`` written as one loop: it runs for every resource of the
    record, thousands per call, before anything is filtered out.
    """
    if not isinstance(concept, dict):
        return []
    coding_list = concept.get("coding")
    if not isinstance(coding_list, list):
        return []
    accepted = knowledge.systems.get(system, frozenset())
    found: list[str] = []
    for coding in coding_list:
        if isinstance(coding, dict):
            code = coding.get("code")
            where = coding.get("system")
            if isinstance(code, str) and isinstance(where, str) and where in accepted:
                found.append(code.strip())
    return found


def words_of(concept: Any) -> list[str]:
    """The human-readable parts of a CodeableConcept: its text and coding displays."""
    if not isinstance(concept, dict):
        return []
    found = [concept["text"]] if isinstance(concept.get("text"), str) else []
    for coding in items(concept.get("coding")):
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            found.append(coding["display"])
    return found


def status_codes(concept: Any) -> set[str]:
    return {c["code"].strip().lower() for c in codings(concept)}


def concept_shape_ok(concept: Any) -> bool:
    """A cheap test of a CodeableConcept's JSON shape (before any model validation).

    Used to tell an unreadable code (counted and left out) from a readable code the rules
    do not use (ignored), without validating every resource of a large record.
    """
    if concept is None:
        return True
    if not isinstance(concept, dict):
        return False
    coding_list = concept.get("coding")
    if coding_list is not None:
        if not isinstance(coding_list, list):
            return False
        for coding in coding_list:
            if not isinstance(coding, dict):
                return False
            for key in ("system", "code", "display"):
                if key in coding and not isinstance(coding[key], str):
                    return False
    text = concept.get("text")
    return text is None or isinstance(text, str)


def scan(concept: Any, knowledge: Knowledge) -> dict[str, list[str]] | None:
    """The codes of a CodeableConcept by code system name, read in one pass; None when its
    JSON shape is broken (then its code is unreadable).

    Only the systems of cards/codes.yaml are kept. This runs for every resource of a record,
    so it checks the shape and collects the codes together.
    """
    if concept is None:
        return {}
    if not isinstance(concept, dict):
        return None
    found: dict[str, list[str]] = {}
    coding_list = concept.get("coding")
    if coding_list is not None:
        if not isinstance(coding_list, list):
            return None
        names = knowledge.system_names
        for coding in coding_list:
            if not isinstance(coding, dict):
                return None
            code, where, display = coding.get("code"), coding.get("system"), coding.get("display")
            if not (_text(code) and _text(where) and _text(display)):
                return None
            if code is not None and where is not None:
                name = names.get(where)
                if name is not None:
                    found.setdefault(name, []).append(code.strip())
    return found if _text(concept.get("text")) else None


def _text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def condition_sets(concept: Any, knowledge: Knowledge) -> dict[str, str]:
    """{code set name: the matching code as sent} for a Condition.code (read leniently: the
    codings that can be read, even when others cannot)."""
    icd = codes_in(concept, "icd10cm", knowledge)
    snomed = codes_in(concept, "snomed", knowledge)
    return sets_of(icd, snomed, knowledge)


def sets_of(icd_codes: list[str], snomed: list[str], knowledge: Knowledge) -> dict[str, str]:
    """{code set name: the matching code as sent} for these ICD-10-CM and SNOMED CT codes.

    Per set, the first ICD-10-CM code that is in it (exactly or by family), else the first
    SNOMED CT code; the sets in the knowledge's order. Each code is looked up once in an
    index of all the sets (``_index``), not tested set by set: this runs for every
    Condition of a record (issue 18).
    """
    if not icd_codes and not snomed:
        return {}
    index = _index(knowledge)
    found: dict[str, str] = {}
    for sent in icd_codes:
        normalised = normalise_icd10(sent)
        for name in index.icd10_exact.get(normalised, ()):
            found.setdefault(name, sent)
        for length in index.prefix_lengths:
            for name in index.icd10_prefix.get(normalised[:length], ()):
                found.setdefault(name, sent)
    for code in snomed:
        for name in index.snomed.get(code, ()):
            found.setdefault(name, code)
    if len(found) < 2:
        return found
    return {name: found[name] for name in knowledge.condition_sets if name in found}


@dataclass(frozen=True)
class _SetIndex:
    """Code -> the names of the condition sets holding it, for every set at once."""

    icd10_exact: dict[str, tuple[str, ...]]
    icd10_prefix: dict[str, tuple[str, ...]]
    prefix_lengths: tuple[int, ...]
    snomed: dict[str, tuple[str, ...]]


# Built once per Knowledge (one per app); bounded, as tests make many apps.
_INDEXES: dict[int, tuple[Knowledge, _SetIndex]] = {}
_MAX_INDEXES = 8


def _index(knowledge: Knowledge) -> _SetIndex:
    cached = _INDEXES.get(id(knowledge))
    if cached is not None and cached[0] is knowledge:
        return cached[1]
    exact: dict[str, list[str]] = {}
    prefix: dict[str, list[str]] = {}
    snomed: dict[str, list[str]] = {}
    for name, code_set in knowledge.condition_sets.items():
        for code in code_set.icd10_exact:
            exact.setdefault(code, []).append(name)
        for start in code_set.icd10_prefix:
            prefix.setdefault(start, []).append(name)
        for code in code_set.snomed:
            snomed.setdefault(code, []).append(name)
    index = _SetIndex(
        icd10_exact={k: tuple(v) for k, v in exact.items()},
        icd10_prefix={k: tuple(v) for k, v in prefix.items()},
        prefix_lengths=tuple(sorted({len(k) for k in prefix})),
        snomed={k: tuple(v) for k, v in snomed.items()},
    )
    if len(_INDEXES) >= _MAX_INDEXES:
        _INDEXES.clear()
    _INDEXES[id(knowledge)] = (knowledge, index)
    return index


def indication_of(concept: Any, knowledge: Knowledge) -> str | None:
    """The display of the other indication of a biologic that ``concept`` codes, if any."""
    icd = [normalise_icd10(c) for c in codes_in(concept, "icd10cm", knowledge)]
    snomed = codes_in(concept, "snomed", knowledge)
    for indication in knowledge.indications.values():
        if any(indication.codes.has_icd10(c) for c in icd) or any(
            c in indication.codes.snomed for c in snomed
        ):
            return indication.display
    return None


def seventh_character(icd_code: str) -> str | None:
    normalised = normalise_icd10(icd_code)
    return normalised[6] if len(normalised) >= 7 else None
