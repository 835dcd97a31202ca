"""Cards drawn as an EHR shows them: safe HTML from a CDS Hooks card (no Flask, no I/O).

``render.py`` turns one card into an HTML fragment: its Markdown detail through
markdown-it-py with raw HTML off, every other text escaped, only http(s) and mailto
links kept. The administrator's preview (service/thresholds/preview.py) and the card
gallery (service/gallery/, docs/cards.md) use it. The fragment has no inline style or
script, so it is shown under the page's strict Content-Security-Policy with the
stylesheet ``static/cards.css``.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
STYLESHEET = STATIC_DIR / "cards.css"
