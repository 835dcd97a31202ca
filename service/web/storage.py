"""The app's ``Storage`` (service/storage/database.py), attached once and found per request."""

from __future__ import annotations

from flask import Flask, current_app

from service.ops import health
from service.settings import SettingError
from service.storage.database import Storage
from service.storage.patient_hash import check_salt

EXTENSION_KEY = "mcas_storage"


def init_app(app: Flask) -> Storage:
    """The database is opened on first use, so the hook answers even when it is down."""
    check_salt(app.config.get("PATIENT_HASH_SALT"))
    store = Storage(app.config, app.instance_path)
    if store.backend != "sqlite" and store.record_cards and not app.config.get("PATIENT_HASH_SALT"):
        raise SettingError(
            "MCAS_PATIENT_HASH_SALT is required with a MCAS_DATABASE_URL: every replica "
            "must hash patient ids with the same secret."
        )
    app.extensions[EXTENSION_KEY] = store
    # A database outage costs recording (cards, feedback), not the hooks (issue 17).
    health.register_check(
        app,
        "database",
        store.ping,
        blocks_hooks=False,
        required=bool(app.config.get("READY_REQUIRES_DATABASE")),
    )
    return store


def storage() -> Storage:
    store: Storage = current_app.extensions[EXTENSION_KEY]  # Flask's: dict[str, Any]
    return store
