"""Firing one fixture at a service and judging the answer; shared by ``fire`` and ``check``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..schemas import RESPONSE, violations
from .catalog import Fixture, prepare_request
from .client import Client, Reply
from .render import topics_of


@dataclass
class Outcome:
    fixture: Fixture
    url: str
    reply: Reply
    cards: list[Any] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # transport, status, body

    @property
    def topics(self) -> list[str]:
        return topics_of(self.cards)

    @property
    def missing_topics(self) -> list[str]:
        return [t for t in self.fixture.expected_topics if t not in self.topics]

    @property
    def unexpected_topics(self) -> list[str]:
        return [t for t in self.topics if t not in self.fixture.expected_topics]

    @property
    def forbidden_topics(self) -> list[str]:
        return [t for t in self.fixture.absent_topics if t in self.topics]

    @property
    def transport_ok(self) -> bool:
        """The exchange itself worked: an answer with the expected status and a sound body."""
        return not self.problems and not self.violations

    @property
    def topics_ok(self) -> bool:
        return not (self.missing_topics or self.unexpected_topics or self.forbidden_topics)

    def topic_summary(self) -> str:
        parts = []
        if self.missing_topics:
            parts.append(f"missing {', '.join(self.missing_topics)}")
        if self.unexpected_topics:
            parts.append(f"unexpected {', '.join(self.unexpected_topics)}")
        if self.forbidden_topics:
            parts.append(f"must be absent: {', '.join(self.forbidden_topics)}")
        return "; ".join(parts)


def build_request(
    fixture: Fixture,
    *,
    now: datetime | None = None,
    fhir_server: str | None = None,
    without_prefetch: bool = False,
) -> dict[str, Any]:
    request = prepare_request(fixture, now)
    if fhir_server:
        request["fhirServer"] = fhir_server
    if without_prefetch:
        # Leaving the keys out (not null) makes the service fetch from fhirServer.
        request.pop("prefetch", None)
    return request


def fire(client: Client, url: str, fixture: Fixture, request: dict[str, Any]) -> Outcome:
    reply = client.request("POST", url, payload=request)
    outcome = Outcome(fixture=fixture, url=url, reply=reply)
    if reply.error:
        outcome.problems.append(reply.error)
        return outcome
    expected = fixture.expected_status
    if reply.status != expected:
        messages = "; ".join(reply.outcome_messages()) or "(empty body)"
        outcome.problems.append(f"HTTP {reply.status} (expected {expected}): {messages}")
        return outcome
    if reply.status != 200:
        return outcome  # an expected error status: nothing more to judge
    try:
        body = reply.json()
    except ValueError:
        outcome.problems.append("the answer is not JSON")
        return outcome
    outcome.violations = violations(body, RESPONSE)
    if isinstance(body, dict) and isinstance(body.get("cards"), list):
        outcome.cards = body["cards"]
    return outcome
