"""Card recording (issue 18): one statement for all of a call's cards, committed before the
hook answers, without an fsync on SQLite; everything else keeps synchronous=FULL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select, text

from service import create_app
from service.storage.issued import record_issued_cards
from service.storage.models import issued_cards
from service.web.storage import storage
from tests.support.cards import card
from tests.support.storage_fixtures import NOW


def _record(app: Any, cards: list[dict[str, Any]]) -> bool:
    with app.app_context():
        return record_issued_cards(
            storage(),
            cards,
            hook_instance="h",
            patient_id="p-1",
            issued_at=NOW,
            thresholds_version="v",
        )


def test_all_cards_of_a_call_in_one_statement_and_a_repeat_stored_once(
    storage_config: dict[str, Any],
) -> None:
    app = create_app(storage_config)
    store = app.extensions["mcas_storage"]
    statements: list[str] = []
    cards = [card("tier-1"), card("albuterol"), card("mediator-evidence")]
    with app.app_context():
        engine = storage().recording_engine()

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT"):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        assert _record(app, cards)
        event.remove(engine, "before_cursor_execute", seen)
        assert len(statements) == 1
        # The same cards again (an EHR retry with the same answer): stored once.
        assert _record(app, cards)
        # Committed: another connection of the main engine reads them at once.
        with storage().engine().connect() as connection:
            stored = connection.execute(select(func.count()).select_from(issued_cards)).scalar()
    assert stored == 3
    store.dispose()


def test_sqlite_recording_skips_the_fsync_and_nothing_else_does(tmp_path: Any) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "PATIENT_HASH_SALT": "s" * 16})
    store = app.extensions["mcas_storage"]
    with app.app_context():
        assert _record(app, [card("tier-1")])
        with storage().recording_engine().connect() as connection:
            recording = connection.execute(text("PRAGMA synchronous")).scalar()
            journal = connection.execute(text("PRAGMA journal_mode")).scalar()
        with storage().engine().connect() as connection:
            main = connection.execute(text("PRAGMA synchronous")).scalar()
    # SQLite's numbers: 1 = NORMAL, 2 = FULL.
    assert (recording, journal, main) == (1, "wal", 2)
    store.dispose()
