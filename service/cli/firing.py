"""Firing one fixture at a service and judging the answer; shared by ``fire`` and ``check``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from service.cdshooks.schemas import RESPONSE, violations
from service.cli.card_text import topics_of
from service.cli.client import Client, Reply
from service.scenarios.fixtures import Fixture, request_for


@dataclass
class Outcome:
    fixture: Fixture
    url: str
    reply: Reply
    cards: list[Any] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # transport, status, body
    note: str = ""  # how the answer was obtained, when it needed explaining
    hook_instance: str = ""
    # Fired through the FHIR fallback, its topics differed, and the fixture sits at an
    # exact time boundary (which a FHIR server's fixed dates cannot hold): not a failure.
    boundary: bool = False

    @property
    def topics(self) -> list[str]:
        return topics_of(self.cards)

    @property
    def missing_topics(self) -> list[str]:
        return [t for t in self.fixture.listed_topics if t not in self.topics]

    @property
    def unexpected_topics(self) -> list[str]:
        return [t for t in self.topics if t not in self.fixture.expected_topics]

    @property
    def forbidden_topics(self) -> list[str]:
        return [t for t in sorted(self.fixture.absent_topics) if t in self.topics]

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
    request = request_for(fixture, now or datetime.now(UTC))
    if fhir_server:
        request["fhirServer"] = fhir_server
    if without_prefetch:
        # Leaving the keys out (not null) makes the service fetch from fhirServer.
        request.pop("prefetch", None)
    return request


def fire(client: Client, url: str, fixture: Fixture, request: dict[str, Any]) -> Outcome:
    reply = client.request("POST", url, payload=request)
    outcome = Outcome(
        fixture=fixture, url=url, reply=reply, hook_instance=str(request.get("hookInstance"))
    )
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


# Fixtures at an exact time boundary ("trial of exactly 28 days", "an episode exactly 180
# days ago") assume the service evaluates at the very instant the dates were shifted to.
# A live service evaluates a few milliseconds later, which tips "at most" boundaries the
# other way. Such a fixture is fired once more with its dates moved this much later and
# once this much earlier; if either gives the expected topics, it is the boundary (within
# this margin), not the rule, that differed.
BOUNDARY_MARGIN = timedelta(seconds=2)


def fire_fixture(
    client: Client,
    url: str,
    fixture: Fixture,
    *,
    fhir_server: str | None = None,
    without_prefetch: bool = False,
) -> Outcome:
    def attempt(now: datetime) -> Outcome:
        request = build_request(
            fixture, now=now, fhir_server=fhir_server, without_prefetch=without_prefetch
        )
        return fire(client, url, fixture, request)

    now = datetime.now(UTC)
    first = attempt(now)
    if not first.transport_ok or first.topics_ok:
        return first
    if without_prefetch:
        # The data come from the FHIR server, with the dates of the day they were loaded:
        # moving the request's dates changes nothing. Whether the fixture sits at a time
        # boundary is seen with its prefetch instead.
        shown = boundary_shown(client, url, fixture)
        if shown:
            first.boundary = True
            first.note = (
                f"{BOUNDARY_REASON} (its dates were fixed when it was loaded, and the "
                f"service evaluates later); with its prefetch: {shown}"
            )
        return first
    for offset, side in ((BOUNDARY_MARGIN, "later"), (-BOUNDARY_MARGIN, "earlier")):
        retry = attempt(datetime.now(UTC) + offset)
        if retry.transport_ok and retry.topics_ok:
            seconds = int(BOUNDARY_MARGIN.total_seconds())
            retry.note = (
                f"at an exact time boundary: as expected with the dates {seconds} s {side}; "
                f"at the exact instant: {', '.join(first.topics) or 'no cards'}"
            )
            return retry
    return first


BOUNDARY_REASON = "at an exact time boundary, which cannot hold through a FHIR server"


def boundary_shown(client: Client, url: str, fixture: Fixture) -> str:
    """How firing the fixture with its prefetch shows a time boundary, or "".

    Fired with its dates ``BOUNDARY_MARGIN`` earlier and later: at a boundary, one side
    gives the expected topics and the other does not. A fixture wrong on both sides is
    not at a boundary, and fails.
    """
    sides = {}
    for offset, side in ((-BOUNDARY_MARGIN, "earlier"), (BOUNDARY_MARGIN, "later")):
        request = build_request(fixture, now=datetime.now(UTC) + offset)
        outcome = fire(client, url, fixture, request)
        if not outcome.transport_ok:
            return ""
        sides[side] = outcome
    if sides["earlier"].topics_ok == sides["later"].topics_ok:
        return ""
    seconds = int(BOUNDARY_MARGIN.total_seconds())
    return "; ".join(
        f"{', '.join(o.topics) or 'no cards'} with the dates {seconds} s {side}"
        for side, o in sides.items()
    )
