"""The nesting limit of JSON bodies, read on the raw bytes before parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cdshooks.json_body import MAX_JSON_DEPTH, nesting_exceeds, parse_json_body
from service.errors import BadRequest

_STRINGS = st.sampled_from(["", "]", "[[{", '"', '\\"]', "\\", "é]", "\u2028{", "}}}]]]"])
_LEAVES = st.one_of(st.none(), st.integers(), _STRINGS, st.text(max_size=5))


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_DOCUMENTS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_STRINGS | st.text(max_size=3), inner)
    ),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True)
@given(document=_DOCUMENTS, ascii_only=st.booleans(), limit=st.integers(0, 12))
def test_the_nesting_check_agrees_with_the_parsed_depth(
    document: Any, ascii_only: bool, limit: int
) -> None:
    raw = json.dumps(document, ensure_ascii=ascii_only).encode()
    assert nesting_exceeds(raw, limit) == (_depth(document) > limit)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000])
def test_bodies_past_the_limit_are_refused_before_parsing(depth: int) -> None:
    with pytest.raises(BadRequest, match="nested too deeply"):
        parse_json_body(b"[" * depth + b"]" * depth)
    assert parse_json_body(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None


def test_brackets_inside_strings_do_not_count() -> None:
    deep_text = json.dumps({"note": "[" * 500, "other": "]" * 500, "n": [[1]]}).encode()
    assert not nesting_exceeds(deep_text)
    hidden = b'{"a": "' + b"]" * 300 + b'", "b": ' + b"[" * 150 + b"]" * 150 + b"}"
    assert nesting_exceeds(hidden)


# Issue 18: the body is parsed with orjson where it gives exactly what json.loads gives;
# every value and every verdict must stay json.loads'.
def _same_as_json_loads(raw: bytes) -> None:
    try:
        expected = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        with pytest.raises(BadRequest):
            parse_json_body(raw)
        return
    got = parse_json_body(raw)
    # repr tells 1 from 1.0 and nan from None; == alone would not.
    assert repr(got) == repr(expected)


_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 3, max_value=2**66),
    st.integers(min_value=-(2**66), max_value=-(2**63) + 3),
    st.floats(allow_nan=True, allow_infinity=True),
)
_ANY_LEAVES = st.one_of(st.none(), st.booleans(), _NUMBERS, st.text(max_size=8), _STRINGS)
_ANY_DOCUMENTS = st.recursive(
    _ANY_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, derandomize=True)
@given(document=_ANY_DOCUMENTS, ascii_only=st.booleans())
def test_parsed_values_are_json_loads_values(document: Any, ascii_only: bool) -> None:
    _same_as_json_loads(json.dumps(document, ensure_ascii=ascii_only).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b"123456789012345678901234567890",  # beyond 64 bits: an int, never a float
        b'{"valueInteger": -9223372036854775809}',
        b"[18446744073709551615, 18446744073709551616]",
        b'{"id": "1234567890123456789012"}',  # a long digit run inside a string
        b"[NaN, Infinity, -Infinity]",
        b"[1e400, -1e400]",
        b'"\\ud800"',  # a lone surrogate escape
        b'\xef\xbb\xbf{"a": 1}',  # UTF-8 byte order mark
        '{"a": "é"}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32-le"),
        b'{"a": 1, "a": 2}',
        b"[-0, 0.0, -0.0, 1E2, 1e-400]",
        b'{"a": 1} x',
        b"\xff\xfe\xfd",
        b"",
        b"   ",
        b'{"a": "\x00"}',
    ],
)
def test_edge_cases_match_json_loads(raw: bytes) -> None:
    _same_as_json_loads(raw)
