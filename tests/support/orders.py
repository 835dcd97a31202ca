"""Order-time requests (issue 15) for tests: a bundled order fixture fired "now"."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from service.scenarios.fixtures import FIXTURES_DIR, Fixture, load_fixture, request_for

SELECT_URL = "/cds-services/mcas-order-safety-select"
SIGN_URL = "/cds-services/mcas-order-safety-sign"


def order_fixture(name: str) -> Fixture:
    return load_fixture(FIXTURES_DIR / f"{name}.json")


def order_request(name: str, now: datetime | None = None) -> dict[str, Any]:
    """The fixture's request with its dates moved to ``now`` (default: the current time)."""
    return request_for(order_fixture(name), now or datetime.now(UTC))


def as_hook(request: dict[str, Any], hook: str, selections: list[str] | None = None
            ) -> dict[str, Any]:
    """The same drafts sent at another hook (order-select needs ``selections``)."""
    changed = copy.deepcopy(request)
    changed["hook"] = hook
    changed["context"].pop("selections", None)
    if selections is not None:
        changed["context"]["selections"] = selections
    return changed


def draft_ids(request: dict[str, Any]) -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in request["context"]["draftOrders"]["entry"]]
