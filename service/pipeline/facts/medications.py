"""Medications: therapies of the drug table's classes, and the administrations and
dispenses that date their course (docs/clinical-rules.md §2, §6.1, §6.6, §6.13, §6.17,
§6.18, §6.19, §6.20).

The drug is read from the medication concept (or the Medication a ``medicationReference``
points to, contained or in the prefetch): RxNorm codes the table knows decide alone;
otherwise whole-word names in text and displays. Form-dependent classes (H1 and H2 and
the listed steroids: oral or parenteral; oral cromolyn; epinephrine auto-injectors) read
the product, the Medication's dose form and the dosage route, never free-text
instructions. Only resources naming a known drug are validated, and only the elements
the rules read: status, intent, doNotPerform and the medication decide whether the
resource is read at all; a fault in a date makes it undated; a fault in a dosage or a
reason leaves that element out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.knowledge.drug_table import DrugTable
from service.knowledge.model import Knowledge
from service.pipeline.facts.codes import (
    codes_in,
    concept_shape_ok,
    condition_sets,
    indication_of,
    items,
    words_of,
)
from service.pipeline.facts.model import Supply, Therapy, ref_of
from service.pipeline.facts.timeutil import read_time
from service.pipeline.facts.validation import Tally, valid

_START_PATHS = {
    "MedicationStatement": ("effectivePeriod.start", "effectiveDateTime", "dateAsserted"),
    "MedicationRequest": ("authoredOn",),
}
_END_PATHS = {
    "MedicationStatement": ("effectivePeriod.end",),
    "MedicationRequest": ("dispenseRequest.validityPeriod.end",),
}
_SUPPLY_DATES = {
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "MedicationDispense": ("whenHandedOver",),
}
# A MedicationRequest is a therapy only with one of these intents (docs/clinical-rules.md §2).
ORDER_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
# "On record" (docs/clinical-rules.md §6.19): a therapy with one of these statuses.
ON_RECORD = frozenset({"active", "completed", "stopped", "on-hold"})
_DOSE_PERIOD_DAYS = {"d": 1.0, "wk": 7.0, "mo": 28.0}
_MG = frozenset({"mg", "milligram", "milligrams"})


@dataclass
class MedicationRead:
    therapies: list[Therapy] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    unclear: tuple[str, str] | None = None


def _referenced(
    resource: dict[str, Any], medications: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    holder = resource.get("medicationReference")
    reference = holder.get("reference") if isinstance(holder, dict) else None
    if not isinstance(reference, str):
        return None
    if reference.startswith("#"):
        for contained in items(resource.get("contained")):
            if (isinstance(contained, dict) and contained.get("resourceType") == "Medication"
                    and contained.get("id") == reference[1:]):
                return contained
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Medication":
        return medications.get(parts[-1])
    return None


def _concepts(resource: dict[str, Any], medication: dict[str, Any] | None) -> list[Any]:
    if medication is None:
        return [resource.get("medicationCodeableConcept")]
    ingredients = [i.get("itemCodeableConcept") for i in items(medication.get("ingredient"))
                   if isinstance(i, dict)]
    return [medication.get("code"), *ingredients]


def _dosages(resource: dict[str, Any]) -> list[dict[str, Any]]:
    key = "dosageInstruction" if resource.get("resourceType") == "MedicationRequest" else "dosage"
    return [d for d in items(resource.get(key)) if isinstance(d, dict)]


def _form_text(medication: dict[str, Any] | None, concepts: list[Any],
               dosages: list[dict[str, Any]]) -> str:
    """Product names, the Medication's dose form and the dosage routes.

    docs/clinical-rules.md §6.6.
    """
    parts = [w for concept in concepts for w in words_of(concept)]
    if medication is not None and valid("CodeableConcept", medication.get("form")):
        parts += words_of(medication.get("form"))
    for dosage in dosages:
        if valid("CodeableConcept", dosage.get("route")):
            parts += words_of(dosage.get("route"))
    return " | ".join(parts)


def _drugs(concepts: list[Any], table: DrugTable, knowledge: Knowledge) -> tuple[list[str], str]:
    """Drug keys (codes decide when known, else names) and the product displays found."""
    known: list[str] = []
    displays: list[str] = []
    for concept in concepts:
        for code in codes_in(concept, "rxnorm", knowledge):
            if code in table.codes:
                keys, display = table.codes[code]
                known += [k for k in keys if k not in known]
                displays.append(display)
    if known:
        return known, " | ".join(displays)
    text = " | ".join(w for concept in concepts for w in words_of(concept))
    return table.by_names(text), ""


def _form_allows(required: str | None, text: str, table: DrugTable) -> bool:
    if required is None:
        return True
    if required == "systemic":
        return not table.form_words["non_systemic"].search(text)
    return bool(table.form_words[required].search(text))


def _as_needed(dosages: list[dict[str, Any]]) -> bool:
    """Every dosage is as-needed (asNeededBoolean true or asNeededCodeableConcept)."""
    def one(dosage: dict[str, Any]) -> bool:
        if dosage.get("asNeededBoolean") is True:
            return True
        concept = dosage.get("asNeededCodeableConcept")
        return concept is not None and valid("CodeableConcept", concept)
    return bool(dosages) and all(one(d) for d in dosages)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _dose_per_4_weeks(dosage: dict[str, Any]) -> float | None:
    """mg per 4 weeks from doseAndRate.doseQuantity (mg) and timing.repeat.

    docs/clinical-rules.md §2 "Omalizumab dose".
    """
    dose: float | None = None
    for dose_and_rate in items(dosage.get("doseAndRate")):
        quantity = dose_and_rate.get("doseQuantity") if isinstance(dose_and_rate, dict) else None
        if not isinstance(quantity, dict) or not valid("Quantity", quantity):
            continue
        code = quantity.get("code")
        unit = code if isinstance(code, str) else quantity.get("unit")
        value = _number(quantity.get("value"))
        if value is not None and value > 0 and isinstance(unit, str) and unit.lower() in _MG:
            dose = value
            break
    timing = dosage.get("timing")
    if dose is None or not isinstance(timing, dict) or not valid("Timing", timing):
        return None
    repeat = timing.get("repeat")
    if not isinstance(repeat, dict):
        return None
    period, unit = _number(repeat.get("period")), repeat.get("periodUnit")
    frequency = repeat.get("frequency", 1)
    if (period is None or period <= 0 or not isinstance(unit, str)
            or unit not in _DOSE_PERIOD_DAYS
            or isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1):
        return None
    return dose * frequency * 28 / (period * _DOSE_PERIOD_DAYS[unit])


def _reasons(
    resource: dict[str, Any], knowledge: Knowledge, conditions: Mapping[str, dict[str, Any]]
) -> list[Any]:
    """The reason concepts: reasonCode, and the code of each Condition reasonReference names."""
    concepts = [c for c in items(resource.get("reasonCode")) if valid("CodeableConcept", c)]
    for reference in items(resource.get("reasonReference")):
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str):
            continue
        parts = target.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Condition" and parts[-1] in conditions:
            code = conditions[parts[-1]].get("code")
            if valid("CodeableConcept", code):
                concepts.append(code)
    return concepts


def _medication_readable(
    resource: dict[str, Any], medication: dict[str, Any] | None
) -> str | None:
    """The element that makes the medication unreadable, or None when it reads."""
    if "medicationReference" in resource:
        if not valid("Reference", resource.get("medicationReference")):
            return "medicationReference"
        if medication is not None:
            if not valid("CodeableConcept", medication.get("code")):
                return "Medication.code"
            for ingredient in items(medication.get("ingredient")):
                item = (ingredient.get("itemCodeableConcept")
                        if isinstance(ingredient, dict) else None)
                if item is not None and not valid("CodeableConcept", item):
                    return "Medication.ingredient"
        return None
    if not valid("CodeableConcept", resource.get("medicationCodeableConcept")):
        return "medicationCodeableConcept"
    return None


def read_medication(
    resource: dict[str, Any], knowledge: Knowledge, medications: Mapping[str, dict[str, Any]],
    conditions: Mapping[str, dict[str, Any]], tally: Tally,
) -> MedicationRead | None:
    """Therapies or supplies of one medication resource; None when the rules read none."""
    kind = str(resource.get("resourceType"))
    status = resource.get("status")
    supply = kind in _SUPPLY_DATES
    wanted = {"completed"} if supply else ON_RECORD
    if isinstance(status, str) and status not in wanted:
        return None
    if kind == "MedicationRequest" and resource.get("doNotPerform") is True:
        return None  # never a therapy, never on record (docs/clinical-rules.md §2)
    medication = _referenced(resource, medications)
    concepts = _concepts(resource, medication)
    table = knowledge.drugs
    drug_keys, product_text = _drugs(concepts, table, knowledge)
    dosages = _dosages(resource)
    form_text = " | ".join(filter(None, [product_text, _form_text(medication, concepts, dosages)]))
    drugs = [table.drugs[k] for k in drug_keys
             if _form_allows(table.drugs[k].requires_form, form_text, table)]
    if not drugs:
        if not all(concept_shape_ok(c) for c in concepts):
            tally.left_out(kind, "medication")
            return None
        name = table.unclear(" | ".join(w for c in concepts for w in words_of(c)))
        if name is not None and not drug_keys and not supply and (
                status is None or not valid("code", status)):
            # An unclear product whose status cannot be read: said as a record left out,
            # never silently dropped (docs/clinical-rules.md §2).
            tally.left_out(kind, "status")
            return None
        if name is not None and status == "active" and not drug_keys and not supply:
            # The card names the unclear product; its dates are read like a therapy's, so
            # an unreadable one is said on the card too (docs/clinical-rules.md §2).
            if any(read_time(resource, *paths[kind]).unreadable
                   for paths in (_START_PATHS, _END_PATHS)):
                tally.undated(kind)
            return MedicationRead(unclear=(name, table.unclear_names[name]))
        return None
    # Only now, for a drug the rules read: the elements that decide whether it is read.
    checks = [("status", "code", status)]
    if kind == "MedicationRequest":
        checks += [("intent", "code", resource.get("intent")),
                   ("doNotPerform", "boolean", resource.get("doNotPerform"))]
    for element, datatype, value in checks:
        if not valid(datatype, value) or (element != "doNotPerform" and value is None):
            tally.left_out(kind, element)
            return None
    unreadable = _medication_readable(resource, medication)
    if unreadable is not None:
        tally.left_out(kind, unreadable)
        return None
    if supply:
        dated = read_time(resource, *_SUPPLY_DATES[kind])
        if dated.unreadable:
            tally.undated(kind)
        return MedicationRead(
            supplies=[Supply(d.key, d.drug_class, kind, dated.when, ref_of(resource))
                      for d in drugs]
        )
    if kind == "MedicationRequest" and resource.get("intent") not in ORDER_INTENTS:
        return None
    return MedicationRead(therapies=_therapies(
        resource, kind, str(status), drugs, concepts, product_text, dosages, knowledge,
        conditions, tally,
    ))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _therapies(
    resource: dict[str, Any], kind: str, status: str, drugs: list[Any], concepts: list[Any],
    product_text: str, dosages: list[dict[str, Any]], knowledge: Knowledge,
    conditions: Mapping[str, dict[str, Any]], tally: Tally,
) -> list[Therapy]:
    table = knowledge.drugs
    start = read_time(resource, *_START_PATHS[kind])
    end = read_time(resource, *_END_PATHS[kind])
    if start.unreadable or end.unreadable:
        tally.undated(kind)
    readable = [d for d in dosages if _dosage_readable(d)]
    reasons = _reasons(resource, knowledge, conditions)
    indication = next((i for i in (indication_of(c, knowledge) for c in reasons) if i), None)
    replacement = any("steroid_replacement" in condition_sets(c, knowledge) for c in reasons)
    label = next((w for c in concepts for w in words_of(c)), "") or product_text
    therapies = []
    for drug in drugs:
        dose = None
        if drug.drug_class == "omalizumab":
            dose = next((v for v in map(_dose_per_4_weeks, readable) if v is not None), None)
        therapies.append(Therapy(
            drug=drug.key, drug_class=drug.drug_class, tier=table.classes[drug.drug_class].tier,
            label=label or drug.key, start=start.when, source=kind, status=status,
            intent=_text_or_none(resource.get("intent")),
            active=status == "active", as_needed=_as_needed(readable), ended=end.when,
            indication=indication if drug.drug_class in {"omalizumab", "dupilumab"} else None,
            steroid_replacement=replacement, dose_mg_per_4_weeks=dose, ordered_on=start.when,
            ref=ref_of(resource),
        ))
    return therapies


_DOSAGE_ELEMENTS = (
    ("route", "CodeableConcept"), ("asNeededCodeableConcept", "CodeableConcept"),
    ("asNeededBoolean", "boolean"), ("timing", "Timing"),
)


def _dosage_readable(dosage: dict[str, Any]) -> bool:
    """A dosage whose elements the rules read are valid; another is left out of the reading."""
    return all(valid(datatype, dosage.get(element)) for element, datatype in _DOSAGE_ELEMENTS)



@dataclass(frozen=True)
class Identified:
    """The drug of a medication resource, read as a therapy's is (used for draft orders)."""

    drugs: tuple[str, ...]  # drug-table keys whose form the product, dose form and route allow
    concepts: tuple[Any, ...]  # the medication concepts (or the referenced Medication's)
    form_text: str  # product names, dose form and routes: the words forms are read from


def identify(
    resource: dict[str, Any], knowledge: Knowledge, medications: Mapping[str, dict[str, Any]],
) -> Identified:
    """Drugs, concepts and form words of one medication resource, as the facts read them
    (codes decide when known, else names; form-dependent classes by product, dose form and
    route: a route that is not a valid CodeableConcept is not read)."""
    medication = _referenced(resource, medications)
    concepts = _concepts(resource, medication)
    table = knowledge.drugs
    drug_keys, product_text = _drugs(concepts, table, knowledge)
    form_text = " | ".join(
        filter(None, [product_text, _form_text(medication, concepts, _dosages(resource))]))
    allowed = tuple(k for k in drug_keys
                    if _form_allows(table.drugs[k].requires_form, form_text, table))
    return Identified(allowed, tuple(concepts), form_text)


def reasons_of(
    resource: dict[str, Any], knowledge: Knowledge, conditions: Mapping[str, dict[str, Any]]
) -> list[Any]:
    """The reason concepts of a medication resource: reasonCode, and the code of each
    Condition its reasonReference names."""
    return _reasons(resource, knowledge, conditions)
