"""The service's discovery entry: id, hook, texts and prefetch templates.

The prefetch templates are a fixed interface (EHR administrators configure against
them). The Observation query lists the mediator LOINC codes of ``cards/mediators.yaml``.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

SERVICE_ID = "mcas-therapy-tier"
HOOK = "patient-view"

TITLE = "MCAS therapy ladder"
DESCRIPTION = (
    "For patients with Mast Cell Activation Syndrome: where the patient stands on the "
    "treatment ladder (H1/H2 antihistamines, leukotriene modifiers and oral cromolyn, "
    "omalizumab, off-label dupilumab), whether the current tier has failed, which therapy "
    "tier to consider next, and the safety gaps (epinephrine auto-injector, albuterol, "
    "aspirin, long-term steroids, missing mediator evidence), with the evidence behind each."
)
USAGE_REQUIREMENTS = (
    "Send the patient's Conditions (ICD-10-CM or SNOMED CT), mediator laboratory "
    "Observations (LOINC), MedicationStatements and active MedicationRequests (RxNorm), "
    "as prefetched or through fhirServer with an access token allowing read of those "
    "resources. Decision support for clinicians only: it never orders anything."
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


def discovery_document(templates: dict[str, str]) -> DiscoveryDocument:
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": TITLE,
                "description": DESCRIPTION,
                "usageRequirements": USAGE_REQUIREMENTS,
                "prefetch": dict(templates),
            }
        ]
    }
