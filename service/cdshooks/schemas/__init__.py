"""JSON Schemas for CDS Hooks 2.0 documents, written from the specification.

One copy, shipped with the package: the command line checks deployed services with
them and the tests check the service's own answers with the same files.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

RESPONSE = "cds-hooks-2.0-response.schema.json"
DISCOVERY = "cds-hooks-2.0-discovery.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    )
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _empty_members(node: Any, path: str, out: list[str], top: bool = False) -> None:
    """CDS Hooks 'Use of JSON': no member may be null or empty ("", [], {}),
    except the top-level ``cards`` array, which is empty when nothing applies."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if value is None or value in ("", [], {}):
                if not (top and key == "cards" and value == []):
                    out.append(f"{where}: {json.dumps(value)} (leave optional members out)")
                continue
            _empty_members(value, where, out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _empty_members(value, f"{path}[{index}]", out)


def violations(document: Any, name: str = RESPONSE) -> list[str]:
    """Readable schema violations of a CDS Hooks document, empty when it conforms."""
    found = []
    for error in sorted(validator(name).iter_errors(document), key=lambda e: list(e.path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        found.append(f"{where.lstrip('.') or '(document)'}: {error.message}")
    _empty_members(document, "", found, top=True)
    return list(dict.fromkeys(found))
