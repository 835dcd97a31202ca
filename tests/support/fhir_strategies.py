"""Hypothesis strategies for FHIR resources as an EHR may really send them: faulty, odd or
plain wrong. Used by the property tests of the facts layer and by the route fuzzing.

Three kinds of input, after docs/clinical-rules.md §2 (Reading a resource):

- **faults where the rules do not look** (``unused_fault``): a missing or odd ``subject``,
  unknown elements, a broken narrative, junk in ``meta``, ``identifier`` or ``note``.
  They must never change what the rules decide, nor be counted.
- **faults where the rules look** (``used_fault``): an unreadable date (the fact becomes
  undated), an unreadable code, status or value (the resource is left out). They must
  never raise, and are counted.
- **any shape at all** (``resource_shapes``, ``prefetch_values``, ``hook_requests``):
  resources that use the codes the rules read, so they get past the cheap code filters,
  with anything in their other elements; the hook must answer it without a 5xx.

A fault is a pure function of a resource: it returns a changed deep copy and a label that
says what it did (the label is what a failing example shows). Strategies are built once
and cached: building them is what costs most in a run.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
SYSTEMS = (ICD10CM, SNOMED, LOINC, RXNORM, UCUM, "urn:oid:2.16.840.1.113883.6.90")

# Codes the rules read (knowledge.md), so that generated resources reach past the filters.
CONDITION_CODES = (
    (ICD10CM, "D89.42"), (ICD10CM, "D8940"), (ICD10CM, "D89.41"), (ICD10CM, "D89.44"),
    (ICD10CM, "D47.02"), (ICD10CM, "C96.21"), (ICD10CM, "T78.2XXA"), (ICD10CM, "T78.2XXD"),
    (ICD10CM, "T78.01XA"), (ICD10CM, "T88.6XXA"), (ICD10CM, "T63.441A"),
    (ICD10CM, "T78.3XXA"), (ICD10CM, "Z87.892"), (ICD10CM, "R06.2"), (ICD10CM, "R06.02"),
    (ICD10CM, "J45.909"), (ICD10CM, "Z33.1"), (ICD10CM, "E27.1"), (ICD10CM, "L50.1"),
    (SNOMED, "39579001"), (SNOMED, "397016004"), (SNOMED, "16697871000119100"),
    (SNOMED, "4386001"), (SNOMED, "195967001"),
)
LOINC_CODES = ("21582-2", "44340-8", "13781-0", "33343-5", "101115-4", "94381-1", "97658-9",
               "14054-1", "34316-0")
RXNORM_CODES = ("20610", "1014678", "4278", "9143", "88249", "42612", "302379", "1876376",
                "1870230", "3992", "435", "1191", "8640", "5553", "3498")
DRUG_TEXTS = ("cetirizine 10 mg tablet", "Zantac", "Zantac 360", "Zantac-360°", "famotidine",
              "Xolair", "Omlyclo", "EpiPen", "neffy", "Gastrocrom oral concentrate",
              "cromolyn nasal spray", "prednisone", "budesonide inhaler", "hydrocortisone",
              "ranitidine", "Dupixent", "montelukast", "aspirin 81 mg", "albuterol inhaler")
UNITS = ("ng/mL", "ng/ml", "ug/L", "ug/g{creat}", "mcg/g Cr", "pg/mg{creat}", "pg/mg Cr",
         "nmol/L", "mg", "mL", "%", "", "{tbl}")
STATUSES = ("active", "completed", "stopped", "on-hold", "final", "amended", "preliminary",
            "entered-in-error", "not-done", "in-progress", "unknown", "draft", "cancelled")
CLINICAL = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
VERIFICATION = ("confirmed", "provisional", "differential", "unconfirmed", "refuted",
                "entered-in-error")
RESOURCE_TYPES = ("Condition", "Observation", "MedicationStatement", "MedicationRequest",
                  "MedicationAdministration", "MedicationDispense", "Medication", "Patient",
                  "OperationOutcome", "Bundle", "AllergyIntolerance", "MedicationUsage")

# Dates as the rules read them, per resource type, in the order they are tried
# (docs/clinical-rules.md §2, §6.11). Only the first one present is used.
DATE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Condition": (("onsetDateTime",), ("onsetPeriod", "start"), ("recordedDate",)),
    "Observation": (("effectiveDateTime",), ("effectivePeriod", "start"), ("issued",)),
    "MedicationStatement": (("effectivePeriod", "start"), ("effectiveDateTime",),
                            ("dateAsserted",)),
    "MedicationRequest": (("authoredOn",),),
    "MedicationAdministration": (("effectiveDateTime",), ("effectivePeriod", "start")),
    "MedicationDispense": (("whenHandedOver",),),
}
# The element naming what a resource is about (its code).
CODE_ELEMENTS = {
    "Condition": "code",
    "Observation": "code",
    "MedicationStatement": "medicationCodeableConcept",
    "MedicationRequest": "medicationCodeableConcept",
    "MedicationAdministration": "medicationCodeableConcept",
    "MedicationDispense": "medicationCodeableConcept",
}
STATUS_ELEMENTS = {
    "Condition": ("clinicalStatus", "verificationStatus"),
    "Observation": ("status",),
    "MedicationStatement": ("status",),
    "MedicationRequest": ("status",),
    "MedicationAdministration": ("status",),
    "MedicationDispense": ("status",),
}

Fault = tuple[str, dict[str, Any]]  # (what was done, the changed copy)


def r4b_rejects(datatype: str, value: Any) -> bool:
    """Whether the FHIR R4 model of ``datatype`` (fhir.resources R4B) refuses ``value``.

    The rules read an element as the R4 model does (docs/clinical-rules.md §2): an empty
    CodeableConcept (``{}``) is valid there, a concept without codings, so it is no fault.
    """
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(value, dict):
        return True
    try:
        get_fhir_model_class(datatype).model_validate(value)
    except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
        return True
    return False


# -- plain JSON -------------------------------------------------------------------------

@functools.cache
def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    )


@functools.cache
def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value (what ``json.loads`` can give), small."""
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=10), children, max_size=3),
        ),
        max_leaves=max_leaves,
    )


@functools.cache
def not_a_string() -> st.SearchStrategy[Any]:
    """A JSON value of the wrong type for a FHIR code or string element."""
    return st.one_of(
        st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
        st.lists(json_scalars(), max_size=2), st.dictionaries(st.text(max_size=5),
                                                              json_scalars(), max_size=2),
    )


@functools.cache
def words() -> st.SearchStrategy[str]:
    """Text with at least one letter and no digit: never a number or a date."""
    return st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=12).filter(
        lambda s: s.strip() != ""
    ) | st.sampled_from(["high", "see note", "nan", "NaN", "inf", "Infinity", "-inf",
                         "positive", "n/a"])


@functools.cache
def unreadable_dates() -> st.SearchStrategy[Any]:
    """Values of a date element that are there but cannot be read as a FHIR dateTime."""
    return st.one_of(
        st.sampled_from([
            "2026-02-30", "2026-13-01", "2026-11-31T10:00:00Z", "2026-11-05T10:00",
            "2026-11-05T25:00:00Z", "05/11/2026", "last Tuesday", "", " ", "2026-11-05 10:00",
            "20261105", "2026-1-5", "T10:00:00Z", "yesterday", "unknown",
            "2026-11-05T10:00:00+25:00",
        ]),
        words(),
        not_a_string(),
    )


@functools.cache
def readable_dates() -> st.SearchStrategy[str]:
    """FHIR dateTime values of every precision, including the edges of the calendar."""
    return st.one_of(
        st.sampled_from(["2026", "2026-11", "2026-11-05", "0001-01-01T00:00:00+14:00",
                         "9999-12-31T23:59:59-12:00", "2026-11-05T10:00:00.123456789Z",
                         "2026-11-05T23:59:60Z", "1900-01-01", "2100-01-01"]),
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    )


# -- faults where the rules do not look -------------------------------------------------------

def _walk_resources(node: Any) -> Iterator[dict[str, Any]]:
    """Every resource of a prefetch value: the value itself, or its Bundle entries."""
    if isinstance(node, dict):
        if node.get("resourceType") == "Bundle":
            for entry in node.get("entry") or ():
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield entry["resource"]
        elif "resourceType" in node:
            yield node


def prefetch_resources(request: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """(prefetch key, position, resource) of every resource of a hook request."""
    found = []
    for key, value in (request.get("prefetch") or {}).items():
        for index, resource in enumerate(_walk_resources(value)):
            found.append((key, index, resource))
    return found


def replace_resource(request: dict[str, Any], key: str, index: int,
                     new: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``request`` with that resource replaced (``None``: taken out)."""
    changed = copy.deepcopy(request)
    value = changed["prefetch"][key]
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        entries = [e for e in value.get("entry") or ()
                   if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        target = entries[index]
        if new is None:
            value["entry"].remove(target)
            if isinstance(value.get("total"), int) and value["total"] > 0:
                value["total"] -= 1
        else:
            target["resource"] = new
    else:
        changed["prefetch"][key] = new
    return changed


UNUSED_KINDS = ("no subject", "odd subject", "unknown element", "narrative", "meta",
                "identifier", "note", "extension")


@st.composite
def unused_fault(draw: st.DrawFn, resource: dict[str, Any]) -> Fault:
    """A fault in an element the rules never read; the resource stays readable to them."""
    changed = copy.deepcopy(resource)
    kind = draw(st.sampled_from(UNUSED_KINDS))
    if kind == "no subject":
        changed.pop("subject", None)
        changed.pop("patient", None)
    elif kind == "odd subject":
        changed["subject"] = draw(st.one_of(
            st.just({"reference": "Patient/someone-else"}), st.just({"display": "the patient"}),
            st.builds(lambda r: {"reference": r}, not_a_string()), json_values(4)))
    elif kind == "unknown element":
        name = draw(st.from_regex(r"zz[A-Z][a-zA-Z]{0,8}", fullmatch=True))
        changed[name] = draw(json_values())
    elif kind == "narrative":
        changed["text"] = draw(st.one_of(
            st.just({"status": "generated", "div": "<p>unclosed <b>tags"}),
            st.just({"status": 42, "div": None}), st.text(max_size=30), json_values(4)))
    elif kind == "meta":
        changed["meta"] = draw(st.one_of(
            st.just({"lastUpdated": "yesterday", "versionId": 7, "tag": "x"}),
            st.just({"security": [{"code": 42}]}), json_values(4)))
    elif kind == "identifier":
        changed["identifier"] = draw(json_values(4))
    elif kind == "note":
        changed["note"] = draw(st.one_of(st.just([{"text": None}]), json_values(4)))
    else:
        changed["extension"] = draw(st.one_of(
            st.just([{"url": 42, "valueBoolean": "yes"}]), st.just("not a list"),
            json_values(4)))
    return f"{resource.get('resourceType')}/{resource.get('id')}: {kind}", changed


# -- faults where the rules look ----------------------------------------------------------------

def _get(node: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(node: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def first_date_path(resource: dict[str, Any]) -> tuple[str, ...] | None:
    """The date element the rules read for this resource: the first one present."""
    for path in DATE_PATHS.get(str(resource.get("resourceType")), ()):
        if _get(resource, path) is not None:
            return path
    return None


def used_fault_kinds(resource: dict[str, Any]) -> list[str]:
    """The used-element faults that make sense for this resource."""
    kind = resource.get("resourceType")
    kinds = []
    if first_date_path(resource) is not None:
        kinds.append("date")
    if isinstance(resource.get(CODE_ELEMENTS.get(str(kind), "")), dict):
        kinds.append("code")
    if any(element in resource for element in STATUS_ELEMENTS.get(str(kind), ())):
        kinds.append("status")
    if kind == "Observation" and isinstance(resource.get("valueQuantity"), dict):
        kinds.append("value")
    return kinds


@st.composite
def used_fault(draw: st.DrawFn, resource: dict[str, Any], kind: str) -> Fault:
    """Make a date, code, status or value the rules read unreadable (``kind``)."""
    changed = copy.deepcopy(resource)
    where = f"{resource.get('resourceType')}/{resource.get('id')}"
    if kind == "date":
        path = first_date_path(changed)
        assert path is not None
        value = draw(unreadable_dates())
        _set(changed, path, value)
        return f"{where}: {'.'.join(path)} = {value!r}", changed
    if kind == "code":
        element = CODE_ELEMENTS[str(resource["resourceType"])]
        concept = changed[element]
        how = draw(st.sampled_from(["codes", "concept", "codings"]))
        if how == "codes" and isinstance(concept.get("coding"), list) and concept["coding"]:
            for coding in concept["coding"]:
                if isinstance(coding, dict):
                    coding["code"] = draw(not_a_string())
                    coding.pop("display", None)
            concept.pop("text", None)
        elif how == "codings":
            concept["coding"] = draw(st.one_of(
                st.text(max_size=10), st.integers(),
                st.dictionaries(st.text(max_size=4), json_scalars(), max_size=2)))
            concept.pop("text", None)
        else:
            changed[element] = draw(st.one_of(st.text(max_size=10), st.integers(),
                                              st.lists(json_scalars(), max_size=2)))
        if not r4b_rejects("CodeableConcept", changed[element]):
            # e.g. the codings of "codes" were not dicts: make the concept itself unreadable
            changed[element] = draw(st.text(max_size=10))
        return f"{where}: {element} unreadable ({how})", changed
    if kind == "status":
        elements = [e for e in STATUS_ELEMENTS[str(resource["resourceType"])] if e in changed]
        element = draw(st.sampled_from(elements))
        if element == "status":
            changed[element] = draw(not_a_string())
        else:
            changed[element] = draw(st.one_of(
                not_a_string(), st.text(min_size=1, max_size=10),
                st.builds(lambda c: {"coding": [{"system": "http://terminology.hl7.org/"
                                                 "CodeSystem/condition-clinical", "code": c}]},
                          not_a_string())).filter(lambda v: r4b_rejects("CodeableConcept", v)))
        return f"{where}: {element} = {changed[element]!r}", changed
    if kind == "value":
        value = draw(st.one_of(words(), not_a_string().filter(
            lambda v: not isinstance(v, int | float) or isinstance(v, bool))))
        how = draw(st.sampled_from(["value", "quantity"]))
        if how == "value":
            changed["valueQuantity"]["value"] = value
        else:
            changed["valueQuantity"] = value
        if not r4b_rejects("Quantity", changed["valueQuantity"]):
            # an empty Quantity ({}) is valid R4: no value, not an unreadable one
            changed["valueQuantity"] = draw(words())
        return f"{where}: valueQuantity{'.value' if how == 'value' else ''} = {value!r}", changed
    raise ValueError(kind)


# -- any shape at all ------------------------------------------------------------------------

def _coding(system: str, code: str) -> dict[str, Any]:
    return {"system": system, "code": code}


@functools.cache
def concepts() -> st.SearchStrategy[Any]:
    """CodeableConcepts the rules read, odd ones, and things that are not concepts."""
    known = st.sampled_from(CONDITION_CODES).map(lambda sc: {"coding": [_coding(*sc)]})
    loinc = st.sampled_from(LOINC_CODES).map(lambda c: {"coding": [_coding(LOINC, c)]})
    rxnorm = st.sampled_from(RXNORM_CODES).map(lambda c: {"coding": [_coding(RXNORM, c)]})
    text = st.sampled_from(DRUG_TEXTS).map(lambda t: {"text": t})
    odd = st.builds(
        lambda system, code, display: {"coding": [{"system": system, "code": code,
                                                   "display": display}]},
        st.sampled_from(SYSTEMS) | json_scalars(), st.sampled_from(
            [c for _, c in CONDITION_CODES] + list(LOINC_CODES) + list(RXNORM_CODES))
        | json_scalars(), json_scalars())
    return st.one_of(known, loinc, rxnorm, text, odd, json_values(4))


@functools.cache
def statuses() -> st.SearchStrategy[Any]:
    return st.sampled_from(STATUSES) | json_scalars()


@functools.cache
def status_concepts(codes: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(codes).map(
        lambda c: {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/x",
                               "code": c}]}) | json_values(3)


@functools.cache
def dates() -> st.SearchStrategy[Any]:
    return readable_dates() | unreadable_dates()


@functools.cache
def quantities() -> st.SearchStrategy[Any]:
    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.sampled_from(
            ["<1.0", ">200", "<=4", "12", "1e400", "-0", "nan"]), json_scalars())
    return st.one_of(
        st.builds(lambda v, u, c, comp: {k: x for k, x in (("value", v), ("unit", u),
                                                               ("code", c),
                                                               ("comparator", comp))
                                         if x is not None},
                  numbers, st.sampled_from(UNITS) | json_scalars(),
                  st.sampled_from(UNITS) | st.none(),
                  st.sampled_from(["<", "<=", ">", ">=", "ad"]) | st.none()),
        json_values(3),
    )


@functools.cache
def dosages() -> st.SearchStrategy[Any]:
    timing = st.builds(
        lambda f, p, u: {"repeat": {"frequency": f, "period": p, "periodUnit": u}},
        st.integers(min_value=-2, max_value=10) | json_scalars(),
        st.sampled_from([0, 0.0, -1, 1, 2, 4, 1e-300, 1e308, math.inf]) | json_scalars(),
        st.sampled_from(["d", "wk", "mo", "h", "a", "s"]) | json_scalars())
    dosage = st.fixed_dictionaries({}, optional={
        "text": st.text(max_size=30) | json_scalars(),
        "timing": timing | json_values(3),
        "asNeededBoolean": st.booleans() | json_scalars(),
        "asNeededCodeableConcept": json_values(3),
        "route": concepts(),
        "doseAndRate": st.lists(st.fixed_dictionaries({}, optional={
            "doseQuantity": quantities(), "doseRange": json_values(3)}), max_size=2)
        | json_values(3),
    })
    return st.lists(dosage, max_size=3) | json_values(3)


@functools.cache
def _element_strategies(kind: str) -> dict[str, st.SearchStrategy[Any]]:
    common: dict[str, st.SearchStrategy[Any]] = {
        "id": st.text(alphabet="abcdef-0123456789", min_size=1, max_size=8) | json_scalars(),
        "subject": st.just({"reference": "Patient/pt-fuzz"}) | json_values(3),
        "meta": json_values(3),
        "text": json_values(3),
        "extension": json_values(3),
    }
    by_kind: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "Condition": {
            "code": concepts(), "clinicalStatus": status_concepts(CLINICAL),
            "verificationStatus": status_concepts(VERIFICATION),
            "category": st.lists(status_concepts(("problem-list-item", "encounter-diagnosis",
                                                  "health-concern")), max_size=2)
            | json_values(3),
            "onsetDateTime": dates(), "onsetPeriod": st.fixed_dictionaries(
                {}, optional={"start": dates(), "end": dates()}) | json_values(3),
            "recordedDate": dates(), "abatementDateTime": dates(),
            "abatementBoolean": json_scalars(),
        },
        "Observation": {
            "code": concepts(), "status": statuses(), "valueQuantity": quantities(),
            "valueString": st.sampled_from(["<1.0", "<=2", ">200", "high"]) | json_scalars(),
            "effectiveDateTime": dates(), "effectivePeriod": st.fixed_dictionaries(
                {}, optional={"start": dates(), "end": dates()}) | json_values(3),
            "issued": dates(), "interpretation": st.lists(status_concepts(
                ("H", "HH", "A", "N", "L")), max_size=2) | json_values(3),
            "referenceRange": st.lists(st.fixed_dictionaries({}, optional={
                "high": quantities(), "low": quantities(),
                "text": st.sampled_from(["<104", "30-200", "< 11.4", "normal", "-"])
                | json_scalars()}), max_size=2) | json_values(3),
            "dataAbsentReason": json_values(3),
        },
        "MedicationStatement": {
            "status": statuses(), "medicationCodeableConcept": concepts(),
            "medicationReference": st.sampled_from(
                [{"reference": "#med"}, {"reference": "Medication/med-1"}]) | json_values(3),
            "effectivePeriod": st.fixed_dictionaries(
                {}, optional={"start": dates(), "end": dates()}) | json_values(3),
            "effectiveDateTime": dates(), "dateAsserted": dates(), "dosage": dosages(),
            "reasonCode": st.lists(concepts(), max_size=2) | json_values(3),
            "reasonReference": json_values(3),
            "contained": st.lists(st.fixed_dictionaries(
                {"resourceType": st.just("Medication"), "id": st.just("med")},
                optional={"code": concepts(), "form": concepts(),
                          "ingredient": json_values(3)}), max_size=2) | json_values(3),
        },
        "MedicationRequest": {
            "status": statuses(), "intent": st.sampled_from(
                ["order", "plan", "proposal", "original-order", "instance-order"])
            | json_scalars(),
            "doNotPerform": json_scalars(), "medicationCodeableConcept": concepts(),
            "medicationReference": st.sampled_from(
                [{"reference": "#med"}, {"reference": "Medication/med-1"}]) | json_values(3),
            "authoredOn": dates(), "dosageInstruction": dosages(),
            "dispenseRequest": st.fixed_dictionaries({}, optional={
                "validityPeriod": json_values(3) | st.fixed_dictionaries(
                    {}, optional={"start": dates(), "end": dates()}),
                "expectedSupplyDuration": quantities()}) | json_values(3),
            "reasonCode": st.lists(concepts(), max_size=2) | json_values(3),
            "reasonReference": json_values(3),
        },
        "MedicationAdministration": {
            "status": statuses(), "medicationCodeableConcept": concepts(),
            "effectiveDateTime": dates(), "effectivePeriod": json_values(3),
            "dosage": json_values(3) | st.fixed_dictionaries({}, optional={
                "dose": quantities()}),
        },
        "MedicationDispense": {
            "status": statuses(), "medicationCodeableConcept": concepts(),
            "whenHandedOver": dates(),
        },
        "Medication": {"code": concepts(), "form": concepts(), "ingredient": json_values(3)},
        "Patient": {"birthDate": dates(), "gender": json_scalars(),
                    "deceasedBoolean": json_scalars()},
        "OperationOutcome": {"issue": st.lists(st.fixed_dictionaries({}, optional={
            "severity": st.sampled_from(["error", "fatal", "warning", "information"])
            | json_scalars(), "code": json_scalars()}), max_size=2) | json_values(3)},
    }
    return {**common, **by_kind.get(kind, {})}


@st.composite
def resource_shapes(draw: st.DrawFn, kinds: tuple[str, ...] = RESOURCE_TYPES) -> Any:
    """A resource of one of ``kinds`` with any subset of its elements, each of any shape;
    now and then not a resource at all."""
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(json_values(4))
    kind = draw(st.sampled_from(kinds))
    elements = _element_strategies(kind)
    names = draw(st.lists(st.sampled_from(sorted(elements)), unique=True, max_size=8))
    resource: dict[str, Any] = {"resourceType": kind}
    for name in names:
        resource[name] = draw(elements[name])
    if draw(st.booleans()):
        resource.setdefault("id", f"fuzz-{draw(st.integers(min_value=0, max_value=30))}")
    return resource


def bundles(resources: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """Searchset Bundles of those resources, with odd entries and links now and then."""
    resources = resources if resources is not None else resource_shapes()
    entry = st.one_of(
        resources.map(lambda r: {"resource": r, "search": {"mode": "match"}}),
        json_values(3),
    )
    return st.builds(
        lambda entries, total, link: {
            "resourceType": "Bundle", "type": "searchset", "entry": entries,
            **({"total": total} if total is not None else {}),
            **({"link": link} if link is not None else {}),
        },
        st.lists(entry, max_size=6) | json_values(3),
        st.none() | json_scalars(),
        st.none() | st.just([{"relation": "self", "url": "https://fhir.example.org/r4/x"}])
        | json_values(3),
    )


PREFETCH_KEYS = ("patient", "conditions", "observations", "medicationStatements",
                 "medicationRequests", "medicationAdministrations", "medicationDispenses")


@functools.cache
def prefetch_values() -> st.SearchStrategy[Any]:
    """What an EHR may put under one prefetch key."""
    return st.one_of(
        bundles(),
        resource_shapes(),
        st.none(),
        st.just({"resourceType": "OperationOutcome",
                 "issue": [{"severity": "error", "code": "exception"}]}),
        json_values(4),
    )


_CONDITION_BUNDLES = bundles(resource_shapes(("Condition",)))


@st.composite
def prefetches(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(PREFETCH_KEYS) | st.text(max_size=8), unique=True,
                         max_size=8))
    prefetch = {key: draw(prefetch_values()) for key in keys}
    if draw(st.integers(min_value=0, max_value=4)):  # mostly: scope is decided first
        prefetch.setdefault("conditions", draw(_CONDITION_BUNDLES))
    return prefetch


def hook_requests(patient_id: str = "pt-fuzz") -> st.SearchStrategy[dict[str, Any]]:
    """A patient-view call with a well-formed envelope and any prefetch."""
    return st.builds(
        lambda prefetch, instance: {
            "hook": "patient-view",
            "hookInstance": str(instance),
            "context": {"userId": "Practitioner/fuzz", "patientId": patient_id},
            "prefetch": prefetch,
        },
        prefetches(), st.uuids(),
    )
