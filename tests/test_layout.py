"""The test suite keeps its layout: helpers only in tests/support/, no test module imports
another (or a conftest), every folder a package, and one free_port() (tests/support/ports.py
says why even that one exists).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.paths import ROOT

TESTS = ROOT / "tests"


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(path: Path) -> set[str]:
    package = ".".join(path.relative_to(ROOT).parent.parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_no_test_module_imports_another_or_a_conftest() -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files()
        for name in _imported_modules(path)
        if name.startswith("tests.")
        and any(part.startswith("test_") or part == "conftest" for part in name.split("."))
    }
    assert not offending, sorted(offending)


def test_every_test_folder_is_a_package() -> None:
    folders = {path.parent for path in _python_files()}
    assert not sorted(str(f) for f in folders if not (f / "__init__.py").exists())


def test_one_free_port() -> None:
    definition = re.compile(r"^def free_port\(", re.MULTILINE)
    defining = [p for p in _python_files() if definition.search(p.read_text(encoding="utf-8"))]
    assert defining == [TESTS / "support" / "ports.py"]
