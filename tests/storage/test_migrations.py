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
