"""A throwaway PostgreSQL server for the tests (Debian's `postgresql`).

initdb into a temporary directory and listen only on a Unix socket in that directory (no
TCP port: PostgreSQL cannot bind port 0, and any port chosen in advance may be taken by
the time it starts), trust auth (a private directory, test data only). Clients reach it
with ``host=<that directory>``: ``postgresql://postgres@/<db>?host=<dir>``. As root (CI)
the server runs as the `postgres` user, which PostgreSQL requires.
scripts/system-deps.sh installs the binaries.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.system_parts import postgresql_bin_dir, require


def _bin_dir() -> Path:
    # Missing: the test fails, or is skipped if MCAS_TEST_ALLOW_MISSING lists postgresql.
    require("postgresql")
    found = postgresql_bin_dir()
    assert found is not None
    return found


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="mcas-pg-"))
        self.data = self.root / "data"
        # The socket file's name (.s.PGSQL.<port>); nothing listens on TCP.
        self.port = 5432
        self.user = "postgres"
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )

    def _run(self, argv: list[str]) -> None:
        subprocess.run(
            [*self._run_as, *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses='' -p {self.port} -k {self.root} "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "30",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.root}&port={self.port}"

    def execute(self, sql: str) -> None:
        dsn = f"host={self.root} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(sql)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def database_name(url: str) -> str:
    """The database a URL of :meth:`PostgresServer.url` names (its host is in the query)."""
    name = make_url(url).database
    assert name, url
    return name
