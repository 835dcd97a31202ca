"""Screenshots of the gallery page, one PNG per topic, with Debian's headless Chromium.

Playwright drives /usr/bin/chromium (else a ``chromium`` on PATH), which
scripts/system-deps.sh installs; it never downloads a browser of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class ScreenshotError(RuntimeError):
    """Chromium or Playwright is missing, or a topic's card is not on the page."""


def chromium_executable() -> Path:
    if Path("/usr/bin/chromium").exists():
        return Path("/usr/bin/chromium")
    found = shutil.which("chromium")
    if found is None:
        raise ScreenshotError(
            "Chromium is not installed: run scripts/system-deps.sh (Debian package "
            "'chromium'), or regenerate the pages only with --no-screenshots")
    return Path(found)


def take(page_file: Path, topics: Iterable[str], out_dir: Path) -> list[Path]:
    """``out_dir/<topic>.png`` for each topic: the card on ``page_file``, cropped to it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ScreenshotError(
            "Playwright is not installed: pip install -e '.[dev]'") from None
    executable = chromium_executable()
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(page_file.resolve().as_uri())
            for topic in topics:
                card = page.locator(f"#topic-{topic} .cds-card")
                if card.count() != 1:
                    raise ScreenshotError(f"the {topic} card is not on {page_file}")
                target = out_dir / f"{topic}.png"
                card.screenshot(path=str(target), animations="disabled")
                written.append(target)
        finally:
            browser.close()
    return written
