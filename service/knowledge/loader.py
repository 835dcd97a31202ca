"""Reading ``cards/`` into ``Knowledge``, checked once at start-up.

A file that does not hold together (an unknown reference key, a drug class that may never
be proposed, a missing topic) raises ``KnowledgeError`` naming the file and the field, so
the service does not start on it. The pure core never imports this module: it receives
the ``Knowledge`` value built here.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

# bundled_cards_dir: imported from here by the app factory, the web layer and the CLI.
from service.config_files import bundled_cards_dir as bundled_cards_dir
from service.config_files import read_yaml
from service.knowledge.drug_table import (
    ALLOWED_SUGGESTIONS,
    DrugTableError,
    build_drug_table,
)
from service.knowledge.model import (
    Analyte,
    CardTexts,
    CodeSet,
    Indication,
    Knowledge,
    KnowledgeError,
    Reference,
    TopicText,
    normalise_icd10,
)
from service.knowledge.sentences import SENTENCES
from service.knowledge.topics import TOPICS
from service.thresholds.model import ANALYTES_WITH_THRESHOLD


def _read(cards_dir: Path, name: str) -> Mapping[str, Any]:
    path = cards_dir / name
    data = read_yaml(path, str(path), KnowledgeError)
    if not isinstance(data, Mapping):
        raise KnowledgeError(f"{path}: must hold a mapping")
    return data


def _code_set(spec: Mapping[str, Any]) -> CodeSet:
    """A code set; codes listed under ``unverified`` (status U) are kept out of matching."""
    icd = spec.get("icd10cm") or {}
    return CodeSet(
        icd10_exact=frozenset(normalise_icd10(str(c)) for c in icd.get("exact") or ()),
        icd10_prefix=tuple(normalise_icd10(str(c)) for c in icd.get("prefix") or ()),
        snomed=frozenset(str(c) for c in (spec.get("snomed") or {}).get("exact") or ()),
    )


def _code_sets(raw: Mapping[str, Any]) -> dict[str, CodeSet]:
    return {name: _code_set(spec) for name, spec in raw.items()}


def _indications(raw: Mapping[str, Any]) -> dict[str, Indication]:
    found: dict[str, Indication] = {}
    for key, spec in raw.items():
        display = spec.get("display")
        if not isinstance(display, str) or not display.strip():
            raise KnowledgeError(f"codes.yaml: other_indications.{key}.display: needed")
        found[key] = Indication(key, display.strip(), _code_set(spec))
    return found


def _sentences(raw: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, allowed in SENTENCES.items():
        text = raw.get(key)
        where = f"sentences.yaml: {key}"
        if not isinstance(text, str) or not text.strip():
            raise KnowledgeError(f"{where}: missing")
        text = " ".join(text.split())
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        if fields - set(allowed):
            raise KnowledgeError(
                f"{where}: unknown placeholder(s) {sorted(fields - set(allowed))}; "
                f"allowed: {sorted(allowed)}"
            )
        found[key] = text
    return found


def _analytes(raw: Mapping[str, Any]) -> dict[str, Analyte]:
    found: dict[str, Analyte] = {}
    for key, spec in raw["analytes"].items():
        threshold = spec.get("threshold")
        if threshold is not None and threshold not in ANALYTES_WITH_THRESHOLD:
            raise KnowledgeError(f"mediators.yaml: analytes.{key}.threshold: unknown {threshold!r}")
        analyte = Analyte(
            key=key,
            display=str(spec["display"]),
            unit=spec.get("unit"),
            unit_spellings=tuple(str(u) for u in spec.get("unit_spellings") or ()),
            conversions=MappingProxyType(
                {str(u): float(f) for u, f in (spec.get("conversions") or {}).items()}
            ),
            threshold_key=threshold,
            prostaglandin_marker=bool(spec.get("prostaglandin_marker")),
            tryptase=spec.get("rule") == "tryptase_20_plus_2",
            interference=" ".join(str(spec.get("interference") or "").split()),
        )
        for code in spec["loinc"]:
            found[str(code)] = analyte
    return found


def _topics(raw: Mapping[str, Any], references: Mapping[str, Reference]) -> dict[str, TopicText]:
    topics: dict[str, TopicText] = {}
    for topic in TOPICS:
        spec = (raw.get("topics") or {}).get(topic)
        where = f"cards.yaml: topics.{topic}"
        if not isinstance(spec, Mapping):
            raise KnowledgeError(f"{where}: missing")
        if spec.get("indicator") not in {"info", "warning", "critical"}:
            raise KnowledgeError(f"{where}.indicator: must be info, warning or critical")
        for key in spec.get("links") or ():
            if key not in references:
                raise KnowledgeError(f"{where}.links: unknown reference {key!r}")
        for drug_class in spec.get("suggestions") or ():
            if drug_class not in ALLOWED_SUGGESTIONS:
                raise KnowledgeError(f"{where}.suggestions: {drug_class!r} is never proposed")
        summary = str(spec.get("summary") or "")
        fields = {f for _, f, _, _ in string.Formatter().parse(summary) if f}
        if not summary or len(summary) > 120 or fields - {
            "missing", "tier", "days", "drug", "lookback", "max_days"
        }:
            raise KnowledgeError(f"{where}.summary: needs 1-120 characters and known placeholders")
        if not isinstance(spec.get("title"), str) or not spec["title"].strip():
            raise KnowledgeError(f"{where}.title: a non-empty title is needed")
        topics[topic] = TopicText(
            title=spec["title"].strip(),
            indicator=spec["indicator"],
            summary=summary,
            detail=str(spec.get("detail") or "").strip(),
            links=tuple(spec.get("links") or ()),
            suggestions=tuple(spec.get("suggestions") or ()),
        )
    return topics


def load_knowledge(cards_dir: Path) -> Knowledge:
    try:
        return _load(cards_dir)
    except (KeyError, TypeError, AttributeError) as exc:
        # A missing or mistyped entry the cross-checks did not name more precisely.
        detail = (f"missing entry {exc}" if isinstance(exc, KeyError)
                  else "an entry has the wrong type")
        raise KnowledgeError(f"{cards_dir}: {detail}") from None


def _load(cards_dir: Path) -> Knowledge:
    codes = _read(cards_dir, "codes.yaml")
    mediators = _read(cards_dir, "mediators.yaml")
    cards = _read(cards_dir, "cards.yaml")
    sentences = _read(cards_dir, "sentences.yaml")
    refs_raw = _read(cards_dir, "references.yaml")["references"]
    try:
        drugs = build_drug_table(_read(cards_dir, "drugs.yaml"))
    except (DrugTableError, KeyError, TypeError, AttributeError) as exc:
        raise KnowledgeError(f"{cards_dir / 'drugs.yaml'}: {exc}") from None
    systems = {
        name: frozenset([spec["uri"], *(spec.get("oids") or ())])
        for name, spec in codes["systems"].items()
    }
    references = {
        key: Reference(key, str(r["label"]), str(r["url"]), " ".join(str(r["citation"]).split()),
                       bool(r.get("verified")))
        for key, r in refs_raw.items()
    }
    analytes = _analytes(mediators)
    loincs = list(dict.fromkeys(analytes))
    return Knowledge(
        mediator_loincs=tuple(loincs),
        loinc_system=str(mediators["loinc_system"]),
        systems=MappingProxyType(systems),
        system_names=MappingProxyType(
            {uri: name for name, uris in systems.items() for uri in uris}
        ),
        system_uris=MappingProxyType({n: str(s["uri"]) for n, s in codes["systems"].items()}),
        condition_sets=MappingProxyType(_code_sets(codes["condition_sets"])),
        indications=MappingProxyType(_indications(codes.get("other_indications") or {})),
        episode_seventh=frozenset(codes["episode_seventh_characters"]),
        follow_up_seventh=frozenset(codes["follow_up_seventh_characters"]),
        drugs=drugs,
        analytes=MappingProxyType(analytes),
        references=MappingProxyType(references),
        cards=CardTexts(
            topic_system=str(cards["topic_system"]),
            override_reason_system=str(cards["override_reason_system"]),
            override_reasons=tuple((str(r["code"]), str(r["display"]))
                                   for r in cards["override_reasons"]),
            source_label=str(cards["source"]["label"]),
            source_url=str(cards["source"]["url"]),
            reminder=" ".join(str(cards["reminder"]).split()),
            topics=MappingProxyType(_topics(cards, references)),
            sentences=MappingProxyType(_sentences(sentences)),
        ),
    )
