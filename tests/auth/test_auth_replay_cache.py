"""The `jti` replay cache: a token serves one successful request within its lifetime.

A token is used up only by a success, so an EHR retrying after an error (a 503) is served;
the SQLite store is shared by every worker process on the host.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from service.auth.replay import MemoryReplayCache, ReplayCache, SqliteReplayCache
from service.errors import ServiceError
from tests.support.auth_helpers import (
    BASE,
    DISCOVERY,
    ISSUER,
    SERVICE,
    Signer,
    auth_app,
    bearer,
    write_json,
)
from tests.support.paths import load_recording

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def signer() -> Signer:
    return Signer()


def app_for(tmp_path: Path, signer: Signer, **config: Any) -> Any:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], **config)


def hook_body() -> dict[str, Any]:
    return load_recording("hook-request.json")["body"]


def test_replayed_jti_is_refused(tmp_path: Path, signer: Signer) -> None:
    client = app_for(tmp_path, signer).test_client()
    token = signer.token()
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 200
    again = client.get(DISCOVERY, base_url=BASE, headers=bearer(token))
    assert again.status_code == 401
    assert again.get_json()["issue"][0]["diagnostics"] == "The bearer token is missing or invalid."


def test_retry_after_a_503_with_the_same_token_is_served(
    tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transient fault we cannot provoke for real: the first call of the pipeline fails.
    from service.web import hooks

    real_run_hook = hooks.run_hook
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ServiceError("FHIR server unavailable.", status=503)
        return real_run_hook(*args, **kwargs)

    monkeypatch.setattr(hooks, "run_hook", flaky)
    client = app_for(tmp_path, signer).test_client()
    headers = bearer(signer.token(SERVICE))
    first = client.post(SERVICE, base_url=BASE, headers=headers, json=hook_body())
    assert first.status_code == 503
    retry = client.post(SERVICE, base_url=BASE, headers=headers, json=hook_body())
    assert retry.status_code == 200
    # Now it is used up.
    third = client.post(SERVICE, base_url=BASE, headers=headers, json=hook_body())
    assert third.status_code == 401


def test_retry_after_a_400_with_the_same_token_is_served(tmp_path: Path, signer: Signer) -> None:
    client = app_for(tmp_path, signer).test_client()
    headers = bearer(signer.token(SERVICE))
    bad = client.post(
        SERVICE, base_url=BASE, headers=headers, data=b"{", content_type="application/json"
    )
    assert bad.status_code == 400
    assert client.post(SERVICE, base_url=BASE, headers=headers, json=hook_body()).status_code == 200


def test_workers_share_the_cache(tmp_path: Path, signer: Signer) -> None:
    # Two app instances on one file stand for two gunicorn workers.
    first = app_for(tmp_path, signer).test_client()
    second = app_for(tmp_path, signer).test_client()
    token = signer.token()
    assert first.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 200
    assert second.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code == 401


def test_same_jti_from_two_issuers_is_two_tokens(tmp_path: Path) -> None:
    one, two = Signer(), Signer()
    jwks_one = write_json(tmp_path / "one.json", one.jwks())
    jwks_two = write_json(tmp_path / "two.json", two.jwks())
    app = auth_app(
        tmp_path,
        [
            {"iss": ISSUER, "jwks_file": str(jwks_one)},
            {"iss": "https://other.example.org", "jwks_file": str(jwks_two)},
        ],
    )
    client = app.test_client()
    jti = "shared-nonce"
    assert (
        client.get(DISCOVERY, base_url=BASE, headers=bearer(one.token(jti=jti))).status_code == 200
    )
    token_two = two.token(jti=jti, iss="https://other.example.org")
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(token_two)).status_code == 200


@pytest.fixture(params=["sqlite", "memory"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> ReplayCache:
    if request.param == "memory":
        return MemoryReplayCache(pending_seconds=120)
    return SqliteReplayCache(tmp_path / "cache.sqlite3", pending_seconds=120, sweep_every=0)


def test_claim_confirm_release(cache: ReplayCache) -> None:
    assert cache.claim("a", expires_at=1300, now=1000)
    assert not cache.claim("a", expires_at=1300, now=1001)  # in flight: a racing replay
    cache.release("a")
    assert cache.claim("a", expires_at=1300, now=1002)  # the retry
    cache.confirm("a")
    cache.release("a")  # a confirmed use is never released
    assert not cache.claim("a", expires_at=1300, now=1003)


def test_entries_end_with_their_token(cache: ReplayCache) -> None:
    assert cache.claim("a", expires_at=1300, now=1000)
    cache.confirm("a")
    assert not cache.claim("a", expires_at=1300, now=1299)
    # Past exp (+leeway) the token itself is refused; the entry can go.
    assert cache.claim("a", expires_at=1600, now=1301)


def test_abandoned_claim_lapses(cache: ReplayCache) -> None:
    # A worker killed mid-request never confirms nor releases.
    assert cache.claim("a", expires_at=5000, now=1000)
    assert not cache.claim("a", expires_at=5000, now=1100)
    assert cache.claim("a", expires_at=5000, now=1121)


def test_sweep_removes_expired_entries(tmp_path: Path) -> None:
    cache = SqliteReplayCache(tmp_path / "c.sqlite3", sweep_every=0)
    for n in range(50):
        assert cache.claim(f"k{n}", expires_at=1100, now=1000)
        cache.confirm(f"k{n}")
    assert cache.count() == 50
    assert cache.claim("late", expires_at=2300, now=2000)
    assert cache.count() == 1


def test_the_file_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    SqliteReplayCache(tmp_path / "c.sqlite3")
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_CLAIMER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from service.auth.replay import SqliteReplayCache
    cache = SqliteReplayCache(Path(sys.argv[1]))
    won = sum(cache.claim(f"jti-{n}", expires_at=2000.0, now=1000.0) for n in range(200))
    print(won)
    """
)


@pytest.mark.integration
def test_processes_racing_for_the_same_jtis_each_win_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    SqliteReplayCache(path)  # created once, as at start-up
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    wins = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert sum(wins) == 200


def test_unusable_replay_cache_path_stops_start_up(tmp_path: Path, signer: Signer) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="MCAS_REPLAY_CACHE"):
        app_for(tmp_path, signer, REPLAY_CACHE=str(blocker / "cache.sqlite3"))
