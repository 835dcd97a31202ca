"""Machine-readable reports of ``mcas-cds check`` for CI: JUnit XML and JSON.

JUnit XML as CI systems read it (GitLab, Jenkins, GitHub test-report actions): one
``<testsuite name="mcas-cds check">`` inside ``<testsuites>``, one ``<testcase>`` per check
with ``classname`` ``mcas-cds.check.<group>`` (discovery, fixture, feedback, cors, tokens),
``<failure message=...>`` for a failed check and ``<skipped message=...>`` for one not
tested; the run's URL, service and signer as ``<properties>``.

JSON: ``{"url", "service", "signedAs", "origin", "startedAt", "seconds", "summary":
{"passed", "failed", "notTested", "total"}, "exitStatus", "results": [{"name", "group",
"status": "pass" | "fail" | "not tested", "detail", "seconds"}]}``.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

SUITE = "mcas-cds check"
_GROUPS = {"CORS preflight": "cors", "invalid tokens": "tokens"}


class CheckResult(Protocol):
    name: str
    status: str
    detail: str
    seconds: float


@dataclass(frozen=True)
class RunInfo:
    url: str
    service: str
    signed_as: str | None
    origin: str | None  # None: CORS not checked (--origin none)
    started_at: datetime
    seconds: float


def group_of(name: str) -> str:
    if name.startswith("fixture "):
        return "fixture"
    return _GROUPS.get(name, name.split(" ", 1)[0].lower())


def _counts(results: Sequence[CheckResult], passed: str, failed: str, skipped: str) -> dict[
    str, int
]:
    return {
        "passed": sum(1 for r in results if r.status == passed),
        "failed": sum(1 for r in results if r.status == failed),
        "notTested": sum(1 for r in results if r.status == skipped),
        "total": len(results),
    }


def json_report(
    results: Sequence[CheckResult],
    run: RunInfo,
    *,
    statuses: tuple[str, str, str],
    exit_status: int,
) -> dict[str, Any]:
    """``statuses``: the (pass, fail, not tested) values the results carry."""
    passed, failed, skipped = statuses
    names = {passed: "pass", failed: "fail", skipped: "not tested"}
    return {
        "url": run.url,
        "service": run.service,
        "signedAs": run.signed_as,
        "origin": run.origin,
        "startedAt": run.started_at.isoformat(timespec="seconds"),
        "seconds": round(run.seconds, 3),
        "summary": _counts(results, passed, failed, skipped),
        "exitStatus": exit_status,
        "results": [
            {
                "name": r.name,
                "group": group_of(r.name),
                "status": names.get(r.status, r.status),
                "detail": r.detail,
                "seconds": round(r.seconds, 3),
            }
            for r in results
        ],
    }


def junit_report(
    results: Sequence[CheckResult], run: RunInfo, *, statuses: tuple[str, str, str]
) -> ET.ElementTree:
    passed, failed, skipped = statuses
    counts = _counts(results, passed, failed, skipped)
    totals = {
        "tests": str(counts["total"]),
        "failures": str(counts["failed"]),
        "errors": "0",
        "skipped": str(counts["notTested"]),
        "time": f"{run.seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": SUITE, **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE,
            **totals,
            "timestamp": run.started_at.replace(tzinfo=None).isoformat(timespec="seconds"),
            "hostname": socket.gethostname(),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("url", run.url),
        ("service", run.service),
        ("signedAs", run.signed_as or "unsigned"),
        ("origin", run.origin or "none"),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": result.name,
                "classname": f"mcas-cds.check.{group_of(result.name)}",
                "time": f"{result.seconds:.3f}",
            },
        )
        if result.status == failed:
            element = ET.SubElement(case, "failure", {"message": result.detail, "type": "check"})
            element.text = result.detail
        elif result.status == skipped:
            ET.SubElement(case, "skipped", {"message": result.detail})
        elif result.detail:
            ET.SubElement(case, "system-out").text = result.detail
    ET.indent(root)
    return ET.ElementTree(root)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_junit(path: Path, tree: ET.ElementTree) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
