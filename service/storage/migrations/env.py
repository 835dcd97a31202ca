"""Alembic environment: always handed a live connection by service.storage.migrate."""

from __future__ import annotations

from alembic import context

from service.storage.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `flask --app service db upgrade`.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
