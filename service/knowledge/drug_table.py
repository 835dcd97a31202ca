"""The drug table of ``cards/drugs.yaml``: RxNorm codes and whole-word names to drugs.

Only V1/V2 codes (or codes a site marked ``site_confirmed: true``) match; U codes are
kept in the file for a site to confirm, and the drug is still found by its names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

ALLOWED_SUGGESTIONS = frozenset(
    {"h1", "h2", "leukotriene", "cromolyn_oral", "epinephrine_autoinjector", "albuterol"}
)
_MATCHING_STATUSES = frozenset({"V1", "V2"})


def word_pattern(words: list[str]) -> re.Pattern[str]:
    """Whole words, case-insensitive: 'epinephrine' does not match 'norepinephrine'."""
    alternatives = sorted((re.escape(w).replace(r"\ ", r"[\s-]+") for w in words), key=len)
    joined = "|".join(reversed(alternatives))
    return re.compile(rf"(?<![a-z0-9])(?:{joined})(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class Drug:
    key: str
    drug_class: str
    rxnorm: str | None  # None: knowledge.md gives no code (recognised by name only)
    names: re.Pattern[str]
    requires_form: str | None = None  # "oral", "systemic" or "autoinjector"
    suggest: bool = False
    never_suggest: bool = False
    suggest_text: str = ""  # the ingredient and its dose form: the draft's text
    suggest_name: str = ""  # how a card's summary names it ("oral cromolyn")
    # a site's verified dose-form coding(s): (system, code, display), beside the ingredient
    suggest_form_coding: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class DrugClass:
    key: str
    label: str
    tier: int | None


@dataclass(frozen=True)
class DrugTable:
    drugs: Mapping[str, Drug]
    classes: Mapping[str, DrugClass]
    # matching RxNorm code -> (drug keys, product display or "")
    codes: Mapping[str, tuple[tuple[str, ...], str]]
    form_words: Mapping[str, re.Pattern[str]]
    # Brand names that identify no drug by themselves (bare "Zantac"): name -> what it may be.
    unclear_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def unclear(self, text: str) -> str | None:
        """The unclear brand named in ``text`` (whole word), or None."""
        for name in self.unclear_names:
            if self._unclear_patterns[name].search(text):
                return name
        return None

    @cached_property
    def _unclear_patterns(self) -> Mapping[str, re.Pattern[str]]:
        return {name: word_pattern([name]) for name in self.unclear_names}

    def by_names(self, text: str) -> list[str]:
        # Most medications of a record name no drug of the table: one search of all the
        # names together settles those before the per-drug searches.
        if not self._any_name.search(text):
            return []
        return [key for key, drug in self.drugs.items() if drug.names.search(text)]

    @cached_property
    def _any_name(self) -> re.Pattern[str]:
        """Matches wherever some drug's ``names`` pattern matches (their alternation)."""
        if not self.drugs:
            return re.compile(r"(?!)")
        return re.compile(
            "|".join(f"(?:{drug.names.pattern})" for drug in self.drugs.values()),
            re.IGNORECASE,
        )

    def suggested_drug(self, drug_class: str) -> Drug:
        for drug in self.drugs.values():
            if drug.drug_class == drug_class and drug.suggest and not drug.never_suggest:
                return drug
        raise KeyError(drug_class)


def matches(entry: Mapping[str, Any]) -> bool:
    """A code entry that matches: V1/V2, or a U code a site marked ``site_confirmed``."""
    return entry.get("status") in _MATCHING_STATUSES or entry.get("site_confirmed") is True


def build_drug_table(raw: Mapping[str, Any]) -> DrugTable:
    """The table of drugs.yaml as loaded by ``DrugsSchema`` (service/knowledge/schemas.py).

    ``raw`` is already checked there (types, known classes, form words, the drug each
    proposable class suggests): this only builds the frozen table.
    """
    classes = {
        key: DrugClass(key, spec["label"], spec.get("tier"))
        for key, spec in raw["classes"].items()
    }
    form_words = {k: word_pattern(list(v)) for k, v in raw["form_words"].items()}
    drugs: dict[str, Drug] = {}
    codes: dict[str, tuple[tuple[str, ...], str]] = {}

    def add_code(code: str, key: str, display: str) -> None:
        keys, old_display = codes.get(code, ((), ""))
        codes[code] = ((*keys, key), old_display or display)

    for key, spec in raw["drugs"].items():
        names = list(spec["names"])
        ingredient = spec.get("rxnorm")
        rxnorm = None if ingredient is None else str(ingredient["code"])
        if ingredient is not None and matches(ingredient):
            add_code(str(ingredient["code"]), key, "")
        for product in [*(spec.get("products") or []), *(spec.get("extra_codes") or [])]:
            if matches(product):
                add_code(str(product["code"]), key, str(product.get("display") or ""))
        drugs[key] = Drug(
            key=key,
            drug_class=spec["drug_class"],
            rxnorm=rxnorm,
            names=word_pattern(names),
            requires_form=spec.get("requires_form"),
            suggest=bool(spec.get("suggest")),
            never_suggest=bool(spec.get("never_suggest")),
            suggest_text=str(spec.get("suggest_text") or names[0]),
            suggest_name=str(spec.get("suggest_name") or key),
            suggest_form_coding=tuple(
                (c["system"], c["code"], c.get("display") or "")
                for c in spec.get("suggest_form_coding") or ()
            ),
        )
    return DrugTable(
        drugs=MappingProxyType(drugs),
        classes=MappingProxyType(classes),
        codes=MappingProxyType(codes),
        form_words=MappingProxyType(form_words),
        unclear_names=MappingProxyType(dict(raw.get("unclear_names") or {})),
    )
