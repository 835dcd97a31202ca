"""What the app loads once at start-up and every request reads: knowledge, thresholds, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, current_app

from service.knowledge.model import Knowledge
from service.pipeline.test_traffic import TestPatients
from service.thresholds.model import Thresholds

EXTENSION_KEY = "mcas"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceState:
    knowledge: Knowledge
    # A provider rather than a value: administrators may change thresholds at run time.
    thresholds: Callable[[], Thresholds]
    clock: Callable[[], datetime] = utc_now
    # which patients are test traffic (MCAS_TEST_PATIENT_PREFIX / _IDS), set at start-up
    test_patients: TestPatients = field(default_factory=TestPatients)


def init_app(app: Flask, state: ServiceState) -> None:
    app.extensions[EXTENSION_KEY] = state


def state() -> ServiceState:
    current: ServiceState = current_app.extensions[EXTENSION_KEY]  # Flask's: dict[str, Any]
    return current
