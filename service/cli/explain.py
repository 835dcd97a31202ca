"""``mcas-cds explain FIXTURE|FILE``: why a request gets these cards (or not), offline.

Runs the service's own pipeline in this process (no server, nothing stored or sent) with
the bundled cards/ and thresholds, or ``--cards-dir`` / ``--thresholds``. FILE is a
fixture (fired at its ``evaluatedAt``, or ``--now``) or a bare CDS Hooks request (fired
now). ``--json`` prints what POST /admin/api/explain answers. docs/administration.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from service.cdshooks.envelope import CONTEXT_SCHEMAS, SUPPORTED_HOOK, load_hook_request
from service.cli.arguments import EXIT_OK, add_fixtures_dir
from service.cli.client import UsageError
from service.errors import ServiceError
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.explain import explain_hook
from service.scenarios.fixtures import (
    default_fixtures_dir,
    find_fixture,
    parse_instant,
    request_for,
)
from service.thresholds.files import load_ranges, load_thresholds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain which cards a request gets and why (offline, nothing stored)",
        description="Runs the rules on a fixture or a saved CDS Hooks request in this "
        "process and prints what was read, each comparison with its numbers, and each "
        "card's decision.",
    )
    parser.add_argument("fixture", metavar="FIXTURE|FILE",
                        help="fixture name, fixture file or a CDS Hooks request (JSON)")
    parser.add_argument("--now", metavar="INSTANT",
                        help="evaluate at this instant (default: a fixture's evaluatedAt, "
                        "else now)")
    parser.add_argument("--cards-dir", type=Path, metavar="DIR",
                        help="cards/ data (default: the bundled one)")
    parser.add_argument("--thresholds", type=Path, metavar="FILE",
                        help="thresholds file (default: the cards directory's thresholds.yaml)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    add_fixtures_dir(parser)
    parser.set_defaults(handler=run)


def _request(args: argparse.Namespace) -> tuple[dict[str, Any], datetime]:
    now = parse_instant(args.now, require_zone=True) if args.now else None
    path = Path(args.fixture)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a JSON file ({exc})") from None
        if isinstance(data, dict) and "hookInstance" in data and "evaluatedAt" not in data:
            return data, now or datetime.now(UTC)
    fixture = find_fixture(args.fixture, args.fixtures_dir or default_fixtures_dir())
    at = now or fixture.evaluated_at
    return request_for(fixture, at), at


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    cards_dir = args.cards_dir or bundled_cards_dir()
    body, now = _request(args)
    try:
        knowledge = load_knowledge(cards_dir)
        thresholds = load_thresholds(args.thresholds or cards_dir / "thresholds.yaml",
                                     load_ranges(cards_dir))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the cards or thresholds: {exc}") from None
    try:
        # patient-view, order-select or order-sign: the request's own hook decides
        hook = body.get("hook") if isinstance(body, dict) else None
        request = load_hook_request(
            body, hook if isinstance(hook, str) and hook in CONTEXT_SCHEMAS else SUPPORTED_HOOK)
    except ServiceError as exc:
        raise UsageError("not a CDS Hooks request: " + "; ".join(exc.messages)) from None
    answer = explain_hook(request, knowledge=knowledge, thresholds=thresholds, now=now)
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    else:
        for line in explain_text(answer):
            print(line, file=out)
    return EXIT_OK


def explain_text(answer: dict[str, Any]) -> list[str]:
    """The answer for people: cards, decisions, comparisons, then what was read."""
    lines = [f"Evaluated at {answer['evaluated_at']} with thresholds "
             f"{answer['thresholds_version']}"]
    if "refused" in answer:
        refused = answer["refused"]
        lines.append(f"The hook would answer HTTP {refused['status']}: "
                     + " ".join(refused["reasons"]))
    cards = answer["cards"]
    lines.append("Cards: " + (", ".join(c["topic"] for c in cards) or "none"))
    drafts = answer.get("read", {}).get("drafts")
    if drafts is not None:
        lines += ["", "Draft orders:"]
        for draft in drafts:
            if draft["judged"]:
                lines.append(f"  {draft['position']}. {draft['draft']}: {draft['words']} "
                             f"(route {draft['route']}): judged")
            else:
                lines.append(f"  {draft['position']}. {draft['draft']}: not judged "
                             f"({draft['why']})")
    lines += ["", "Decisions:"]
    for decision in answer["decisions"]:
        if decision["fired"] or decision["shown"]:
            state = "shown" if decision["shown"] else "held back"
            lines.append(f"  {decision['topic']}: {state} ({decision['why']})")
        for entry in decision.get("drafts", []):  # order time: each draft judged
            lines.append(f"    {entry['draft']}: {_draft_state(entry)} ({entry['why']})")
    quiet = [d["topic"] for d in answer["decisions"] if not d["fired"]]
    if quiet:
        lines.append("  not fired: " + ", ".join(quiet))
    history = answer.get("history")
    if history is not None:
        lines.append("  card history: " + (
            f"read since {history['since']}, {history['answered_cards']} answered card(s)"
            if history["read"] else f"not read ({history['why']})"))
    lines += ["", "Comparisons:"]
    for entry in answer["comparisons"]:
        mark = "yes" if entry["result"] else "no"
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        draft = f" [{entry['draft']}]" if entry.get("draft") else ""
        compared = " ".join(str(part) for part in (
            _number(entry["value"]), entry["unit"], entry["op"], entry["threshold"]) if part != "")
        lines.append(f"  {entry['rule']}{draft}: {compared} -> {mark}{detail}")
    if not answer["comparisons"]:
        lines.append("  none (out of scope, or refused before the rules ran)")
    read = answer.get("read", {})
    lines += ["", "Read:"]
    for therapy in read.get("therapies", []):
        lines.append(f"  therapy {therapy['label']} ({therapy['class_label']}"
                     f"{', tier ' + str(therapy['tier']) if therapy['tier'] else ''}): start "
                     f"{therapy['start'] or 'unknown'}, dated by {therapy['dated_by']}")
    for episode in read.get("episodes", []):
        lines.append(f"  anaphylaxis episode {episode['start']}: {episode['why']}")
    for event in read.get("respiratory", {}).get("events", []):
        counted = "counted" if event["counted"] else "not counted"
        lines.append(f"  respiratory event {event['start']}: {counted}")
    for result in read.get("mediators", []):
        lines.append(f"  {result['display']} {result['date']}: {result['reason']}")
    for role in read.get("tryptase", {}).get("roles", []):
        lines.append(f"  tryptase: {role}")
    unreadable = read.get("unreadable", {})
    for key, why in unreadable.get("unavailable", {}).items():
        lines.append(f"  not available: {key} ({why})")
    for item in unreadable.get("resources", []):
        lines.append(f"  {item['count']} {item['resource_type']} {item['problem']}")
    return lines


def _draft_state(entry: dict[str, Any]) -> str:
    if entry["shown"]:
        return "shown"
    if entry["held_back"]:
        return f"held back ({entry['held_back'].replace('_', ' ')})"
    return "fired" if entry["fired"] else "not fired"


def _number(value: Any) -> str:
    return "none" if value is None else str(value)
