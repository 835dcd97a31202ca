"""Settings of client authentication (CDS Hooks 2.0 "Trusting CDS Clients")."""

from __future__ import annotations

from collections.abc import Callable

from service.auth.audience import parse_allowed_hosts, parse_trusted_proxies
from service.settings import Setting, parse_bool, parse_list


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


parse_replay_cache_shared = _choice("auto", "database", "off")
parse_on_outage = _choice("local", "refuse")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "AUTH_DISABLED",
        False,
        parse_bool,
        "LOCAL TESTING ONLY. `true` turns off verification of the CDS client's JWT; the "
        "service then logs a warning at every start, answers only loopback clients (403 "
        "otherwise) and refuses requests that came through a proxy. Never set it in a "
        "deployment. `make run` sets it.",
    ),
    Setting(
        "TRUST_FILE",
        None,
        str,
        "Path of the YAML (or JSON) file listing the trusted CDS clients: each issuer "
        "(`iss`) with its keys, as a JWKS file or a `jku` allowlist, and an optional "
        "tenant allowlist, checked at start-up. Without it no client is trusted: every call "
        "gets 401 and /readyz fails. "
        "See docs/security.md.",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        None,
        str,
        "The service's base URL as CDS clients call it, e.g. `https://cds.example.org` or "
        "`https://example.org/mcas`; a token's `aud` must be this plus the request path. "
        "With verification on, set it or `MCAS_ALLOWED_HOSTS`: with neither, every token "
        "is refused (401) and /readyz fails. It wins over `MCAS_ALLOWED_HOSTS`.",
    ),
    Setting(
        "ALLOWED_HOSTS",
        None,
        parse_allowed_hosts,
        "Comma-separated `host` or `host:port` values (no scheme, no path) a request's "
        "`Host` may name when `MCAS_PUBLIC_BASE_URL` is unset: the expected `aud` is then "
        "the URL called, built from that Host, and a Host not listed refuses the token "
        "(401). For a service reached under several names, e.g. "
        "`cds.example.org,cds.internal:8443`. `mcas-cds serve --verify-tokens` sets it to "
        "the address it serves.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        [],
        parse_trusted_proxies,
        "Comma-separated addresses or CIDR networks of the reverse proxies in front of the "
        "service (e.g. `10.0.0.0/8` for an Ingress). Only from these are `X-Forwarded-"
        "Proto`, `X-Forwarded-Host`, `X-Forwarded-Prefix`, `X-Forwarded-For` and a "
        "`SCRIPT_NAME` header used (by the app and by gunicorn, deploy/gunicorn.conf.py); "
        "from anyone else they are ignored. Default: none, not even loopback.",
    ),
    Setting(
        "JWT_ALGORITHMS",
        "ES384,RS384",
        parse_list,
        "Signature algorithms accepted, comma-separated. Allowed: ES256, ES384, ES512, "
        "RS256, RS384, RS512, PS256, PS384, PS512; `none` and HS* are refused at start-up.",
    ),
    Setting(
        "JWT_LEEWAY_SECONDS",
        5.0,
        float,
        "Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds (the CDS Hooks "
        "Sandbox rounds `iat`, so it can be half a second ahead).",
    ),
    Setting(
        "JWT_MAX_LIFETIME_SECONDS",
        300.0,
        float,
        "Longest token accepted: `exp - iat` at most this plus `MCAS_JWT_LEEWAY_SECONDS`, "
        "in seconds (CDS Hooks advises five minutes). A longer-lived token is refused "
        "(401, reason code `lifetime_too_long`); a token without `iat` always is (CDS Hooks "
        "requires it). Between 1 and 86400.",
    ),
    Setting(
        "JKU_FETCH_TIMEOUT_SECONDS",
        3.0,
        float,
        "Timeout of one fetch of an allowlisted `jku` key set, in seconds.",
    ),
    Setting(
        "JKU_CACHE_SECONDS",
        3600.0,
        float,
        "How long a fetched `jku` key set is used before it is fetched again, in seconds.",
    ),
    Setting(
        "JKU_MIN_REFRESH_SECONDS",
        30.0,
        float,
        "A token with an unknown `kid` makes the service fetch the `jku` again, at most "
        "once per this many seconds per `jku` (so unknown kids cannot flood the client).",
    ),
    Setting(
        "REPLAY_CACHE",
        None,
        str,
        "This host's cache of seen `jti` values: the path of an SQLite file shared by all "
        "workers on the host, or `memory` (one cache per process). Default: "
        "`replay-cache.sqlite3` in `MCAS_DATA_DIR`. Without a shared database it is the "
        "replay cache; with one (`MCAS_REPLAY_CACHE_SHARED`) it stands in while that "
        "database is unreachable. See docs/security.md.",
    ),
    Setting(
        "REPLAY_CACHE_SHARED",
        "auto",
        parse_replay_cache_shared,
        "Keep seen `jti` values in the database, shared by every replica (table "
        "`replay_jti`, migration 0003): `auto` (yes when `MCAS_DATABASE_URL` is "
        "PostgreSQL), `database` (always, also on SQLite) or `off` (per host only: a "
        "token can then be replayed once to each other replica within its lifetime).",
    ),
    Setting(
        "REPLAY_CACHE_ON_OUTAGE",
        "local",
        parse_on_outage,
        "What a replica does while the shared replay cache's database is unreachable: "
        "`local` checks tokens against this host's cache (`MCAS_REPLAY_CACHE`) only, and "
        "counts each in `mcas_replay_cache_outages_total`, so hooks keep being answered; "
        "`refuse` answers 503 with Retry-After until the database is back.",
    ),
)
