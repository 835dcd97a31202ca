"""Patient ids never reach the database: only an HMAC-SHA256 keyed with a secret salt.

The salt must stay out of the database: with it, ids drawn from a small space (record
numbers) could be recovered by trying them all. With PostgreSQL (replicas, a real
deployment) it must be configured; with the embedded SQLite default one is generated
once into the data directory, readable by the service's user only, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

SALT_FILE = "patient-hash-salt"
MIN_SALT_LENGTH = 16


class SaltError(ValueError):
    pass


def check_salt(salt: str | None) -> None:
    if salt is not None and len(salt) < MIN_SALT_LENGTH:
        raise SaltError(f"MCAS_PATIENT_HASH_SALT must be at least {MIN_SALT_LENGTH} characters.")


def patient_hash(salt: bytes, patient_id: str) -> str:
    return hmac.new(salt, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()


def context_hash(salt: bytes, kind: str, value: str) -> str:
    """The salted hash of a user or encounter id of an order-time card (issue 15): only
    compared for equality, never shown; ``kind`` keeps it apart from patient hashes."""
    return patient_hash(salt, f"{kind}\x1f{value}")


def generated_salt(directory: Path) -> bytes:
    """The salt kept in ``directory``, created on first use; safe against racing workers."""
    path = directory / SALT_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails when another worker got there first: theirs wins, ours goes.
            os.link(temporary, path)
            log.warning(
                "No MCAS_PATIENT_HASH_SALT set: generated one in the data directory. "
                "Keep it secret and back it up with the database; set "
                "MCAS_PATIENT_HASH_SALT in any real deployment."
            )
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    salt = path.read_text(encoding="ascii").strip()
    if len(salt) < MIN_SALT_LENGTH:
        raise SaltError(f"{path} holds no usable salt; delete it or set MCAS_PATIENT_HASH_SALT.")
    return salt.encode("ascii")
