"""Durable storage of issued cards and clinicians' feedback (SQLAlchemy 2 + Alembic).

SQLite in the data directory by default (nothing to install); PostgreSQL through
``MCAS_DATABASE_URL`` when several replicas share one database. See docs/storage.md.
"""

from __future__ import annotations

from service.settings import Setting, parse_bool


def _parse_auto_migrate(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in {"auto", "always", "never"}:
        raise ValueError(f"expected auto, always or never, got {raw!r}")
    return mode


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        None,
        str,
        "SQLAlchemy URL of the database holding issued cards and feedback, e.g. "
        "`postgresql://user:pass@db:5432/mcas` (driven by psycopg 3). Default: a SQLite "
        "file `mcas-cds.sqlite3` in `MCAS_DATA_DIR`.",
    ),
    Setting(
        "DATA_DIR",
        None,
        str,
        "Directory for the embedded SQLite database and the generated patient-hash salt. "
        "Default: Flask's instance folder (`instance/` in a source checkout, "
        "`<venv>/var/service-instance` when installed). Give it a persistent volume.",
    ),
    Setting(
        "DB_AUTO_MIGRATE",
        "auto",
        _parse_auto_migrate,
        "Bring the schema up to date on first use: `auto` (SQLite yes, PostgreSQL no: run "
        "`flask --app service db upgrade` as a deploy step), `always` or `never`.",
    ),
    Setting(
        "DB_TIMEOUT_SECONDS",
        5.0,
        float,
        "How long a database call may wait: SQLite busy timeout, PostgreSQL connect "
        "timeout. Past it, feedback is answered 503 (the EHR retries) and card recording "
        "is counted as failed.",
    ),
    Setting(
        "RECORD_CARDS",
        True,
        parse_bool,
        "Record every issued card (uuid, topic, hookInstance, time, thresholds version, "
        "salted patient hash) so feedback can be tied to card topics.",
    ),
    Setting(
        "PATIENT_HASH_SALT",
        None,
        str,
        "Secret key of the HMAC-SHA256 that replaces patient ids in stored card records "
        "(at least 16 characters). Required with a PostgreSQL `MCAS_DATABASE_URL` (every "
        "replica must use the same); with SQLite one is generated into the data directory "
        "on first use, with a warning.",
    ),
    Setting(
        "SNOOZE_READ_BUDGET_MS",
        100,
        int,
        "How long the hook waits for a patient's card history before it shows the cards "
        "unsnoozed (docs/clinical-rules.md §8: 100 ms), counted from a database connection "
        "in hand. Raise it only for a test rig on a machine too loaded to answer in time.",
    ),
)
