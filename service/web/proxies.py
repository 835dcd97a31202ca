"""Forwarded headers, from the configured reverse proxies only (MCAS_TRUSTED_PROXIES).

A proxy in front of the service tells it the scheme, Host and path prefix the client
used (``X-Forwarded-Proto``, ``-Host``, ``-Prefix``) and the client's address
(``X-Forwarded-For``); the expected `aud` of a token is built from them when
``MCAS_ALLOWED_HOSTS`` is used. Anyone can send those headers, so they are applied
(werkzeug's ``ProxyFix``, one proxy hop) only when the peer's address is a configured
proxy; from anyone else they are ignored. gunicorn does the same for its own forwarded
handling (``forwarded_allow_ips`` in deploy/gunicorn.conf.py comes from this setting).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.auth.audience import is_trusted_proxy, parse_trusted_proxies


class TrustedProxyFix:
    def __init__(self, wsgi_app: Any, proxies: Iterable[str]) -> None:
        self._plain = wsgi_app
        self._fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
        self._proxies = tuple(proxies)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if is_trusted_proxy(environ.get("REMOTE_ADDR"), self._proxies):
            return self._fixed(environ, start_response)
        return self._plain(environ, start_response)


def init_app(app: Flask) -> None:
    raw = app.config.get("TRUSTED_PROXIES") or []
    proxies = parse_trusted_proxies(raw) if isinstance(raw, str) else list(raw)
    if proxies:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, proxies)  # type: ignore[method-assign]
