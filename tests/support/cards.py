"""Cards shaped as the service issues them, for tests of what storage does with cards.

The storage tests replace the clinical pipeline by one answering these cards: what is
under test is recording and feedback, not which cards a patient gets.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service.pipeline.hook import HookResult

TOPIC_SYSTEM = "https://mcas-cds.invalid/card-topic"


def card(
    topic: str, *, version: str | None = "v7", suggestion: str | None = None
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": f"Card {topic}",
        "indicator": "info",
        "source": {"label": "MCAS CDS", "topic": {"system": TOPIC_SYSTEM, "code": topic}},
    }
    if version is not None:
        made["extension"] = {"mcas-thresholds-version": version}
    if suggestion is not None:
        made["suggestions"] = [{"label": "Do it", "uuid": suggestion}]
        made["selectionBehavior"] = "at-most-one"
    return made


def answer_with(monkeypatch: pytest.MonkeyPatch, cards: list[dict[str, Any]]) -> None:
    def run_hook(*_: Any, **__: Any) -> HookResult:
        return HookResult(cards=cards)

    monkeypatch.setattr("service.web.hooks.run_hook", run_hook)


def hook_body(patient_id: str = "mcas-1") -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient_id, "userId": "Practitioner/1"},
        "prefetch": {},
    }
