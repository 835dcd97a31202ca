"""mcas-cds: a CDS Hooks 2.0 service for the MCAS treatment ladder.

``create_app(test_config=None)`` builds the app: embedded defaults, then environment
variables (``MCAS_*``), then ``test_config``. Knowledge and thresholds are loaded here,
at start-up, so a bad thresholds file stops the service before it answers anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from service import settings
from service.auth import install_auth
from service.errors import register_error_handlers
from service.knowledge.model import bundled_cards_dir, load_knowledge
from service.ops import health, metrics
from service.ops.request_log import configure_logging
from service.ops.state import ServiceState, install
from service.thresholds.model import Thresholds, load_thresholds
from service.web.cors import install_cors


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    known = settings.all_settings()
    app.config.from_mapping(settings.defaults(known))
    app.config.from_mapping(settings.from_environment(known, os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
    # Flask already answers 413 past MAX_CONTENT_LENGTH; JSON stays UTF-8, unsorted.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_logging(app)

    cards_dir = Path(app.config["CARDS_DIR"] or bundled_cards_dir())
    thresholds_path = Path(app.config["THRESHOLDS_FILE"] or cards_dir / "thresholds.yaml")
    file_thresholds = load_thresholds(thresholds_path)
    service_state = ServiceState(
        knowledge=load_knowledge(cards_dir),
        thresholds=lambda: file_thresholds,
    )
    if "CLOCK" in app.config:  # tests only: a frozen "now"
        service_state.clock = app.config["CLOCK"]
    install(app, service_state)
    metrics.init_app(app)
    health.init_app(app)
    _install_storage(app)
    _install_thresholds_source(app, service_state, file_thresholds)

    register_error_handlers(app)
    # Order matters: preflights are answered before the token is checked.
    install_cors(app)
    install_auth(app)
    from service.web import admin_page, admin_report, admin_thresholds, discovery, feedback, hooks

    app.register_blueprint(discovery.bp)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(admin_report.bp)
    app.register_blueprint(admin_thresholds.bp)
    app.register_blueprint(admin_page.bp)
    return app


def _install_thresholds_source(
    app: Flask, service_state: ServiceState, file_thresholds: Thresholds
) -> None:
    """The active version stored by administrators, else the file (docs/administration.md)."""
    from service.storage.database import EXTENSION_KEY as STORAGE_KEY
    from service.thresholds.source import ActiveThresholds
    from service.web.commands.thresholds import register

    store = app.extensions[STORAGE_KEY]
    service_state.thresholds = ActiveThresholds(
        file_thresholds,
        source=app.config["THRESHOLDS_SOURCE"],
        refresh_seconds=float(app.config["THRESHOLDS_REFRESH_SECONDS"]),
        engine=store.engine,
    )
    register(app)


def _install_storage(app: Flask) -> None:
    """The database is opened on first use, so the hook answers even when it is down."""
    from service.storage import database, patient_hash
    from service.web.commands import storage as commands

    patient_hash.check_salt(app.config.get("PATIENT_HASH_SALT"))
    storage = database.install(app)
    if (
        storage.backend != "sqlite"
        and app.config.get("RECORD_CARDS")
        and not app.config.get("PATIENT_HASH_SALT")
    ):
        raise settings.SettingError(
            "MCAS_PATIENT_HASH_SALT is required with a MCAS_DATABASE_URL: every replica "
            "must hash patient ids with the same secret."
        )
    health.register_check(app, "database", storage.ping)
    commands.register(app)
