"""docs/openapi.yaml stays honest: every route of the app, each with the requests it takes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from service import create_app
from tests.support.openapi import IGNORED_METHODS, load_spec, openapi_path
from tests.support.paths import load_recording


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (openapi_path(rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    }


def schema_validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema``, its ``#/components/...`` references resolved in ``spec``."""
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_openapi_lists_exactly_the_apps_routes_and_methods() -> None:
    # Every feature on, so every route exists (the timeline's only when enabled).
    app = create_app(
        {
            "TESTING": True,
            "AUTH_DISABLED": True,
            "TIMELINE_ENABLED": True,
            "TIMELINE_CLIENT_ID": "openapi-client",
            "SECRET_KEY": "openapi-secret-" + "s" * 40,
        }
    )
    spec = load_spec()
    assert spec["openapi"].startswith("3.1.")
    missing = sorted(routes(app) - documented(spec))
    extra = sorted(documented(spec) - routes(app))
    assert not missing, f"routes not in docs/openapi.yaml: {missing}"
    assert not extra, f"docs/openapi.yaml lists routes the app does not have: {extra}"


def test_every_schema_is_valid_json_schema() -> None:
    spec = load_spec()
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_path_parameter_is_declared() -> None:
    spec = load_spec()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            declared = set()
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter:
                    parameter = spec["components"]["parameters"][parameter["$ref"].split("/")[-1]]
                if parameter["in"] == "path":
                    declared.add(parameter["name"])
            assert declared == set(re.findall(r"{([^}]+)}", path)), (path, method)


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        ("HookRequest", load_recording("hook-request.json")["body"]),
        ("FeedbackRequest", load_recording("feedback-request.json")["body"]),
    ],
    ids=["hook", "feedback"],
)
def test_the_cds_hooks_sandboxs_recorded_requests_fit_the_schemas(
    schema: str, body: dict[str, Any]
) -> None:
    spec = load_spec()
    validator = schema_validator(spec, {"$ref": f"#/components/schemas/{schema}"})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, json.dumps(errors[:5])
