"""``mcas-cds fire FIXTURE|FILE --url URL``: one hook call, the cards printed for people.

``--json`` prints the raw response instead, alone on stdout (everything else goes to
stderr), so ``mcas-cds fire ... --json | jq`` works.

Exit status: 0 when the service answered as the CDS Hooks response schema requires (with
the fixture's expected status), 1 on an HTTP error, a broken response or no connection,
2 on bad input (unknown fixture, unreadable key).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from service.cli.arguments import (
    EXIT_FAILED,
    EXIT_OK,
    add_fixtures_dir,
    add_signing,
    signer_from_args,
)
from service.cli.card_text import render_cards
from service.cli.client import Client, UsageError, named_service, split_url
from service.cli.firing import fire_fixture
from service.cli.output import Style
from service.scenarios.fixtures import default_fixtures_dir, find_fixture


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fire",
        help="send one fixture's hook to a service and print the cards",
        description="Sends the fixture's patient-view hook with its dates moved to today and "
        "a fresh hookInstance, then prints the cards. Exits 1 on an HTTP error or a response "
        "that breaks the CDS Hooks 2.0 response schema.",
    )
    parser.add_argument("fixture", metavar="FIXTURE|FILE", help="fixture name or JSON file")
    parser.add_argument(
        "--url",
        required=True,
        help="the service: base URL, discovery URL (…/cds-services) or service URL",
    )
    parser.add_argument(
        "--fhir-server", metavar="URL", help="set fhirServer in the request (e.g. a loaded "
        "loopback FHIR server)"
    )
    parser.add_argument(
        "--no-prefetch",
        action="store_true",
        help="send no prefetch, so the service reads everything from fhirServer",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the raw JSON response, alone on stdout (the rest goes to stderr)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    add_fixtures_dir(parser)
    add_signing(parser)
    parser.set_defaults(handler=run)


def run(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    # With --json, stdout is the response alone (for jq); what people read goes to stderr.
    info = (err or sys.stderr) if args.json else out
    style = Style(info)
    fixture = find_fixture(args.fixture, args.fixtures_dir or default_fixtures_dir())
    if args.no_prefetch and not args.fhir_server:
        raise UsageError("--no-prefetch needs --fhir-server: where should the data come from?")
    endpoints, _ = split_url(args.url)
    # A URL naming a service is fired as typed; otherwise the fixture's hook decides
    # (patient-view: mcas-therapy-tier; order-select/order-sign: mcas-order-safety-*).
    url = endpoints.service(named_service(args.url) or fixture.service_id)
    client = Client(signer_from_args(args), timeout=args.timeout)
    signed = "signed as " + client.signer.issuer if client.signer else "unsigned"
    print(style(f"{fixture.name}: {fixture.description}", "bold"), file=info)
    print(f"POST {url} ({signed})", file=info)
    outcome = fire_fixture(
        client, url, fixture, fhir_server=args.fhir_server, without_prefetch=args.no_prefetch
    )
    reply = outcome.reply
    if reply.error:
        print(style(f"error: {reply.error}", "red"), file=info)
        return EXIT_FAILED
    print(f"HTTP {reply.status} (hookInstance {outcome.hook_instance})", file=info)
    if args.json and reply.body:
        try:
            print(json.dumps(reply.json(), indent=2, ensure_ascii=False), file=out)
        except ValueError:
            print(reply.body.decode("utf-8", "replace"), file=out)
    if outcome.problems:
        for problem in outcome.problems:
            print(style(f"error: {problem}", "red"), file=info)
        return EXIT_FAILED
    if reply.status != 200:
        print(
            f"The service answered {reply.status}, as this fixture expects: "
            + "; ".join(reply.outcome_messages()),
            file=info,
        )
        return EXIT_OK
    if not args.json:
        print("", file=info)
        for line in render_cards(outcome.cards, style):
            print(line, file=info)
    print("", file=info)
    expected = ", ".join(fixture.listed_topics) or "none"
    got = ", ".join(outcome.topics) or "none"
    if outcome.note:
        print(style(f"Note: {outcome.note}", "yellow"), file=info)
    if outcome.topics_ok:
        print(style(f"Topics as the fixture expects: {got}", "green"), file=info)
    else:
        print(
            style(f"Topics differ from the fixture: {outcome.topic_summary()}", "yellow"),
            file=info,
        )
        print(f"  expected: {expected}\n  answered: {got}", file=info)
    if outcome.violations:
        print(style("The response breaks the CDS Hooks 2.0 response schema:", "red"), file=info)
        for violation in outcome.violations:
            print(f"  - {violation}", file=info)
        return EXIT_FAILED
    return EXIT_OK
