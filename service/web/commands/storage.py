"""Flask CLI: ``flask --app service db upgrade|current`` and ``feedback-report``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.ops import metrics
from service.ops.state import state
from service.storage.migrate import current_revision, head_revision, upgrade
from service.storage.report import outcomes_report, parse_period, report_csv, report_table
from service.storage.retention import purge
from service.web.storage import storage

log = logging.getLogger(__name__)

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


@db.command("purge")
@click.option("--apply", "really", is_flag=True,
              help="Delete the rows (without it: only count what would be deleted).")
@click.option("--days", type=click.IntRange(min=1),
              help="Keep this many days instead of MCAS_RETENTION_DAYS.")
def db_purge(really: bool, days: int | None) -> None:
    """Delete issued cards, feedback, snoozes and test traffic past their retention."""
    config = current_app.config
    retention = days if days is not None else config.get("RETENTION_DAYS")
    done = purge(
        existing_database(),
        now=state().clock(),
        retention_days=retention,
        test_retention_days=int(config.get("TEST_RETENTION_DAYS") or 7),
        apply=really,
    )
    if really:
        for table, count in done.rows.items():
            metrics.record_purged(table, count)
    verb = "deleted" if really else "would delete (dry run; --apply deletes)"
    if retention is None:
        click.echo("MCAS_RETENTION_DAYS is not set: clinical records are kept; "
                   "only test traffic is purged.")
    else:
        click.echo(f"records before {done.as_dict()['before']} ({retention} days)")
    click.echo(f"test traffic before {done.as_dict()['test_before']}")
    for table, count in done.rows.items():
        click.echo(f"  {table}: {verb} {count} row(s)")
    # one audit line: how many rows, never which
    log.info("retention purge %s", "applied" if really else "counted",
             extra={"audit": "db purge"})


@click.command("feedback-report")
@with_appcontext
@click.option(
    "--since", help="Start (inclusive): a date or an ISO instant. Default: until - 30 days."
)
@click.option("--until", help="End (exclusive): a date or an ISO instant. Default: now.")
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]),
              default="table")
@click.option("--csv", "as_csv", is_flag=True, help="Same as --format csv.")
@click.option("--topic", help="Only this card topic.")
@click.option("--include-test", is_flag=True,
              help="Count the test traffic of `mcas-cds check` too (left out by default).")
def feedback_report(since: str | None, until: str | None, output: str, as_csv: bool,
                    topic: str | None, include_test: bool) -> None:
    """Card outcomes per topic and service: issued, patients, accepted, overridden, rate."""
    now = state().clock()
    try:
        start, end = parse_period(since, until, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    report = outcomes_report(existing_database(), start, end, topic=topic,
                             include_test=include_test, now=now, rollup_budget=None)
    if as_csv or output == "csv":
        click.echo(report_csv(report), nl=False)
    elif output == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(report_table(report))


def init_app(app: Flask) -> None:
    app.cli.add_command(db)
    app.cli.add_command(feedback_report)
