"""Request bodies as JSON: one parser for the hook, feedback and the admin API.

Nesting is limited to ``MAX_JSON_DEPTH`` levels, checked on the raw bytes *before*
parsing, so no deeper structure ever reaches code that walks it (Python's parser
itself fails with a RecursionError at about 1,000 levels, and FHIR model validation of
one resource at about 250). FHIR data sent to this service nest about 10 levels deep
(request, prefetch, Bundle, entry, resource, element, coding), so the limit leaves
ample room.

Parsing is orjson's (about 1.3-2.5x faster than the standard library on our requests,
bench/RESULTS.md, issue 18) wherever it gives exactly what ``json.loads`` gives; the
standard parser decides everything else, so the service accepts and refuses the same
bodies, with the same values, as with ``json.loads`` alone:

- orjson refuses what ``json.loads`` accepts (NaN, Infinity, numbers beyond a double, a
  lone surrogate escape, a UTF-8 byte order mark, UTF-16 and UTF-32 bodies): any orjson
  error hands the body to ``json.loads``, whose answer stands;
- orjson reads an integer beyond 64 bits as a float where ``json.loads`` gives an int: a
  body holding a run of 19 or more digits anywhere (one whole-body ``bytes.translate`` and
  ``find``) goes to ``json.loads`` directly;
- orjson stops at 1,024 levels of nesting: the limit here is far below.

The check works on whole-body byte operations (``bytes.translate`` and ``replace``),
not a Python loop per byte: about 0.06 ms for a typical 33 kB hook request and a few
milliseconds for a 5 MB prefetch of 5,000 Observations (bench/RESULTS.md's patients).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

from service.errors import BadRequest

MAX_JSON_DEPTH = 100

_ALL_BYTES = bytes(range(256))
_QUOTES_AND_BRACKETS = _ALL_BYTES.translate(None, b'"[]{}')  # delete table: all but these
_BRACKETS = _ALL_BYTES.translate(None, b"[]{}")
# One kind of bracket: { -> [, } -> ].
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_RUNS = re.compile(rb"\[+|\]+")
_QUICK_PASSES = 16
# Digits as "0", every other byte as ".": a run of 19 zeros is a run of 19 digits. 19
# digits may already exceed a signed 64-bit integer (the least is -9223372036854775808).
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 46 for byte in range(256))
_LONG_DIGIT_RUN = b"0" * 19


def nesting_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects more than ``limit`` deep.

    Exact for valid JSON; for invalid JSON the answer does not matter (it is refused
    either way).
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # not enough brackets to be that deep (most small bodies)
    if b"\\" in raw:  # escapes: an escaped quote must not end a string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Brackets outside strings: keep quotes and brackets, drop the strings.
    kept = raw.translate(None, _QUOTES_AND_BRACKETS).replace(b'""', b"")
    if b'"' in kept:  # a string holding brackets (rare): drop what lies between quotes
        kept = b"".join(kept.split(b'"')[::2])
    brackets = kept.translate(None, _BRACKETS).translate(_ONE_KIND)
    # Each pass removes the innermost pairs: the depth falls by exactly one.
    quick = min(limit, _QUICK_PASSES)
    for _ in range(quick):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    if not brackets:
        return False
    # Still deep after the quick passes: one linear count over runs of what is left
    # ("[[[" up by 3, "]]" down by 2), so a body of many deep chains costs no more than
    # parsing it would.
    if brackets.startswith(b"]"):  # invalid JSON; refused by the parser anyway
        return False
    runs = [len(run) for run in _RUNS.findall(brackets)]
    runs[1::2] = [-length for length in runs[1::2]]
    return max(accumulate(runs)) > limit - quick


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON, or a 400 that says why not."""
    if nesting_exceeds(raw):
        raise BadRequest(
            f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels)."
        )
    if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGIT_RUN) == -1:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json.loads decides: it accepts some of what orjson refuses
    try:
        return json.loads(raw)
    except RecursionError:  # only with a higher limit than Python's parser can take
        raise BadRequest("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
