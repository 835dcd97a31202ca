"""`make test` on a machine where apt cannot install the system parts (not Debian, or not
root): the tests that need a missing part fail, naming it and the way forward, unless
MCAS_TEST_ALLOW_MISSING lists it; then they are skipped, listed by name, and the run
passes. CI never sets it.

This machine has every part, so MCAS_TEST_PRETEND_MISSING makes the scripts and the test
fixtures see one as missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TEST = (
    "tests/web/test_admin_page_browser.py::"
    "test_change_preview_apply_and_roll_back_in_the_browser[sqlite]"
)
POSTGRES_TEST = "tests/storage/test_feedback_no_loss.py::test_postgresql_stopped_and_started_again"


def _environment(**settings: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("MCAS_TEST_") and k not in {"CI", "PYTEST_ADDOPTS"}
    }
    env.update(settings)
    return env


def _pytest(*test_ids: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_ids],
        cwd=ROOT, env=_environment(**settings), capture_output=True, text=True, timeout=300,
    )


def test_a_test_needing_a_missing_system_part_fails_unless_allowed() -> None:
    failed = _pytest(BROWSER_TEST, MCAS_TEST_PRETEND_MISSING="chromium")
    assert failed.returncode == 1, failed.stdout
    assert "Chromium is not installed" in failed.stdout
    assert "MCAS_TEST_ALLOW_MISSING=chromium" in failed.stdout

    allowed = _pytest(BROWSER_TEST, POSTGRES_TEST,
                      MCAS_TEST_PRETEND_MISSING="chromium,postgresql",
                      MCAS_TEST_ALLOW_MISSING="postgresql,chromium,node")
    assert allowed.returncode == 0, allowed.stdout
    lines = allowed.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if "skipped for missing system parts" in line)
    listed = lines[heading + 1 : heading + 3]
    assert sorted(listed) == sorted([
        f"  {BROWSER_TEST} (chromium)",
        f"  {POSTGRES_TEST} (postgresql)",
    ]), allowed.stdout
    assert "2 skipped" in lines[-1]


def test_an_unknown_part_in_allow_missing_is_a_usage_error() -> None:
    done = _pytest(BROWSER_TEST, MCAS_TEST_ALLOW_MISSING="chrome")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "unknown system part 'chrome'" in done.stdout + done.stderr
    assert "postgresql, chromium, node" in done.stdout + done.stderr


def test_allow_missing_is_refused_in_ci() -> None:
    done = _pytest(BROWSER_TEST, MCAS_TEST_ALLOW_MISSING="chromium", CI="true")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "CI" in done.stdout + done.stderr


def _without_apt(tmp_path: Path) -> str:
    """A PATH with bash and coreutils' id, but no apt-get and no sudo."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("bash", "id"):
        source = Path("/usr/bin") / tool
        (bin_dir / tool).symlink_to(source if source.exists() else Path("/bin") / tool)
    for tool in ("node", "npm"):  # present here: only the pretended parts are missing
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_system_deps_without_apt_explains_the_way_forward(tmp_path: Path) -> None:
    """It stopped at "need root to install" with no way forward."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "system-deps.sh")], cwd=ROOT, capture_output=True,
        text=True, timeout=60,
        env=_environment(PATH=_without_apt(tmp_path),
                         MCAS_TEST_PRETEND_MISSING="postgresql,chromium"),
    )
    assert done.returncode == 0, done.stderr  # the tests decide, not this script
    assert "cannot install postgresql chromium here (no apt-get)" in done.stderr
    assert "the tests that need them will FAIL" in done.stderr
    assert "MCAS_TEST_ALLOW_MISSING=postgresql,chromium" in done.stderr

    allowed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "system-deps.sh")], cwd=ROOT, capture_output=True,
        text=True, timeout=60,
        env=_environment(PATH=_without_apt(tmp_path / "again"),
                         MCAS_TEST_PRETEND_MISSING="postgresql,chromium",
                         MCAS_TEST_ALLOW_MISSING="postgresql,chromium,node"),
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "skipped and listed at the end (MCAS_TEST_ALLOW_MISSING)" in allowed.stderr
    assert "will FAIL" not in allowed.stderr


def test_readme_says_what_make_test_installs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = " ".join(text.split("\n## Two commands", 1)[1].split("\n## ", 1)[0].split())
    for needed in ("postgresql", "chromium", "apt-get", ".venv", "MCAS_TEST_ALLOW_MISSING"):
        assert needed in section, needed
