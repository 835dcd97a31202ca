"""Citations of the clinical rules resolve: every cited section has a heading.

Code, tests, the files of cards/, bench/, the scenario fixtures and the docs cite the rule
they implement as ``docs/clinical-rules.md §6.9`` (several sections:
``docs/clinical-rules.md §1, §6.12``), numbered like the product specification. A
citation resolves when docs/clinical-rules.md has a heading whose text starts with the
section number (``## 4. Cards``, ``### 6.9 Missing data ...``). Inside
docs/clinical-rules.md a bare ``§6.9`` refers to its own sections. The product
specification's own file lies outside this repository, so it is never cited by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = "docs/clinical-rules.md"
RULES = ROOT / DOC
# Where citations are looked for (fhir_fixtures/: its README and the fixture descriptions).
SCANNED = ("service", "tests", "cards", "bench", "docs", "fhir_fixtures", "scripts",
           "README.md")
SKIPPED_PARTS = {"__pycache__", "node_modules", ".pytest_cache", "results"}
THIS_FILE = Path(__file__).resolve()  # its examples of bad citations are deliberate

HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.?\s", re.MULTILINE)
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
# One citation: the document, then sections separated by commas, "and", line breaks and
# comment markers; a section may carry a quoted paragraph name or a word in brackets
# (§2 "Tryptase", §4 (ladder)).
_ITEM = r'§\d+(?:\.\d+)?(?:\s*"[^"\n]*"|\s*\([^()\n]*\))?'
_SEPARATOR = r"(?:[\s,#*]|\band\b)*"
CITATION = re.compile(re.escape(DOC) + r"\s+" + _ITEM + rf"(?:{_SEPARATOR}{_ITEM})*")
# The product specification's file by any other path: "rules.md 6.9", "../rules.md".
OUTSIDE = re.compile(r"(?<!docs/clinical-)rules\.md", re.IGNORECASE)


def headings(text: str) -> set[str]:
    return set(HEADING.findall(text))


def scanned_files(root: Path = ROOT) -> Iterator[Path]:
    for name in SCANNED:
        top = root / name
        paths = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in paths:
            if (path.is_file() and path.resolve() != THIS_FILE
                    and not SKIPPED_PARTS & set(path.relative_to(root).parts)):
                yield path


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def citation_problems(files: Iterable[Path], known: set[str], root: Path = ROOT) -> list[str]:
    """Every citation that does not resolve, or that names a file outside the repository."""
    problems: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        where = path.relative_to(root).as_posix()
        own_document = where == DOC
        covered: list[tuple[int, int]] = []
        for match in CITATION.finditer(text):
            covered.append(match.span())
        for match in SECTION.finditer(text):
            number, at = match.group(1), match.start()
            line = f"{where}:{_line(text, at)}"
            if number not in known:
                problems.append(f"{line}: §{number} has no heading in {DOC}")
            if not own_document and not any(a <= at < b for a, b in covered):
                problems.append(f"{line}: §{number} does not name the document: "
                                f"cite it as '{DOC} §{number}'")
        for match in OUTSIDE.finditer(text):
            problems.append(f"{where}:{_line(text, match.start())}: cites a rules file "
                            f"outside the repository: cite '{DOC} §<section>' instead")
    return problems


def test_clinical_rules_headings_are_numbered_once() -> None:
    numbers = HEADING.findall(RULES.read_text(encoding="utf-8"))
    assert numbers, f"{DOC} has no numbered headings"
    assert len(numbers) == len(set(numbers)), f"a section number repeats: {numbers}"


def test_every_citation_names_an_existing_section() -> None:
    known = headings(RULES.read_text(encoding="utf-8"))
    problems = citation_problems(scanned_files(), known)
    assert not problems, "\n".join(problems)


def test_citations_are_found_where_expected() -> None:
    """Guards the scan itself: the rules and their tests do cite the document."""
    citing = {
        path.relative_to(ROOT).as_posix()
        for path in scanned_files()
        if path.suffix in {".py", ".yaml", ".json", ".md"}
        and CITATION.search(path.read_text(encoding="utf-8", errors="replace"))
    }
    for expected in ("service/pipeline/rules/scope.py", "service/pipeline/hook.py",
                     "tests/pipeline/rules/test_ladder.py", "cards/codes.yaml",
                     "fhir_fixtures/README.md"):
        assert expected in citing
    assert len(citing) > 30


def test_citation_checker_reports_what_does_not_resolve(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    good = tmp_path / "good.py"
    good.write_text(
        f'"""Scope ({DOC} §1,\n§6.12); {DOC} §2 "Tryptase", §4 (ladder) and §6.9."""\n',
        encoding="utf-8",
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        f"# {DOC} §6.99\n# see §6.9 alone\n# the spec's rules.md 6.9\n"
        "# ../shared/clinical/RULES.MD\n",
        encoding="utf-8",
    )
    known = {"1", "2", "4", "6.9", "6.12"}
    assert citation_problems([good], known, root=tmp_path) == []
    problems = citation_problems([bad], known, root=tmp_path)
    assert [p.split(": ", 1)[0] for p in problems] == ["bad.py:1", "bad.py:2", "bad.py:3",
                                                       "bad.py:4"]
    assert "§6.99 has no heading" in problems[0]
    assert "does not name the document" in problems[1]
    assert "outside the repository" in problems[2]
