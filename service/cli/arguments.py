"""Arguments several commands share: the fixtures directory and JWT signing."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli.client import UsageError
from service.cli.signing import Signer
from service.scenarios.fixtures import FIXTURES_ENV

EXIT_OK = 0
EXIT_FAILED = 1  # the service answered wrongly, or a check failed
EXIT_USAGE = 2  # bad input on our side: arguments, files, keys


def add_fixtures_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fixtures-dir",
        type=Path,
        metavar="DIR",
        help=f"where fixtures live (default: ${FIXTURES_ENV}, else the bundled fhir_fixtures/)",
    )


def add_signing(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "signing", "sign a bearer JWT the way an EHR does (CDS Hooks 'Trusting CDS Clients')"
    )
    group.add_argument(
        "--key", type=Path, metavar="PRIVATE_KEY", help="private key: PEM, JWK or JWKS file"
    )
    group.add_argument("--iss", metavar="ISS", help="issuer the service trusts (needs --key)")
    group.add_argument(
        "--kid", metavar="KID", help="key id in the JWT header (default: from the JWK, else "
        "the key's RFC 7638 thumbprint)"
    )
    group.add_argument(
        "--alg",
        choices=["ES384", "RS384", "ES256", "RS256"],
        help="signing algorithm (default: ES384 for P-384 keys, RS384 for RSA)",
    )
    group.add_argument("--jku", metavar="URL", help="jku header: where the public JWKS is served")


def signer_from_args(args: argparse.Namespace) -> Signer | None:
    if args.key is None:
        if args.iss or args.kid or args.jku or args.alg:
            raise UsageError("--iss, --kid, --alg and --jku need --key")
        return None
    if not args.iss:
        raise UsageError("--key needs --iss: the issuer the service trusts for this key")
    return Signer.from_file(args.key, args.iss, kid=args.kid, algorithm=args.alg, jku=args.jku)
