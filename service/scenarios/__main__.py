"""``python -m service.scenarios FILE [NOW]``: print FILE's request as fired at NOW."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from service.scenarios.fixtures import FixtureError, load_fixture, parse_instant, request_for


def main(argv: list[str] | None = None) -> int:
    """``python -m service.scenarios FILE [NOW]``: print FILE's request as fired at NOW."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m service.scenarios",
        description="Print a fixture's CDS Hooks request with its dates moved to now "
        "(or to NOW, a UTC instant) and a fresh hookInstance, ready for curl -d @-.",
    )
    parser.add_argument("fixture", type=Path, help="a fhir_fixtures/*.json file")
    parser.add_argument("now", nargs="?", help="e.g. 2027-01-31T09:00:00Z (default: now)")
    args = parser.parse_args(argv)
    try:
        fixture = load_fixture(args.fixture)
        now = parse_instant(args.now) if args.now else datetime.now(UTC)
    except FixtureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(json.dumps(request_for(fixture, now), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
