"""What a scenario file (fhir_fixtures/) may name: card topics and prefetch keys."""

from __future__ import annotations

# docs/clinical-rules.md §4.
KNOWN_TOPICS = frozenset(
    {
        "tier-1", "tier-2", "tier-3", "tier-4", "specialist-referral",
        "epinephrine-autoinjector", "albuterol", "aspirin-caution", "steroid-long-term",
        "mediator-evidence", "biologic-review",
    }
)
PREFETCH_KEYS = frozenset(
    {"patient", "conditions", "observations", "medicationStatements", "medicationRequests"}
)
