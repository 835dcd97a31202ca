"""The floors the hook is compared with over HTTP, served by gunicorn like the hook.

- ``floor_app``: the least any Python CDS service must spend per request: a plain WSGI
  callable that reads the body, parses it with the standard library's ``json.loads`` and
  verifies the request's ES384 bearer token with PyJWT (signature, ``aud``, ``exp``), the
  key built once from the run's JWKS file. It answers ``{"cards": []}``.
- ``flask_app``: an empty Flask handler that parses the body (``request.get_data()`` then
  ``json.loads``) and answers ``{"cards": []}`` with ``jsonify``: the floor of the hook
  with token verification and card recording off.

Both read their configuration from the environment at import (this is the benchmark's
app, not the service): ``BENCH_FLOOR_JWKS`` (the JWKS file of the run) and
``BENCH_FLOOR_AUDIENCE`` (the URL the tokens are minted for).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from flask import Flask, jsonify, request

_ANSWER = b'{"cards":[]}'


def _key() -> Any:
    path = os.environ.get("BENCH_FLOOR_JWKS")
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        jwk = json.load(handle)["keys"][0]
    return jwt.PyJWK(jwk, algorithm="ES384")


_KEY = _key()
_AUDIENCE = os.environ.get("BENCH_FLOOR_AUDIENCE", "")


def floor_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    json.loads(body)
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    token = authorization.partition(" ")[2]
    try:
        jwt.decode(token, key=_KEY, algorithms=["ES384"], audience=_AUDIENCE,
                   options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.PyJWTError:
        start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                             ("Content-Length", "2")])
        return [b"{}"]
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(_ANSWER)))])
    return [_ANSWER]


flask_app = Flask("bench_floor")


@flask_app.post("/cds-services/<service_id>")
def empty_handler(service_id: str) -> Any:
    json.loads(request.get_data())
    return jsonify({"cards": []})


@flask_app.get("/cds-services")
def discovery() -> Any:
    return jsonify({"services": []})
