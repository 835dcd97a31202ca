"""Database errors as the service's ``StorageUnavailable`` (503 + ``Retry-After``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from service.errors import StorageUnavailable


@contextmanager
def unavailable_as(message: str, *, operation: str | None = None) -> Iterator[None]:
    """Turn a database failure inside the block into ``StorageUnavailable(message)``."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageUnavailable(message, operation=operation) from exc
