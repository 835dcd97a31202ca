"""Active medications as therapies of the drug table's classes.

docs/clinical-rules.md §2, §6.1, §6.6, §6.13.

The drug is read from the medication concept (or the Medication a ``medicationReference``
points to, contained or in the prefetch): RxNorm codes the table knows decide alone;
otherwise whole-word names in text and displays. Form-dependent classes (oral cromolyn,
systemic steroids, epinephrine auto-injectors) also read the dose form, route and texts.
Only resources naming a known drug are validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.knowledge.drug_table import DrugTable
from service.knowledge.model import Knowledge
from service.pipeline.facts.codes import codes_in, words_of
from service.pipeline.facts.model import Therapy
from service.pipeline.facts.timeutil import first_time
from service.pipeline.facts.validation import is_valid

_START_PATHS = {
    "MedicationStatement": ("effectivePeriod.start", "effectiveDateTime", "dateAsserted"),
    "MedicationRequest": ("effectivePeriod.start", "effectiveDateTime", "authoredOn"),
}


def _referenced(
    resource: dict[str, Any], medications: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    reference = (resource.get("medicationReference") or {}).get("reference")
    if not isinstance(reference, str):
        return None
    if reference.startswith("#"):
        for contained in resource.get("contained") or ():
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
    items = [i.get("itemCodeableConcept") for i in medication.get("ingredient") or ()
             if isinstance(i, dict)]
    return [medication.get("code"), *items]


def _form_text(resource: dict[str, Any], medication: dict[str, Any] | None,
               concepts: list[Any]) -> str:
    parts = [w for concept in concepts for w in words_of(concept)]
    if medication is not None:
        parts += words_of(medication.get("form"))
    for dosage in [*(resource.get("dosage") or ()), *(resource.get("dosageInstruction") or ())]:
        if isinstance(dosage, dict):
            parts += words_of(dosage.get("route"))
            if isinstance(dosage.get("text"), str):
                parts.append(dosage["text"])
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


def read_medication(
    resource: dict[str, Any], knowledge: Knowledge, medications: Mapping[str, dict[str, Any]],
) -> list[Therapy] | bool | None:
    """Therapies; None when not read (not active, no known drug); False when invalid."""
    kind = resource.get("resourceType")
    if kind not in _START_PATHS or resource.get("status") != "active":
        return None
    medication = _referenced(resource, medications)
    concepts = _concepts(resource, medication)
    table = knowledge.drugs
    drug_keys, product_text = _drugs(concepts, table, knowledge)
    form_text = " | ".join(filter(None, [product_text, _form_text(resource, medication, concepts)]))
    drugs = [table.drugs[k] for k in drug_keys
             if _form_allows(table.drugs[k].requires_form, form_text, table)]
    if not drugs:
        return None
    if not is_valid(resource):
        return False
    contained = resource.get("contained") or ()
    if medication is not None and medication not in contained and not is_valid(medication):
        return False
    label = next((w for c in concepts for w in words_of(c)), "") or product_text
    start = first_time(resource, *_START_PATHS[kind])
    return [
        Therapy(drug=d.key, drug_class=d.drug_class, tier=table.classes[d.drug_class].tier,
                label=label or d.key, start=start, source=str(kind))
        for d in drugs
    ]
