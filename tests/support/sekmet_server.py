"""A real FHIR R4 server (sekmet-fhir, from PyPI) run on 127.0.0.1 for the tests.

It serves R4 read and search (token ``system|code`` lists, ``status``, references) with
``next``-link paging at 20 entries a page, answers OperationOutcome errors, and demands a
static Bearer token, which is all the fallback tests need from a real server. Unsecured,
it is open (no token) and validating, as the CDS Hooks Sandbox needs it.

Its paging links and SMART token audience come from ``base_url`` in its settings, so it
must know its port before it starts: uvicorn is handed a socket already bound to a port
of the kernel's choice (``--fd``) rather than told a port that might be taken meanwhile.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.ports import bound_socket

TOKEN = "fallback-test-token"  # a test server's credentials
CLIENT_ID = "mcas-cds"
CLIENT_SECRET = "fallback-test-secret"


class SekmetServer:
    def __init__(self, workdir: Path, *, secured: bool = True) -> None:
        self.workdir = workdir
        self.secured = secured
        self._socket = bound_socket()
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        self._process: subprocess.Popen[bytes] | None = None
        self._http = requests.Session()
        self._http.trust_env = False
        self._http.headers.update(
            {"Authorization": f"Bearer {TOKEN}", "Accept": "application/fhir+json"}
        )

    def start(self) -> None:
        config: dict[str, Any] = {
            "base_url": self.base_url,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.workdir / "data"),
            "simulator": {"enabled": False},
            "log_inbound": False,
        }
        if self.secured:
            config |= {
                # A static token with every right, and SMART tokens limited to their scopes.
                "server_auth": {
                    "types": ["bearer", "smart"],
                    "tokens": [TOKEN],
                    "smart_clients": [
                        {
                            "client_id": CLIENT_ID,
                            "client_secret": CLIENT_SECRET,
                            "scopes": "user/*.read",
                        }
                    ],
                },
                # Some fixture resources fail R4B on purpose (unreadable, nonconformant):
                # store them as sent.
                "validation": {"inbound": "off"},
            }
        settings = self.workdir / "settings.yaml"
        settings.write_text(yaml.safe_dump(config), encoding="utf-8")
        log = (self.workdir / "server.log").open("wb")
        with self._socket:  # the server process listens on its own copy
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "sekmet.main:app_factory",
                    "--factory",
                    "--fd",
                    str(self._socket.fileno()),
                    "--log-level",
                    "warning",
                ],
                cwd=self.workdir,
                env={"SEKMET_CONFIG": str(settings), "PATH": "/usr/bin:/bin"},
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[self._socket.fileno()],
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sekmet exited: {(self.workdir / 'server.log').read_text()}")
            try:
                if self._http.get(f"{self.base_url}/metadata", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("sekmet did not start within 60 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._http.close()

    def load(self, resources: Iterable[dict[str, Any]], tolerate: Iterable[str] = ()) -> set[str]:
        """PUT every resource (a batch, so each stands alone), keeping its id.

        Returns the "Type/id" of the resources the server refused; refusing one not in
        ``tolerate`` (the fixture's unreadable and nonconformant ones) is an error.
        """
        resources = [r for r in resources if isinstance(r.get("id"), str) and r["id"]]
        entries = [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ]
        response = self._http.post(
            self.base_url,
            json={"resourceType": "Bundle", "type": "batch", "entry": entries},
            timeout=60,
        )
        response.raise_for_status()
        refused = {
            f"{resource['resourceType']}/{resource['id']}"
            for resource, entry in zip(resources, response.json().get("entry", []), strict=True)
            if not entry["response"]["status"].startswith(("200", "201"))
        }
        if not refused <= set(tolerate):
            raise RuntimeError(f"sekmet refused {sorted(refused)}")
        return refused

    def scoped_token(self, resource_types: Iterable[str]) -> str:
        """A SMART access token that lets its bearer read only these resource types."""
        scope = " ".join(f"user/{t}.read" for t in sorted(resource_types))
        response = self._http.post(
            f"{self.base_url.removesuffix('/fhir')}/auth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(CLIENT_ID, CLIENT_SECRET),
            headers={"Authorization": None},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def get(self, relative: str) -> dict[str, Any]:
        response = self._http.get(f"{self.base_url}/{relative}", timeout=10)
        response.raise_for_status()
        return response.json()
