"""``mcas-cds check URL``: a conformance self-test of a deployed service.

Discovery well-formed and advertising this service; every fixture fired and its topics
compared; feedback accepted (when the route exists); CORS preflights answered for an
origin (``--origin none`` skips them, for a server-to-server deployment; with the default
origin they are not tested when the service sends no CORS headers at all); an invalid
token refused with 401 (not tested when the service does not verify tokens at all).

A progress line (stderr) while it runs; then the failures in full, what was not tested
and why, and a summary (``--verbose``: a table of every check; ``--failures-only``: the
failures and the summary). ``--junit FILE`` and ``--json FILE`` write reports for CI.
Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from service.cdshooks.discovery import HOOK, SERVICE_HOOKS
from service.cdshooks.schemas import DISCOVERY, violations
from service.cli.arguments import (
    EXIT_FAILED,
    EXIT_OK,
    add_fixtures_dir,
    add_signing,
    signer_from_args,
)
from service.cli.client import Client, Endpoints, Reply, UsageError, split_url
from service.cli.firing import fire_fixture
from service.cli.output import Progress, Style, table, width, wrap
from service.cli.reports import RunInfo, json_report, junit_report, write_json, write_junit
from service.scenarios.fixtures import Fixture, all_fixtures, default_fixtures_dir

PASS, FAIL, SKIP = "pass", "FAIL", "not tested"
DEFAULT_ORIGIN = "http://127.0.0.1:8080"
UNSIGNED_REFUSED = "the service requires a signed JWT: pass --key and --iss"


@dataclass
class Result:
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0  # how long its step took


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="conformance self-test of a running service",
        description="Checks a deployed service: discovery, every fixture, feedback, CORS "
        "preflight, rejection of invalid tokens. Prints a pass/fail table; exits 1 on any "
        "failure.",
    )
    parser.add_argument("url", metavar="URL", help="the service's base URL (or …/cds-services)")
    parser.add_argument(
        "--origin",
        type=origin_argument,
        metavar="ORIGIN|none",
        help="the browser origin of a browser-based EHR front end: CORS preflights must "
        "allow it. 'none' skips the CORS checks (a server-to-server deployment). Default: "
        f"{DEFAULT_ORIGIN} (a locally served CDS Hooks Sandbox), not tested when the "
        "service sends no CORS headers",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="also write the results as JUnit XML (for CI test reports; - for stdout)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the results as JSON (- for stdout: then the rest goes to stderr)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--verbose",
        dest="output",
        action="store_const",
        const="verbose",
        default="concise",
        help="print a table of every check (default: the failures in full, what was not "
        "tested and why, and a summary)",
    )
    shown.add_argument(
        "--failures-only",
        dest="output",
        action="store_const",
        const="failures",
        help="print only the failures and the summary",
    )
    parser.add_argument(
        "--fhir-server", metavar="URL", help="set fhirServer in every request (a FHIR server "
        "loaded with `fixtures load`)"
    )
    parser.add_argument(
        "--no-prefetch",
        action="store_true",
        help="send no prefetch, so the service reads every fixture from --fhir-server",
    )
    add_fixtures_dir(parser)
    add_signing(parser)
    parser.set_defaults(handler=run)


NO_ORIGIN = "none"
ORIGIN_NONE_SKIP = "--origin none: CORS not checked (a server-to-server deployment)"


def origin_argument(value: str) -> str:
    """``none``, or an origin as a browser sends it: scheme://host[:port], nothing more."""
    if value.lower() == NO_ORIGIN:
        return NO_ORIGIN
    parts = urlsplit(value)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not an origin (scheme://host[:port]) or 'none'"
        )
    return value


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def invalid_tokens(audience: str) -> dict[str, str | None]:
    """Tokens every verifying service must refuse; None = no Authorization header."""
    now = int(time.time())
    claims = {
        "iss": "https://mcas-cds-check.invalid",
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
    return {
        "no Authorization header": None,
        "malformed token": "not-a-jwt",
        "alg none": unsigned,
    }


class Checker:
    def __init__(
        self,
        client: Client,
        endpoints: Endpoints,
        service_id: str,
        fixtures: list[Fixture],
        origin: str | None,
        progress: Progress,
        *,
        fhir_server: str | None = None,
        without_prefetch: bool = False,
        cors_required: bool = False,
    ) -> None:
        self.fhir_server = fhir_server
        self.without_prefetch = without_prefetch
        self.client = client
        self.endpoints = endpoints
        self.service_id = service_id
        self.fixtures = fixtures
        # None: CORS not checked (--origin none). Required: the user named the origin, so
        # it must be allowed; the default origin is only checked if the service does CORS.
        self.origin = origin
        self.cors_required = cors_required
        self.progress = progress
        self.results: list[Result] = []
        self.card_uuid: str | None = None
        self.has_feedback = True
        # Set when discovery is refused for want of a token: calls would all be refused too.
        self.needs_token = False
        self.verifies_tokens: bool | None = None

    def service_for(self, fixture: Fixture) -> str:
        """The service a fixture is fired at: the one checked when it answers the
        fixture's hook, else the service of that hook (order fixtures: mcas-order-safety-*)."""
        if SERVICE_HOOKS.get(self.service_id, HOOK) == fixture.hook:
            return self.service_id
        return fixture.service_id

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        steps: list[tuple[str, Callable[[], None]]] = [("discovery", self.check_discovery)]
        steps += [(f"fixture {f.name}", self._fire_step(f)) for f in self.fixtures]
        steps += [
            ("feedback", self.check_feedback),
            ("CORS preflight", self.check_cors),
            ("invalid tokens", self.check_tokens),
        ]
        return steps

    def run(self) -> list[Result]:
        steps = self.steps()
        for done, (label, step) in enumerate(steps):
            self.progress.step(done, len(steps), f"checking {label}…")
            before, started = len(self.results), time.monotonic()
            step()
            for result in self.results[before:]:
                result.seconds = time.monotonic() - started
        self.progress.clear()
        return self.results

    def add(self, name: str, status: str, detail: str = "") -> None:
        self.results.append(Result(name, status, detail))

    def _http_problem(self, reply: Reply) -> str:
        if reply.error:
            return reply.error
        text = "; ".join(reply.outcome_messages())[:200]
        hint = ""
        if reply.status == 401 and self.client.signer is None:
            hint = " (the service wants a signed JWT: pass --key and --iss)"
        return f"HTTP {reply.status}{hint}" + (f": {text}" if text else "")

    def check_discovery(self) -> None:
        reply = self.client.request("GET", self.endpoints.discovery)
        if reply.status == 401 and self.client.signer is None:
            self.needs_token = True
        if reply.error or reply.status != 200:
            self.add("discovery", FAIL, self._http_problem(reply))
            return
        try:
            document = reply.json()
        except ValueError:
            self.add("discovery", FAIL, "the answer is not JSON")
            return
        problems = violations(document, DISCOVERY)
        services = document.get("services") if isinstance(document, dict) else None
        listed = {s.get("id"): s for s in services or [] if isinstance(s, dict)}
        hook = SERVICE_HOOKS.get(self.service_id, HOOK)
        ours = listed.get(self.service_id)
        if ours is None:
            problems.append(f"no service with id '{self.service_id}'")
        elif ours.get("hook") != hook:
            problems.append(f"service '{self.service_id}' is not on hook {hook}")
        # The services the fixtures are fired at (the order-time ones for order fixtures).
        others = sorted({self.service_for(f) for f in self.fixtures} - {self.service_id})
        for other in others:
            if other not in listed:
                problems.append(f"no service with id '{other}' (fixtures for its hook)")
            elif listed[other].get("hook") != SERVICE_HOOKS.get(other):
                problems.append(f"service '{other}' is not on hook {SERVICE_HOOKS.get(other)}")
        if problems or ours is None:
            self.add("discovery", FAIL, "; ".join(problems))
            return
        keys = ", ".join(ours.get("prefetch") or {}) or "none"
        also = f"; also {', '.join(others)}" if others else ""
        self.add("discovery", PASS, f"{self.service_id} on {hook}; prefetch: {keys}{also}")

    def _fire_step(self, fixture: Fixture) -> Callable[[], None]:
        def step() -> None:
            url = self.endpoints.service(self.service_for(fixture))
            name = f"fixture {fixture.name}"
            if self.needs_token:
                self.add(name, SKIP, UNSIGNED_REFUSED)
                return
            if self.without_prefetch and (
                fixture.raw.get("unavailableKeys") or fixture.expected_status == 412
            ):
                # Its point is data missing from the prefetch; the FHIR server has them.
                self.add(name, SKIP, "a missing-data scenario: not meaningful without prefetch")
                return
            try:
                outcome = fire_fixture(
                    self.client,
                    url,
                    fixture,
                    fhir_server=self.fhir_server,
                    without_prefetch=self.without_prefetch,
                )
            except (KeyError, ValueError, TypeError) as exc:
                self.add(name, FAIL, f"cannot prepare the request: {exc}")
                return
            if outcome.problems:
                self.add(name, FAIL, self._http_problem(outcome.reply)
                         if outcome.reply.error or outcome.reply.status == 401
                         else "; ".join(outcome.problems))
                return
            if outcome.violations:
                self.add(name, FAIL, "schema: " + "; ".join(outcome.violations[:3]))
                return
            if outcome.boundary:
                self.add(name, SKIP, outcome.note)
                return
            if not outcome.topics_ok:
                self.add(name, FAIL, outcome.topic_summary())
                return
            for card in outcome.cards:
                if isinstance(card, dict) and isinstance(card.get("uuid"), str):
                    self.card_uuid = self.card_uuid or card["uuid"]
            if fixture.expected_status != 200:
                detail = f"HTTP {fixture.expected_status} as expected"
            else:
                detail = ", ".join(outcome.topics) or "no cards, as expected"
            self.add(name, PASS, f"{detail} ({outcome.note})" if outcome.note else detail)

        return step

    def check_feedback(self) -> None:
        if self.needs_token:
            self.add("feedback", SKIP, UNSIGNED_REFUSED)
            return
        url = self.endpoints.feedback(self.service_id)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        payload = {
            "feedback": [
                {
                    "card": self.card_uuid or str(uuid.uuid4()),
                    "outcome": "overridden",
                    "outcomeTimestamp": stamp,
                }
            ]
        }
        reply = self.client.request("POST", url, payload=payload)
        if not reply.error and reply.status in (404, 405):
            self.has_feedback = False
            self.add("feedback", SKIP, f"HTTP {reply.status}: the service has no feedback route")
        elif not reply.error and 200 <= reply.status < 300:
            which = "a card it answered" if self.card_uuid else "an unknown card"
            self.add("feedback", PASS, f"HTTP {reply.status} for 'overridden' on {which}")
        else:
            self.add("feedback", FAIL, self._http_problem(reply))

    def check_cors(self) -> None:
        if self.origin is None:
            self.add("CORS preflight", SKIP, ORIGIN_NONE_SKIP)
            return
        targets = [
            ("discovery", self.endpoints.discovery, "GET", "authorization"),
            ("service", self.endpoints.service(self.service_id), "POST",
             "authorization,content-type"),
            ("feedback", self.endpoints.feedback(self.service_id), "POST",
             "authorization,content-type"),
        ]
        if not self.has_feedback:
            targets.pop()
        problems, passed = [], []
        cors_headers = False  # any Access-Control-* header in any answer
        unreachable = False
        for label, url, method, wanted in targets:
            headers = {
                "Origin": self.origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": wanted,
            }
            reply = self.client.request("OPTIONS", url, headers=headers, signed=False)
            if reply.error:
                unreachable = True
                problems.append(f"{label}: {reply.error}")
                continue
            got = {k.lower(): v for k, v in reply.headers.items()}
            cors_headers = cors_headers or any(k.startswith("access-control-") for k in got)
            allow_origin = got.get("access-control-allow-origin")
            allow_methods = got.get("access-control-allow-methods", "").upper()
            allow_headers = got.get("access-control-allow-headers", "").lower()
            if reply.status == 403 or (
                200 <= reply.status < 300 and allow_origin not in (self.origin, "*")
            ):
                # The service refuses a preflight from an origin it does not allow (403).
                problems.append(f"{label}: origin {self.origin} not allowed")
            elif not 200 <= reply.status < 300:
                problems.append(f"{label}: HTTP {reply.status}")
                problems.append(f"{label}: origin {self.origin} not allowed")
            elif method not in allow_methods and "*" not in allow_methods:
                problems.append(f"{label}: {method} not in Allow-Methods")
            elif not all(h in allow_headers or "*" in allow_headers for h in wanted.split(",")):
                problems.append(f"{label}: Allow-Headers lacks {wanted}")
            else:
                passed.append(label)
        if problems and not cors_headers and not self.cors_required and not unreachable:
            self.add(
                "CORS preflight",
                SKIP,
                f"the service sends no CORS headers for {self.origin} (right for a "
                "server-to-server deployment); pass --origin ORIGIN to require CORS for a "
                "browser-based EHR, or --origin none",
            )
        elif problems:
            self.add("CORS preflight", FAIL, "; ".join(problems))
        else:
            self.add("CORS preflight", PASS, f"{self.origin} allowed on {', '.join(passed)}")

    def check_tokens(self) -> None:
        url = self.endpoints.discovery
        answers: dict[str, Reply] = {}
        for label, token in invalid_tokens(url).items():
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            answers[label] = self.client.request("GET", url, headers=headers, signed=False)
        if self.client.signer is not None:
            wrong_aud = self.client.signer.token(url + "/elsewhere")
            answers["wrong aud"] = self.client.request("GET", url, token=wrong_aud)
        unreachable = [r for r in answers.values() if r.error]
        if unreachable:
            self.add("invalid tokens", FAIL, unreachable[0].error or "")
            return
        if answers["no Authorization header"].status == 200:
            self.verifies_tokens = False
            self.add("invalid tokens", SKIP, "server runs without token verification")
            return
        accepted = [label for label, reply in answers.items() if reply.status != 401]
        if accepted:
            detail = ", ".join(f"{label} -> HTTP {answers[label].status}" for label in accepted)
            self.add("invalid tokens", FAIL, f"not refused with 401: {detail}")
            return
        self.verifies_tokens = True
        self.add("invalid tokens", PASS, f"401 for {', '.join(answers)}")


def run(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    to_stdout = [name for name in ("junit", "json") if str(getattr(args, name)) == "-"]
    if len(to_stdout) > 1:
        raise UsageError("only one of --junit and --json can write to stdout (-)")
    report_out = out
    if to_stdout:
        # stdout holds the report alone, so it can be piped (jq, a CI step).
        out = err
    style = Style(out)
    endpoints, service_id = split_url(args.url)
    client = Client(signer_from_args(args), timeout=args.timeout)
    fixtures = all_fixtures(args.fixtures_dir or default_fixtures_dir())
    signed = f"signed as {client.signer.issuer}" if client.signer else "unsigned"
    # With --failures-only, stdout holds only what failed: the heading goes with the progress.
    print(f"Checking {endpoints.base} ({service_id}, {len(fixtures)} fixtures, {signed})",
          file=err if args.output == "failures" else out)
    if args.no_prefetch and not args.fhir_server:
        raise UsageError("--no-prefetch needs --fhir-server: where should the data come from?")
    origin = None if args.origin == NO_ORIGIN else args.origin or DEFAULT_ORIGIN
    checker = Checker(
        client,
        endpoints,
        service_id,
        fixtures,
        origin,
        Progress(err),
        fhir_server=args.fhir_server,
        without_prefetch=args.no_prefetch,
        cors_required=args.origin not in (None, NO_ORIGIN),
    )
    started_at, started = datetime.now(UTC), time.monotonic()
    results = checker.run()
    status = EXIT_FAILED if any(r.status == FAIL for r in results) else EXIT_OK
    info = RunInfo(
        url=endpoints.base,
        service=service_id,
        signed_as=client.signer.issuer if client.signer else None,
        origin=origin,
        started_at=started_at,
        seconds=time.monotonic() - started,
    )
    notes = []
    statuses = (PASS, FAIL, SKIP)
    if args.junit is not None:
        tree = junit_report(results, info, statuses=statuses)
        if str(args.junit) == "-":
            root = tree.getroot()
            assert root is not None
            text = ET.tostring(root, encoding="unicode", xml_declaration=True)
            print(text, file=report_out)
        else:
            write_junit(args.junit, tree)
            notes.append(f"JUnit report: {args.junit}")
    if args.json is not None:
        report = json_report(results, info, statuses=statuses, exit_status=status)
        if str(args.json) == "-":
            print(json.dumps(report, indent=2, ensure_ascii=False), file=report_out)
        else:
            write_json(args.json, report)
            notes.append(f"JSON report: {args.json}")
    for line in report_lines(results, style, args.output, notes):
        print(line, file=out)
    return status


def summary_line(results: list[Result]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in (PASS, FAIL, SKIP)}
    return f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} not tested"


# Not-tested checks sharing a reason (all fixtures, when a key is missing) share a line.
_NAMES_SHOWN = 8


def report_lines(
    results: list[Result], style: Style, output: str = "concise", notes: Sequence[str] = ()
) -> list[str]:
    """What people read after the progress line.

    ``concise`` (the default): every failure with its detail, what was not tested and
    why, the summary. ``failures``: the failures and the summary. ``verbose``: a table of
    every check, then the summary.
    """
    failed = any(r.status == FAIL for r in results)
    lines: list[str] = []
    if output == "verbose":

        def paint(column: int, raw: str, padded: str) -> str:
            if column != 1:
                return padded
            colour = {PASS: "green", FAIL: "red", SKIP: "yellow"}.get(raw)
            return style(padded, colour) if colour else padded

        rows = [(r.name, r.status, r.detail) for r in results]
        lines += ["", *table(("check", "result", "detail"), rows, style, paint)]
    else:
        for result in results:
            if result.status != FAIL:
                continue
            lines.append(f"{style(FAIL, 'red', 'bold')}  {result.name}")
            lines += wrap(result.detail, "      ")
        if output == "concise":
            lines += _not_tested_lines(results, style)
    if notes:
        lines += ["", *notes]
    lines += ["", style(summary_line(results), "red" if failed else "green", "bold")]
    return lines


def _not_tested_lines(results: list[Result], style: Style) -> list[str]:
    reasons: dict[str, list[str]] = {}
    for result in results:
        if result.status == SKIP:
            reasons.setdefault(result.detail, []).append(result.name)
    lines: list[str] = []
    for reason, names in reasons.items():
        label = style(SKIP, "yellow")
        if len(names) == 1:
            one_line = f"{SKIP}  {names[0]}: {reason}"
            if len(one_line) <= width():
                lines.append(f"{label}  {names[0]}: {reason}")
            else:
                lines.append(f"{label}  {names[0]}")
                lines += wrap(reason, "      ")
            continue
        lines.append(f"{label}  {len(names)} checks: {reason}")
        lines += [f"      {name}" for name in names[:_NAMES_SHOWN]]
        if len(names) > _NAMES_SHOWN:
            lines.append(f"      and {len(names) - _NAMES_SHOWN} more")
    return lines
