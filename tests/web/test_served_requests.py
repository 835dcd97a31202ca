"""What only a real HTTP server shows: a forwarder's SCRIPT_NAME and chunked bodies.

Under gunicorn as deployed (the README's production command, deploy/gunicorn.conf.py)
and under the Flask development server (`flask run`, `mcas-cds serve`).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from service import create_app
from tests.support.paths import load_recording
from tests.support.production_server import documented_command, production_server

pytestmark = pytest.mark.integration

CAP = 8192  # MCAS_MAX_CONTENT_LENGTH for these servers
HOOK = "/cds-services/mcas-therapy-tier"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    workdir = tmp_path_factory.mktemp("gunicorn")
    env = {
        "MCAS_WORKERS": "1",
        "MCAS_AUTH_DISABLED": "true",
        "MCAS_MAX_CONTENT_LENGTH": str(CAP),
        "MCAS_PATIENT_HASH_SALT": "served-requests-salt-0123456789",
        # The test client stands for a reverse proxy gunicorn trusts with forwarded
        # headers (SCRIPT_NAME among them): both names, before and after issue 17.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "MCAS_TRUSTED_PROXIES": "127.0.0.1",
    }
    with production_server(documented_command(), workdir, env) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        yield host, int(port)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    app = create_app(
        {
            "TESTING": True,
            "AUTH_DISABLED": True,
            "MAX_CONTENT_LENGTH": CAP,
            "DATA_DIR": str(tmp_path_factory.mktemp("dev-server")),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_port
    server.shutdown()


def _request(
    where: tuple[str, int],
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    chunks: list[bytes] | None = None,
) -> tuple[int, str, bytes]:
    """(status, content type, body); ``chunks`` are sent with chunked transfer coding."""
    connection = http.client.HTTPConnection(*where, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if chunks is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for chunk in chunks or ():
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if chunks is not None:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def _is_operation_outcome(content_type: str, body: bytes) -> bool:
    return content_type.startswith("application/json") and (
        json.loads(body).get("resourceType") == "OperationOutcome"
    )


# -- SCRIPT_NAME from a forwarder -------------------------------------------------------------


@pytest.mark.parametrize(
    "script_name", ["/elsewhere", "x", "/cds-services/mcas-therapy-tier/feedback", "/%2e%2e"]
)
def test_script_name_header_from_a_forwarder_never_yields_gunicorns_html_500(
    gunicorn: tuple[str, int], script_name: str
) -> None:
    status, content_type, body = _request(
        gunicorn, "GET", "/cds-services", headers={"SCRIPT_NAME": script_name}
    )
    assert status < 500, (status, body[:300])
    assert b"<html" not in body.lower()
    assert content_type.startswith("application/json"), (content_type, body[:300])


def test_script_name_header_that_prefixes_the_path_is_still_honoured(
    gunicorn: tuple[str, int],
) -> None:
    """The test's forwarder is trusted: the header is read, not dropped wholesale."""
    status, _, body = _request(
        gunicorn, "GET", "/mcas/cds-services", headers={"SCRIPT_NAME": "/mcas"}
    )
    assert status == 200, body[:300]
    assert "services" in json.loads(body)


# -- chunked bodies over the cap ---------------------------------------------------------------


def _hook_body(padding: int) -> bytes:
    """The Sandbox's hook call, made about ``padding`` bytes longer by an unused context
    member (so the body stays valid JSON whatever its size)."""
    body = load_recording("hook-request.json")["body"]
    # No data (null keys): small, and a 200 with no cards when read whole.
    body["prefetch"] = {key: None for key in body["prefetch"]}
    del body["fhirServer"]
    body["context"]["note"] = "x" * padding
    return json.dumps(body).encode()


def _chunks(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


SERVERS = ["gunicorn", "dev_server"]


@pytest.mark.parametrize("server", SERVERS)
def test_chunked_body_over_the_cap_is_413(request: pytest.FixtureRequest, server: str) -> None:
    where = request.getfixturevalue(server)
    data = _hook_body(3 * CAP)
    status, content_type, body = _request(where, "POST", HOOK, chunks=_chunks(data))
    assert status == 413, (status, body[:300])
    assert _is_operation_outcome(content_type, body)


@pytest.mark.parametrize("server", SERVERS)
def test_chunked_body_over_the_cap_by_whitespace_only_is_413(
    request: pytest.FixtureRequest, server: str
) -> None:
    """Before: the cap cut the trailing whitespace off and the call answered 200."""
    where = request.getfixturevalue(server)
    data = _hook_body(CAP - 3000)
    data += b" " * (CAP + 100 - len(data))
    assert len(data) > CAP
    status, content_type, body = _request(where, "POST", HOOK, chunks=_chunks(data))
    assert status == 413, (status, body[:300])
    assert _is_operation_outcome(content_type, body)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("extra", [0, -1])
def test_chunked_body_at_or_under_the_cap_is_read_whole(
    request: pytest.FixtureRequest, server: str, extra: int
) -> None:
    where = request.getfixturevalue(server)
    data = _hook_body(CAP - 3000)
    data += b" " * (CAP + extra - len(data))
    assert len(data) == CAP + extra
    status, _, body = _request(where, "POST", HOOK, chunks=_chunks(data))
    assert status == 200, (status, body[:300])
    assert "cards" in json.loads(body)


def test_body_with_content_length_over_the_cap_is_still_413(gunicorn: tuple[str, int]) -> None:
    data = _hook_body(2 * CAP)
    status, content_type, body = _request(
        gunicorn,
        "POST",
        HOOK,
        headers={"Content-Type": "application/json", "Content-Length": str(len(data))},
    )
    assert status == 413, (status, body[:300])
    assert _is_operation_outcome(content_type, body)
