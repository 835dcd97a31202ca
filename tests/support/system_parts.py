"""System parts some tests need beyond Python, and what happens when one is missing.

``scripts/system-deps.sh`` (run by ``make test``) installs them with apt-get on Debian, as
root or with passwordless sudo. Where it cannot (another system, no root), a test that needs
a missing part **fails**, naming the part and the way forward, unless the part is listed in
``MCAS_TEST_ALLOW_MISSING`` (comma-separated: ``postgresql,chromium,node``): then the test
is skipped with the reason ``missing system part: <part>``, and the session ends with the
list of the tests skipped so. The run can then pass, but says what it did not test. CI
never sets it: with ``CI`` set, it is a usage error.

``MCAS_TEST_PRETEND_MISSING`` (same syntax) makes a part look missing on a machine that
has it, to test this mechanism (tests/scripts/test_system_parts.py); scripts/system-deps.sh
honours it too.

A test (or the fixture it uses) calls ``require("postgresql")`` before using the part.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ALLOW_ENV = "MCAS_TEST_ALLOW_MISSING"
PRETEND_ENV = "MCAS_TEST_PRETEND_MISSING"
SKIP_REASON = "missing system part: "


def postgresql_bin_dir() -> Path | None:
    """Debian's newest /usr/lib/postgresql/<version>/bin, else the directory of an
    ``initdb`` on PATH (Homebrew, Fedora, ...)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def chromium_executable() -> Path | None:
    """Debian's /usr/bin/chromium, else a ``chromium`` on PATH."""
    if Path("/usr/bin/chromium").exists():
        return Path("/usr/bin/chromium")
    found = shutil.which("chromium")
    return Path(found) if found else None


@dataclass(frozen=True)
class Part:
    name: str
    what: str  # as the failure message names it: "<what> is not installed"
    debian_package: str
    locate: Callable[[], object | None]


PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part("postgresql", "PostgreSQL (initdb, pg_ctl, postgres)", "postgresql",
             postgresql_bin_dir),
        Part("chromium", "Chromium", "chromium", chromium_executable),
        # No test needs Node.js yet; the SMART app's will.
        Part("node", "Node.js", "nodejs", lambda: shutil.which("node")),
    )
}


def _listed(variable: str) -> set[str]:
    names = {n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()}
    unknown = sorted(names - set(PARTS))
    if unknown:
        raise pytest.UsageError(
            f"{variable}: unknown system part '{unknown[0]}'; known parts: "
            + ", ".join(PARTS)
        )
    return names


def present(name: str) -> bool:
    return name not in _listed(PRETEND_ENV) and PARTS[name].locate() is not None


def require(name: str) -> None:
    """Return if the part is there; skip when its absence is allowed; fail otherwise."""
    if present(name):
        return
    part = PARTS[name]
    if name in _listed(ALLOW_ENV):
        pytest.skip(f"{SKIP_REASON}{name} ({part.what}; allowed by {ALLOW_ENV})")
    pytest.fail(
        f"{part.what} is not installed. Run scripts/system-deps.sh as root on Debian "
        f"(apt-get install {part.debian_package}), install it with your system's package "
        f"manager, or set {ALLOW_ENV}={name} to skip the tests that need it (they are then "
        "listed at the end).",
        pytrace=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    allowed = _listed(ALLOW_ENV)
    _listed(PRETEND_ENV)
    if allowed and os.environ.get("CI"):
        raise pytest.UsageError(
            f"{ALLOW_ENV} is set in CI ({os.environ[ALLOW_ENV]}): CI installs every system "
            "part (scripts/system-deps.sh) and tests them all"
        )


def _skipped_for_missing_parts(reporter: pytest.TerminalReporter) -> list[tuple[str, str]]:
    found = []
    for report in reporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if SKIP_REASON in reason:
            part = reason.split(SKIP_REASON, 1)[1].split(" ", 1)[0]
            found.append((report.nodeid, part))
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = _skipped_for_missing_parts(terminalreporter)
    if not skipped:
        return
    allowed = os.environ.get(ALLOW_ENV, "")
    terminalreporter.section(
        f"{len(skipped)} tests skipped for missing system parts ({ALLOW_ENV}={allowed})",
        sep="-",
        yellow=True,
    )
    for nodeid, part in sorted(set(skipped)):
        terminalreporter.write_line(f"  {nodeid} ({part})")
