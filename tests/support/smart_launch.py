"""The real parts of a SMART EHR launch, on 127.0.0.1, for the timeline app's tests.

- ``SmartAuthServer``: npm ``oidc-provider`` (pinned in tests/support/smart_auth/, installed
  by ``make test`` with ``npm ci``) run by the test-only script ``server.mjs``: PKCE
  required, ``launch`` and ``aud`` as extra parameters, each launch id bound to a fixture
  patient, JWT access tokens for the FHIR base URL carrying ``patient``, ``patient`` in
  the token response.
- ``FhirFront``: the only stand-in. It plays the EHR's FHIR endpoint: it serves
  ``<iss>/.well-known/smart-configuration`` pointing at the authorization server, and
  forwards every other FHIR call to sekmet-fhir (the real FHIR server) only with a valid
  bearer token. oidc-provider refuses to introspect JWT access tokens
  (``lib/shared/reject_structured_tokens.js``: "Structured JWT Tokens cannot be
  introspected"), so the front checks them against the authorization server itself: its
  published keys (``jwks_uri``), issuer, audience (the FHIR base URL) and expiry, and
  that a patient-context token reads only its own patient.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.sekmet_server import TOKEN as SEKMET_TOKEN

SMART_AUTH_DIR = Path(__file__).resolve().parent / "smart_auth"
NODE = "/usr/bin/node"


def node_modules_ready() -> bool:
    return (SMART_AUTH_DIR / "node_modules" / "oidc-provider").is_dir()


class SmartAuthServer:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config = config
        self.issuer = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if not node_modules_ready():
            raise RuntimeError(
                "oidc-provider is not installed: run `npm ci` in tests/support/smart_auth "
                "(make test does)"
            )
        config_path = self.workdir / "smart-auth.json"
        config_path.write_text(json.dumps(self.config), encoding="utf-8")
        self._log = (self.workdir / "smart-auth.log").open("w")
        self._process = subprocess.Popen(
            [NODE, str(SMART_AUTH_DIR / "server.mjs"), str(config_path)],
            cwd=SMART_AUTH_DIR,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={"PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("oidc-provider did not start: "
                               + (self.workdir / "smart-auth.log").read_text())
        self.issuer = json.loads(line)["issuer"]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()


def _outcome(status: int, text: str) -> Response:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "security" if status in (401, 403)
                       else "exception", "diagnostics": text}]}
    response = Response(json.dumps(body), status=status, mimetype="application/fhir+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


class FhirFront:
    """The EHR's FHIR endpoint as the app sees it: SMART discovery + guarded forwarding."""

    def __init__(self, sekmet_base: str) -> None:
        self.sekmet_base = sekmet_base.rstrip("/")
        self.issuer = ""  # the authorization server, set once it runs
        # Test switches: override discovery members; answer every FHIR call with a status.
        self.discovery_overrides: dict[str, Any] = {}
        self.fail_status: int | None = None
        self.refused = 0  # calls refused for a missing or invalid token
        self.forwarded = 0
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/fhir"
        self._http = requests.Session()
        self._http.trust_env = False
        self._jwks: jwt.PyJWKClient | None = None

    def __enter__(self) -> FhirFront:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        self._http.close()

    def smart_configuration(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "fhirUser", "launch", "patient/*.rs"],
            "response_types_supported": ["code"],
            "capabilities": ["launch-ehr", "client-public", "context-ehr-patient",
                             "permission-patient", "permission-v2", "sso-openid-connect"],
        }
        document.update(self.discovery_overrides)
        return document

    def _claims(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(f"{self.issuer}/jwks")
        token = header.removeprefix("Bearer ")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["RS256"],
                                                audience=self.base_url, issuer=self.issuer)
        except jwt.PyJWTError:
            return None
        return claims

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        if path == "/fhir/.well-known/smart-configuration":
            return Response(json.dumps(self.smart_configuration()), mimetype="application/json")
        if not path.startswith("/fhir/"):
            return _outcome(404, "not found")
        if self.fail_status is not None:
            return _outcome(self.fail_status, "the test made the FHIR server fail")
        claims = self._claims(request)
        if claims is None:
            self.refused += 1
            return _outcome(401, "missing or invalid bearer token")
        patient = claims.get("patient")
        wanted = request.args.get("patient") or (
            path.split("/")[3] if path.startswith("/fhir/Patient/") else None)
        if patient and wanted is not None and wanted not in (patient, f"Patient/{patient}"):
            return _outcome(403, "the token is for another patient")
        self.forwarded += 1
        upstream = self._http.get(
            self.sekmet_base + path.removeprefix("/fhir"),
            params=list(request.args.items(multi=True)),
            headers={"Authorization": f"Bearer {SEKMET_TOKEN}",
                     "Accept": "application/fhir+json"},
            timeout=30,
        )
        body = upstream.content.replace(self.sekmet_base.encode(), self.base_url.encode())
        return Response(body, status=upstream.status_code,
                        content_type=upstream.headers.get("Content-Type"))


def prefixed(resources: Iterable[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The resources with ids (and references to them) prefixed, except the Patient's:
    fixtures reuse ids such as ``cond-1``, and two of them share one FHIR server here."""
    resources = [json.loads(json.dumps(r)) for r in resources]
    renamed = {
        f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/{prefix}{r['id']}"
        for r in resources if r.get("id") and r.get("resourceType") != "Patient"
    }

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (renamed.get(v, v) if k == "reference" and isinstance(v, str)
                        else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    out = []
    for resource in resources:
        resource = walk(resource)
        if resource.get("id") and resource.get("resourceType") != "Patient":
            resource["id"] = prefix + resource["id"]
        out.append(resource)
    return out


_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def prefetch_resources(prefetch: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a fixture's prefetch (Bundles opened), OperationOutcomes left out."""
    found: list[dict[str, Any]] = []
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry") or ()
                      if isinstance(e.get("resource"), dict)]
        else:
            found.append(value)
    return [r for r in found if r.get("resourceType") != "OperationOutcome"
            and isinstance(r.get("id"), str) and _ID.fullmatch(r["id"])]


@contextmanager
def started(server: SmartAuthServer) -> Iterator[SmartAuthServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
