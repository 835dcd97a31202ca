"""Draft orders (``context.draftOrders``) read into what the order-time rules judge.

Only MedicationRequests are judged (docs/clinical-rules.md §7); other order types are
accepted by the envelope and left alone, and a draft with ``doNotPerform: true`` is
skipped. The drug is found as the facts find it (service/pipeline/facts/medications.py:
known RxNorm codes decide, else whole-word names; form-dependent classes by product, dose
form and route), and the trigger drugs of cards/triggers.yaml the same way; a trigger
in a form that gets no card (a topical NSAID, oral vancomycin) is dropped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.knowledge.model import Knowledge
from service.pipeline.facts.codes import codes_in, condition_sets, indication_of, items, words_of
from service.pipeline.facts.medications import identify, reasons_of
from service.pipeline.rules.trace import NO_TRACE, Recorder

# A Duration's unit in days (docs/clinical-rules.md §6.15: a month is 30 days).
_DAYS = {
    "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0,
    "minute": 1 / 1440, "minutes": 1 / 1440, "hour": 1 / 24, "hours": 1 / 24,
    "day": 1.0, "days": 1.0, "week": 7.0, "weeks": 7.0, "month": 30.0, "months": 30.0,
    "year": 365.0, "years": 365.0,
}
UNSPECIFIED_ROUTE = "route unspecified"
# Drug classes whose draft's reason the rules read (docs/clinical-rules.md §6.25, §6.27).
_REASONED = frozenset({"omalizumab", "dupilumab", "systemic_steroid"})


@dataclass(frozen=True)
class DraftOrder:
    reference: str  # "MedicationRequest/<id>"
    words: str  # the order's own words ("ibuprofen 400 mg tablet")
    drugs: tuple[str, ...]  # keys of the drug table (cards/drugs.yaml)
    triggers: tuple[str, ...]  # keys of the trigger table (cards/triggers.yaml)
    route: str  # the dosage route as written, lower case, or UNSPECIFIED_ROUTE
    other_indication: str | None = None  # another indication its reason names
    steroid_replacement: bool = False  # its reason is adrenal insufficiency or transplant
    duration_days: float | None = None  # ordered duration, None when not given or unreadable

    def item(self, trigger: str) -> str:
        """Ingredient and route: what an override "tolerated before" snoozes
        (docs/clinical-rules.md §7)."""
        return f"{trigger}:{self.route}"[:128]


def _clean(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _words(concepts: Iterable[Any], fallback: str) -> str:
    for concept in concepts:
        for word in words_of(concept):
            if _clean(word):
                return _clean(word)
    return fallback


def _route(resource: Mapping[str, Any]) -> str:
    for dosage in items(resource.get("dosageInstruction")):
        route = dosage.get("route") if isinstance(dosage, dict) else None
        words = words_of(route)
        codes = [c.get("code") for c in items(route.get("coding"))
                 if isinstance(c, dict)] if isinstance(route, dict) else []
        for text in [*words, *codes]:
            if isinstance(text, str) and _clean(text):
                return _clean(text).lower()
    return UNSPECIFIED_ROUTE


def _duration_days(value: Any) -> float | None:
    if not isinstance(value, dict):
        return None
    number = value.get("value")
    unit = value.get("code") if isinstance(value.get("code"), str) else value.get("unit")
    if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
        return None
    if not isinstance(unit, str) or unit.strip().lower() not in _DAYS:
        return None
    return float(number) * _DAYS[unit.strip().lower()]


def ordered_duration(resource: Mapping[str, Any]) -> float | None:
    """``dispenseRequest.expectedSupplyDuration``, else the longest
    ``dosageInstruction.timing.repeat.boundsDuration``, in days
    (docs/clinical-rules.md §7, §6.15)."""
    dispense = resource.get("dispenseRequest")
    if isinstance(dispense, dict):
        supply = _duration_days(dispense.get("expectedSupplyDuration"))
        if supply is not None:
            return supply
    bounds = []
    for dosage in items(resource.get("dosageInstruction")):
        timing = dosage.get("timing") if isinstance(dosage, dict) else None
        repeat = timing.get("repeat") if isinstance(timing, dict) else None
        if isinstance(repeat, dict):
            days = _duration_days(repeat.get("boundsDuration"))
            if days is not None:
                bounds.append(days)
    return max(bounds) if bounds else None


def _triggers(concepts: tuple[Any, ...], form_text: str, knowledge: Knowledge,
              reference: str = "", trace: Recorder = NO_TRACE) -> tuple[str, ...]:
    table = knowledge.triggers
    codes = [code for concept in concepts for code in codes_in(concept, "rxnorm", knowledge)]
    # Codes decide when either table knows one (docs/clinical-rules.md §6.13).
    if any(code in table.codes or code in knowledge.drugs.codes for code in codes):
        found = table.by_codes(codes)
    else:
        found = table.by_names(" | ".join(w for c in concepts for w in words_of(c)))
    kept = tuple(
        key for key in found
        if not table.in_form(table.drugs[key].trigger_class, form_text)
    )
    if trace.enabled:
        for key in found:
            if key not in kept:  # explain: a trigger in a form that gets no card
                trigger_class = table.classes[table.drugs[key].trigger_class]
                why = (f"{key} ({trigger_class.label}) in a form that gets no card "
                       f"({trigger_class.skip_forms})")
                trace.compare("order.trigger.form_excluded", 1, "", 0, "==", False, why,
                              draft=reference)
                trace.outcome(trigger_class.topic, False, why, draft=reference)
    return kept


def read_drafts(
    drafts: Iterable[Mapping[str, Any]], knowledge: Knowledge,
    medications: Mapping[str, dict[str, Any]], conditions: Mapping[str, dict[str, Any]],
    trace: Recorder = NO_TRACE,
) -> list[DraftOrder]:
    """The draft MedicationRequests worth judging, in the order the EHR sent them.
    ``trace``: told of the trigger drugs left out for their form (explain)."""
    found = []
    for draft in drafts:
        if draft.get("resourceType") != "MedicationRequest" or draft.get("doNotPerform") is True:
            continue
        resource = dict(draft)
        read = identify(resource, knowledge, medications)
        reference = f"MedicationRequest/{draft.get('id')}"
        triggers = _triggers(read.concepts, read.form_text, knowledge, reference, trace)
        if not read.drugs and not triggers:
            continue
        # Reasons matter only for a biologic (another indication) or a steroid
        # (replacement therapy): read them for those drafts alone.
        classes = {knowledge.drugs.drugs[d].drug_class for d in read.drugs}
        reasons = reasons_of(resource, knowledge, conditions) if classes & _REASONED else []
        indication = next(
            (i for i in (indication_of(c, knowledge) for c in reasons) if i), None)
        found.append(DraftOrder(
            reference=reference,
            words=_words(read.concepts, (read.drugs or triggers)[0]),
            drugs=read.drugs,
            triggers=triggers,
            route=_route(resource),
            other_indication=indication,
            steroid_replacement=any(
                "steroid_replacement" in condition_sets(c, knowledge) for c in reasons),
            duration_days=ordered_duration(resource),
        ))
    return found
