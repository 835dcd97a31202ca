"""``flask --app service ...`` commands: ``db``, ``feedback-report``, ``thresholds``."""

from __future__ import annotations

from flask import Flask

from service.web.commands import storage, thresholds


def init_app(app: Flask) -> None:
    storage.init_app(app)
    thresholds.init_app(app)
