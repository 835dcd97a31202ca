"""Prefetch resolution: from the request's prefetch (or the FHIR fallback) to raw resources.

Per key: present (a Bundle or a single resource) is used; ``null`` is real absence (no
data, nothing to query); absent is fetched from ``fhirServer`` when a fetcher is given,
otherwise it is unavailable. An OperationOutcome in place of the data, or a Bundle with
an ``error``/``fatal`` OperationOutcome entry, counts as absent (CDS Hooks asks services to
check prefetched data for OperationOutcomes); warning-level outcome entries are ignored,
and an entry whose issues cannot be read counts as an error (it could be one).
A paged prefetch Bundle (one with a ``next`` link) is completed by the fetcher, which
follows the links only on an allowed server; without one the key is unavailable, since
its first page alone could make something look absent that is not.

Resources stay raw JSON here: the facts layer filters them by code before any model
validation, because most of a large record is never read by the rules.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from service.knowledge.model import Knowledge

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _templates(mediator_loincs: tuple[str, ...], loinc_system: str) -> Mapping[str, str]:
    codes = ",".join(f"{loinc_system}|{code}" for code in mediator_loincs)
    return MappingProxyType(
        {
            "patient": "Patient/{{context.patientId}}",
            "conditions": "Condition?patient={{context.patientId}}",
            "observations": "Observation?patient={{context.patientId}}&code=" + codes,
            "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
            "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active",
        }
    )


def prefetch_templates(knowledge: Knowledge) -> Mapping[str, str]:
    """The patient-view prefetch: what the rules read, as FHIR queries (published in discovery).

    Observations are filtered to the mediator tests of ``cards/mediators.yaml``.
    """
    return _templates(knowledge.mediator_loincs, knowledge.loinc_system)


# Outcome severities that leave the data usable; any other (error, fatal, unreadable) blocks.
_HARMLESS_SEVERITIES = {"warning", "information"}


@dataclass
class ResolvedPrefetch:
    # key -> raw resources; [] for `null` or an empty Bundle (real absence).
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # key -> why its data could not be had (safe to show: no token, no patient data).
    unavailable: dict[str, str] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.resources


class Unavailable(Exception):
    """A key's data could not be had; the message is safe to show to the caller."""


def _blocking_outcome(resource: Mapping[str, Any]) -> bool:
    issues = resource.get("issue")
    if not isinstance(issues, list):
        return True
    return any(
        not isinstance(issue, Mapping) or issue.get("severity") not in _HARMLESS_SEVERITIES
        for issue in issues
    )


def resources_of(data: Any) -> list[dict[str, Any]]:
    """The resources a prefetch value carries; raises Unavailable when it carries an error."""
    if data is None:
        return []
    if not isinstance(data, Mapping) or not isinstance(data.get("resourceType"), str):
        raise Unavailable("the data is not a FHIR resource or Bundle")
    kind = data["resourceType"]
    if kind == "OperationOutcome":
        raise Unavailable("the EHR sent an OperationOutcome instead of the data")
    if kind != "Bundle":
        return [dict(data)]
    entries = data.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise Unavailable("the Bundle's entry is not an array")
    found: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        if resource.get("resourceType") == "OperationOutcome":
            if _blocking_outcome(resource):
                raise Unavailable("the EHR's search returned an error OperationOutcome")
            continue
        found.append(resource)  # type: ignore[arg-type]
    return found


@dataclass(frozen=True)
class NextPages:
    """A prefetch Bundle with a ``next`` link: the fetcher returns it with all its pages."""

    bundle: Mapping[str, Any]


def _has_next_link(data: Any) -> bool:
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        return False
    links = data.get("link")
    return isinstance(links, list) and any(
        isinstance(link, Mapping) and link.get("relation") == "next" for link in links
    )


# A fetcher gets, for the keys the prefetch lacks, {key: query template} (or NextPages for
# a paged prefetch Bundle) and returns, per key, the raw FHIR JSON it obtained or an
# Unavailable explaining why not. One call per hook, so the fetcher can fetch the keys
# concurrently under one deadline.
Fetcher = Callable[[dict[str, "str | NextPages"]], Mapping[str, Any]]


def resolve_prefetch(
    prefetch: Mapping[str, Any],
    templates: Mapping[str, str],
    fetch_missing: Fetcher | None = None,
) -> ResolvedPrefetch:
    resolved = ResolvedPrefetch()
    missing: dict[str, str | NextPages] = {}
    for key, template in templates.items():
        if key not in prefetch:
            missing[key] = template
            continue
        if _has_next_link(prefetch[key]):
            missing[key] = NextPages(prefetch[key])
            continue
        try:
            resolved.resources[key] = resources_of(prefetch[key])
        except Unavailable as exc:
            log.warning("prefetch key unusable", extra={"prefetch_key": key, "reason": str(exc)})
            missing[key] = template
    if not missing:
        return resolved
    if fetch_missing is None:
        for key, item in missing.items():
            resolved.unavailable[key] = (
                "the prefetch Bundle is paged, and there is no FHIR server to fetch its other pages"
                if isinstance(item, NextPages)
                else "not in the prefetch, and no FHIR server to query"
            )
        return resolved
    fetched = fetch_missing(missing)
    for key in missing:
        if key not in fetched:
            resolved.unavailable[key] = "the FHIR fallback returned nothing for it"
            continue
        outcome = fetched[key]
        if isinstance(outcome, Unavailable):
            resolved.unavailable[key] = str(outcome)
            continue
        try:
            resolved.resources[key] = resources_of(outcome)
        except Unavailable as exc:
            resolved.unavailable[key] = str(exc)
    return resolved
