"""Prefetch templates to relative FHIR URLs: tokens filled from the hook context.

Values are URL-encoded (a patient id can never add a path segment or a parameter), and
the query is form-encoded with its parameters sorted, the shape the CDS Hooks Sandbox
sends. An unknown token makes that one key unavailable, never the whole call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from service.pipeline.prefetch import Unavailable

_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")

# CDS Hooks 2.0 user tokens, filled from context.userId ("Practitioner/123").
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def _token_value(name: str, context: Mapping[str, Any]) -> str:
    if name.startswith("context."):
        field = name.removeprefix("context.")
        value = context.get(field)
        # Only root-level primitive context fields are prefetch tokens (spec, Prefetch tokens).
        if "." not in field and isinstance(value, str | int | float) and value != "":
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
    elif name in _USER_TOKENS:
        kind, _, ident = str(context.get("userId") or "").partition("/")
        if kind == _USER_TOKENS[name] and ident:
            return ident
    raise Unavailable(
        f"its prefetch template uses the token {{{{{name}}}}}, which the context lacks"
    )


def _fill(text: str, context: Mapping[str, Any]) -> str:
    return _TOKEN.sub(lambda m: _token_value(m.group(1), context), text)


def render(template: str, context: Mapping[str, Any]) -> str:
    """The relative URL for one template, e.g. ``Condition?patient=mcas-1``."""
    path, _, query = template.partition("?")
    segments = []
    for segment in path.split("/"):
        if _TOKEN.search(segment):
            filled = _fill(segment, context)
            if filled in {".", ".."}:  # would climb the server's path, not name a resource
                raise Unavailable("its prefetch template would be filled with a path segment")
            segment = quote(filled, safe="")
        segments.append(segment)
    relative = "/".join(segments)
    if not query:
        return relative
    # The template is ours and parsed before any value goes in, so a value containing
    # '&' or '=' stays inside its parameter.
    params = [
        (name, _fill(value, context)) for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{relative}?{urlencode(sorted(params))}"
