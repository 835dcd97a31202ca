"""The card gallery: every topic's card drawn as an EHR shows it (docs/cards.md).

``python -m service.gallery`` (``make card-gallery``) fires every fixture at its own date
(``build.py``), writes ``docs/cards.md`` and ``docs/cards/gallery.html`` and screenshots
each topic's card with Debian's headless Chromium through Playwright
(``screenshots.py``) into ``docs/cards/<topic>.png``. A development tool: it reads the
bundled ``cards/``, thresholds file and fixtures (plus ``--overlay`` files), never the
service's settings.
"""
