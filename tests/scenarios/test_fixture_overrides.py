"""Scenario fixtures fired with an administrator threshold changed.

The fixture format carries no thresholds (fhir_fixtures/README.md): a fixture states what
the default thresholds give. Where a switch turns a card on, the same fixture is fired here
through the hook core with that switch set, so the pair "off / on" rests on one patient.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from service.cdshooks.envelope import load_hook_request
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.hook import run_hook
from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from service.thresholds.files import load_ranges
from service.thresholds.model import Thresholds
from service.thresholds.schema import thresholds_from_mapping

KNOWLEDGE = load_knowledge(bundled_cards_dir())


def thresholds(**overrides: Any) -> Thresholds:
    """The shipped thresholds with some fields changed, validated as an administrator's."""
    path = bundled_cards_dir() / "thresholds.yaml"
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    values.update(overrides)
    return thresholds_from_mapping(values, ranges=load_ranges())


def _topics(name: str, **overrides: object) -> set[str]:
    fixture = load_fixture(FIXTURES_DIR / f"{name}.json")
    now = datetime.now(UTC)
    request = load_hook_request(request_for(fixture, now))
    result = run_hook(request, knowledge=KNOWLEDGE, thresholds=thresholds(**overrides), now=now)
    return set(result.topics)


def test_triggered_anaphylaxis_counts_when_the_administrator_switches_it_on() -> None:
    """docs/clinical-rules.md §2 (Anaphylaxis episodes): with count_triggered_anaphylaxis
    set to true, clusters with a confirmed triggered episode count too. Peanut (T78.01XA)
    and drug (T88.6XXA) anaphylaxis 60 and 20 days ago on complete tier 1: tier-2."""
    name = "tier-2--does-not-fire--peanut-and-drug-anaphylaxis"
    assert _topics(name) == set(load_fixture(FIXTURES_DIR / f"{name}.json").expected_topics)
    assert _topics(name, count_triggered_anaphylaxis=True) == {"tier-2"}
