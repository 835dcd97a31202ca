"""The facts layer's fast paths (bench/, issue 8) answer exactly as the plain readings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.facts.codes import codes_in, codings

KNOWLEDGE = load_knowledge(bundled_cards_dir())
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _plain_codes_in(concept: Any, system: str) -> list[str]:
    accepted = KNOWLEDGE.systems.get(system, frozenset())
    return [c["code"].strip() for c in codings(concept) if c.get("system") in accepted]


@pytest.mark.parametrize(
    "concept",
    [
        None,
        "text",
        {},
        {"coding": None},
        {"coding": {"system": "http://loinc.org", "code": "21582-2"}},
        {"coding": ["x", None, 3]},
        {"coding": [{"system": "http://loinc.org", "code": " 21582-2 "},
                    {"system": "http://loinc.org", "code": 21582},
                    {"system": "urn:oid:2.16.840.1.113883.6.1", "code": "33343-5"},
                    {"system": "http://snomed.info/sct", "code": "39579001"},
                    {"code": "44340-8"}]},
        # An unhashable system is never looked at when the code is not a string.
        {"coding": [{"system": ["http://loinc.org"], "code": None}]},
    ],
)
@pytest.mark.parametrize("system", ["loinc", "snomed", "icd10cm", "rxnorm", "unknown"])
def test_codes_in_reads_as_the_plain_comprehension(concept: Any, system: str) -> None:
    assert codes_in(concept, system, KNOWLEDGE) == _plain_codes_in(concept, system)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "lisinopril 10 MG Oral Tablet",
        "norepinephrine | noradrenaline",
        "Zyrtec",
        "EPIPEN 2-PAK",
        "cetirizine / pseudoephedrine | Allegra-D",
        "montelukast sodium 10 MG",
        "pre-dupilumab visit",
        "Epinephrine auto injector | Auvi-Q",
        "prednisone | ranitidine | omalizumab",
    ],
)
def test_by_names_finds_what_the_per_drug_searches_find(text: str) -> None:
    table = KNOWLEDGE.drugs
    plain = [key for key, drug in table.drugs.items() if drug.names.search(text)]
    assert table.by_names(text) == plain


def test_by_names_finds_every_drug_by_each_of_its_names() -> None:
    table = KNOWLEDGE.drugs
    for key, drug in table.drugs.items():
        for name in drug.names.pattern.split("(?:", 1)[1].rsplit(")", 1)[0].split("|"):
            text = name.replace("[\\s-]+", " ").replace("\\", "")
            assert key in table.by_names(f"x | {text} 10 MG"), (key, text)


def _plain_sets_of(icd_codes: list[str], snomed: list[str]) -> dict[str, str]:
    """The set-by-set reading the indexed sets_of replaced (issue 18)."""
    from service.knowledge.model import normalise_icd10

    icd = [(normalise_icd10(c), c) for c in icd_codes]
    found: dict[str, str] = {}
    for name, code_set in KNOWLEDGE.condition_sets.items():
        for normalised, sent in icd:
            if code_set.has_icd10(normalised):
                found.setdefault(name, sent)
        for code in snomed:
            if code in code_set.snomed:
                found.setdefault(name, code)
    return found


def _known_codes() -> tuple[list[str], list[str]]:
    icd: list[str] = []
    snomed: list[str] = []
    for code_set in KNOWLEDGE.condition_sets.values():
        icd += sorted(code_set.icd10_exact) + [p + "9" for p in code_set.icd10_prefix]
        icd += list(code_set.icd10_prefix)
        snomed += sorted(code_set.snomed)
    return icd, snomed


_ICD, _SNOMED = _known_codes()


@settings(max_examples=400, derandomize=True)
@given(
    icd=st.lists(st.one_of(st.sampled_from(_ICD), st.sampled_from(["J45.909", "e11.9", " d89.42 ",
                                                                  "T78.2", "", "Z"])),
                 max_size=6),
    snomed=st.lists(st.one_of(st.sampled_from(_SNOMED or ["1"]), st.just("404684003")),
                    max_size=4),
)
def test_sets_of_reads_as_set_by_set(icd: list[str], snomed: list[str]) -> None:
    from service.pipeline.facts.codes import sets_of

    got = sets_of(icd, snomed, KNOWLEDGE)
    expected = _plain_sets_of(icd, snomed)
    assert got == expected
    assert list(got) == list(expected)  # the sets in the knowledge's order
