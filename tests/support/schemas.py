"""The CDS Hooks 2.0 response schema the tests judge every answer with."""

from __future__ import annotations

import json

import jsonschema

from tests.support.paths import ROOT

# One schema for the tests and the `mcas-cds` command, shipped with the package.
SCHEMA_PATH = ROOT / "service" / "cdshooks" / "schemas" / "cds-hooks-2.0-response.schema.json"


def response_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
