"""The clinical knowledge of ``cards/`` as frozen values (read by service/knowledge/loader.py).

``cards/`` is data a clinician can read and edit: code systems and condition code sets
(codes.yaml), the drug table (drugs.yaml), mediator tests (mediators.yaml), literature
(references.yaml) and card texts (cards.yaml). A file that does not hold together (an
unknown reference key, a drug class that may never be proposed, a missing topic) raises
``KnowledgeError`` naming the file and the field, so the service does not start on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from service.cdshooks.cards import Indicator
from service.knowledge.drug_table import DrugTable
from service.knowledge.triggers import TriggerTable, empty_trigger_table


class KnowledgeError(ValueError):
    pass


def normalise_icd10(code: str) -> str:
    return code.strip().upper().replace(".", "")


@dataclass(frozen=True)
class CodeSet:
    icd10_exact: frozenset[str]
    icd10_prefix: tuple[str, ...]
    snomed: frozenset[str]

    def has_icd10(self, normalised: str) -> bool:
        """``normalised`` (upper case, no dot) is in the set, exactly or by family."""
        return normalised in self.icd10_exact or normalised.startswith(self.icd10_prefix)


@dataclass(frozen=True)
class Indication:
    """Another indication of omalizumab or dupilumab (the card names it)."""

    key: str
    display: str
    codes: CodeSet


@dataclass(frozen=True)
class Analyte:
    key: str
    display: str
    unit: str | None
    # other spellings of ``unit`` labs send (compared exactly)
    unit_spellings: tuple[str, ...]
    # unit -> factor: a value in that unit times the factor is in ``unit``
    conversions: Mapping[str, float]
    threshold_key: str | None
    prostaglandin_marker: bool
    tryptase: bool
    interference: str = ""  # what can raise or lower it, shown beside its results

    def normalised(self, unit: str | None, value: float) -> tuple[str | None, float]:
        """(unit, value) in the expected unit when ``unit`` is a spelling or conversion of it."""
        if unit is None or self.unit is None:
            return unit, value
        if unit == self.unit or unit in self.unit_spellings:
            return self.unit, value
        if unit in self.conversions:
            return self.unit, value * self.conversions[unit]
        return unit, value


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
    # sentence key -> template (cards/sentences.yaml; keys in service/knowledge/sentences.py)
    sentences: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def sentence(self, key: str, **params: str) -> str:
        return self.sentences[key].format_map(_Blank(params))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class OrderTopicText:
    """What one order-time card says (cards/order_cards.yaml)."""

    title: str
    indicator: Indicator
    summary: str  # the words after the draft order's own words
    detail: str
    override_reasons: tuple[tuple[str, str], ...]  # (code, display), chosen per topic
    # Trigger topics take these from the trigger class (cards/triggers.yaml): "" / ().
    evidence: str = ""  # a key of OrderCardTexts.evidence_levels
    source: str = ""  # a key of Knowledge.references: the authority behind the card
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderCardTexts:
    topics: Mapping[str, OrderTopicText] = field(default_factory=lambda: MappingProxyType({}))
    # key -> (label, meaning): how strong the evidence is; every detail opens with it
    evidence_levels: Mapping[str, tuple[str, str]] = field(
        default_factory=lambda: MappingProxyType({}))
    # order-ladder's {step}: key (tier1_incomplete, no_evidence, no_omalizumab) -> words
    ladder_steps: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


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
    # other indications of omalizumab and dupilumab, in cards/codes.yaml order
    indications: Mapping[str, Indication]
    episode_seventh: frozenset[str]
    follow_up_seventh: frozenset[str]
    drugs: DrugTable
    analytes: Mapping[str, Analyte]  # LOINC code -> analyte
    references: Mapping[str, Reference]
    cards: CardTexts
    # accepted system URI (or OID form) -> code system name: one look-up per coding
    system_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The order-time services (docs/clinical-rules.md §7): the trigger table
    # (cards/triggers.yaml) and their card texts (cards/order_cards.yaml).
    triggers: TriggerTable = field(default_factory=empty_trigger_table)
    order_cards: OrderCardTexts = field(default_factory=OrderCardTexts)


