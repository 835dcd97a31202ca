"""Fixtures for the FHIR fallback tests: a real sekmet-fhir server, fresh HTTP sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.fhir import client as fhir_client
from tests.support.fhir_fallback import (
    medication_reference_patient,
    outside_the_queries,
    paged_patient,
    sandbox_resources,
)
from tests.support.sekmet_server import SekmetServer


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """sekmet-fhir on 127.0.0.1, loaded with the Sandbox patient; stopped at the end."""
    server = SekmetServer(Path(tmp_path_factory.mktemp("sekmet")))
    server.start()
    try:
        server.load(
            sandbox_resources()
            + outside_the_queries()
            + paged_patient()
            + medication_reference_patient()
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    """Each test starts with no pooled connections left from another test's servers."""
    yield
    with fhir_client._session_lock:
        if fhir_client._session is not None:
            fhir_client._session.close()
            fhir_client._session = None
