"""``mcas-cds keys new DIR``: a key pair for trying token verification locally.

Writes ``private-key.pem`` (mode 0600, for ``--key``), ``jwks.json`` (the public JWK Set a
trust file names) and ``trust.yaml`` (one issuer, for ``MCAS_TRUST_FILE``). A test key for
a workstation: a real EHR keeps its private key to itself and publishes only the JWKS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.cli.arguments import EXIT_OK
from service.cli.client import UsageError
from service.cli.signing import Signer

DEFAULT_ISSUER = "https://ehr.localhost.invalid"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="make a local test key pair and trust file")
    commands = parser.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    new = commands.add_parser(
        "new",
        help="write a P-384 key pair, its JWKS and a trust file into DIR",
        description="Writes DIR/private-key.pem, DIR/jwks.json and DIR/trust.yaml so the "
        "service can verify tokens that `fire` and `check` sign with --key.",
    )
    new.add_argument("directory", type=Path, metavar="DIR")
    new.add_argument("--iss", default=DEFAULT_ISSUER, help=f"issuer (default {DEFAULT_ISSUER})")
    new.add_argument("--force", action="store_true", help="overwrite existing files")
    new.set_defaults(handler=run_new)


def run_new(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    directory: Path = args.directory
    paths = {name: directory / name for name in ("private-key.pem", "jwks.json", "trust.yaml")}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{', '.join(existing)} exist; pass --force to replace them")
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private = paths["private-key.pem"]
    private.unlink(missing_ok=True)
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    signer = Signer.from_file(private, args.iss)
    paths["jwks.json"].write_text(json.dumps(signer.public_jwks(), indent=2) + "\n")
    paths["trust.yaml"].write_text(
        "# Trusted CDS clients for LOCAL TESTING (see docs/security.md).\n"
        "issuers:\n"
        f"  - iss: {json.dumps(args.iss)}\n"
        "    jwks_file: jwks.json\n"
    )
    print(f"Wrote {private} (keep it private), {paths['jwks.json']} and {paths['trust.yaml']}",
          file=out)
    print(f"kid {signer.kid}, ES384, issuer {args.iss}", file=out)
    print(f"Start the service with MCAS_TRUST_FILE={paths['trust.yaml']}, then: "
          f"mcas-cds check URL --key {private} --iss {args.iss}", file=out)
    return EXIT_OK
