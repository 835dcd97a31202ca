"""The drug table of ``cards/drugs.yaml``: RxNorm codes and whole-word names to drugs.

Only V1/V2 codes (or codes a site marked ``site_confirmed: true``) match; U codes are
kept in the file for a site to confirm, and the drug is still found by its names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

ALLOWED_SUGGESTIONS = frozenset(
    {"h1", "h2", "leukotriene", "cromolyn_oral", "epinephrine_autoinjector", "albuterol"}
)
_MATCHING_STATUSES = frozenset({"V1", "V2"})


class DrugTableError(ValueError):
    pass


def word_pattern(words: list[str]) -> re.Pattern[str]:
    """Whole words, case-insensitive: 'epinephrine' does not match 'norepinephrine'."""
    alternatives = sorted((re.escape(w).replace(r"\ ", r"[\s-]+") for w in words), key=len)
    joined = "|".join(reversed(alternatives))
    return re.compile(rf"(?<![a-z0-9])(?:{joined})(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class Drug:
    key: str
    drug_class: str
    rxnorm: str
    names: re.Pattern[str]
    requires_form: str | None = None  # "oral", "systemic" or "autoinjector"
    suggest: bool = False
    never_suggest: bool = False
    suggest_text: str = ""


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


def _matches(entry: Mapping[str, Any]) -> bool:
    return entry.get("status") in _MATCHING_STATUSES or entry.get("site_confirmed") is True


def _code(entry: Any, where: str) -> str:
    code = entry.get("code") if isinstance(entry, Mapping) else None
    if not isinstance(code, str):
        raise DrugTableError(f"{where}: needs a `code` string")
    if entry.get("status") not in {"V1", "V2", "U"}:
        raise DrugTableError(f"{where}: `status` must be V1, V2 or U")
    return code


def build_drug_table(raw: Mapping[str, Any]) -> DrugTable:
    classes = {
        key: DrugClass(key, str(spec["label"]), spec.get("tier"))
        for key, spec in (raw.get("classes") or {}).items()
    }
    form_words = {k: word_pattern(list(v)) for k, v in (raw.get("form_words") or {}).items()}
    drugs: dict[str, Drug] = {}
    codes: dict[str, tuple[tuple[str, ...], str]] = {}

    def add_code(code: str, key: str, display: str) -> None:
        keys, old_display = codes.get(code, ((), ""))
        codes[code] = ((*keys, key), old_display or display)

    for key, spec in (raw.get("drugs") or {}).items():
        where = f"drugs.{key}"
        if spec.get("class") not in classes:
            raise DrugTableError(f"{where}.class: unknown class {spec.get('class')!r}")
        form = spec.get("requires_form")
        if form is not None and form not in {"oral", "systemic", "autoinjector"}:
            raise DrugTableError(f"{where}.requires_form: must be oral, systemic or autoinjector")
        if form in {"oral", "autoinjector"} and form not in form_words:
            raise DrugTableError(f"{where}.requires_form: form_words has no {form!r}")
        if spec.get("suggest") and spec.get("never_suggest"):
            raise DrugTableError(f"{where}: a never_suggest drug cannot be suggested")
        if spec.get("suggest") and spec["class"] not in ALLOWED_SUGGESTIONS:
            raise DrugTableError(f"{where}.suggest: class {spec['class']!r} is never proposed")
        names = spec.get("names") or []
        if not names:
            raise DrugTableError(f"{where}.names: at least one name is needed")
        ingredient = spec.get("rxnorm")
        rxnorm = _code(ingredient, f"{where}.rxnorm")
        if _matches(ingredient):
            add_code(rxnorm, key, "")
        extra = [*(spec.get("products") or []), *(spec.get("extra_codes") or [])]
        for i, product in enumerate(extra):
            code = _code(product, f"{where}.products[{i}]")
            if _matches(product):
                add_code(code, key, str(product.get("display") or ""))
        drugs[key] = Drug(
            key=key,
            drug_class=spec["class"],
            rxnorm=rxnorm,
            names=word_pattern([str(n) for n in names]),
            requires_form=form,
            suggest=bool(spec.get("suggest")),
            never_suggest=bool(spec.get("never_suggest")),
            suggest_text=str(spec.get("suggest_text") or names[0]),
        )
    table = DrugTable(
        drugs=MappingProxyType(drugs),
        classes=MappingProxyType(classes),
        codes=MappingProxyType(codes),
        form_words=MappingProxyType(form_words),
    )
    for drug_class in sorted(ALLOWED_SUGGESTIONS):
        try:
            drug = table.suggested_drug(drug_class)
        except KeyError:
            raise DrugTableError(
                f"drugs: no drug of class {drug_class!r} has suggest: true"
            ) from None
        if not _matches(raw["drugs"][drug.key]["rxnorm"]):
            raise DrugTableError(f"drugs.{drug.key}: a suggested drug needs a V1/V2 RxNorm code")
    return table
