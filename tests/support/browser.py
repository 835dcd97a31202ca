"""Debian's Chromium driven by Playwright, and the app served on 127.0.0.1 in a thread.

Playwright never downloads a browser here: it launches /usr/bin/chromium (else a
`chromium` on PATH), which scripts/system-deps.sh installs (never run `playwright
install`). Missing, the test fails unless MCAS_TEST_ALLOW_MISSING lists chromium
(tests/support/system_parts.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server

from tests.support.system_parts import chromium_executable, require

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app on a free loopback port; its base URL. Stopped on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Missing: the test fails, or is skipped if MCAS_TEST_ALLOW_MISSING lists chromium.
    require("chromium")
    executable = chromium_executable()
    assert executable is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
