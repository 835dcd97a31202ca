"""The timeline's launch rig: sekmet-fhir, the FHIR front, oidc-provider, the app served
(the tests' module fixture is in tests/timeline/conftest.py).

Everything is real except the front (tests/support/smart_launch.py). Two fixture patients
are loaded with their dates moved to one frozen "now", which the app's clock also reads,
so the hook and the picture judge the same record at the same instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from service import create_app
from service.pipeline.prefetch import prefetch_templates
from service.scenarios.fixtures import FIXTURES_DIR, find_fixture, request_for
from service.web.timeline import default_scopes
from tests.support.browser import served
from tests.support.sekmet_server import SekmetServer
from tests.support.smart_launch import (
    FhirFront,
    SmartAuthServer,
    prefetch_resources,
    prefixed,
)

NOW = datetime.now(UTC).replace(microsecond=0)
CLIENT_ID = "mcas-timeline-test"
SECRET_KEY = "timeline-test-secret-key-0123456789abcdef"  # a test's credentials
# A tier-2 patient (refractory on montelukast) and a tier-4 one (refractory on dupilumab).
PATIENTS = {
    "tier2": "tier-3--fires--refractory-on-montelukast",
    "tier4": "specialist-referral--fires--refractory-on-dupilumab",
}


@dataclass
class Rig:
    app: Flask
    app_url: str
    front: FhirFront
    auth: SmartAuthServer
    requests: dict[str, dict[str, Any]]  # name -> the fixture's hook request, dated to NOW
    patients: dict[str, str]  # name -> patient id

    def launch_url(self, launch: str) -> str:
        return f"{self.app_url}/timeline/launch?launch={launch}&iss={self.front.base_url}"


def timeline_config(allowed: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "AUTH_DISABLED": True,
        "RECORD_CARDS": False,
        "FHIR_ALLOWED_SERVERS": allowed,
        "TIMELINE_ENABLED": True,
        "TIMELINE_CLIENT_ID": CLIENT_ID,
        "SECRET_KEY": SECRET_KEY,
        "TIMELINE_HTTP_TIMEOUT": 2.0,
        "CLOCK": lambda: NOW,
        **extra,
    }


@contextmanager
def launch_rig(workdir: Path) -> Iterator[Rig]:
    """Everything started on 127.0.0.1 in ``workdir``; stopped on exit."""
    sekmet = SekmetServer(workdir / "sekmet")
    (workdir / "sekmet").mkdir()
    sekmet.start()
    try:
        requests_by_name, patients = {}, {}
        for name, fixture_name in PATIENTS.items():
            request = request_for(find_fixture(fixture_name, FIXTURES_DIR), NOW)
            requests_by_name[name] = request
            patients[name] = request["context"]["patientId"]
            sekmet.load(prefixed(prefetch_resources(request["prefetch"]), f"{name}-"))
        with FhirFront(sekmet.base_url) as front:
            app = create_app(timeline_config(
                [front.base_url], DATA_DIR=str(workdir / "data")))
            with served(app) as app_url:
                scopes = default_scopes(dict(prefetch_templates(
                    app.extensions["mcas"].knowledge)))
                auth = SmartAuthServer(workdir, {
                    "client_id": CLIENT_ID,
                    "redirect_uri": f"{app_url}/timeline/callback",
                    "fhir_base": front.base_url,
                    "practitioner": "example-allergist",
                    "resource_scopes": " ".join(
                        s for s in scopes.split() if s.startswith("patient/")),
                    "launches": {
                        "launch-tier2": patients["tier2"],
                        "launch-tier4": patients["tier4"],
                        "launch-no-patient": "",
                    },
                })
                auth.start()
                try:
                    front.issuer = auth.issuer
                    yield Rig(app, app_url, front, auth, requests_by_name, patients)
                finally:
                    auth.stop()
    finally:
        sekmet.stop()


def main() -> None:
    """Start the rig by hand and print the launch URLs; Ctrl-C stops everything."""
    import signal
    import tempfile
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="timeline-rig-") as workdir, \
            launch_rig(Path(workdir)) as rig:
        print(f"FHIR server (front): {rig.front.base_url}", flush=True)
        print(f"authorization server: {rig.auth.issuer}", flush=True)
        for name in ("tier2", "tier4", "no-patient"):
            print(f"launch {name}: {rig.launch_url(f'launch-{name}')}", flush=True)
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
