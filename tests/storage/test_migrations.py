"""The migrations form one line: exactly one head, so `db upgrade` has one place to go.

Two branches (two migrations added with the same parent, as parallel work does) would
make `alembic upgrade head` refuse to run; merge them before release.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from service.storage.migrate import SCRIPT_LOCATION, downgrade, upgrade


def _empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    """An engine on a database with no tables: a fresh PostgreSQL database or an SQLite file."""
    if backend == "postgresql":
        url = request.getfixturevalue("fresh_postgres_url")(False)
        return create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
    return create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")


def _record_an_old_card(engine: Engine) -> None:
    """Card c-1 (tier-2, patient hash "abc") as the columns every revision has store it."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO issued_cards (card_uuid, topic, hook_instance, issued_at, "
            "thresholds_version, patient_hash) VALUES ('c-1', 'tier-2', 'h', "
            "'2026-11-25 11:44:40', 'v', 'abc')"))


def test_the_migrations_have_exactly_one_head() -> None:
    heads = ScriptDirectory(SCRIPT_LOCATION).get_heads()
    assert len(heads) == 1, f"alembic heads: {heads}; merge them (alembic merge)"


def test_the_timeline_tables_come_after_the_replay_cache() -> None:
    """0004 (timeline sessions and OAuth state) sits on 0003 (the shared replay cache)."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0004").down_revision == "0003"


def test_the_report_indexes_come_after_the_order_time_columns() -> None:
    """0007 (the outcomes report's indexes, issue 16) sits on 0006."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0007").down_revision == "0006"


def test_the_feedback_patient_hash_comes_after_the_report_indexes() -> None:
    """0008 (feedback's patient hash for the snooze read, issue 18) sits on 0007."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0008").down_revision == "0007"


def test_the_report_roll_up_is_the_head() -> None:
    """0009 (the outcomes report's daily roll-up and the cards' rules version, issue 16)
    is the head, on 0008."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_heads() == ["0009"]
    assert scripts.get_revision("0009").down_revision == "0008"


def test_the_snooze_columns_come_after_the_timeline_tables() -> None:
    """0005 (snoozes and test traffic, issue 14) sits on 0004; later ones build on it."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0005").down_revision == "0004"
    assert "0005" in {rev.revision for rev in scripts.walk_revisions()}


def test_0005_keeps_existing_cards_as_shown_real_cards_and_goes_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A card recorded before 0005 reads as issued, not test, without a fingerprint (it
    never snoozes); the downgrade removes the columns and the index again."""
    engine = _empty_database(backend, tmp_path, request)
    try:
        upgrade(engine, "0004")
        _record_an_old_card(engine)
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT status, test, fingerprint, snooze_cleared_at FROM issued_cards")).one()
        assert (row.status, bool(row.test), row.fingerprint, row.snooze_cleared_at) == (
            "issued", False, None, None)
        indexes = {i["name"] for i in inspect(engine).get_indexes("issued_cards")}
        assert "ix_issued_cards_patient_hash" in indexes
        downgrade(engine, "0004")
        columns = {c["name"] for c in inspect(engine).get_columns("issued_cards")}
        assert "fingerprint" not in columns and "status" not in columns
        assert "test" not in {c["name"] for c in inspect(engine).get_columns("feedback")}
    finally:
        engine.dispose()
def test_the_order_time_columns_come_last() -> None:
    """0006 (order time: hook, user, draft order, encounter of issued cards) sits on 0005;
    0007 (the outcomes report's indexes) on it."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0006").down_revision == "0005"


def test_0008_fills_feedbacks_patient_hash_from_its_card_and_goes_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Feedback stored before 0008 gets its card's patient hash (the snooze read finds it
    by that); feedback on a card never recorded keeps NULL; the downgrade drops both."""
    engine = _empty_database(backend, tmp_path, request)
    try:
        upgrade(engine, "0007")
        _record_an_old_card(engine)
        with engine.begin() as connection:
            for key, card_uuid in (("k-1", "c-1"), ("k-2", "c-unknown")):
                connection.execute(text(
                    "INSERT INTO feedback (item_key, card_uuid, topic, outcome, outcome_at, "
                    "received_at) VALUES (:key, :card, 'tier-2', 'overridden', "
                    "'2026-11-26 10:00:00', '2026-11-26 10:00:01')"),
                    {"key": key, "card": card_uuid})
        upgrade(engine)
        with engine.connect() as connection:
            rows = dict(connection.execute(text(
                "SELECT card_uuid, patient_hash FROM feedback")).all())
        assert rows == {"c-1": "abc", "c-unknown": None}
        assert "ix_feedback_patient_hash" in {
            i["name"] for i in inspect(engine).get_indexes("feedback")}
        downgrade(engine, "0007")
        assert "patient_hash" not in {c["name"] for c in inspect(engine).get_columns("feedback")}
    finally:
        engine.dispose()


def test_0009_leaves_older_cards_without_rules_version_and_goes_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A card recorded before 0009 has no rules version (NULL: the report says
    "unknown"); the roll-up tables and indexes come and go; the downgrade restores
    0007's report indexes."""
    engine = _empty_database(backend, tmp_path, request)
    try:
        upgrade(engine, "0008")
        _record_an_old_card(engine)
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text(
                "SELECT rules_version FROM issued_cards")).scalar_one() is None
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert {"report_rollup_state", "report_rollup_days", "report_daily_cards",
                "report_daily_outcomes", "report_daily_items",
                "report_daily_patients"} <= tables
        report_index = {i["name"]: i["column_names"]
                        for i in inspector.get_indexes("issued_cards")}["ix_issued_cards_report"]
        assert "hook" in report_index and "rules_version" in report_index
        assert {"ix_feedback_received_at", "ix_feedback_first"} <= {
            i["name"] for i in inspector.get_indexes("feedback")}
        downgrade(engine, "0008")
        inspector = inspect(engine)
        assert "report_daily_cards" not in inspector.get_table_names()
        assert "rules_version" not in {c["name"] for c in inspector.get_columns("issued_cards")}
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("issued_cards")}
        assert indexes["ix_issued_cards_report"] == [
            "issued_at", "topic", "thresholds_version", "patient_hash"]
        assert indexes["ix_issued_cards_card_topic"] == [
            "card_uuid", "topic", "thresholds_version"]
        assert "ix_feedback_received_at" not in {
            i["name"] for i in inspector.get_indexes("feedback")}
    finally:
        engine.dispose()
