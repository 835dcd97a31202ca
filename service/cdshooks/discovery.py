"""The service's discovery entry: id, hook, texts and prefetch templates.

The prefetch templates are a fixed interface (EHR administrators configure against
them). The Observation query lists the mediator LOINC codes of ``cards/mediators.yaml``.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

SERVICE_ID = "mcas-therapy-tier"
HOOK = "patient-view"
# The order-time services (docs/clinical-rules.md §7): one per hook, the same core. The
# hook decides only which draft orders are judged (order-select: the selected ones).
ORDER_SELECT_SERVICE_ID = "mcas-order-safety-select"
ORDER_SIGN_SERVICE_ID = "mcas-order-safety-sign"
# service id -> the hook it answers
SERVICE_HOOKS: dict[str, str] = {
    SERVICE_ID: HOOK,
    ORDER_SELECT_SERVICE_ID: "order-select",
    ORDER_SIGN_SERVICE_ID: "order-sign",
}
ORDER_SERVICE_IDS = frozenset({ORDER_SELECT_SERVICE_ID, ORDER_SIGN_SERVICE_ID})

TITLE = "MCAS therapy ladder"
DESCRIPTION = (
    "For patients with Mast Cell Activation Syndrome: where the patient stands on the "
    "treatment ladder (H1/H2 antihistamines, leukotriene modifiers and oral cromolyn, "
    "omalizumab, off-label dupilumab), whether the current tier has failed, which therapy "
    "tier to consider next, and the safety gaps (epinephrine auto-injector, albuterol, "
    "aspirin, long-term steroids, missing mediator evidence), with the evidence behind each."
)
USAGE_REQUIREMENTS = (
    "Send the patient, their Conditions (ICD-10-CM or SNOMED CT), mediator laboratory "
    "Observations (LOINC), MedicationStatements and MedicationRequests (RxNorm; active, "
    "on-hold, stopped and completed), and if you can the completed MedicationAdministrations "
    "and MedicationDispenses (optional: they date the course of a biologic), as prefetched "
    "or through fhirServer with an access token allowing read of those resources. Decision "
    "support for clinicians only: it never orders anything."
)


ORDER_TITLE = "MCAS order safety"
ORDER_DESCRIPTIONS = {
    "order-select": (
        "For patients with Mast Cell Activation Syndrome or clonal mast cell disease, when "
        "orders are selected: warns about the selected draft orders that can trigger mast "
        "cell reactions (NSAIDs, histamine-releasing opioids, intravenous vancomycin, "
        "neuromuscular blockers, iodinated contrast), beta-blockers after anaphylaxis, "
        "aspirin, ranitidine (suggests famotidine instead), long systemic steroid courses, "
        "and biologics ordered before the earlier steps."
    ),
    "order-sign": (
        "For patients with Mast Cell Activation Syndrome or clonal mast cell disease, when "
        "orders are signed: the same checks as at selection, on every draft order; a card "
        "already answered at selection by the same user is not shown again."
    ),
}
ORDER_USAGE_REQUIREMENTS = (
    "Send the draft orders (MedicationRequest, coded with RxNorm or named in text; orders "
    "of other types are accepted and not judged) and the same prefetch as the "
    "mcas-therapy-tier service. Contrast ordered inside an imaging order (ServiceRequest) "
    "is not seen. Decision support for clinicians: the only change it suggests to an order "
    "is replacing ranitidine with a famotidine draft."
)


class Service(TypedDict):
    """One entry of the discovery document (CDS Hooks 2.0.1, "Discovery: Response")."""

    hook: str
    id: str
    title: NotRequired[str]
    description: str
    usageRequirements: NotRequired[str]
    prefetch: NotRequired[dict[str, str]]  # prefetch key -> FHIR query template


class DiscoveryDocument(TypedDict):
    services: list[Service]


def _order_service(service_id: str, templates: dict[str, str]) -> Service:
    hook = SERVICE_HOOKS[service_id]
    return {
        "hook": hook,
        "id": service_id,
        "title": ORDER_TITLE,
        "description": ORDER_DESCRIPTIONS[hook],
        "usageRequirements": ORDER_USAGE_REQUIREMENTS,
        "prefetch": dict(templates),
    }


def discovery_document(templates: dict[str, str]) -> DiscoveryDocument:
    """patient-view first, then the order services: the same prefetch templates."""
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": TITLE,
                "description": DESCRIPTION,
                "usageRequirements": USAGE_REQUIREMENTS,
                "prefetch": dict(templates),
            },
            _order_service(ORDER_SELECT_SERVICE_ID, templates),
            _order_service(ORDER_SIGN_SERVICE_ID, templates),
        ]
    }
