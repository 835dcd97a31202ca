"""Flask CLI: ``flask --app service db upgrade|current`` and ``feedback-report``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.ops.state import state
from service.storage.migrate import current_revision, head_revision, upgrade
from service.storage.report import outcomes_report, parse_period, report_table
from service.web.storage import storage

db = AppGroup("db", help="The database of issued cards and feedback.")

_WHERE = (
    "Check MCAS_DATA_DIR and MCAS_DATABASE_URL: they must be those of the service "
    "(create a new database with `flask --app service db upgrade`)."
)


def _opened(engine: Engine) -> str | None:
    """The database's revision (None: no schema yet); a clear error when it cannot open."""
    try:
        return current_revision(engine)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        detail = (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
        url = storage().url.render_as_string(hide_password=True)
        raise click.ClickException(f"cannot open the database {url}: {detail}. {_WHERE}") from None


def existing_database() -> Engine:
    """The engine of the service's database, which must exist: administration commands
    (reports, exports, history) never create one. A missing SQLite file, a PostgreSQL
    database that cannot be opened or one without a schema stops the command with a
    message and exit status 1, instead of an empty report from an empty new database
    (issue 17)."""
    store = storage()
    database = store.url.database
    if store.backend == "sqlite" and database and not Path(database).exists():
        raise click.ClickException(f"no database at {database}. {_WHERE}")
    if _opened(store.bare_engine()) is None:
        url = store.url.render_as_string(hide_password=True)
        raise click.ClickException(
            f"the database {url} has no schema yet: run `flask --app service db upgrade` "
            f"first, or point the command at the service's database. {_WHERE}"
        )
    return store.engine()


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Bring the schema up to date (safe to run from several replicas at once)."""
    engine = storage().bare_engine()
    upgrade(engine, revision)
    click.echo(f"{storage().backend} database at revision {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of this code."""
    store = storage()
    if store.backend == "sqlite" and store.url.database and not Path(store.url.database).exists():
        raise click.ClickException(f"no database at {store.url.database}. {_WHERE}")
    revision = _opened(store.bare_engine())
    click.echo(f"database: {revision or '(empty)'}  code: {head_revision()}")


@click.command("feedback-report")
@with_appcontext
@click.option(
    "--since", help="Start (inclusive): a date or an ISO instant. Default: until - 30 days."
)
@click.option("--until", help="End (exclusive): a date or an ISO instant. Default: now.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--include-test", is_flag=True, help="Count test patients' cards and feedback too."
)
def feedback_report(since: str | None, until: str | None, output: str, include_test: bool) -> None:
    """Card outcomes per topic: issued, accepted, overridden, acceptance rate, reasons."""
    try:
        start, end = parse_period(since, until, state().clock())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    report = outcomes_report(existing_database(), start, end, include_test=include_test)
    if output == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(report_table(report))


def init_app(app: Flask) -> None:
    app.cli.add_command(db)
    app.cli.add_command(feedback_report)
