"""The order-time trigger table of ``cards/triggers.yaml`` as frozen values.

Drugs that can trigger or worsen mast cell reactions when ordered (docs/clinical-rules.md
§7): per class what it does, the alternatives the knowledge names, the evidence, the forms
that get no card (a topical NSAID, oral vancomycin) and whether an override "tolerated
before" may snooze it. Drugs are found as in the drug table: a known RxNorm code (V1/V2, or
a U code a site confirmed) decides alone, else whole-word names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from service.cdshooks.cards import Indicator
from service.knowledge.drug_table import matches, word_pattern


@dataclass(frozen=True)
class TriggerClass:
    key: str
    label: str
    topic: str  # order-trigger-drug or order-beta-blocker
    effect: str  # the summary's words after the order's own
    does: str
    alternatives: tuple[str, ...]
    links: tuple[str, ...]
    evidence: str
    skip_forms: str | None  # key of form_words: an order in such a form gets no card
    snooze: bool  # may "tolerated before" snooze it (docs/clinical-rules.md §7)


@dataclass(frozen=True)
class Trigger:
    key: str
    trigger_class: str
    rxnorm: str | None
    names: re.Pattern[str]
    indicator: Indicator | None = None  # overrides the topic's (celecoxib: info)


@dataclass(frozen=True)
class TriggerTable:
    classes: Mapping[str, TriggerClass]
    drugs: Mapping[str, Trigger]
    codes: Mapping[str, tuple[str, ...]]  # matching RxNorm code -> trigger keys
    form_words: Mapping[str, re.Pattern[str]]

    def by_codes(self, codes: list[str]) -> list[str]:
        found: list[str] = []
        for code in codes:
            found += [k for k in self.codes.get(code, ()) if k not in found]
        return found

    def by_names(self, text: str) -> list[str]:
        return [key for key, drug in self.drugs.items() if drug.names.search(text)]

    def in_form(self, trigger_class: str, text: str) -> bool:
        """The order's product, dose form or route puts it in a form that gets no card."""
        form = self.classes[trigger_class].skip_forms
        return form is not None and bool(self.form_words[form].search(text))


def empty_trigger_table() -> TriggerTable:
    return TriggerTable(MappingProxyType({}), MappingProxyType({}), MappingProxyType({}),
                        MappingProxyType({}))


def build_trigger_table(raw: Mapping[str, Any]) -> TriggerTable:
    """The table of triggers.yaml as loaded by ``TriggersSchema`` (already checked)."""
    classes = {
        key: TriggerClass(
            key=key,
            label=spec["label"],
            topic=spec["topic"],
            effect=" ".join(spec["effect"].split()),
            does=" ".join(spec["does"].split()),
            alternatives=tuple(spec.get("alternatives") or ()),
            links=tuple(spec.get("links") or ()),
            evidence=" ".join(spec["evidence"].split()),
            skip_forms=spec.get("skip_forms"),
            snooze=bool(spec.get("snooze")),
        )
        for key, spec in raw["classes"].items()
    }
    drugs: dict[str, Trigger] = {}
    codes: dict[str, tuple[str, ...]] = {}
    for key, spec in raw["drugs"].items():
        ingredient = spec.get("rxnorm")
        rxnorm = None if ingredient is None else str(ingredient["code"])
        if ingredient is not None and matches(ingredient):
            codes[str(ingredient["code"])] = (*codes.get(str(ingredient["code"]), ()), key)
        drugs[key] = Trigger(
            key=key,
            trigger_class=spec["trigger_class"],
            rxnorm=rxnorm,
            names=word_pattern(list(spec["names"])),
            indicator=spec.get("indicator"),
        )
    return TriggerTable(
        classes=MappingProxyType(classes),
        drugs=MappingProxyType(drugs),
        codes=MappingProxyType(codes),
        form_words=MappingProxyType(
            {k: word_pattern(list(v)) for k, v in raw["form_words"].items()}
        ),
    )
