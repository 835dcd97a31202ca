"""Model validation of the resources the rules read, one resource at a time.

A resource that fails is skipped and logged by type and reason only: never its id or
values (pydantic messages quote the input, so only error types are logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

log = logging.getLogger(__name__)

_KNOWN_TYPES = frozenset(
    {"Condition", "Observation", "MedicationStatement", "MedicationRequest", "Medication"}
)


def is_valid(resource: dict[str, Any]) -> bool:
    kind = resource.get("resourceType")
    shown = kind if kind in _KNOWN_TYPES else "unexpected type"
    try:
        get_fhir_model_class(str(kind)).model_validate(resource)
    except ValidationError as exc:
        kinds = sorted({str(error.get("type")) for error in exc.errors()})
        log.warning(
            "resource skipped",
            extra={"resource_type": shown, "reason": f"{exc.error_count()} validation "
                   f"error(s): {', '.join(kinds)}"},
        )
        return False
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("resource skipped", extra={"resource_type": shown,
                                                "reason": exc.__class__.__name__})
        return False
    return True
