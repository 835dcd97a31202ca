"""``python -m service.gallery``: regenerate docs/cards.md, docs/cards/gallery.html and the
screenshots docs/cards/<topic>.png (``make card-gallery``).

``--check`` only compares the text pages with what they would be (exit 1 when stale);
``--no-screenshots`` writes the text pages without Chromium; ``--overlay FILE`` draws the
cards with a site overlay (then write elsewhere with ``--out``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from service.gallery.build import REGENERATE, RULES_DOC, collect, out_of_date, pages, pictures
from service.gallery.screenshots import ScreenshotError, take
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import KnowledgeError
from service.knowledge.overlay import CardsFiles
from service.scenarios.fixtures import FIXTURES_DIR, all_fixtures
from service.thresholds.fields import field_infos
from service.thresholds.files import load_thresholds

CHECKOUT = Path(__file__).resolve().parents[2]
DOCS = CHECKOUT / "docs"


def build(overlays: list[Path] | None = None) -> tuple[dict[str, str], list[str]]:
    """The text pages (path under docs/ -> text) and the topics that get a picture."""
    cards_dir = bundled_cards_dir()
    knowledge = load_knowledge(CardsFiles(cards_dir, overlays or ()))
    ranges = {info.path: info.range for info in field_infos(cards_dir)}
    thresholds = load_thresholds(cards_dir / "thresholds.yaml", ranges)
    rules = DOCS / RULES_DOC.removeprefix("docs/")
    gallery = collect(
        knowledge, thresholds, all_fixtures(FIXTURES_DIR),
        rules.read_text(encoding="utf-8") if rules.is_file() else "",
    )
    return pages(gallery), pictures(gallery)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.gallery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="directory to write cards.md and cards/ into (default: the "
                        "checkout's docs/)")
    parser.add_argument("--overlay", type=Path, action="append", metavar="FILE",
                        help="a site overlay over the bundled cards (repeatable)")
    parser.add_argument("--no-screenshots", action="store_true",
                        help="write the pages only (no Chromium needed)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the pages under --out are out of date; write nothing")
    args = parser.parse_args(argv)
    # The fixtures set traps on purpose (unreadable resources...): their warnings are noise
    # here; a fixture that cannot be drawn is listed on the page instead.
    logging.getLogger("service").setLevel(logging.ERROR)
    if args.out is None:
        if not DOCS.is_dir():  # an installed package has no docs/ of its own
            parser.error("--out DIR is needed outside a source checkout")
        args.out = DOCS
    try:
        texts, topics = build(args.overlay)
    except KnowledgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = out_of_date(args.out, texts)
        for name in stale:
            print(f"{name} is out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    for name, text in texts.items():
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if args.no_screenshots:
        return 0
    pictures_dir = args.out / "cards"
    for old in pictures_dir.glob("*.png"):
        if old.stem not in topics:
            old.unlink()  # a topic that is gone, or no longer shown by any fixture
    try:
        written = take(pictures_dir / "gallery.html", topics, pictures_dir)
    except ScreenshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} screenshots into {pictures_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
