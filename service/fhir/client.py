"""HTTP to the EHR's FHIR server: one pooled Session per process, timeouts, one retry.

Every call is bounded by the fallback's deadline as well as by its own timeouts, so a
slow server costs at most the deadline. The deadline also ends the work: when it passes
(``Deadline.expire``), the connections its calls are using are shut down, so no thread
goes on reading from a server that trickles its answer (each read well inside the read
timeout) after the hook has answered. Redirects are never followed: a redirect could
lead off the allowed server with the access token. Nothing here logs a URL (it carries
the patient id) or a header (it carries the token).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from service.pipeline.prefetch import Unavailable

_RETRY_STATUSES = {502, 503, 504}
NOT_FOUND = object()  # a 404/410: for a read that is "no such resource", for a search an error

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process's Session, created on first use (after any fork) and shared by threads."""
    global _session
    with _session_lock:
        if _session is None:
            _session = _new_session()
        return _session


def _new_session() -> requests.Session:
    # urllib3 logs every request line at DEBUG, and ours carry the patient id.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
    http_session = requests.Session()
    # Environment proxies and ~/.netrc credentials must not change where requests go or
    # what they carry; cookies must not carry one EHR user's session into another's call.
    http_session.trust_env = False
    http_session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = _WatchedAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
    http_session.mount("http://", adapter)
    http_session.mount("https://", adapter)
    return http_session


class DeadlinePassed(OSError):
    """A connection was about to be used for a call whose deadline has passed."""


class Deadline:
    """One hook call's time for the FHIR fallback, and the connections its calls use.

    A fetching thread runs each HTTP call inside ``watching()``; the connection it uses
    registers itself (see ``_Watched``). ``expire()`` shuts down the sockets still in use,
    which ends any read at once, and refuses further use.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._in_use: set[HTTPConnection] = set()
        self._expired = False

    def remaining(self) -> float:
        return 0.0 if self._expired else max(0.0, self._end - time.monotonic())

    def unavailable(self) -> Unavailable:
        return Unavailable(f"the FHIR server did not answer within the {self.seconds:g} s deadline")

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Connections used on this thread inside the block are this deadline's."""
        mine: list[HTTPConnection] = []
        _current.watch = (self, mine)
        try:
            yield
        finally:
            _current.watch = None
            with self._lock:
                self._in_use.difference_update(mine)

    def use(self, connection: HTTPConnection, mine: list[HTTPConnection]) -> None:
        with self._lock:
            if self._expired:
                raise DeadlinePassed("the FHIR fallback's deadline has passed")
            self._in_use.add(connection)
            mine.append(connection)

    def expire(self) -> int:
        """Shut down the connections still in use; returns how many there were."""
        with self._lock:
            self._expired = True
            in_use = list(self._in_use)
            self._in_use.clear()
        for connection in in_use:
            _shut(connection)
        return len(in_use)

    @property
    def expired(self) -> bool:
        return self._expired


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        # socket.socket's own shutdown, also for a TLS socket: it wakes a recv() blocked
        # in another thread without touching the TLS state that thread is using.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


# (deadline, connections used by the current call) of the call running on this thread.
_current = threading.local()


class _Watched:
    """A connection that registers with the deadline of the call using it."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            deadline, mine = watch
            deadline.use(self, mine)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch = getattr(_current, "watch", None)
        if watch is not None and watch[0].expired:  # connected just as the deadline passed
            _shut(self)  # type: ignore[arg-type]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int
    verify: bool | str = True


def get_json(url: str, *, token: str | None, settings: ClientSettings, deadline: Deadline) -> Any:
    """The parsed JSON at ``url``, ``NOT_FOUND``, or Unavailable with a reason safe to show."""
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in (1, 2):
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.unavailable()
        timeout = (min(settings.connect_timeout, remaining), min(settings.read_timeout, remaining))
        try:
            with (
                deadline.watching(),
                session().get(
                    url,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    verify=settings.verify,
                    stream=True,
                ) as response,
            ):
                if response.status_code in _RETRY_STATUSES and attempt == 1:
                    continue
                return _read(response, settings.max_response_bytes)
        except requests.ReadTimeout:
            if deadline.remaining() <= 0:
                raise deadline.unavailable() from None
            raise Unavailable("the FHIR server did not answer in time") from None
        except requests.ConnectionError:
            if attempt == 1:
                continue
            raise Unavailable("the FHIR server could not be reached") from None
        except requests.RequestException as exc:
            raise Unavailable(f"the FHIR request failed ({type(exc).__name__})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _read(response: requests.Response, limit: int) -> Any:
    status = response.status_code
    if status in (401, 403):
        raise Unavailable(
            f"the FHIR server refused access (HTTP {status}): the access token is missing, "
            "expired or does not grant read access to this data"
        )
    if 300 <= status < 400:
        raise Unavailable(
            f"the FHIR server answered with a redirect (HTTP {status}); redirects are not followed"
        )
    if status in (404, 410):
        return NOT_FOUND
    if status != 200:
        raise Unavailable(f"the FHIR server answered HTTP {status}")
    body = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        body.extend(chunk)
        if len(body) > limit:
            raise Unavailable(f"the FHIR server's answer is larger than {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Unavailable("the FHIR server's answer is not JSON") from None
