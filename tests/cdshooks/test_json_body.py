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
