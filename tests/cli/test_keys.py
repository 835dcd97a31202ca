"""mcas-cds keys new: a local key pair whose JWKS verifies what fire signs."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import jwt
import yaml

from tests.support.cli import CannedServer

Run = Callable[..., tuple[int, str, str]]


def test_keys_new_writes_a_key_its_jwks_and_a_trust_file(
    run_cli: Run, tmp_path: Path, fixtures_dir: Path, canned: CannedServer
) -> None:
    keys = tmp_path / "keys"
    code, out, _ = run_cli("keys", "new", str(keys), "--iss", "https://ehr.test")
    assert code == 0, out
    private = keys / "private-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    trust = yaml.safe_load((keys / "trust.yaml").read_text())
    assert trust == {"issuers": [{"iss": "https://ehr.test", "jwks_file": "jwks.json"}]}
    jwks = json.loads((keys / "jwks.json").read_text())
    (jwk,) = jwks["keys"]
    assert "d" not in jwk and jwk["crv"] == "P-384" and jwk["alg"] == "ES384"
    assert f"kid {jwk['kid']}" in out

    code, _, _ = run_cli("fire", "out-of-scope", "--url", canned.url, "--fixtures-dir",
                         str(fixtures_dir), "--key", str(private), "--iss", "https://ehr.test")
    assert code == 0
    token = canned.requests[0]["headers"]["Authorization"].split()[1]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES384"],
                        audience=f"{canned.url}/cds-services/mcas-therapy-tier",
                        issuer="https://ehr.test")
    assert claims["exp"] - claims["iat"] == 300


def test_keys_new_does_not_overwrite(run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("keys", "new", str(tmp_path))[0] == 0
    before = (tmp_path / "private-key.pem").read_bytes()
    code, _, err = run_cli("keys", "new", str(tmp_path))
    assert code == 2 and "pass --force" in err
    assert (tmp_path / "private-key.pem").read_bytes() == before
    assert run_cli("keys", "new", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "private-key.pem").read_bytes() != before
