"""Reading ``cards/`` into ``Knowledge``, checked once at start-up.

Each file is read as YAML, loaded by its marshmallow schema (service/knowledge/schemas.py:
shape, types, enumerations, cross-references) and only then built into the frozen model
(service/knowledge/model.py). A file that does not hold together (an unknown key or
reference, a drug class that may never be proposed, a missing topic) raises
``KnowledgeError`` naming the file and the field, so the service does not start on it.
The pure core never imports this module: it receives the ``Knowledge`` value built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from marshmallow import Schema

# bundled_cards_dir: imported from here by the app factory, the web layer and the CLI.
from service.config_files import bundled_cards_dir as bundled_cards_dir
from service.knowledge.drug_table import build_drug_table
from service.knowledge.model import (
    Analyte,
    CardTexts,
    CodeSet,
    DecisiveFacts,
    Drafts,
    EvidenceLevel,
    Indication,
    Knowledge,
    KnowledgeError,
    MediatorTest,
    OrderCardTexts,
    OrderTopicText,
    OverrideReasonText,
    Reference,
    TopicText,
    normalise_icd10,
)
from service.knowledge.overlay import CardsFiles
from service.knowledge.schemas import (
    CodesSchema,
    DrugsSchema,
    MediatorsSchema,
    ReferencesSchema,
    SentencesSchema,
    cards_schema,
    drafts_schema,
    load_file,
    order_cards_schema,
    snooze_schema,
    triggers_schema,
)
from service.knowledge.topics import ORDER_TOPICS, TOPICS
from service.knowledge.triggers import build_trigger_table


def _read(files: CardsFiles, name: str, schema: Schema) -> dict[str, Any]:
    """One file of ``cards/``, site overlays merged in, loaded by its schema."""
    data, origin = files.read(name)
    if not isinstance(data, Mapping):
        raise KnowledgeError(f"{origin}: must hold a mapping")
    return load_file(schema, data, origin)


def _code_set(spec: Mapping[str, Any]) -> CodeSet:
    """A code set; codes listed under ``unverified`` (status U) are kept out of matching."""
    icd = spec.get("icd10cm") or {}
    return CodeSet(
        icd10_exact=frozenset(normalise_icd10(c) for c in icd.get("exact") or ()),
        icd10_prefix=tuple(normalise_icd10(c) for c in icd.get("prefix") or ()),
        snomed=frozenset((spec.get("snomed") or {}).get("exact") or ()),
    )


def _analytes(raw: Mapping[str, Any]) -> dict[str, Analyte]:
    found: dict[str, Analyte] = {}
    for key, spec in raw.items():
        analyte = Analyte(
            key=key,
            display=spec["display"],
            unit=spec.get("unit"),
            unit_spellings=tuple(spec.get("unit_spellings") or ()),
            conversions=MappingProxyType(dict(spec.get("conversions") or {})),
            threshold_key=spec.get("threshold"),
            prostaglandin_marker=bool(spec.get("prostaglandin_marker")),
            tryptase=spec.get("rule") == "tryptase_20_plus_2",
            interference=" ".join((spec.get("interference") or "").split()),
            unit_display=spec.get("unit_display") or "",
        )
        for code in spec["loinc"]:
            found[code] = analyte
    return found


def _topic(spec: Mapping[str, Any]) -> TopicText:
    return TopicText(
        title=spec["title"].strip(),
        indicator=spec["indicator"],
        summary=spec["summary"],
        detail=(spec.get("detail") or "").strip(),
        links=tuple(spec.get("links") or ()),
        suggestions=tuple(spec.get("suggestions") or ()),
        evidence=spec["evidence"],
        source=spec["source"],
        override_reasons=tuple(spec["override_reasons"]),
        drafts=tuple(spec.get("drafts") or ()),
        fold_text=_oneline(spec.get("fold_text") or ""),
        covers=tuple(spec.get("covers") or ()),
    )


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _codings(raw: Any) -> tuple[tuple[str, str, str], ...]:
    return tuple((c["system"], c["code"], c.get("display") or "") for c in raw or ())


def _drafts(raw: Mapping[str, Any]) -> Drafts:
    referral, tests, switch = raw["referral"], raw["mediator_tests"], raw["ranitidine_switch"]
    return Drafts(
        medication_label=raw["medication"]["label"],
        medication_description=_oneline(raw["medication"]["description"]),
        referral_label=referral["label"],
        referral_text=referral["text"],
        referral_coding=_codings(referral.get("coding")),
        referral_reason=referral.get("reason") or "",
        mediator_label=tests["label"],
        mediator_tests=tuple(
            MediatorTest(t["loinc"], t["display"], _oneline(t["timing"]),
                         _oneline(t["patient_instruction"]))
            for t in tests["tests"]
        ),
        switch_label=switch["label"],
        switch_stop_description=_oneline(switch["stop_description"]),
    )


def _decisive(spec: Mapping[str, Any]) -> DecisiveFacts:
    return DecisiveFacts(
        events=frozenset(spec.get("events") or ()),
        diagnoses=frozenset(spec.get("diagnoses") or ()),
        therapy_classes=frozenset(spec.get("therapy_classes") or ()),
        active_therapies=bool(spec.get("active_therapies")),
        results=frozenset(spec.get("results") or ()),
    )


def _order_cards(raw: Mapping[str, Any]) -> OrderCardTexts:
    reasons = {code: r["display"] for code, r in raw["override_reasons"].items()}

    def topic(spec: Mapping[str, Any]) -> OrderTopicText:
        return OrderTopicText(
            title=spec["title"].strip(),
            indicator=spec["indicator"],
            summary=spec["summary"],
            detail=(spec.get("detail") or "").strip(),
            override_reasons=tuple((code, reasons[code]) for code in spec["override_reasons"]),
            evidence=spec.get("evidence") or "",
            source=spec.get("source") or "",
            links=tuple(spec.get("links") or ()),
        )

    return OrderCardTexts(
        topics=MappingProxyType({t: topic(raw["topics"][t]) for t in ORDER_TOPICS}),
        evidence_levels=MappingProxyType({
            key: (level["label"], " ".join(level["meaning"].split()))
            for key, level in raw["evidence_levels"].items()
        }),
        ladder_steps=MappingProxyType(dict(raw["ladder_steps"])),
    )


def load_knowledge(cards_dir: Path | CardsFiles) -> Knowledge:
    """``cards/`` (a directory, or a directory with site overlays) as ``Knowledge``.

    Every file is read with ``_read(files, ...)``, so overlays reach it.
    """
    files = cards_dir if isinstance(cards_dir, CardsFiles) else CardsFiles(cards_dir)
    codes = _read(files, "codes.yaml", CodesSchema())
    mediators = _read(files, "mediators.yaml", MediatorsSchema())
    refs_raw = _read(files, "references.yaml", ReferencesSchema())["references"]
    cards = _read(files, "cards.yaml", cards_schema(refs_raw))
    sentences = _read(files, "sentences.yaml", SentencesSchema())
    drafts = _read(files, "drafts.yaml", drafts_schema(
        code for spec in mediators["analytes"].values() for code in spec["loinc"]))
    drugs = build_drug_table(_read(files, "drugs.yaml", DrugsSchema()))
    triggers = build_trigger_table(_read(files, "triggers.yaml", triggers_schema(refs_raw)))
    order_cards = _order_cards(_read(files, "order_cards.yaml", order_cards_schema(refs_raw)))
    for key, trigger_class in triggers.classes.items():
        if trigger_class.evidence not in order_cards.evidence_levels:
            raise KnowledgeError(
                f"triggers.yaml: classes.{key}.evidence: unknown evidence "
                f"level {trigger_class.evidence!r} (order_cards.yaml evidence_levels has: "
                f"{', '.join(order_cards.evidence_levels)})")
    snooze = _read(files, "snooze.yaml", snooze_schema(
        drugs.classes, mediators["analytes"]))["topics"]
    # An overlay section for a file nothing above read would be silently ignored.
    files.check_used()
    systems = {
        name: frozenset([spec["uri"], *(spec.get("oids") or ())])
        for name, spec in codes["systems"].items()
    }
    references = {
        key: Reference(key, r["label"], r["url"], " ".join(r["citation"].split()),
                       bool(r.get("verified")), r.get("authority") or "")
        for key, r in refs_raw.items()
    }
    analytes = _analytes(mediators["analytes"])
    return Knowledge(
        mediator_loincs=tuple(dict.fromkeys(analytes)),
        loinc_system=mediators["loinc_system"],
        systems=MappingProxyType(systems),
        system_names=MappingProxyType(
            {uri: name for name, uris in systems.items() for uri in uris}
        ),
        snooze=MappingProxyType({t: _decisive(snooze[t]) for t in TOPICS}),
        unit_displays=MappingProxyType({
            a.unit: a.unit_display for a in analytes.values() if a.unit and a.unit_display
        }),
        system_uris=MappingProxyType({n: s["uri"] for n, s in codes["systems"].items()}),
        condition_sets=MappingProxyType(
            {name: _code_set(spec) for name, spec in codes["condition_sets"].items()}
        ),
        indications=MappingProxyType({
            key: Indication(key, spec["display"].strip(), _code_set(spec))
            for key, spec in (codes.get("other_indications") or {}).items()
        }),
        episode_seventh=frozenset(codes["episode_seventh_characters"]),
        follow_up_seventh=frozenset(codes["follow_up_seventh_characters"]),
        drugs=drugs,
        triggers=triggers,
        order_cards=order_cards,
        analytes=MappingProxyType(analytes),
        references=MappingProxyType(references),
        cards=CardTexts(
            topic_system=cards["topic_system"],
            override_reason_system=cards["override_reason_system"],
            override_reasons=MappingProxyType({
                code: OverrideReasonText(r["display"], bool(r.get("needs_proposal")))
                for code, r in cards["override_reasons"].items()
            }),
            evidence_levels=MappingProxyType({
                key: EvidenceLevel(level["label"], _oneline(level["meaning"]))
                for key, level in cards["evidence_levels"].items()
            }),
            drafts=_drafts(drafts),
            source_label=(cards.get("source") or {}).get("label", ""),
            source_url=(cards.get("source") or {}).get("url", ""),
            reminder=" ".join(cards["reminder"].split()),
            topics=MappingProxyType({t: _topic(cards["topics"][t]) for t in TOPICS}),
            sentences=MappingProxyType(
                {key: " ".join(text.split()) for key, text in sentences.items()}
            ),
        ),
    )
