"""The fast reading of common FHIR dateTime shapes (issue 18) gives exactly what the
model's validation and the general parse give, over values generated near those shapes:
every field's edges, impossible days, zones up to and past 14:00, fractions of 0-9 digits,
missing zones, leap seconds, stray characters."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline.facts import timeutil

_DEEP = os.environ.get("MCAS_PROPERTY_EXAMPLES")
PROPERTY = settings(
    max_examples=int(_DEEP or "3000"),
    derandomize=_DEEP is None,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _slow(text: str) -> object:
    """The general path alone: the model's verdict, then the general parse."""
    if not timeutil._fhir_valid(text, "dateTime"):
        return None
    if text.count(":") == 2 and ":60" in text:
        text = text.replace(":60", ":59", 1)
    return timeutil._parse(text)


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


YEARS = st.one_of(st.sampled_from(["0000", "0001", "0003", "1970", "2026", "9997", "9999"]),
                  st.integers(0, 9999).map(lambda n: f"{n:04d}"))
ZONES = st.one_of(
    st.sampled_from(["Z", "", "+00:00", "-00:00", "+14:00", "-14:00", "+14:01", "+13:59",
                     "-12:30", "+05:45", "z", "+0530", "+15:00"]),
    st.tuples(st.sampled_from("+-"), _two(0, 16), _two(0, 61)).map(
        lambda t: f"{t[0]}{t[1]}:{t[2]}"),
)
FRACTIONS = st.one_of(st.just(""), st.integers(0, 9).flatmap(
    lambda n: st.text("0123456789", min_size=n, max_size=n).map(lambda d: "." + d)))


@st.composite
def near_shapes(draw: st.DrawFn) -> str:
    date = f"{draw(YEARS)}-{draw(_two(0, 13))}-{draw(_two(0, 32))}"
    if draw(st.booleans()):
        return date + draw(st.sampled_from(["", "", "T", " ", "x"]))
    time = f"T{draw(_two(0, 25))}:{draw(_two(0, 61))}:{draw(_two(0, 61))}"
    return date + time + draw(FRACTIONS) + draw(ZONES)


@pytest.mark.slow
@PROPERTY
@given(near_shapes())
def test_the_fast_path_agrees_with_the_model(text: str) -> None:
    timeutil.forget()
    assert timeutil.parse_fhir_time(text) == _slow(text)


@pytest.mark.parametrize("text", [
    "2026-08-17", "2026-08-17T10:00:00Z", "2026-08-17T10:00:00.5+02:00",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-02-29",
    "2026-02-29", "2026-08-17T10:00:00", "2026-08-17T10:00:00+14:30", "0000-01-01",
    "2026-06-30T23:59:60Z", "2026-08-17T10:00:00.1234567Z", "2026", "2026-08",
])
def test_edges_agree_with_the_model(text: str) -> None:
    timeutil.forget()
    assert timeutil.parse_fhir_time(text) == _slow(text)
