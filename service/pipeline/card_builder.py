"""Cards from decisions, worded by cards/ data (docs/clinical-rules.md §4, §5).

Every card: uuid, a summary under 140 characters (cut at a word boundary), an indicator,
a source naming the authority behind the topic (cards.yaml ``source``), a Markdown detail
(card_detail.py), evidence links, the topic's own override reasons, and what it proposes:
draft MedicationRequests (intent proposal, RxNorm ingredient code, the dose form in the
text, no dose), a draft referral, draft mediator tests, or the ranitidine switch
(cards/drafts.yaml). Versions go in ``extension`` only. Members without a value are left
out, never sent as null or empty.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from service.cdshooks.cards import Action, Card, Coding, FhirResource, Link, Suggestion
from service.knowledge.drug_table import ALLOWED_SUGGESTIONS
from service.knowledge.model import Knowledge
from service.pipeline.card_detail import render_detail
from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules import RULES_VERSION
from service.pipeline.rules.drug_safety import RANITIDINE
from service.pipeline.rules.model import Decision, day, note
from service.thresholds.model import Thresholds

SUMMARY_LIMIT = 140  # a summary is shorter than this (CDS Hooks 2.0)
LABEL_LIMIT = 60  # a suggestion's label is at most this long (docs/clinical-rules.md §5)
THRESHOLDS_VERSION_EXTENSION = "org.mcas-cds.thresholds-version"
RULES_VERSION_EXTENSION = "org.mcas-cds.rules-version"
TIMELINE_LINK_LABEL = "MCAS timeline"


class _Params(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if shorter than ``limit``, else its words that fit, then "…"."""
    if len(text) < limit:
        return text
    head = text[: limit - 1]
    words = head.rsplit(" ", 1)[0] if " " in head else head[: limit - 2]
    return words.rstrip(" ,;:-+") + "…"


def _summary(template: str, params: dict[str, str]) -> str:
    return cut_at_word(" ".join(template.format_map(_Params(params)).split()), SUMMARY_LIMIT)


def _label(text: str) -> str:
    return cut_at_word(text, LABEL_LIMIT + 1)


def _subject(resource: FhirResource, facts: Facts) -> FhirResource:
    if facts.patient_id:
        resource["subject"] = {"reference": f"Patient/{facts.patient_id}"}
    return resource


def _coding(system: str, code: str, display: str) -> Coding:
    coding: Coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _medication_action(drug_class: str, facts: Facts, knowledge: Knowledge) -> Action:
    """A draft MedicationRequest: ingredient code, dose form in the text, never a dose."""
    drug = knowledge.drugs.suggested_drug(drug_class)
    rxnorm = knowledge.system_uris["rxnorm"]
    codings = [_coding(rxnorm, drug.rxnorm or "", drug.key),
               *(_coding(*form) for form in drug.suggest_form_coding)]
    resource = _subject({
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {"coding": codings, "text": drug.suggest_text},
    }, facts)
    description = knowledge.cards.drafts.medication_description.format(
        drug=drug.suggest_name, text=drug.suggest_text)
    return {"type": "create", "description": description, "resource": resource}


def _medication(drug_class: str, facts: Facts, knowledge: Knowledge) -> Suggestion:
    drug = knowledge.drugs.suggested_drug(drug_class)
    return {
        "label": _label(knowledge.cards.drafts.medication_label.format(drug=drug.suggest_name)),
        "uuid": str(uuid.uuid4()),
        "actions": [_medication_action(drug_class, facts, knowledge)],
    }


def _referral(facts: Facts, knowledge: Knowledge) -> Suggestion:
    drafts = knowledge.cards.drafts
    code: dict[str, object] = {"text": drafts.referral_text}
    if drafts.referral_coding:
        code["coding"] = [_coding(*c) for c in drafts.referral_coding]
    resource = _subject({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": code,
    }, facts)
    if drafts.referral_reason:
        resource["reasonCode"] = [{"text": drafts.referral_reason}]
    return {
        "label": _label(drafts.referral_label),
        "uuid": str(uuid.uuid4()),
        "actions": [{"type": "create", "description": f"Propose a draft: {drafts.referral_text}.",
                     "resource": resource}],
    }


def _mediator_tests(facts: Facts, knowledge: Knowledge) -> Suggestion:
    drafts = knowledge.cards.drafts
    actions: list[Action] = []
    for test in drafts.mediator_tests:
        resource = _subject({
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "code": {"coding": [_coding(knowledge.loinc_system, test.loinc, test.display)],
                     "text": test.display},
            "patientInstruction": test.patient_instruction,
            "note": [{"text": test.timing}],
        }, facts)
        actions.append({"type": "create", "description": f"Propose a draft: {test.display}. "
                        f"{test.timing}", "resource": resource})
    return {"label": _label(drafts.mediator_label), "uuid": str(uuid.uuid4()),
            "actions": actions}


def _stoppable(decision: Decision) -> list[Therapy]:
    """The ranitidine orders a card may set to stopped: requests with an id."""
    return [t for t in decision.therapies if t.drug == RANITIDINE
            and t.source == "MedicationRequest" and t.ref is not None and t.ref.id]


def _ranitidine_switch(decision: Decision, facts: Facts, knowledge: Knowledge) -> Suggestion:
    """ONE suggestion: stop each ranitidine order (by its id) and draft famotidine.

    A MedicationStatement cannot be changed by a card: then only the text says to stop it.
    """
    drafts = knowledge.cards.drafts
    rxnorm = knowledge.system_uris["rxnorm"]
    ranitidine = knowledge.drugs.drugs[RANITIDINE]
    actions: list[Action] = []
    for order in _stoppable(decision):
        order_id = order.ref.id if order.ref is not None else None
        resource = _subject({
            "resourceType": "MedicationRequest",
            "id": order_id,
            "status": "stopped",
            "intent": order.intent or "order",
            "medicationCodeableConcept": {
                "coding": [_coding(rxnorm, ranitidine.rxnorm or "", RANITIDINE)],
                "text": order.label,
            },
        }, facts)
        reference = f"MedicationRequest/{order_id}"
        actions.append({"type": "update", "resource": resource,
                        "description": drafts.switch_stop_description.format(
                            reference=reference)})
    famotidine = knowledge.drugs.suggested_drug("h2")
    actions.append(_medication_action("h2", facts, knowledge))
    label = (drafts.switch_label if len(actions) > 1 else drafts.medication_label).format(
        drug=famotidine.suggest_name)
    return {"label": _label(label), "uuid": str(uuid.uuid4()), "actions": actions}


def _proposed(original: Decision, kept: Decision, knowledge: Knowledge) -> list[str]:
    """How the summary names what the card proposes: the drug, or its class when the drug
    is on record and not proposed again."""
    names = []
    for drug_class in original.suggestions:
        if drug_class in kept.suggestions:
            names.append(knowledge.drugs.suggested_drug(drug_class).suggest_name)
        else:
            names.append(f"a regular {knowledge.drugs.classes[drug_class].label}")
    return names


def _suggestions(decision: Decision, facts: Facts, knowledge: Knowledge) -> list[Suggestion]:
    topic = knowledge.cards.topics[decision.topic]
    found = [_medication(c, facts, knowledge) for c in decision.suggestions
             if c in topic.suggestions and c in ALLOWED_SUGGESTIONS]
    drafts = list(topic.drafts)
    # the folded cards' proposals go into the ladder card (docs/clinical-rules.md §4)
    for folded in decision.folded:
        drafts += [d for d in knowledge.cards.topics[folded.topic].drafts if d not in drafts]
    # the order a clinician reads them: tests first, then the referral
    for kind in ("mediator_tests", "referral", "ranitidine_switch"):
        if kind not in drafts:
            continue
        if kind == "mediator_tests":
            found.append(_mediator_tests(facts, knowledge))
        elif kind == "referral":
            found.append(_referral(facts, knowledge))
        else:
            found.append(_ranitidine_switch(decision, facts, knowledge))
    return found


def _links(decision: Decision, knowledge: Knowledge, timeline_url: str | None) -> list[Link]:
    keys = list(knowledge.cards.topics[decision.topic].links)
    for folded in decision.folded:
        keys += [k for k in knowledge.cards.topics[folded.topic].links if k not in keys]
    links: list[Link] = [
        {"label": knowledge.references[k].label, "url": knowledge.references[k].url,
         "type": "absolute"} for k in keys
    ]
    if timeline_url:
        # The timeline SMART app, launched by the EHR with the patient in context
        # (docs/timeline.md); only when a site has enabled it.
        links.append({"label": TIMELINE_LINK_LABEL, "url": timeline_url, "type": "smart"})
    return links


def _card(
    decision: Decision,
    facts: Facts,
    knowledge: Knowledge,
    thresholds: Thresholds,
    timeline_url: str | None = None,
) -> Card:
    texts = knowledge.cards
    topic = texts.topics[decision.topic]
    kept = _without_repeats(decision, knowledge)
    if decision.topic == "ranitidine-switch" and not _stoppable(decision):
        kept = replace(kept, notes=(*kept.notes, note("ranitidine.stop_in_text")))
    proposed = _proposed(decision, kept, knowledge)
    params = {**kept.params, "proposed": " + ".join(proposed),
              "proposed_options": " and/or ".join(proposed)}
    source = knowledge.references[topic.source]
    card: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(topic.summary, params),
        "indicator": topic.indicator,
        "detail": render_detail(kept, facts, knowledge),
        "source": {
            "label": source.authority,
            "url": source.url,
            "topic": {"system": texts.topic_system, "code": decision.topic,
                      "display": topic.title},
        },
    }
    suggestions = _suggestions(kept, facts, knowledge)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    # The topic's own reasons; one that needs a proposal only when the card proposes.
    card["overrideReasons"] = [
        {"system": texts.override_reason_system, "code": code,
         "display": texts.override_reasons[code].display}
        for code in topic.override_reasons
        if suggestions or not texts.override_reasons[code].needs_proposal
    ]
    links = _links(decision, knowledge, timeline_url)
    if links:
        card["links"] = links
    # Versions are for operators: here, never in the card's text.
    card["extension"] = {
        THRESHOLDS_VERSION_EXTENSION: thresholds.version,
        RULES_VERSION_EXTENSION: RULES_VERSION,
    }
    return card


def _without_repeats(decision: Decision, knowledge: Knowledge) -> Decision:
    """No card proposes, as a new step, a drug that is active, on hold or stopped within
    the lookback: it names the drug and its status instead (docs/clinical-rules.md §2)."""
    if not decision.withheld:
        return decision
    kept: list[str] = []
    notes = list(decision.notes)
    for drug_class in decision.suggestions:
        try:
            drug = knowledge.drugs.suggested_drug(drug_class)
        except KeyError:
            continue
        records = [t for t in decision.withheld if t.drug == drug.key]
        if not records:
            kept.append(drug_class)
            continue
        record = records[0]
        notes.append(note("therapy.not_proposed_again", drug=record.label or drug.key,
                          status=record.status, date=day(record.ended or record.ordered_on)))
    return replace(decision, suggestions=tuple(kept), notes=tuple(notes))


def build_cards(
    decisions: list[Decision],
    facts: Facts,
    knowledge: Knowledge,
    thresholds: Thresholds,
    timeline_url: str | None = None,
) -> list[Card]:
    """The cards; with ``timeline_url`` each carries the timeline app's ``smart`` link."""
    return [_card(d, facts, knowledge, thresholds, timeline_url) for d in decisions]
