"""Getting prefetch data the EHR did not send from its FHIR server, quickly and safely.

``fetcher_for(request, config)`` builds the fetcher that ``resolve_prefetch`` calls for
the missing keys of one hook call; everything else here serves it.
"""

from __future__ import annotations

from service.fhir.fallback import SETTINGS, fetcher_for

__all__ = ["SETTINGS", "fetcher_for"]
