"""Order-time cards, worded by cards/order_cards.yaml and cards/triggers.yaml
(docs/clinical-rules.md §5, §7).

The summary is the draft order's own words, a colon and the topic's words, under 140
characters: the order's words are cut at a word boundary when the line would be longer.
The detail opens with the strength of the evidence, then why (the order and the facts),
the safer alternatives the knowledge names, what the drug does, the data notes and the
reminder. Override reasons are chosen per topic. Only order-ranitidine suggests a change:
create a famotidine draft without a dose and delete the ranitidine draft by its id; no
other card changes an order.
"""

from __future__ import annotations

import uuid

from service.cdshooks.cards import Action, Card, FhirResource, Link, Suggestion
from service.knowledge.model import Knowledge
from service.pipeline.card_builder import RULES_VERSION_EXTENSION, THRESHOLDS_VERSION_EXTENSION
from service.pipeline.card_detail import data_notes, escape
from service.pipeline.facts.model import Facts
from service.pipeline.orders.rules import OrderDecision
from service.pipeline.rules import RULES_VERSION

SUMMARY_LIMIT = 140  # characters; the summary must stay under it
DRAFT_ORDER_EXTENSION = "org.mcas-cds.draft-order"
ELLIPSIS = "…"


def order_summary(words: str, message: str) -> str:
    """"<order words>: <message>", under 140 characters, the order's words cut at a word
    boundary (with an ellipsis) when needed."""
    message = " ".join(message.split())
    words = " ".join(words.split())
    line = f"{words}: {message}"
    if len(line) < SUMMARY_LIMIT:
        return line
    room = SUMMARY_LIMIT - 1 - len(f"{ELLIPSIS}: {message}")
    if room < 1:  # the message alone is too long (the schema keeps it under 120)
        return message[: SUMMARY_LIMIT - 2] + ELLIPSIS
    cut = words[:room]
    if " " in cut and not words[room:room + 1].isspace():
        cut = cut[: cut.rfind(" ")]
    return f"{cut.rstrip(' ,;:-')}{ELLIPSIS}: {message}"


def _famotidine_draft(decision: OrderDecision, facts: Facts, knowledge: Knowledge,
                      encounter_id: str | None) -> Suggestion:
    drug = knowledge.drugs.suggested_drug("h2")
    resource: FhirResource = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {
            "coding": [{"system": knowledge.system_uris["rxnorm"], "code": drug.rxnorm or "",
                        "display": drug.key}],
            "text": drug.suggest_text,
        },
    }
    if facts.patient_id:
        resource["subject"] = {"reference": f"Patient/{facts.patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    # create first: a client that applies only a suggestion's first action (the CDS Hooks
    # Sandbox does) then shows famotidine beside the order, rather than silently
    # dropping the H2 antihistamine (docs/integration-guide.md).
    actions: list[Action] = [
        {"type": "create",
         "description": f"Add {drug.suggest_text} as a draft order without a dose.",
         "resource": resource},
        {"type": "delete",
         "description": "Remove the withdrawn drug's draft order.",
         "resourceId": decision.draft.reference},
    ]
    return {
        "label": f"Replace with a {drug.suggest_text} draft (no dose)",
        "uuid": str(uuid.uuid4()),
        "isRecommended": True,
        "actions": actions,
    }


def _detail(decision: OrderDecision, facts: Facts, knowledge: Knowledge, evidence: str) -> str:
    topic = knowledge.order_cards.topics[decision.topic]
    label, meaning = knowledge.order_cards.evidence_levels[evidence]
    # The evidence line of every card (service/pipeline/card_detail.py's format).
    lines = [f"**Strength of evidence: {label}** ({meaning}).", ""]
    lines += ["**Why this card**", "", *(f"- {escape(r)}" for r in decision.reasons), ""]
    if decision.trigger is not None:
        drug = knowledge.triggers.drugs[decision.trigger]
        trigger_class = knowledge.triggers.classes[drug.trigger_class]
        lines += [trigger_class.does, ""]
        if trigger_class.alternatives:
            lines += ["**Safer alternatives**", "",
                      *(f"- {a}" for a in trigger_class.alternatives), ""]
    notes = data_notes(facts, knowledge)
    if notes:
        lines += ["**Data**", "", *(f"- {n}" for n in notes), ""]
    if topic.detail:
        lines += [topic.detail, ""]
    # No thresholds version in the text: it is in the card's extension.
    lines += [f"_{knowledge.cards.reminder}_"]
    return "\n".join(lines).strip()


def order_card(decision: OrderDecision, facts: Facts, knowledge: Knowledge,
               thresholds_version: str, encounter_id: str | None = None) -> Card:
    texts = knowledge.cards
    topic = knowledge.order_cards.topics[decision.topic]
    indicator = topic.indicator
    evidence, links, source = topic.evidence, topic.links, topic.source
    if decision.trigger is not None:
        drug = knowledge.triggers.drugs[decision.trigger]
        trigger_class = knowledge.triggers.classes[drug.trigger_class]
        indicator = drug.indicator or indicator
        evidence, links = trigger_class.evidence, trigger_class.links
        source = links[0] if links else ""
    # The authority behind the card (references.yaml ``authority``), as on patient-view
    # cards; a topic naming none: the service's own source (cards.yaml ``source``).
    reference = knowledge.references.get(source)
    if reference is not None and reference.authority:
        label, url = reference.authority, reference.url
    else:
        label, url = texts.source_label, texts.source_url
    message = topic.summary.format_map(dict(decision.params))
    card: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": order_summary(decision.draft.words, message),
        "indicator": indicator,
        "detail": _detail(decision, facts, knowledge, evidence),
        "source": {
            "label": label,
            "url": url,
            "topic": {"system": texts.topic_system, "code": decision.topic,
                      "display": topic.title},
        },
    }
    if decision.topic == "order-ranitidine":
        card["suggestions"] = [_famotidine_draft(decision, facts, knowledge, encounter_id)]
        card["selectionBehavior"] = "at-most-one"
    card["overrideReasons"] = [
        {"system": texts.override_reason_system, "code": code, "display": display}
        for code, display in topic.override_reasons
    ]
    card_links: list[Link] = [
        {"label": knowledge.references[key].label, "url": knowledge.references[key].url,
         "type": "absolute"} for key in links
    ]
    if card_links:
        card["links"] = card_links
    card["extension"] = {
        THRESHOLDS_VERSION_EXTENSION: thresholds_version,
        RULES_VERSION_EXTENSION: RULES_VERSION,
        DRAFT_ORDER_EXTENSION: decision.draft.reference,
    }
    return card
