"""Requests for the route fuzz test (tests/web/test_route_fuzz.py), made from docs/openapi.yaml.

Each operation's parameters and JSON body are generated from its schemas: mostly values
that fit them (so requests get past validation into the handlers), and at every level,
now and then, a value that does not (wrong types, NUL and unpaired surrogates, extreme
numbers and instants, deep nesting), plus bodies that are not JSON at all. The hook gets
the CDS Hooks Sandbox's recorded call with faults injected at random places as well, so
FHIR content reaches the facts and rules, and the FHIR-shaped requests of
tests/support/fhir_strategies.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from tests.support.fhir_strategies import hook_requests
from tests.support.paths import load_recording

JSON = Any
Strategy = st.SearchStrategy[Any]

EDGE_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u2028",
    "é",
    "😀",
    "null",
    "[]",
    "{}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00",
    "x" * 5000,
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-02-30",
    "2026-11-25T11:44:40",
    "2026-11-25T11:44:40Z",
    "2026-11-25",
    "Patient/mcas-1",
    "http://127.0.0.1:1/fhir",
)
EDGE_NUMBERS = (0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**30, 1e308, -1e-308, 0.5)


@st.composite
def _deep(draw: st.DrawFn) -> JSON:
    depth = draw(st.sampled_from([5, 99, 100, 101, 150]))
    value: JSON = draw(st.sampled_from([None, 1, "x"]))
    for _ in range(depth):
        value = [value] if draw(st.booleans()) else {"a": value}
    return value


def scalars() -> Strategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(EDGE_NUMBERS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(EDGE_STRINGS),
        st.text(max_size=20),
    )


def names() -> Strategy:
    """Member names, with the ones that are no text at all (NUL, unpaired surrogates)."""
    return st.one_of(st.text(max_size=10), st.sampled_from(EDGE_STRINGS[:13]))


def nasty() -> Strategy:
    """Any JSON value at all, with the shapes that broke the service before."""
    return st.one_of(
        scalars(),
        st.lists(scalars(), max_size=4),
        st.dictionaries(names(), scalars(), max_size=4),
        _deep(),
    )


@dataclass
class Schemas:
    """Strategies for the schemas of one OpenAPI document, ``$ref``s resolved in it."""

    spec: dict[str, Any]
    fault_rate: int = 12  # about one value in this many is replaced by a nasty one
    _cache: dict[str, Strategy] = field(default_factory=dict)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            target: Any = self.spec
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            # Keywords beside a $ref (minLength on a Text) narrow it.
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def values(self, schema: dict[str, Any]) -> Strategy:
        """Mostly values that fit ``schema``; now and then any JSON at all."""
        fitting = self.fitting(schema)
        return st.integers(0, self.fault_rate - 1).flatmap(lambda n: nasty() if n == 0 else fitting)

    def fitting(self, schema: dict[str, Any]) -> Strategy:
        ref = schema.get("$ref")
        if ref is not None and len(schema) == 1:
            if ref not in self._cache:
                self._cache[ref] = st.deferred(lambda: self._fitting(self.resolve(schema)))
            return self._cache[ref]
        return self._fitting(self.resolve(schema))

    def _fitting(self, schema: dict[str, Any]) -> Strategy:
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.fitting(option) for option in schema[key]])
        kinds = schema.get("type", "object")
        if isinstance(kinds, list):
            return st.one_of([self._fitting({**schema, "type": kind}) for kind in kinds])
        return _BY_TYPE[kinds](self, schema)


def _object(schemas: Schemas, schema: dict[str, Any]) -> Strategy:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {name: schemas.values(sub) for name, sub in properties.items() if name in required}
    optional = {
        name: schemas.values(sub) for name, sub in properties.items() if name not in required
    }
    base = st.fixed_dictionaries(fixed, optional=optional)
    if schema.get("additionalProperties", True) is False:
        return base
    extra = st.dictionaries(names(), scalars(), max_size=2)
    if isinstance(schema.get("additionalProperties"), dict):
        extra = st.dictionaries(names(), schemas.values(schema["additionalProperties"]), max_size=4)
    return st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})


def _array(schemas: Schemas, schema: dict[str, Any]) -> Strategy:
    items = schemas.values(schema.get("items", {}))
    return st.lists(items, max_size=min(int(schema.get("maxItems", 4)) + 1, 4))


def _string(_: Schemas, schema: dict[str, Any]) -> Strategy:
    kind = schema.get("format")
    if kind == "uuid":
        return st.uuids().map(str)
    if kind == "date-time":
        return st.one_of(
            st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
            st.sampled_from(EDGE_STRINGS[16:24]),
        )
    if kind == "uri":
        return st.sampled_from(["http://127.0.0.1:1/fhir", "https://ehr.example.org/fhir"])
    examples = schema.get("examples", [])
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 40))
    text = st.text(min_size=low, max_size=min(high, 40))
    return st.one_of(st.sampled_from(examples), text) if examples else text


def _integer(_: Schemas, schema: dict[str, Any]) -> Strategy:
    return st.integers(schema.get("minimum"), schema.get("maximum"))


_BY_TYPE: dict[str, Callable[[Schemas, dict[str, Any]], Strategy]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _integer,
    "number": lambda _s, _x: st.floats(allow_nan=False, allow_infinity=False),
    "boolean": lambda _s, _x: st.booleans(),
    "null": lambda _s, _x: st.none(),
}


# -- the hook: the Sandbox's recorded call with faults injected ------------------------------


def _paths(node: JSON, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


@st.composite
def recorded_hook_with_faults(draw: st.DrawFn) -> JSON:
    body = copy.deepcopy(load_recording("hook-request.json")["body"])
    del body["fhirServer"]  # nothing may be fetched: no FHIR server answers in this test
    paths = [p for p in _paths(body) if p and p[0] not in ("hook", "hookInstance")]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        target: Any = body
        try:
            for step in path[:-1]:
                target = target[step]
            if draw(st.integers(0, 5)) == 0 and isinstance(target, dict):
                target.pop(path[-1], None)
            else:
                target[path[-1]] = draw(nasty())
        except (KeyError, IndexError, TypeError):
            continue  # an earlier fault removed or replaced this place
    return body


@st.composite
def thresholds_with_faults(draw: st.DrawFn) -> JSON:
    """The bundled thresholds with 0 to 2 values replaced: proposals that may validate."""
    from tests.support.thresholds_admin import default_values

    values = default_values()
    paths = [p for p in _paths(values) if p]
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(paths))
        target: Any = values
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = draw(st.one_of(nasty(), st.integers(-5, 400)))
        except (KeyError, IndexError, TypeError):
            continue
    return values


def hook_bodies(schemas: Schemas) -> Strategy:
    """From the schema, the recorded call with faults injected, and FHIR-shaped requests."""
    schema = {"$ref": "#/components/schemas/HookRequest"}
    # FHIR resources as EHRs send them (faulty, odd, plain wrong) under every key.
    return st.one_of(recorded_hook_with_faults(), schemas.values(schema), hook_requests())


# -- one request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as the app sees it (request.path), before quoting
    query: str = ""
    body: bytes | None = None
    content_type: str | None = None

    def url(self) -> str:
        quoted = quote(self.path, safe="/")
        return f"{quoted}?{self.query}" if self.query else quoted


def encode_body(draw: st.DrawFn, value: JSON) -> tuple[bytes, str]:
    """The JSON as a client sends it; now and then bytes that are no JSON at all."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=64)), "application/json"
    if kind == 1:
        return json.dumps(value)[: draw(st.integers(0, 30))].encode(), "application/json"
    if kind == 2:
        return b"", draw(st.sampled_from(["application/json", "text/plain"]))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass"), draw(
        st.sampled_from(["application/json"] * 8 + ["application/fhir+json", "text/plain"])
    )


def path_values(schemas: Schemas, parameter: dict[str, Any]) -> Strategy:
    schema = schemas.resolve(parameter.get("schema", {}))
    if schema.get("type") == "integer":
        return st.one_of(
            st.integers(0, 5),
            st.sampled_from([2**31 - 1, 2**31, 2**63, 99999999999999999999]),
            st.integers(min_value=0),
        ).map(str)
    examples = schema.get("examples", [])
    alphabet = st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#%")
    return st.one_of(
        st.sampled_from(examples) if examples else st.nothing(),
        st.sampled_from(examples) if examples else st.nothing(),
        st.text(alphabet, min_size=1, max_size=30),
    )


def query_values(schemas: Schemas, parameter: dict[str, Any]) -> Strategy:
    examples = schemas.resolve(parameter.get("schema", {})).get("examples", [])
    return st.one_of(
        st.sampled_from(examples) if examples else st.nothing(),
        st.sampled_from(EDGE_STRINGS),
        st.text(max_size=20),
    )


@st.composite
def requests_for(
    draw: st.DrawFn,
    schemas: Schemas,
    method: str,
    template: str,
    operation: dict[str, Any],
) -> Request:
    """One request for ``method template`` (an OpenAPI operation)."""
    path, query = template, {}
    for parameter in operation.get("parameters", []):
        parameter = schemas.resolve(parameter)
        if parameter["in"] == "path":
            value = draw(path_values(schemas, parameter))
            path = path.replace("{" + parameter["name"] + "}", value)
        elif parameter["in"] == "query" and draw(st.booleans()):
            query[parameter["name"]] = draw(query_values(schemas, parameter))
    if draw(st.integers(0, 3)) == 0:  # parameters no route reads
        query.update(draw(st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3)))
    body: bytes | None = None
    content_type: str | None = None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        schema = content["schema"]
        if schema.get("$ref", "").endswith("/HookRequest"):
            value = draw(hook_bodies(schemas))
        else:
            value = draw(schemas.values(schema))
            if isinstance(value, dict) and "values" in value and draw(st.integers(0, 2)):
                value["values"] = draw(thresholds_with_faults())
        body, content_type = encode_body(draw, value)
    encoded = urlencode(
        {k: v.encode("utf-8", "surrogatepass") for k, v in query.items()}, doseq=False
    )
    return Request(method.upper(), path, encoded, body, content_type)
