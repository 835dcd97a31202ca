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

# CORS open to a CDS Hooks Sandbox served at http://127.0.0.1:8080, with token
# verification on or off (docs/integration-guide.md, sections 1 and 6.3).
SANDBOX_CORS: dict[str, str] = {"MCAS_CORS_ORIGINS": "http://127.0.0.1:8080"}
# What `make run` sets for local testing (docs/security.md, "Local testing mode"): token
# verification off (loopback clients only, a warning at every start) and the Sandbox's
# CORS. Values already in the environment win.
LOCAL_TESTING_ENVIRONMENT: dict[str, str] = {"MCAS_AUTH_DISABLED": "true", **SANDBOX_CORS}


def served_hosts(host: str, port: int) -> str:
    """MCAS_ALLOWED_HOSTS for the address served; loopback also by the name localhost."""
    name = f"[{host}]" if ":" in host else host
    hosts = [f"{name}:{port}"]
    if host in {"127.0.0.1", "::1"}:
        hosts.append(f"localhost:{port}")
    return ",".join(hosts)


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
        help="keep JWT verification on (configure trusted issuers first; CORS stays open to "
        "the Sandbox at http://127.0.0.1:8080); sets "
        "MCAS_ALLOWED_HOSTS to the address served unless it or MCAS_PUBLIC_BASE_URL is set",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not args.verify_tokens:
        for name, value in LOCAL_TESTING_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    elif not os.environ.get("MCAS_PUBLIC_BASE_URL") and not os.environ.get("MCAS_ALLOWED_HOSTS"):
        # A token's `aud` is the URL called: name the address served (issue 17).
        os.environ["MCAS_ALLOWED_HOSTS"] = served_hosts(args.host, args.port)
    if args.verify_tokens:
        for name, value in SANDBOX_CORS.items():
            os.environ.setdefault(name, value)
    from service import create_app

    app = create_app()
    print(f"mcas-cds on http://{args.host}:{args.port}/cds-services (Ctrl-C stops it)",
          file=out, flush=True)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False, threaded=True)
    return EXIT_OK
