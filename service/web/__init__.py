"""The HTTP layer: Flask blueprints, error handlers, CORS, token checks, templates, static.

The only package (with the app factory and ``service/ops/``) that imports Flask.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint: discovery, the hook, feedback, administration, timeline."""
    from service.web import (
        admin_page,
        admin_report,
        admin_snoozes,
        admin_thresholds,
        discovery,
        feedback,
        hooks,
        json_output,
        request_body,
        timeline,
    )

    request_body.init_app(app)  # chunked bodies past MAX_CONTENT_LENGTH: 413
    json_output.init_app(app)  # answers always encode, whatever they quote back

    for blueprint in (
        discovery.bp,
        hooks.bp,
        feedback.bp,
        admin_report.bp,
        admin_snoozes.bp,
        admin_thresholds.bp,
        admin_page.bp,
    ):
        app.register_blueprint(blueprint)
    timeline.init_app(app)  # only when MCAS_TIMELINE_ENABLED
