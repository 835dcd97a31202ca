"""Launches under way (OAuth ``state``) and sessions, in the service's database.

Both expire: a launch after MCAS_TIMELINE_LAUNCH_MINUTES, a session after
MCAS_TIMELINE_SESSION_MINUTES or when its access token does, whichever is first. Expired
rows are purged on every write. A launch is taken once: the callback deletes the row it
reads, so a ``state`` cannot be replayed. Nothing here logs a value.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from service.storage.models import timeline_launches, timeline_sessions
from service.timeline.sealing import SecretBox


@dataclass(frozen=True)
class PendingLaunch:
    iss: str
    token_endpoint: str
    code_verifier: str
    browser_key: str
    expires_at: datetime


@dataclass(frozen=True)
class TimelineSession:
    iss: str
    patient: str
    access_token: str
    expires_at: datetime


def new_value() -> str:
    """An opaque random value for a cookie or a ``state`` (256 bits)."""
    return secrets.token_urlsafe(32)


class TimelineStore:
    def __init__(self, engine: Callable[[], Engine], box: SecretBox) -> None:
        self._engine = engine
        self._box = box

    def purge(self, now: datetime) -> None:
        with self._engine().begin() as connection:
            connection.execute(delete(timeline_launches).where(
                timeline_launches.c.expires_at <= now))
            connection.execute(delete(timeline_sessions).where(
                timeline_sessions.c.expires_at <= now))

    def browser_matches(self, launch: PendingLaunch, browser: str | None) -> bool:
        return browser is not None and secrets.compare_digest(
            self._box.lookup_key(browser), launch.browser_key
        )

    def save_launch(
        self,
        *,
        state: str,
        browser: str,
        iss: str,
        token_endpoint: str,
        code_verifier: str,
        now: datetime,
        lifetime: timedelta,
    ) -> None:
        self.purge(now)
        with self._engine().begin() as connection:
            connection.execute(insert(timeline_launches).values(
                state_key=self._box.lookup_key(state),
                browser_key=self._box.lookup_key(browser),
                iss=iss,
                token_endpoint=token_endpoint,
                secret_json=self._box.seal({"code_verifier": code_verifier}),
                created_at=now,
                expires_at=now + lifetime,
            ))

    def take_launch(self, state: str, now: datetime) -> PendingLaunch | None:
        """The launch this ``state`` began, deleted as it is read; None if unknown/expired."""
        key = self._box.lookup_key(state)
        with self._engine().begin() as connection:
            row = connection.execute(
                select(timeline_launches).where(timeline_launches.c.state_key == key)
            ).first()
            if row is None:
                return None
            taken = connection.execute(
                delete(timeline_launches).where(timeline_launches.c.state_key == key)
            ).rowcount
        sealed = self._box.open(row.secret_json)
        if taken != 1 or row.expires_at <= now or sealed is None:
            return None
        return PendingLaunch(
            iss=row.iss,
            token_endpoint=row.token_endpoint,
            code_verifier=str(sealed["code_verifier"]),
            browser_key=row.browser_key,
            expires_at=row.expires_at,
        )

    def create_session(
        self, *, iss: str, patient: str, access_token: str, now: datetime, expires_at: datetime
    ) -> str:
        """A new session; returns the cookie value (only its HMAC is stored)."""
        self.purge(now)
        cookie = new_value()
        with self._engine().begin() as connection:
            connection.execute(insert(timeline_sessions).values(
                session_key=self._box.lookup_key(cookie),
                iss=iss,
                secret_json=self._box.seal({"patient": patient, "access_token": access_token}),
                created_at=now,
                expires_at=expires_at,
            ))
        return cookie

    def session(self, cookie: str | None, now: datetime) -> TimelineSession | None:
        if not cookie:
            return None
        with self._engine().connect() as connection:
            row = connection.execute(
                select(timeline_sessions).where(
                    timeline_sessions.c.session_key == self._box.lookup_key(cookie)
                )
            ).first()
        if row is None or row.expires_at <= now:
            return None
        sealed = self._box.open(row.secret_json)
        if sealed is None:
            return None
        return TimelineSession(
            iss=row.iss,
            patient=str(sealed["patient"]),
            access_token=str(sealed["access_token"]),
            expires_at=row.expires_at,
        )

    def end_session(self, cookie: str) -> None:
        with self._engine().begin() as connection:
            connection.execute(delete(timeline_sessions).where(
                timeline_sessions.c.session_key == self._box.lookup_key(cookie)))
