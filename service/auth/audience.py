"""Which `aud` a token must carry: the URL the client called, as the client saw it.

CDS Hooks 2.0 makes `aud` the URL of the endpoint called. Behind a proxy the service
cannot see that URL, and the request's `Host` is the caller's to choose, so it is
trusted only from a list: either the operator names the public base URL
(``MCAS_PUBLIC_BASE_URL``), or the Hosts the service may be called by
(``MCAS_ALLOWED_HOSTS``). With neither, no `aud` can be expected and every token is
refused: a Host-derived `aud` would accept a token the same EHR minted for another CDS
service, sent with that service's Host (issue 17).

Pure: the web layer hands in the configured values and the request's scheme and Host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

DEFAULT_PORTS = {"http": "80", "https": "443"}

NOT_CONFIGURED = (
    "neither MCAS_PUBLIC_BASE_URL nor MCAS_ALLOWED_HOSTS is set, so no token's aud can be "
    "checked: set MCAS_PUBLIC_BASE_URL to the URL CDS clients call (or list its host in "
    "MCAS_ALLOWED_HOSTS)"
)


class AudienceUnknown(Exception):
    """No `aud` can be expected for this request; ``reason`` says which setting to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_allowed_hosts(raw: str) -> list[str]:
    hosts = [part.strip() for part in raw.split(",") if part.strip()]
    for host in hosts:
        if "/" in host or "@" in host or any(c.isspace() for c in host):
            raise ValueError(f"expected host or host:port (no scheme, no path), got {host!r}")
    return hosts


def parse_trusted_proxies(raw: str) -> list[str]:
    """Addresses or CIDR networks, checked here so a typo stops start-up, naming it."""
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            raise ValueError(
                f"expected an IP address or CIDR network (host bits zero), got {entry!r}"
            ) from None
    return entries


def is_trusted_proxy(address: str | None, proxies: Iterable[str]) -> bool:
    if not address:
        return False
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(entry, strict=False) for entry in proxies)


def normalise_host(host: str, scheme: str) -> str:
    """Lower case, without the scheme's default port: `Example.org:443` is `example.org`."""
    value = host.strip().lower()
    if value.startswith("["):  # [IPv6]:port
        name, _, rest = value.partition("]")
        name, port = name + "]", rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name, port = value, ""
    if port == DEFAULT_PORTS.get(scheme.lower()):
        port = ""
    return f"{name}:{port}" if port else name


def host_allowed(host: str, scheme: str, allowed: Iterable[str]) -> bool:
    wanted = normalise_host(host, scheme)
    return any(normalise_host(entry, scheme) == wanted for entry in allowed)


def expected_audience(
    *,
    public_base_url: str | None,
    allowed_hosts: Iterable[str] | None,
    scheme: str,
    host: str,
    script_root: str,
    path: str,
) -> str:
    """The `aud` a token for this request must name, or ``AudienceUnknown`` saying why not."""
    if public_base_url:
        return public_base_url.rstrip("/") + path
    allowed = list(allowed_hosts or ())
    if not allowed:
        raise AudienceUnknown(NOT_CONFIGURED)
    if not host_allowed(host, scheme, allowed):
        shown = host[:100]
        raise AudienceUnknown(
            f"the request's Host {shown!r} is not in MCAS_ALLOWED_HOSTS "
            f"({', '.join(allowed)}); add it there if CDS clients call the service by it"
        )
    return f"{scheme}://{host}{script_root}{path}"
