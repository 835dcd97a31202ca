"""The `detail` of a card: GitHub-flavoured Markdown (no HTML) showing why it fired.

Everything that comes from the record (drug names, condition labels) is escaped, so a
text in the EHR can neither inject HTML nor break the card's layout. The sentences beside
the facts are the templates of cards/sentences.yaml, filled by the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from service.knowledge.model import Knowledge
from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.model import Cluster, Decision, MediatorFinding, Note, day

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"**{title}**", "", *(f"- {line}" for line in lines), ""] if lines else []


def sentence(note: Note, knowledge: Knowledge) -> str:
    """A sentence of cards/sentences.yaml, its facts escaped (they may come from the record)."""
    params: Mapping[str, str] = {k: escape(v) for k, v in note.params.items()}
    return knowledge.cards.sentence(note.key, **params)


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
    extra = f", {merged} records merged into one episode" if merged > 1 else ""
    return f"{day(cluster.start)}: {escape(first.label)} ({escape(first.code)}){extra}"


def _mediator(finding: MediatorFinding, knowledge: Knowledge) -> str:
    result = finding.result
    if not finding.assessable:
        value = "no numeric value" if result.raw_value is None else \
            f"{result.comparator or ''}{result.raw_value:g}"
        return knowledge.cards.sentence(
            "mediator.not_assessable", analyte=result.display, date=day(result.when),
            value=value, unit=escape(result.raw_unit or "none"),
        )
    return f"{result.display}, {day(result.when)}: {escape(finding.reason)}"


def _interferences(findings: Iterable[MediatorFinding], knowledge: Knowledge) -> list[str]:
    by_key = {a.key: a for a in knowledge.analytes.values()}
    seen: list[str] = []
    for finding in findings:
        analyte = by_key.get(finding.result.analyte)
        if analyte is not None and analyte.interference and analyte.interference not in seen:
            seen.append(analyte.interference)
    return seen


# The prefetch keys the rules read, in the order the cards name them.
CLINICAL_KEYS = ("conditions", "observations", "medicationStatements", "medicationRequests",
                 "patient")


def data_notes(facts: Facts, knowledge: Knowledge) -> list[str]:
    """What every card says about the record itself: data unavailable, resources left out
    or undated (counted by kind, never their content), products that are unclear."""
    texts = knowledge.cards
    notes = [texts.sentence(f"unavailable.{key}") for key in CLINICAL_KEYS
             if key in facts.unavailable]
    for (kind, problem), count in facts.reading.items():
        kind_key = f"kind.{kind}"
        named = texts.sentence(kind_key) if kind_key in texts.sentences else "record(s)"
        notes.append(texts.sentence(f"reading.{problem}", count=str(count), kind=named))
    for name, candidates in facts.unclear:
        notes.append(texts.sentence("unclear_product", name=escape(name),
                                    candidates=escape(candidates)))
    return notes


def render_detail(
    decision: Decision, facts: Facts, knowledge: Knowledge, version: str
) -> str:
    text = knowledge.cards.topics[decision.topic].detail
    lines: list[str] = []
    why = [
        *(sentence(n, knowledge) for n in decision.lead),
        *(escape(r) for r in decision.reasons),
        *(sentence(n, knowledge) for n in decision.notes),
    ]
    lines += _section("Why this card", why)
    lines += _section("Active therapies", [_therapy(t, knowledge) for t in decision.therapies])
    lines += _section("Anaphylaxis episodes counted", [_cluster(c) for c in decision.episodes])
    lines += _section("Respiratory events", [_cluster(c) for c in decision.respiratory])
    lines += _section(
        "Mediator results",
        [_mediator(m, knowledge) for m in decision.mediators]
        + _interferences(decision.mediators, knowledge),
    )
    lines += _section("Data", data_notes(facts, knowledge))
    if text:
        lines += [text, ""]
    lines += [f"_{knowledge.cards.reminder}_ (thresholds {version})"]
    return "\n".join(lines).strip()
