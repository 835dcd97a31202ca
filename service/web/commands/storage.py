"""Flask CLI: ``flask --app service db upgrade|current`` and ``feedback-report``."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from service.ops.state import state
from service.storage.migrate import current_revision, head_revision, upgrade
from service.storage.report import outcomes_report, parse_period, report_table
from service.web.storage import storage

db = AppGroup("db", help="The database of issued cards and feedback.")


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
    engine = storage().bare_engine()
    click.echo(f"database: {current_revision(engine) or '(empty)'}  code: {head_revision()}")


@click.command("feedback-report")
@with_appcontext
@click.option(
    "--since", help="Start (inclusive): a date or an ISO instant. Default: until - 30 days."
)
@click.option("--until", help="End (exclusive): a date or an ISO instant. Default: now.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
def feedback_report(since: str | None, until: str | None, output: str) -> None:
    """Card outcomes per topic: issued, accepted, overridden, acceptance rate, reasons."""
    try:
        start, end = parse_period(since, until, state().clock())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    report = outcomes_report(storage().engine(), start, end)
    if output == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(report_table(report))


def init_app(app: Flask) -> None:
    app.cli.add_command(db)
    app.cli.add_command(feedback_report)
