"""Cards from decisions, worded by cards/cards.yaml (docs/clinical-rules.md §4, §5).

Every card: uuid, a summary under 140 characters, an indicator, a source with the topic
Coding, a Markdown detail saying why, evidence links, override reasons and, for the
drugs that may be proposed, suggestions creating a draft MedicationRequest (intent
proposal, RxNorm ingredient code and text, no dose). Members without a value are left
out, never sent as null or empty.
"""

from __future__ import annotations

import uuid

from service.cdshooks.cards import Card, FhirResource, Suggestion
from service.knowledge.drug_table import ALLOWED_SUGGESTIONS
from service.knowledge.model import Knowledge
from service.pipeline.card_detail import render_detail
from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Decision
from service.thresholds.model import Thresholds

SUMMARY_LIMIT = 140
THRESHOLDS_VERSION_EXTENSION = "org.mcas-cds.thresholds-version"


class _Params(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _summary(template: str, params: dict[str, str]) -> str:
    summary = " ".join(template.format_map(_Params(params)).split())
    return summary if len(summary) < SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 2] + "…"


def _suggestion(drug_class: str, facts: Facts, knowledge: Knowledge) -> Suggestion:
    drug = knowledge.drugs.suggested_drug(drug_class)
    class_label = knowledge.drugs.classes[drug_class].label
    resource: FhirResource = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {
            "coding": [{"system": knowledge.system_uris["rxnorm"], "code": drug.rxnorm,
                        "display": drug.key}],
            "text": drug.suggest_text,
        },
    }
    if facts.patient_id:
        resource["subject"] = {"reference": f"Patient/{facts.patient_id}"}
    return {
        "label": f"Draft {drug.suggest_text} ({class_label}); the prescriber sets the dose",
        "uuid": str(uuid.uuid4()),
        "actions": [
            {
                "type": "create",
                "description": f"Propose {drug.suggest_text} as a draft order without a dose.",
                "resource": resource,
            }
        ],
    }


def _card(
    decision: Decision, facts: Facts, knowledge: Knowledge, thresholds: Thresholds
) -> Card:
    texts = knowledge.cards
    topic = texts.topics[decision.topic]
    card: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(topic.summary, dict(decision.params)),
        "indicator": topic.indicator,
        "detail": render_detail(decision, facts, knowledge, thresholds.version),
        "source": {
            "label": texts.source_label,
            "url": texts.source_url,
            "topic": {"system": texts.topic_system, "code": decision.topic,
                      "display": topic.title},
        },
    }
    allowed = [c for c in decision.suggestions
               if c in topic.suggestions and c in ALLOWED_SUGGESTIONS]
    if allowed:
        card["suggestions"] = [_suggestion(c, facts, knowledge) for c in allowed]
        card["selectionBehavior"] = "any"
    card["overrideReasons"] = [
        {"system": texts.override_reason_system, "code": code, "display": display}
        for code, display in texts.override_reasons
    ]
    links = [knowledge.references[key] for key in topic.links]
    if links:
        card["links"] = [{"label": r.label, "url": r.url, "type": "absolute"} for r in links]
    card["extension"] = {THRESHOLDS_VERSION_EXTENSION: thresholds.version}
    return card


def build_cards(
    decisions: list[Decision], facts: Facts, knowledge: Knowledge, thresholds: Thresholds
) -> list[Card]:
    return [_card(d, facts, knowledge, thresholds) for d in decisions]
