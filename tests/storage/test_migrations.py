"""The migrations form one line: exactly one head, so `db upgrade` has one place to go.

Two branches (two migrations added with the same parent, as parallel work does) would
make `alembic upgrade head` refuse to run; merge them before release.
"""

from __future__ import annotations

from alembic.script import ScriptDirectory

from service.storage.migrate import SCRIPT_LOCATION


def test_the_migrations_have_exactly_one_head() -> None:
    heads = ScriptDirectory(SCRIPT_LOCATION).get_heads()
    assert len(heads) == 1, f"alembic heads: {heads}; merge them (alembic merge)"


def test_the_timeline_tables_come_after_the_replay_cache() -> None:
    """0004 (timeline sessions and OAuth state) sits on 0003 (the shared replay cache)."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_revision("0004").down_revision == "0003"


def test_the_order_time_columns_come_last() -> None:
    """0006 (order time: hook, user, draft order, encounter of issued cards) is the head."""
    scripts = ScriptDirectory(SCRIPT_LOCATION)
    assert scripts.get_heads() == ["0006"]
    assert scripts.get_revision("0006").down_revision in {"0004", "0005"}
