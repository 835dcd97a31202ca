"""``mcas-cds serve``: the service on its embedded defaults, as ``make run`` starts it.

Like ``make run`` it uses the local-testing mode (documented in docs/configuration.md),
unless ``--verify-tokens`` is given. Werkzeug's server is for a workstation; deployments
use the WSGI server and settings in deploy/.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from service.cli.arguments import EXIT_OK

# What `make run` sets for local testing (docs/security.md, "Local testing mode"): token
# verification off (loopback clients only, a warning at every start) and CORS open to a
# CDS Hooks Sandbox served at http://127.0.0.1:8080. Values already in the environment win.
LOCAL_TESTING_ENVIRONMENT: dict[str, str] = {
    "MCAS_AUTH_DISABLED": "true",
    "MCAS_CORS_ORIGINS": "http://127.0.0.1:8080",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="start the service on its embedded defaults (like make run)",
        description="Starts the service on 127.0.0.1:5000 in the local-testing mode of "
        "`make run`. Settings come from MCAS_* environment variables "
        "(docs/configuration.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback)")
    parser.add_argument("--port", type=int, default=5000, help="default 5000")
    parser.add_argument(
        "--verify-tokens",
        action="store_true",
        help="keep JWT verification on (configure trusted issuers first)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not args.verify_tokens:
        for name, value in LOCAL_TESTING_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    from service import create_app

    app = create_app()
    print(f"mcas-cds on http://{args.host}:{args.port}/cds-services (Ctrl-C stops it)",
          file=out, flush=True)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False, threaded=True)
    return EXIT_OK
