"""What-if: which cards each scenario gets under the active and under proposed thresholds.

Scenarios are the fixture library (``fhir_fixtures/``, or ``MCAS_PREVIEW_FIXTURES_DIR``)
fired at one "now" with their dates shifted (service.scenarios.fixtures), plus an optional
directory of saved de-identified requests (``MCAS_PREVIEW_REQUESTS_DIR``). The pipeline
is pure, so both runs happen in this process and nothing is stored or changed. A card
that appears or disappears is also drawn as HTML by the cards' one renderer
(service/cards_html/render.py, the gallery's too), so the administrator sees its words.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

from service.cards_html.render import render_card
from service.cdshooks.cards import Card
from service.cdshooks.envelope import ORDER_SELECT, ORDER_SIGN, load_hook_request
from service.errors import ServiceError
from service.knowledge.model import Knowledge
from service.ops.request_log import quiet_logs
from service.pipeline.hook import run_hook
from service.pipeline.orders import run_order_hook
from service.scenarios.fixtures import FIXTURES_DIR, FixtureError, load_fixture, request_for
from service.settings import Setting
from service.thresholds.model import Thresholds

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PREVIEW_FIXTURES_DIR",
        None,
        str,
        "Directory of scenario fixtures the thresholds preview runs. Default: the "
        "`fhir_fixtures/` shipped with the package (or of a source checkout).",
    ),
    Setting(
        "PREVIEW_REQUESTS_DIR",
        None,
        str,
        "Directory of saved de-identified CDS Hooks requests (`*.json`: a bare request, "
        "or a fixture-format file with `evaluatedAt`) that the preview also runs. "
        "Default: none.",
    ),
)

MAX_SAVED_REQUESTS = 2000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str  # "fixture" or "saved"
    description: str
    request: dict[str, Any]


def fixtures_dir(config: Any) -> Path | None:
    configured = config.get("PREVIEW_FIXTURES_DIR")
    directory = Path(configured) if configured else FIXTURES_DIR
    return directory if directory.is_dir() else None


def load_scenarios(config: Any, now: datetime) -> tuple[list[Scenario], list[str]]:
    """Scenarios to run and the problems met loading them (a bad file is skipped)."""
    scenarios: list[Scenario] = []
    problems: list[str] = []
    directory = fixtures_dir(config)
    if directory is not None:
        for path in sorted(directory.glob("*.json")):
            try:
                fixture = load_fixture(path)
            except FixtureError as exc:
                problems.append(str(exc))
                continue
            scenarios.append(
                Scenario(fixture.name, "fixture", fixture.description, request_for(fixture, now))
            )
    saved = config.get("PREVIEW_REQUESTS_DIR")
    if saved:
        for path in sorted(Path(saved).glob("*.json"))[:MAX_SAVED_REQUESTS]:
            try:
                scenarios.append(_saved(path, now))
            except (OSError, ValueError) as exc:
                problems.append(f"{path.name}: {exc}")
    return scenarios, problems


def _saved(path: Path, now: datetime) -> Scenario:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "evaluatedAt" in data and "request" in data:
        fixture = load_fixture(path)
        return Scenario(path.stem, "saved", fixture.description, request_for(fixture, now))
    if not isinstance(data, dict):
        raise ValueError("a saved request is a JSON object")
    return Scenario(path.stem, "saved", "", data)


ORDER_HOOKS = frozenset({ORDER_SELECT, ORDER_SIGN})


def _outcome(
    scenario: Scenario, knowledge: Knowledge, thresholds: Thresholds, now: datetime
) -> tuple[list[Card], str | None]:
    hook = scenario.request.get("hook")
    try:
        if hook in ORDER_HOOKS:
            # An order-time scenario runs the order core (without the card history: the
            # preview compares thresholds, not what clinicians answered before).
            result = run_order_hook(
                load_hook_request(scenario.request, str(hook)),
                knowledge=knowledge,
                thresholds=thresholds,
                now=now,
            )
        else:
            result = run_hook(
                load_hook_request(scenario.request),
                knowledge=knowledge,
                thresholds=thresholds,
                now=now,
            )
    except ServiceError as exc:
        # The same request fails the same way under both versions (status, not content).
        return [], f"HTTP {exc.status}"
    except Exception as exc:
        # Shown in the preview, never turned into "no cards": the hook would answer 500.
        log.error(
            "preview scenario failed", extra={"error_type": type(exc).__name__}, exc_info=True
        )
        return [], f"HTTP 500 ({type(exc).__name__})"
    return result.cards, None


def _topic(card: Card) -> str:
    return card["source"]["topic"]["code"] if "topic" in card["source"] else ""


def _drawn(cards: list[Card], topics: list[str]) -> list[dict[str, str]]:
    """The cards of ``topics``, drawn as the EHR shows them (escaped HTML)."""
    return [{"topic": _topic(card), "html": render_card(card)}
            for card in cards if _topic(card) in topics]


class _Row(TypedDict):
    name: str
    source: str
    description: str
    current: list[str]
    proposed: list[str]
    appear: list[str]
    disappear: list[str]
    changed: bool
    current_error: str | None
    proposed_error: str | None
    # The appearing cards under the proposal, the disappearing ones as they are now.
    appear_cards: list[dict[str, str]]
    disappear_cards: list[dict[str, str]]


def preview(
    scenarios: list[Scenario],
    *,
    knowledge: Knowledge,
    current: Thresholds,
    proposed: Thresholds,
    now: datetime,
) -> dict[str, Any]:
    rows: list[_Row] = []
    for scenario in scenarios:
        with quiet_logs():
            before_cards, before_error = _outcome(scenario, knowledge, current, now)
            after_cards, after_error = _outcome(scenario, knowledge, proposed, now)
        before = sorted(_topic(card) for card in before_cards)
        after = sorted(_topic(card) for card in after_cards)
        appear = sorted(set(after) - set(before))
        disappear = sorted(set(before) - set(after))
        rows.append(
            {
                "name": scenario.name,
                "source": scenario.source,
                "description": scenario.description,
                "current": before,
                "proposed": after,
                "appear": appear,
                "disappear": disappear,
                "changed": bool(appear or disappear) or before_error != after_error,
                "current_error": before_error,
                "proposed_error": after_error,
                "appear_cards": _drawn(after_cards, appear),
                "disappear_cards": _drawn(before_cards, disappear),
            }
        )
    changed = [row for row in rows if row["changed"]]
    before_counts = Counter(t for row in rows for t in row["current"])
    after_counts = Counter(t for row in rows for t in row["proposed"])
    return {
        "current_version": current.version,
        "proposed_version": proposed.version,
        "evaluated_at": now.isoformat().replace("+00:00", "Z"),
        "scenarios_run": len(rows),
        "scenarios_changed": len(changed),
        "cards_appearing": sum(len(row["appear"]) for row in rows),
        "cards_disappearing": sum(len(row["disappear"]) for row in rows),
        # cards per topic over every scenario, before and after (issue 16)
        "topics": [
            {"topic": t, "current": before_counts[t], "proposed": after_counts[t]}
            for t in sorted(set(before_counts) | set(after_counts))
        ],
        "changed": changed,
        "unchanged": [row["name"] for row in rows if not row["changed"]],
        # Scenarios answered with an error (a saved request the service rejects, ...).
        "failed": [
            {"name": row["name"], "current": row["current_error"],
             "proposed": row["proposed_error"]}
            for row in rows
            if row["current_error"] or row["proposed_error"]
        ],
    }
