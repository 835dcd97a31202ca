"""The `detail` of a card: GitHub-flavoured Markdown (no HTML) showing why it fired.

Everything that comes from the record (drug names, condition labels) is escaped, so a
text in the EHR can neither inject HTML nor break the card's layout. The sentences beside
the facts are the templates of cards/sentences.yaml, filled by the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from service.knowledge.model import Knowledge
from service.knowledge.topics import LADDER_TOPICS
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
    text = clinical_units(knowledge.cards.sentence(note.key, **params), knowledge)
    return text[:1].upper() + text[1:]  # "{drugs} is active" opens with a drug name


def clinical_units(text: str, knowledge: Knowledge) -> str:
    """UCUM units written as clinicians read them: "mcg/g creatinine", not "ug/g{creat}"."""
    for ucum, shown in knowledge.unit_displays.items():
        text = text.replace(ucum, shown)
    return text


# The record kinds therapies are read from, in clinical words.
_SOURCES = {"MedicationStatement": "medication list", "MedicationRequest": "order"}


def _therapy(therapy: Therapy, knowledge: Knowledge) -> str:
    drug_class = knowledge.drugs.classes[therapy.drug_class].label
    since = f"since {day(therapy.start)}" if therapy.start else "start date not recorded"
    named = escape(therapy.label)
    if drug_class.lower() not in therapy.label.lower():
        named += f" ({drug_class})"
    return f"{named}, {since} ({_SOURCES.get(therapy.source, therapy.source)})"


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
            value=value, unit=escape(clinical_units(result.raw_unit or "none", knowledge)),
        )
    reason = clinical_units(finding.reason, knowledge)
    return f"{result.display}, {day(result.when)}: {escape(reason)}"


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

# Sentences that say why a ladder card holds a further step back ("why not",
# docs/clinical-rules.md §5): a ladder card lists them under their own heading.
WHY_NOT = frozenset({
    "evidence.none", "ladder.evidence_first", "ladder.specialist_instead",
    "ladder.tier2_not_on_record", "therapy.no_judged_course", "omalizumab.dose_unknown",
    "respiratory.not_counted_above_tier1", "clonal",
})


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


def _evidence(decision: Decision, knowledge: Knowledge) -> list[str]:
    """The opening line: how strong the evidence behind the card is (cards/cards.yaml)."""
    texts = knowledge.cards
    level = texts.evidence_levels[texts.topics[decision.topic].evidence]
    return [f"**Strength of evidence: {level.label}** ({level.meaning}).", ""]


def _facts_sections(decision: Decision, knowledge: Knowledge, *,
                    split_why_not: bool) -> tuple[list[str], list[str]]:
    """(why lines, why-not lines) of one decision: the facts behind it."""
    why: list[str] = [*(sentence(n, knowledge) for n in decision.lead)]
    why += [escape(clinical_units(r, knowledge)) for r in decision.reasons]
    why_not: list[str] = []
    for item in decision.notes:
        text = sentence(item, knowledge)
        (why_not if split_why_not and item.key in WHY_NOT else why).append(text)
    return why, why_not


# Sentences a folded card's short text (cards.yaml ``fold_text``) already says.
_SAID_BY_FOLD_TEXT = frozenset({"evidence.none"})


def _folded(decision: Decision, ladder: Decision, knowledge: Knowledge) -> list[str]:
    """A card folded into the ladder card: its own facts, then (unless the ladder card's
    text already says it) its short text (docs/clinical-rules.md §4 "Fewer cards")."""
    topic = knowledge.cards.topics[decision.topic]
    shown_notes = {(n.key, tuple(sorted(n.params.items()))) for n in ladder.notes}
    lines = [escape(clinical_units(r, knowledge)) for r in decision.reasons]
    lines += [sentence(n, knowledge) for n in decision.notes
              if (n.key, tuple(sorted(n.params.items()))) not in shown_notes
              and n.key not in _SAID_BY_FOLD_TEXT]
    shown = {id(m.result) for m in ladder.mediators}
    findings = [m for m in decision.mediators if id(m.result) not in shown]
    lines += [_mediator(m, knowledge) for m in findings]
    lines += [i for i in _interferences(findings, knowledge)
              if i not in _interferences(ladder.mediators, knowledge)]
    if decision.topic not in knowledge.cards.topics[ladder.topic].covers and topic.fold_text:
        lines.append(topic.fold_text)
    return _section(topic.title, lines)


def render_detail(decision: Decision, facts: Facts, knowledge: Knowledge) -> str:
    """The Markdown detail: the strength of the evidence, why (the facts, with dates and
    values), why not (a further step held back), the cards folded in, the record, the
    card's own text and the decision-support reminder. No setting names, no versions."""
    ladder = decision.topic in LADDER_TOPICS
    text = knowledge.cards.topics[decision.topic].detail
    why, why_not = _facts_sections(decision, knowledge, split_why_not=ladder)
    lines = _evidence(decision, knowledge)
    lines += _section("Why this card", why)
    lines += _section("Active therapies", [_therapy(t, knowledge) for t in decision.therapies])
    lines += _section("Anaphylaxis episodes counted", [_cluster(c) for c in decision.episodes])
    lines += _section("Respiratory events", [_cluster(c) for c in decision.respiratory])
    lines += _section(
        "Mediator results",
        [_mediator(m, knowledge) for m in decision.mediators]
        + _interferences(decision.mediators, knowledge),
    )
    lines += _section("Why not a further step", why_not)
    for folded in decision.folded:
        lines += _folded(folded, decision, knowledge)
    lines += _section("About the record", data_notes(facts, knowledge))
    if text:
        lines += [text, ""]
    lines += [f"_{knowledge.cards.reminder}_"]
    return "\n".join(lines).strip()
