"""docs/openapi.yaml for the tests: the document, and Flask rules as its paths."""

from __future__ import annotations

import re
from typing import Any

import yaml
from werkzeug.routing import Rule

from tests.support.paths import ROOT

SPEC_PATH = ROOT / "docs" / "openapi.yaml"
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})  # answered by Flask for every route


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def openapi_path(rule: Rule) -> str:
    """/admin/api/thresholds/versions/<int:number> -> /admin/api/thresholds/versions/{number}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
