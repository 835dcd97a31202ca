"""The CDS Hooks Sandbox's recorded calls, replayed through the test client with their
original headers and bodies, against an app that trusts the Sandbox's (public) key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask

from service import create_app
from tests.support.auth_helpers import frozen, trust_file
from tests.support.paths import SANDBOX_DIR

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
RECORDED_BASE = "http://127.0.0.1:8091"
# Latest iat of the three tokens (feedback) + 1 s; earliest exp is 1795607378.
FROZEN_AT = 1_795_607_082.0
# Headers the test client sets itself from the body and base URL.
_TRANSPORT_HEADERS = {"host", "content-length", "connection"}


def sandbox_trust(tmp_path: Path) -> list[dict[str, Any]]:
    return [{"iss": SANDBOX_ISS, "jwks_file": str(SANDBOX_DIR / "jwks.json")}]


def sandbox_app(tmp_path: Path, **config: Any) -> Flask:
    settings: dict[str, Any] = {
        "TESTING": True,
        "AUTH_DISABLED": False,
        "TRUST_FILE": str(trust_file(tmp_path, sandbox_trust(tmp_path))),
        "REPLAY_CACHE": str(tmp_path / "replay.sqlite3"),
        "CLOCK": frozen(FROZEN_AT),
        "CORS_ORIGINS": "http://127.0.0.1:8080",
    }
    settings.update(config)
    return create_app(settings)


def replay(app: Flask, recording: dict[str, Any], base_url: str = RECORDED_BASE) -> Any:
    headers = {k: v for k, v in recording["headers"].items() if k.lower() not in _TRANSPORT_HEADERS}
    data = None
    if "body" in recording:
        data = json.dumps(recording["body"], separators=(",", ":"), ensure_ascii=False).encode()
        assert len(data) == int(recording["headers"]["Content-Length"])  # the original bytes
    return app.test_client().open(
        recording["path"],
        method=recording["method"],
        base_url=base_url,
        headers=headers,
        data=data,
    )
