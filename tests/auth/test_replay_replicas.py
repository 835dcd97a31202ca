"""One replay cache for every replica: with a PostgreSQL MCAS_DATABASE_URL the seen `jti`
values live in the shared database (table `replay_jti`, migration 0003), so a token is
accepted once by the whole deployment, not once per host.

Red-team finding (issue 17): the cache was a file per host, so a token could be replayed
once to every other replica within its lifetime. Semantics stay as before: a `jti` is
used up only by a success (a retry after a 5xx is served), a racing replay is refused
(INSERT ... ON CONFLICT on the key, never read-then-write), expired entries are swept.
Outage of the shared database (docs/security.md): by default this host's own cache
stands in, and every such claim is counted; MCAS_REPLAY_CACHE_ON_OUTAGE=refuse answers
503 instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, inspect, text

from service import create_app
from service.errors import ServiceError
from tests.auth_helpers import ISSUER, NOW, Signer, bearer, frozen, trust_file, write_json
from tests.conftest import load_recording
from tests.support.gunicorn import Gunicorn
from tests.support.postgres import PostgresServer
from tests.support.storage_fixtures import SALT, TEMPLATE_DB

# Both replicas sit behind one load balancer, which the EHR calls.
PUBLIC = "https://cds.example.org"
DISCOVERY = "/cds-services"
SERVICE = "/cds-services/mcas-therapy-tier"


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def trust(tmp_path: Path, signer: Signer) -> Path:
    jwks = write_json(tmp_path / "jwks.json", signer.jwks())
    return trust_file(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])


@pytest.fixture
def shared_database(fresh_postgres_url: Callable[[bool], str]) -> str:
    return fresh_postgres_url(True)


def replica_env(home: Path, trust: Path, database_url: str) -> dict[str, str]:
    """One replica on its own host: its own data folder and its own local cache file."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "MCAS_AUTH_DISABLED": "false",
        "MCAS_TRUST_FILE": str(trust),
        "MCAS_PUBLIC_BASE_URL": PUBLIC,
        "MCAS_DATABASE_URL": database_url,
        "MCAS_PATIENT_HASH_SALT": SALT,
        "MCAS_DATA_DIR": str(home),
        "MCAS_REPLAY_CACHE": str(home / "replay-cache.sqlite3"),
    }


@pytest.fixture(scope="module")
def pod_signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def two_replicas(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    pod_signer: Signer,
) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    """Two pods (gunicorn, 2 workers each, own data folder) on one migrated database."""
    root = tmp_path_factory.mktemp("replicas")
    name = "t_replicas_" + uuid.uuid4().hex[:8]
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    jwks = write_json(root / "jwks.json", pod_signer.jwks())
    trust = trust_file(root, [{"iss": ISSUER, "jwks_file": str(jwks)}])
    started: list[Gunicorn] = []
    try:
        for pod in ("pod-a", "pod-b"):
            env = replica_env(root / pod, trust, postgres_server.url(name))
            started.append(Gunicorn(env, root / pod, workers=2, ready_path="/healthz"))
        yield started[0], started[1]
    finally:
        for server in started:
            server.process.terminate()  # both at once; stop() then waits for each
        for server in started:
            server.stop()
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def get(server: Gunicorn, token: str) -> int:
    return requests.get(server.base + DISCOVERY, headers=bearer(token), timeout=15).status_code


def fresh_token(signer: Signer) -> str:
    return signer.token(DISCOVERY, base=PUBLIC, now=time.time())


def test_token_replayed_to_another_replica_is_refused(
    two_replicas: tuple[Gunicorn, Gunicorn], pod_signer: Signer
) -> None:
    pod_a, pod_b = two_replicas
    token = fresh_token(pod_signer)
    assert get(pod_a, token) == 200
    assert get(pod_b, token) == 401
    assert get(pod_a, token) == 401


def test_a_token_racing_to_both_replicas_is_accepted_once(
    two_replicas: tuple[Gunicorn, Gunicorn], pod_signer: Signer
) -> None:
    pod_a, pod_b = two_replicas
    for _ in range(8):
        token = fresh_token(pod_signer)
        calls = [lambda s=server, t=token: get(s, t) for server in (pod_a, pod_b) * 2]
        answers = race(calls)
        assert sorted(answers) == [200, 401, 401, 401]


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results in completion order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(calls)
    return results


# --- in-process replicas (two apps on one database) --------------------------------------


def replica_app(home: Path, trust: Path, database_url: str, **config: Any) -> Flask:
    settings: dict[str, Any] = {
        "TESTING": True,
        "AUTH_DISABLED": False,
        "TRUST_FILE": str(trust),
        "PUBLIC_BASE_URL": PUBLIC,
        "DATABASE_URL": database_url,
        "PATIENT_HASH_SALT": SALT,
        "DATA_DIR": str(home),
        "REPLAY_CACHE": str(home / "replay-cache.sqlite3"),
        "CLOCK": frozen(NOW),
        "DB_TIMEOUT_SECONDS": 1.0,
    }
    settings.update(config)
    return create_app(settings)


def test_a_retry_after_a_5xx_is_served_by_another_replica(
    tmp_path: Path, trust: Path, shared_database: str, signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.web import hooks

    real_run_hook = hooks.run_hook
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ServiceError("FHIR server unavailable.", status=503)
        return real_run_hook(*args, **kwargs)

    monkeypatch.setattr(hooks, "run_hook", flaky)
    pod_a = replica_app(tmp_path / "a", trust, shared_database).test_client()
    pod_b = replica_app(tmp_path / "b", trust, shared_database).test_client()
    body = load_recording("hook-request.json")["body"]
    headers = bearer(signer.token(SERVICE, base=PUBLIC))
    assert pod_a.post(SERVICE, base_url=PUBLIC, headers=headers, json=body).status_code == 503
    assert pod_b.post(SERVICE, base_url=PUBLIC, headers=headers, json=body).status_code == 200
    assert pod_a.post(SERVICE, base_url=PUBLIC, headers=headers, json=body).status_code == 401


# --- the database cache itself ---------------------------------------------------------


@pytest.fixture
def database_cache(shared_database: str, tmp_path: Path) -> Iterator[Any]:
    from service.storage.database import Storage
    from service.storage.replay_jti import DatabaseReplayCache

    store = Storage({"DATABASE_URL": shared_database}, str(tmp_path))
    yield DatabaseReplayCache(store, pending_seconds=120.0, sweep_every=60.0)
    store.dispose()


def rows(database_url: str) -> int:
    engine = create_engine(database_url.replace("postgresql:", "postgresql+psycopg:"))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM replay_jti")).scalar_one())
    finally:
        engine.dispose()


def test_database_cache_claim_confirm_release(database_cache: Any) -> None:
    assert database_cache.claim("k1", 1000.0, 100.0)
    assert not database_cache.claim("k1", 1000.0, 101.0)
    database_cache.release("k1")  # an error answer: the token may be used again
    assert database_cache.claim("k1", 1000.0, 102.0)
    database_cache.confirm("k1")  # a success: used up
    database_cache.release("k1")  # (a late release no longer frees a confirmed claim)
    assert not database_cache.claim("k1", 1000.0, 103.0)
    assert database_cache.claim("k1", 2000.0, 1001.0)  # its token expired: free again


def test_database_cache_abandoned_claim_lapses(database_cache: Any) -> None:
    assert database_cache.claim("k2", 10_000.0, 100.0)
    assert not database_cache.claim("k2", 10_000.0, 219.0)
    assert database_cache.claim("k2", 10_000.0, 221.0)


def test_database_cache_sweeps_expired_entries(database_cache: Any, shared_database: str) -> None:
    for index in range(5):
        assert database_cache.claim(f"old-{index}", 150.0, 100.0)
        database_cache.confirm(f"old-{index}")
    assert rows(shared_database) == 5
    assert database_cache.claim("new", 10_000.0, 200.0)  # first claim: sweeps
    assert rows(shared_database) == 1


def test_database_cache_takes_any_jti(database_cache: Any) -> None:
    # Keys are stored hashed: a huge jti or one holding NUL cannot break the insert.
    for key in (f"{ISSUER}\x1f" + "x" * 20_000, f"{ISSUER}\x1fnul\x00byte", "ünï\U0001f600"):
        assert database_cache.claim(key, 1000.0, 100.0)
        assert not database_cache.claim(key, 1000.0, 100.0)


def test_database_cache_race_is_won_once(shared_database: str, tmp_path: Path) -> None:
    from service.storage.database import Storage
    from service.storage.replay_jti import DatabaseReplayCache

    # Separate engines stand for separate pods; each thread claims every key at once.
    stores = [Storage({"DATABASE_URL": shared_database}, str(tmp_path)) for _ in range(6)]
    caches = [DatabaseReplayCache(store) for store in stores]
    try:
        for round_number in range(10):
            key = f"race-{round_number}"
            won = race([lambda c=cache, k=key: c.claim(k, 10_000.0, 100.0) for cache in caches])
            assert sorted(won) == [False] * (len(caches) - 1) + [True]
    finally:
        for store in stores:
            store.dispose()


def test_migration_0003_adds_the_table_on_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    from service.storage.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == ["0003"]
    assert scripts.get_revision("0003").down_revision == "0002"


def test_the_migrated_database_has_the_table(shared_database: str) -> None:
    engine = create_engine(shared_database.replace("postgresql:", "postgresql+psycopg:"))
    try:
        assert "replay_jti" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# --- outage of the shared database ------------------------------------------------------


def outage_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("mcas_replay_cache_outages_total", {"outcome": outcome})
    return value or 0.0


class refused_connections:
    """The shared database refuses connections (as in a failover), then takes them again."""

    def __init__(self, server: PostgresServer, database_url: str) -> None:
        self.server = server
        self.name = database_url.rsplit("/", 1)[1]

    def __enter__(self) -> None:
        self.server.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false")
        self.server.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"
        )

    def __exit__(self, *_: object) -> None:
        self.server.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true")


def test_outage_falls_back_to_this_hosts_cache_and_is_counted(
    tmp_path: Path, trust: Path, shared_database: str, signer: Signer,
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str],
) -> None:
    client = replica_app(tmp_path / "a", trust, shared_database).test_client()
    warm_up = bearer(signer.token(DISCOVERY, base=PUBLIC))
    assert client.get(DISCOVERY, base_url=PUBLIC, headers=warm_up).status_code == 200
    before = outage_count("local")
    token = signer.token(DISCOVERY, base=PUBLIC)
    with refused_connections(postgres_server, shared_database):
        assert client.get(DISCOVERY, base_url=PUBLIC, headers=bearer(token)).status_code == 200
        # Still refused on this host: its own cache saw the token.
        assert client.get(DISCOVERY, base_url=PUBLIC, headers=bearer(token)).status_code == 401
    assert outage_count("local") == before + 2
    assert "replay cache unavailable" in capsys.readouterr().err


def test_outage_refuses_with_503_when_so_configured(
    tmp_path: Path, trust: Path, shared_database: str, signer: Signer,
    postgres_server: PostgresServer,
) -> None:
    app = replica_app(tmp_path / "a", trust, shared_database, REPLAY_CACHE_ON_OUTAGE="refuse")
    client = app.test_client()
    before = outage_count("refused")
    token = signer.token(DISCOVERY, base=PUBLIC)
    with refused_connections(postgres_server, shared_database):
        answer = client.get(DISCOVERY, base_url=PUBLIC, headers=bearer(token))
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert answer.get_json()["resourceType"] == "OperationOutcome"
    assert outage_count("refused") == before + 1


def test_sqlite_deployments_keep_the_file_cache(tmp_path: Path, trust: Path) -> None:
    from service.auth.replay import SqliteReplayCache
    from service.web.token_checks import EXTENSION_KEY

    app = create_app(
        {
            "TESTING": True,
            "AUTH_DISABLED": False,
            "TRUST_FILE": str(trust),
            "PUBLIC_BASE_URL": PUBLIC,
            "DATA_DIR": str(tmp_path / "data"),
        }
    )
    assert isinstance(app.extensions[EXTENSION_KEY].replay, SqliteReplayCache)
