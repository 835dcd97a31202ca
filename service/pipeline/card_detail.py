"""The `detail` of a card: GitHub-flavoured Markdown (no HTML) showing why it fired.

Everything that comes from the record (drug names, condition labels) is escaped, so a
text in the EHR can neither inject HTML nor break the card's layout.
"""

from __future__ import annotations

import re

from service.knowledge.model import Knowledge
from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.model import Cluster, Decision, MediatorFinding, day

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"**{title}**", "", *(f"- {line}" for line in lines), ""] if lines else []


def _therapy(therapy: Therapy, knowledge: Knowledge) -> str:
    drug_class = knowledge.drugs.classes[therapy.drug_class].label
    since = f"since {day(therapy.start)}" if therapy.start else "start date not recorded"
    named = escape(therapy.label)
    if drug_class.lower() != therapy.label.lower():
        named += f" ({drug_class})"
    return f"{named}, {since} ({therapy.source})"


def _cluster(cluster: Cluster) -> str:
    first = cluster.events[0]
    merged = len(cluster.events)
    extra = f", {merged} records less than the merge window apart" if merged > 1 else ""
    return f"{day(cluster.start)}: {escape(first.label)} ({escape(first.code)}){extra}"


def _mediator(finding: MediatorFinding) -> str:
    result = finding.result
    return f"{result.display}, {day(result.when)}: {escape(finding.reason)}"


# The prefetch keys the rules read (the Patient resource is not read).
CLINICAL_KEYS = ("conditions", "observations", "medicationStatements", "medicationRequests")


def data_notes(facts: Facts) -> list[str]:
    notes = [
        f"Not available: {key} ({escape(facts.unavailable[key])}). Cards that depend on "
        "the absence of these data are not shown."
        for key in CLINICAL_KEYS if key in facts.unavailable
    ]
    if facts.skipped_resources:
        notes.append(
            f"{facts.skipped_resources} resource(s) in the record are not valid FHIR and were "
            "left out; the rest was read."
        )
    return notes


def render_detail(
    decision: Decision, facts: Facts, knowledge: Knowledge, version: str
) -> str:
    text = knowledge.cards.topics[decision.topic].detail
    lines: list[str] = []
    lines += _section("Why this card", [escape(r) for r in decision.reasons])
    lines += _section("Active therapies", [_therapy(t, knowledge) for t in decision.therapies])
    lines += _section("Anaphylaxis episodes counted", [_cluster(c) for c in decision.episodes])
    lines += _section("Respiratory events", [_cluster(c) for c in decision.respiratory])
    lines += _section("Mediator results", [_mediator(m) for m in decision.mediators])
    lines += _section("Data", data_notes(facts))
    if text:
        lines += [text, ""]
    lines += [f"_{knowledge.cards.reminder}_ (thresholds {version})"]
    return "\n".join(lines).strip()
