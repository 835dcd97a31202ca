"""The ``mcas-cds`` command: a testing kit for teams integrating the service into an EHR.

``serve`` starts the service; ``fixtures`` lists, checks, scaffolds and loads the
scenario files; ``fire`` sends one scenario and prints the cards; ``check`` runs a
conformance self-test against a deployment. See docs/integration-guide.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from service.cli.arguments import EXIT_USAGE
from service.cli.client import UsageError
from service.cli.signing import SigningError
from service.scenarios.fixtures import FixtureError


def build_parser() -> argparse.ArgumentParser:
    from service.cli import check, explain, fire, fixtures, keys, serve

    parser = argparse.ArgumentParser(
        prog="mcas-cds",
        description="Testing kit for the MCAS CDS Hooks service: serve it, list and validate "
        "fixtures, fire them at a service, check a deployment.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, fixtures, fire, explain, check, keys):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, FixtureError, SigningError) as exc:
        print(f"mcas-cds: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
