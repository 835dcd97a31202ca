"""The clinical knowledge of ``cards/`` as frozen values (read by service/knowledge/loader.py).

``cards/`` is data a clinician can read and edit: code systems and condition code sets
(codes.yaml), the drug table (drugs.yaml), mediator tests (mediators.yaml), literature
(references.yaml) and card texts (cards.yaml). A file that does not hold together (an
unknown reference key, a drug class that may never be proposed, a missing topic) raises
``KnowledgeError`` naming the file and the field, so the service does not start on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.cdshooks.cards import Indicator
from service.knowledge.drug_table import DrugTable


class KnowledgeError(ValueError):
    pass


def normalise_icd10(code: str) -> str:
    return code.strip().upper().replace(".", "")


@dataclass(frozen=True)
class CodeSet:
    icd10_exact: frozenset[str]
    icd10_prefix: tuple[str, ...]
    snomed: frozenset[str]


@dataclass(frozen=True)
class Analyte:
    key: str
    display: str
    unit: str | None
    unit_synonyms: tuple[str, ...]
    threshold_key: str | None
    prostaglandin_marker: bool
    tryptase: bool


@dataclass(frozen=True)
class Reference:
    key: str
    label: str
    url: str
    citation: str
    verified: bool


@dataclass(frozen=True)
class TopicText:
    title: str
    indicator: Indicator
    summary: str
    detail: str
    links: tuple[str, ...]
    suggestions: tuple[str, ...]


@dataclass(frozen=True)
class CardTexts:
    topic_system: str
    override_reason_system: str
    override_reasons: tuple[tuple[str, str], ...]  # (code, display)
    source_label: str
    source_url: str
    reminder: str
    topics: Mapping[str, TopicText]


@dataclass(frozen=True)
class Knowledge:
    # The LOINC codes of every mediator test the rules read, in cards/ order: the
    # patient-view prefetch asks for exactly these (service/knowledge/prefetch.py).
    mediator_loincs: tuple[str, ...]
    loinc_system: str
    # code system name (icd10cm, snomed, loinc, rxnorm) -> accepted system URIs (URI + OIDs)
    systems: Mapping[str, frozenset[str]]
    system_uris: Mapping[str, str]  # code system name -> its canonical URI
    condition_sets: Mapping[str, CodeSet]
    episode_seventh: frozenset[str]
    follow_up_seventh: frozenset[str]
    drugs: DrugTable
    analytes: Mapping[str, Analyte]  # LOINC code -> analyte
    references: Mapping[str, Reference]
    cards: CardTexts


