"""Without MCAS_REPLAY_CACHE the host's replay cache file lives in MCAS_DATA_DIR, with the
service's other files, not in Flask's instance folder (red-team finding, issue 17: a
container whose data volume is MCAS_DATA_DIR wrote the cache into its image's package)."""

from __future__ import annotations

from pathlib import Path

from tests.auth_helpers import BASE, DISCOVERY, ISSUER, Signer, auth_app, bearer, write_json


def test_replay_cache_defaults_to_the_data_dir(tmp_path: Path) -> None:
    signer = Signer()
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    data_dir = tmp_path / "data"
    app = auth_app(
        tmp_path,
        [{"iss": ISSUER, "jwks_file": str(jwks)}],
        REPLAY_CACHE=None,
        DATA_DIR=str(data_dir),
    )
    token = signer.token()
    client = app.test_client()
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 200
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 401
    assert (data_dir / "replay-cache.sqlite3").is_file()
    assert not (Path(app.instance_path) / "replay-cache.sqlite3").exists()
