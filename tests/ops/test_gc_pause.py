"""The hook pauses the cyclic garbage collector for its call (a speed measure, bench/)
and always leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.ops.gc_pause import collection_paused

PATH = "/cds-services/mcas-therapy-tier"


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def _observed_during(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []
    import service.web.hooks as hooks

    real = hooks.run_hook

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(hooks, "run_hook", spy)
    return seen


def test_paused_during_the_call_and_enabled_after(
    client: FlaskClient, sandbox_hook: dict, collector_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _observed_during(monkeypatch)
    response = client.post(PATH, json=sandbox_hook["body"])
    assert response.status_code == 200
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b'{"hook": "patient-view"}', 400)],
)
def test_enabled_again_after_a_refused_request(
    client: FlaskClient, collector_on: None, body: bytes, status: int
) -> None:
    response = client.post(PATH, data=body, content_type="application/json")
    assert response.status_code == status
    assert gc.isenabled()


def test_enabled_again_after_an_unknown_service(client: FlaskClient, collector_on: None) -> None:
    assert client.post("/cds-services/nope", json={}).status_code == 404
    assert gc.isenabled()


def test_a_collector_someone_else_switched_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_exception_inside_still_re_enables(collector_on: None) -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
