"""Which FHIR servers this service may query: the SSRF guard.

A hook request names its own ``fhirServer``; without a guard anyone able to call the
service could make it send requests (and the EHR's access token) anywhere. Only base URLs
an administrator listed are queried. URLs are compared after normalisation: scheme and
host lower-cased, the default port made explicit, the path compared segment by segment
as a prefix. URLs with credentials, a query, a fragment or dot segments never match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int
    path: tuple[str, ...]

    def contains(self, other: Origin) -> bool:
        return (self.scheme, self.host, self.port) == (
            other.scheme,
            other.host,
            other.port,
        ) and other.path[: len(self.path)] == self.path


def normalise(url: str) -> Origin | None:
    """The comparable form of an http(s) URL, or None when it can never be allowed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.password is not None or parts.fragment:
        return None
    segments = tuple(s for s in unquote(parts.path).split("/") if s)
    if any(s in {".", ".."} or "\\" in s for s in segments):
        return None
    return Origin(
        scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme], segments
    )


def parse_allowed(entries: Iterable[str]) -> tuple[Origin, ...]:
    """The administrator's list; a bad entry is an error so a typo never passes silently."""
    origins = []
    for entry in entries:
        origin = normalise(entry)
        if origin is None or urlsplit(entry.strip()).query:
            raise ValueError(f"not an http(s) base URL without credentials or query: {entry!r}")
        origins.append(origin)
    return tuple(origins)


class Allowlist:
    def __init__(self, allowed: Iterable[Origin]) -> None:
        self._allowed = tuple(allowed)

    def __bool__(self) -> bool:
        return bool(self._allowed)

    def allows_base(self, base_url: str) -> bool:
        """A fhirServer is allowed when it lies at or under an allowed base URL."""
        origin = normalise(base_url)
        if origin is None or urlsplit(base_url.strip()).query:
            return False
        return any(allowed.contains(origin) for allowed in self._allowed)


def under(base_url: str, url: str) -> bool:
    """Whether ``url`` (a Bundle's next link) lies on the server at ``base_url``."""
    base, target = normalise(base_url), normalise(url)
    return base is not None and target is not None and base.contains(target)
