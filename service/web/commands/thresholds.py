"""``flask --app service thresholds export|history``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import Engine

from service.ops.state import state
from service.thresholds import admin
from service.thresholds.source import ActiveThresholds
from service.web.commands.storage import existing_database

thresholds = AppGroup("thresholds", help="Administrator thresholds: export, history.")


def _provider() -> ActiveThresholds:
    provider = state().thresholds
    if not isinstance(provider, ActiveThresholds):
        raise click.ClickException("thresholds are not administered on this app")
    return provider


def _engine() -> Engine | None:
    return existing_database() if _provider().uses_database else None


@thresholds.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
def export(output: Path | None) -> None:
    """The active thresholds as a YAML file for MCAS_THRESHOLDS_FILE (GitOps)."""
    text = admin.export_yaml(admin.read_active(_provider(), _engine()))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@thresholds.command("history")
def show_history() -> None:
    """Every stored version, newest first, as JSON."""
    found = admin.history_of(_provider(), _engine())
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))


def init_app(app: Flask) -> None:
    app.cli.add_command(thresholds)
