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
    unit_display: str = ""  # ``unit`` as cards write it ("mcg/g creatinine")

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
    authority: str = ""  # the short name cards show as ``source.label``


@dataclass(frozen=True)
class TopicText:
    title: str
    indicator: Indicator
    summary: str
    detail: str
    links: tuple[str, ...]
    suggestions: tuple[str, ...]
    evidence: str = "consensus"  # a key of CardTexts.evidence_levels
    source: str = ""  # a key of Knowledge.references: the authority behind the card
    override_reasons: tuple[str, ...] = ()  # codes of CardTexts.override_reasons
    drafts: tuple[str, ...] = ()  # "referral", "mediator_tests", "ranitidine_switch"
    fold_text: str = ""  # shown instead of ``detail`` when folded into the ladder card
    covers: tuple[str, ...] = ()  # folded topics this card's own text already says


@dataclass(frozen=True)
class OverrideReasonText:
    display: str
    needs_proposal: bool = False  # only on a card that proposes something


@dataclass(frozen=True)
class EvidenceLevel:
    label: str  # "consensus", "case series", "single case report"
    meaning: str


@dataclass(frozen=True)
class MediatorTest:
    loinc: str
    display: str
    timing: str  # the draft's note
    patient_instruction: str


@dataclass(frozen=True)
class Drafts:
    """The draft orders of cards/drafts.yaml (besides the drugs of drugs.yaml)."""

    medication_label: str = "Draft order: {drug} (no dose)"
    medication_description: str = "Propose {text} as a draft order without a dose."
    referral_label: str = "Draft referral to allergy and immunology"
    referral_text: str = "Referral to allergy and immunology"
    # a site's own code for the referral: (system, code, display)
    referral_coding: tuple[tuple[str, str, str], ...] = ()
    referral_reason: str = ""
    mediator_label: str = "Draft mediator tests for the next attack"
    mediator_tests: tuple[MediatorTest, ...] = ()
    switch_label: str = "Stop ranitidine and draft {drug} (no dose)"
    switch_stop_description: str = "Set the ranitidine order {reference} to stopped."


@dataclass(frozen=True)
class CardTexts:
    topic_system: str
    override_reason_system: str
    override_reasons: Mapping[str, OverrideReasonText]  # code -> text, in file order
    reminder: str
    topics: Mapping[str, TopicText]
    # sentence key -> template (cards/sentences.yaml; keys in service/knowledge/sentences.py)
    sentences: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    evidence_levels: Mapping[str, EvidenceLevel] = field(
        default_factory=lambda: MappingProxyType({}))
    drafts: Drafts = field(default_factory=Drafts)
    # the service's own source, for a card whose topic names none (cards.yaml ``source``)
    source_label: str = ""
    source_url: str = ""

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
class DecisiveFacts:
    """The facts behind a topic's card whose records make up its snooze fingerprint
    (cards/snooze.yaml, docs/clinical-rules.md §8): a changed record among them shows the
    card again."""

    events: frozenset[str] = frozenset()  # Event kinds
    diagnoses: frozenset[str] = frozenset()  # Diagnosis kinds
    # every record, administration and dispense of these drug classes, whatever its status
    therapy_classes: frozenset[str] = frozenset()
    active_therapies: bool = False  # every active therapy, of any class
    results: frozenset[str] = frozenset()  # analyte keys of mediators.yaml


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
    # topic -> the facts its snooze fingerprint is made of (cards/snooze.yaml)
    snooze: Mapping[str, DecisiveFacts] = field(default_factory=lambda: MappingProxyType({}))
    # UCUM unit -> how cards write it for clinicians ("ug/g{creat}" -> "mcg/g creatinine")
    unit_displays: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


