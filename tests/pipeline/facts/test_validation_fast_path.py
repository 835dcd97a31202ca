"""The plain-shape check of elements (issue 18) only ever says "valid" where the FHIR model
says so: whatever it accepts, CodeableConcept and Quantity validate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.facts import validation

_TEXTS = st.one_of(
    st.sampled_from(
        ["", " ", "a", " a", "a ", "a  b", "a b", "a\tb", "\n", "x\u2028", "\u00a0", "é",
         "http://loinc.org", "urn:oid:2.16.840.1", "mg/dL", "ug/L", "{score}", "1234-5",
         "D89.42", "%", "a\x00b", "\x7f", "~", "!"]
    ),
    st.text(max_size=6),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8),
)
_NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e-07, 1e15, 1e16, 2**63, 12.5, 1e300]),
)
_ODD = st.one_of(st.none(), st.booleans(), _NUMBERS, st.lists(st.text(max_size=2), max_size=2))


def _maybe(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


_CODINGS = st.one_of(
    _maybe(["system", "code", "display"], _TEXTS),
    _maybe(["system", "code", "display", "version", "userSelected", "id", "extra"],
           st.one_of(_TEXTS, _ODD)),
)
_CONCEPTS = st.one_of(
    st.fixed_dictionaries({}, optional={"coding": st.lists(_CODINGS, max_size=3),
                                        "text": _TEXTS}),
    _maybe(["coding", "text", "id", "extra"], st.one_of(_TEXTS, _ODD, st.lists(_CODINGS))),
)
_QUANTITIES = st.one_of(
    st.fixed_dictionaries({}, optional={
        "value": _NUMBERS, "unit": _TEXTS, "system": _TEXTS, "code": _TEXTS,
        "comparator": st.sampled_from(["<", "<=", ">=", ">", "=", "ad"]),
    }),
    _maybe(["value", "unit", "system", "code", "comparator", "id", "extra"],
           st.one_of(_TEXTS, _ODD)),
)


def _model_says(kind: str, value: dict[str, Any]) -> bool:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return validation._model_valid.__wrapped__(kind, text)  # type: ignore[attr-defined]


@settings(max_examples=1500, derandomize=True)
@given(kind_and_value=st.one_of(
    st.tuples(st.just("CodeableConcept"), _CONCEPTS),
    st.tuples(st.just("Quantity"), _QUANTITIES),
))
def test_what_the_plain_check_accepts_the_model_accepts(
    kind_and_value: tuple[str, dict[str, Any]],
) -> None:
    kind, value = kind_and_value
    if validation._strict(kind, value) and validation._plainly_valid(kind, value):
        assert _model_says(kind, value), (kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("CodeableConcept", {"coding": [{"system": "http://loinc.org", "code": "30341-2",
                                         "display": "Tryptase"}], "text": "Tryptase"}),
        ("CodeableConcept", {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                         "code": "D89.42"}]}),
        ("Quantity", {"value": 12.5, "unit": "ug/L", "system": "http://unitsofmeasure.org",
                      "code": "ug/L"}),
        ("Quantity", {"value": 104, "comparator": ">", "unit": "mcg/g creatinine"}),
    ],
)
def test_the_common_shapes_take_the_plain_check(kind: str, value: dict[str, Any]) -> None:
    assert validation._plainly_valid(kind, value)
    assert validation.valid(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("CodeableConcept", {"coding": [{"code": " padded"}]}),
        ("CodeableConcept", {"text": ""}),
        ("CodeableConcept", {"coding": [{"code": "x", "unknown": "y"}]}),
        ("Quantity", {"value": 1, "unknown": 2}),
        ("Quantity", {"value": 1, "code": "a  b"}),
    ],
)
def test_what_the_model_refuses_is_still_refused(kind: str, value: dict[str, Any]) -> None:
    assert not validation._plainly_valid(kind, value)
    assert not validation.valid(kind, value)
