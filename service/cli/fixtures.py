"""``mcas-cds fixtures list | validate | new | load``."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TextIO

import requests

from service.cli.arguments import EXIT_FAILED, EXIT_OK, add_fixtures_dir
from service.cli.client import UsageError
from service.cli.fhir_load import load_fixture_into, shared_patients
from service.cli.fixture_checks import validate_fixture
from service.cli.output import Style, width
from service.cli.scaffold import create_fixture
from service.cli.topics import cards_files
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import KnowledgeError
from service.pipeline.prefetch import prefetch_templates
from service.scenarios.fixtures import (
    DEFAULT_TEST_PATIENT_PREFIX,
    FIXTURES_DIR,
    TEST_PATIENT_PREFIX_ENV,
    Fixture,
    FixtureError,
    all_fixtures,
    default_fixtures_dir,
    find_fixture,
    fixture_paths,
    scenario_patient_prefix,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("fixtures", help="list, check, create and load fixtures")
    commands = parser.add_subparsers(dest="fixtures_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="name, expected topics and description")
    add_fixtures_dir(listing)
    listing.set_defaults(handler=run_list)

    check = commands.add_parser(
        "validate",
        help="check fixture files: fields, request, FHIR resources (R4B), topics",
        description="Checks each fixture: its fields, the request envelope, every FHIR "
        "resource against the R4B models, and the topics against the service's known topics."
        " Exits 1 when any fixture has a problem.",
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="fixture files (default: every fixture)")
    check.add_argument("--cards-dir", type=Path, metavar="DIR",
                       help="clinical knowledge to take topics from (default: bundled cards/)")
    check.add_argument("--cards-overlay", type=Path, metavar="FILE", action="append",
                       help="a site overlay over the cards (repeatable; default: the files of "
                       "$MCAS_CARDS_OVERLAY)")
    add_fixtures_dir(check)
    check.set_defaults(handler=run_validate)

    new = commands.add_parser(
        "new",
        help="scaffold a fixture file that already validates",
        description="Writes NAME.json: an out-of-scope patient to fill in, or, with --from, "
        "a copy of an existing fixture (fresh hookInstance, patient renamed). The patient's "
        f"id starts with the test-patient prefix ({DEFAULT_TEST_PATIENT_PREFIX}, or "
        f"${TEST_PATIENT_PREFIX_ENV}).",
    )
    new.add_argument("name", metavar="NAME", help="file name without .json, e.g. tier-2-lte4")
    new.add_argument(
        "--from",
        dest="source",
        metavar="FIXTURE|FILE",
        help="start from this fixture (a name in the fixtures directory or the bundled "
        "library, or a file)",
    )
    new.add_argument(
        "--patient-id",
        metavar="ID",
        help=f"default: {DEFAULT_TEST_PATIENT_PREFIX}NAME; must start with the test-patient "
        "prefix",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_fixtures_dir(new)
    new.set_defaults(handler=run_new)

    load = commands.add_parser(
        "load",
        help="load the fixture patients into a FHIR server (dates moved to today)",
        description="PUTs each fixture's patient and records into a FHIR R4 server as one "
        "transaction per fixture, dates moved to today. Resources that fail R4B validation "
        "are left out.",
    )
    load.add_argument("names", nargs="*", metavar="FIXTURE", help="default: every fixture")
    load.add_argument("--fhir", required=True, metavar="URL", help="FHIR base URL")
    load.add_argument(
        "--token", metavar="TOKEN", help="bearer token for a FHIR server that demands one "
        "(the CDS Hooks Sandbox itself needs an open server)"
    )
    load.add_argument("--timeout", type=float, default=30.0)
    add_fixtures_dir(load)
    load.set_defaults(handler=run_load)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _directory(args: argparse.Namespace) -> Path:
    return args.fixtures_dir or default_fixtures_dir()


def run_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    style = Style(out)
    fixtures = all_fixtures(_directory(args))
    if not fixtures:
        print(f"No fixtures in {_directory(args)}.", file=out)
        return EXIT_OK
    for fixture in fixtures:
        topics = ", ".join(fixture.listed_topics) or "(no cards)"
        if fixture.expected_status != 200:
            topics = f"(HTTP {fixture.expected_status})"
        print(f"{style(fixture.name, 'bold')}  {style(topics, 'cyan')}", file=out)
        for line in textwrap.wrap(fixture.description, max(40, width() - 4)):
            print("    " + line, file=out)
    print(f"\n{len(fixtures)} fixtures in {_directory(args)}", file=out)
    return EXIT_OK


def run_validate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    style = Style(out)
    cards_dir = args.cards_dir or bundled_cards_dir()
    try:
        knowledge = load_knowledge(cards_files(cards_dir, args.cards_overlay))
    except KnowledgeError as exc:
        raise UsageError(str(exc)) from None
    topics = set(knowledge.cards.topics)
    prefetch_keys = set(prefetch_templates(knowledge))
    paths = list(args.paths) or fixture_paths(_directory(args))
    if not topics:
        print(style(f"warning: no topics found in {cards_dir}; topics not checked", "yellow"),
              file=out)
    failed = 0
    for path in paths:
        report = validate_fixture(path, topics, prefetch_keys)
        if report.ok:
            note = f" ({'; '.join(report.notes)})" if report.notes else ""
            counted = _count(report.resources, "resource")
            print(f"{style('ok  ', 'green')}  {report.name}: {counted}{note}", file=out)
            continue
        failed += 1
        print(f"{style('FAIL', 'red', 'bold')}  {report.name} ({path})", file=out)
        for problem in report.problems:
            print(f"        - {problem}", file=out)
    summary = f"{len(paths) - failed} of {len(paths)} fixtures valid"
    print(style(summary, "red" if failed else "green"), file=out)
    return EXIT_FAILED if failed or not paths else EXIT_OK


def _source_fixture(name_or_path: str, directory: Path) -> Fixture:
    """A fixture in the fixtures directory, else in the bundled library, else a file."""
    try:
        return find_fixture(name_or_path, directory)
    except FixtureError as not_in_directory:
        if directory.resolve() == FIXTURES_DIR.resolve():
            raise
        try:
            return find_fixture(name_or_path, FIXTURES_DIR)
        except FixtureError:
            raise not_in_directory from None


def run_new(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    prefix = scenario_patient_prefix()
    if args.patient_id is not None and not args.patient_id.startswith(prefix):
        raise UsageError(
            f"--patient-id {args.patient_id}: the patients of new fixtures are test patients, "
            f"their ids start with {prefix} (MCAS_TEST_PATIENT_PREFIX)"
        )
    source = _source_fixture(args.source, _directory(args)) if args.source else None
    try:
        path = create_fixture(
            _directory(args),
            args.name,
            patient_id=args.patient_id,
            force=args.force,
            source=source,
        )
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    patient = json.loads(path.read_text(encoding="utf-8"))["request"]["context"]["patientId"]
    if source is not None:
        print(f"Created {path} from {source.name} (patient {patient})", file=out)
    else:
        print(f"Created {path} (patient {patient})", file=out)
    if "--" not in args.name:
        print("The library names scenarios <topic>--fires--<what> or "
              "<topic>--does-not-fire--<what> (fhir_fixtures/README.md).", file=out)
    if source is not None:
        print("Next: change what this scenario is about, its description and expectedTopics, "
              "then run: mcas-cds fixtures validate " + str(path), file=out)
    else:
        print("Next: add the patient's Conditions, Observations and medications to the "
              "prefetch Bundles, set expectedTopics, then run: mcas-cds fixtures validate "
              + str(path), file=out)
    return EXIT_OK


def run_load(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    style = Style(out)
    directory = _directory(args)
    fixtures = (
        [find_fixture(name, directory) for name in args.names]
        if args.names
        else all_fixtures(directory)
    )
    for patient_id, names in shared_patients(fixtures).items():
        print(style(f"warning: patient '{patient_id}' is used by {', '.join(names)}; their "
                    "records are merged in the FHIR server", "yellow"), file=out)
    session = requests.Session()
    if args.token:
        session.headers["Authorization"] = f"Bearer {args.token}"
    failed = loaded = 0
    for fixture in fixtures:
        context = fixture.request.get("context")
        if not isinstance(context, dict) or not isinstance(context.get("patientId"), str):
            print(f"skip  {fixture.name}: the request has no context.patientId", file=out)
            continue
        result = load_fixture_into(session, args.fhir, fixture, timeout=args.timeout)
        if result.unreachable:
            # Every other fixture would fail the same way: one message, not one per fixture.
            where = (
                "stopped after the first fixture, nothing loaded"
                if loaded == 0
                else f"stopped at {fixture.name}; {loaded} of {len(fixtures)} loaded before"
            )
            print(f"mcas-cds: error: {result.error}; {where}", file=sys.stderr)
            return EXIT_FAILED
        if result.error:
            failed += 1
            print(f"{style('FAIL', 'red', 'bold')}  {fixture.name}: {result.error}", file=out)
            continue
        loaded += 1
        left_out = f", {len(result.skipped)} invalid left out" if result.skipped else ""
        print(f"{style('ok  ', 'green')}  {fixture.name}: Patient/{result.patient_id}, "
              f"{_count(result.loaded, 'resource')}{left_out}", file=out)
    print(f"{len(fixtures) - failed} of {len(fixtures)} fixtures loaded into {args.fhir}",
          file=out)
    return EXIT_FAILED if failed else EXIT_OK
