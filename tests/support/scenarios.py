"""What a scenario file (fhir_fixtures/) may name: card topics and prefetch keys."""

from __future__ import annotations

# docs/clinical-rules.md §4.
KNOWN_TOPICS = frozenset(
    {
        "tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose", "tier-4",
        "specialist-referral",
        "epinephrine-autoinjector", "albuterol", "aspirin-caution", "steroid-long-term",
        "ranitidine-switch", "mediator-evidence", "biologic-review",
        # order time (docs/clinical-rules.md §7)
        "order-trigger-drug", "order-beta-blocker", "order-aspirin", "order-ranitidine",
        "order-ladder", "order-steroid-course",
    }
)
ORDER_TOPICS = frozenset(t for t in KNOWN_TOPICS if t.startswith("order-"))
# The hooks a fixture may be written for, and the CDS service that answers each.
HOOK_SERVICES = {
    "patient-view": "mcas-therapy-tier",
    "order-select": "mcas-order-safety-select",
    "order-sign": "mcas-order-safety-sign",
}
# The keys the service needs (a missing one is fetched or unavailable), and the optional
# ones of the course rule (docs/clinical-rules.md §2: absent, they suppress nothing).
REQUIRED_PREFETCH_KEYS = frozenset(
    {"patient", "conditions", "observations", "medicationStatements", "medicationRequests"}
)
OPTIONAL_PREFETCH_KEYS = frozenset({"medicationAdministrations", "medicationDispenses"})
PREFETCH_KEYS = REQUIRED_PREFETCH_KEYS | OPTIONAL_PREFETCH_KEYS
