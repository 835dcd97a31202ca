"""mcas-cds: a CDS Hooks 2.0 service for the MCAS treatment ladder.

``create_app(test_config=None)`` builds the app: embedded defaults, then environment
variables (``MCAS_*``), then ``test_config``. Knowledge and thresholds are loaded here,
at start-up, so a bad thresholds file stops the service before it answers anything.
Each subsystem attaches itself with one ``init_app``; docs/architecture.md is the map.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from service import settings, web
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.overlay import CardsFiles, overlay_paths
from service.ops import health, metrics, request_log, state
from service.pipeline.test_traffic import TestPatients
from service.thresholds.fields import field_infos
from service.thresholds.files import load_thresholds
from service.thresholds.source import ActiveThresholds
from service.web import commands, cors, errors, proxies, token_checks
from service.web import storage as web_storage


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    # No app-wide static folder: the administrator page serves its own (/admin/static).
    app = Flask(__name__, static_folder=None)
    _configure(app, test_config)
    request_log.init_app(app)

    cards_dir = Path(app.config["CARDS_DIR"] or bundled_cards_dir())
    thresholds_path = Path(app.config["THRESHOLDS_FILE"] or cards_dir / "thresholds.yaml")
    # Meaning, unit and clinical range of every threshold, checked here; the file's
    # values are validated against those ranges.
    ranges = {info.path: info.range for info in field_infos(cards_dir)}
    file_thresholds = load_thresholds(thresholds_path, ranges)
    # The site's overlays merged over cards/ and validated like it (cards/README.md).
    cards_files = CardsFiles(cards_dir, overlay_paths(app.config["CARDS_OVERLAY"]))
    service_state = state.ServiceState(
        knowledge=load_knowledge(cards_files),
        thresholds=lambda: file_thresholds,
    )
    service_state.test_patients = TestPatients.of(
        app.config["TEST_PATIENT_PREFIX"],
        app.config["TEST_PATIENT_IDS"],
        bool(app.config["SNOOZE_TEST_PATIENTS"]),
    )
    if "CLOCK" in app.config:  # tests only: a frozen "now"
        service_state.clock = app.config["CLOCK"]
    state.init_app(app, service_state)
    metrics.init_app(app)
    metrics.record_cards_overlay(len(cards_files.overlays))
    health.init_app(app)
    store = web_storage.init_app(app)
    # The active version stored by administrators, else the file (docs/administration.md).
    service_state.thresholds = ActiveThresholds(
        file_thresholds,
        ranges=ranges,
        source=app.config["THRESHOLDS_SOURCE"],
        refresh_seconds=float(app.config["THRESHOLDS_REFRESH_SECONDS"]),
        engine=store.engine,
    )
    commands.init_app(app)
    errors.init_app(app)
    proxies.init_app(app)
    # Order matters: preflights are answered before the token is checked.
    cors.init_app(app)
    token_checks.init_app(app)
    web.init_app(app)
    return app


def _configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    known = settings.all_settings()
    app.config.from_mapping(settings.defaults(known))
    app.config.from_mapping(settings.from_environment(known, os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
    # Flask already answers 413 past MAX_CONTENT_LENGTH; JSON stays UTF-8, unsorted.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
