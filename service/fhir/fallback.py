"""The fetcher for one hook call: missing prefetch keys from the EHR's FHIR server.

Keys are fetched concurrently, each search following its Bundle's ``next`` links up to a
page cap, all under one deadline: when it passes, the keys still outstanding are
unavailable and the hook answers with what it has (cards or 412) in time. A page cap
reached, a ``next`` link off the server, an error: the key is unavailable, never
silently partial, because missing data must not read as absent data (docs/clinical-rules.md §6.9).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from service.fhir import tokens
from service.fhir.allowlist import Allowlist, normalise, parse_allowed, under
from service.fhir.client import NOT_FOUND, ClientSettings, Deadline, get_json
from service.ops import metrics
from service.pipeline.prefetch import NextPages, Unavailable
from service.settings import Setting, parse_list

log = logging.getLogger(__name__)


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _allowed_servers(raw: str) -> list[str]:
    entries = parse_list(raw)
    parse_allowed(entries)  # a bad entry stops start-up, naming the variable
    return entries


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FHIR_ALLOWED_SERVERS",
        None,
        _allowed_servers,
        "Comma-separated base URLs of the FHIR servers this service may query for prefetch "
        "data the EHR did not send (e.g. `https://ehr.example.org/fhir`). A request's "
        "`fhirServer` is queried, and receives the access token, only when it lies at or "
        "under one of them (same scheme, host and port; path prefix by whole segments). "
        "Empty: never query any server (missing required data then get 412).",
    ),
    Setting(
        "FHIR_DEADLINE",
        2.0,
        _positive_float,
        "Seconds the whole FHIR fallback of one hook call may take (all keys, all pages, "
        "retries). Keys not fetched by then are unavailable and the hook answers at once.",
    ),
    Setting(
        "FHIR_CONNECT_TIMEOUT",
        0.5,
        _positive_float,
        "Seconds to wait for a connection to the FHIR server (capped by the deadline).",
    ),
    Setting(
        "FHIR_READ_TIMEOUT",
        1.5,
        _positive_float,
        "Seconds to wait for the FHIR server's next bytes (capped by the deadline).",
    ),
    Setting(
        "FHIR_MAX_PAGES",
        10,
        _positive_int,
        "Most Bundle pages read for one prefetch key (following `next` links). A search "
        "with more pages is unavailable rather than silently cut short.",
    ),
    Setting(
        "FHIR_WORKERS",
        5,
        _positive_int,
        "Prefetch keys fetched at the same time for one hook call.",
    ),
    Setting(
        "FHIR_MAX_RESPONSE_BYTES",
        32 * 1024 * 1024,
        _positive_int,
        "Largest FHIR server answer read for one page, in bytes; a larger one makes the "
        "key unavailable.",
    ),
    Setting(
        "FHIR_CA_BUNDLE",
        None,
        str,
        "Path of a PEM file of CA certificates to verify the FHIR server's TLS certificate "
        "(for a private CA). Default: the system's trusted CAs.",
    ),
)


@dataclass(frozen=True)
class FallbackSettings:
    allowlist: Allowlist
    deadline: float
    max_pages: int
    workers: int
    client: ClientSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FallbackSettings:
        allowed = config.get("FHIR_ALLOWED_SERVERS") or []
        if isinstance(allowed, str):
            allowed = parse_list(allowed)
        return cls(
            allowlist=Allowlist(parse_allowed(allowed)),
            deadline=float(config.get("FHIR_DEADLINE", 2.0)),
            max_pages=int(config.get("FHIR_MAX_PAGES", 10)),
            workers=int(config.get("FHIR_WORKERS", 5)),
            client=ClientSettings(
                connect_timeout=float(config.get("FHIR_CONNECT_TIMEOUT", 0.5)),
                read_timeout=float(config.get("FHIR_READ_TIMEOUT", 1.5)),
                max_response_bytes=int(config.get("FHIR_MAX_RESPONSE_BYTES", 32 * 1024 * 1024)),
                verify=config.get("FHIR_CA_BUNDLE") or True,
            ),
        )


def _entries(bundle: Mapping[str, Any]) -> list[Any]:
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise Unavailable("a Bundle from the FHIR server has an entry that is not an array")
    return entries


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if links is None:
        return None
    if not isinstance(links, list):
        # Its next page could be in there: a partial list must not read as complete.
        raise Unavailable("a Bundle from the FHIR server has a link that is not an array")
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


class FhirFallback:
    """Fetches what a hook call's prefetch lacks from its (allowed) fhirServer."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        context: Mapping[str, Any],
        settings: FallbackSettings,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._context = context
        self._settings = settings

    def __call__(self, wanted: Mapping[str, str | NextPages]) -> dict[str, Any]:
        deadline = Deadline(self._settings.deadline)
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(wanted), self._settings.workers)),
            thread_name_prefix="fhir-fallback",
        )
        try:
            futures: dict[Future[Any], str] = {
                pool.submit(self._one, item, deadline): key for key, item in wanted.items()
            }
            done, _ = wait(futures, timeout=deadline.remaining())
        finally:
            # Stragglers end on their own timeouts (capped by the deadline); nobody waits.
            pool.shutdown(wait=False, cancel_futures=True)
        results: dict[str, Any] = {}
        for future, key in futures.items():
            if future not in done:
                results[key] = deadline.unavailable()
                continue
            exc = future.exception()
            if exc is None:
                results[key] = future.result()
            elif isinstance(exc, Unavailable):
                results[key] = exc
            else:
                raise exc
        for key, outcome in results.items():
            metrics.record_fallback(key, ok=not isinstance(outcome, Unavailable))
            if isinstance(outcome, Unavailable):
                log.warning(
                    "FHIR fallback: key unavailable",
                    extra={"prefetch_key": key, "reason": str(outcome)},
                )
        return results

    def _one(self, item: str | NextPages, deadline: Deadline) -> Any:
        if isinstance(item, NextPages):
            return self._with_medications(self._rest_of(item.bundle, deadline), deadline)
        relative = tokens.render(item, self._context)
        data = self._get(f"{self._base}/{relative}", deadline)
        if data is NOT_FOUND:
            if "?" not in relative:
                return None  # a read of a resource that does not exist: no data
            raise Unavailable("the FHIR server answered HTTP 404 to the search")
        if isinstance(data, Mapping) and data.get("resourceType") == "Bundle":
            return self._with_medications(self._rest_of(data, deadline), deadline)
        return data

    def _get(self, url: str, deadline: Deadline) -> Any:
        return get_json(url, token=self._token, settings=self._settings.client, deadline=deadline)

    def _rest_of(self, first: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
        """One Bundle holding the entries of ``first`` and of every page after it."""
        entries = list(_entries(first))
        page, pages, seen = first, 1, set()
        while (url := _next_link(page)) is not None:
            if not under(self._base, url):
                raise Unavailable("a Bundle 'next' link points off the allowed FHIR server")
            if url in seen:
                raise Unavailable("the FHIR server's Bundle 'next' links go round in a loop")
            if pages >= self._settings.max_pages:
                raise Unavailable(
                    f"the search result has more than {self._settings.max_pages} pages "
                    "(MCAS_FHIR_MAX_PAGES)"
                )
            seen.add(url)
            page = self._get(url, deadline)
            if not isinstance(page, Mapping) or page.get("resourceType") != "Bundle":
                raise Unavailable("a next page from the FHIR server is not a Bundle")
            entries.extend(_entries(page))
            pages += 1
        merged = {key: value for key, value in first.items() if key != "link"}
        merged["entry"] = entries
        return merged

    def _with_medications(self, bundle: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        """The Bundle plus the Medications its resources reference and it lacks.

        The prefetch templates cannot ``_include`` them, yet a MedicationStatement naming
        its drug only by ``medicationReference`` says nothing without its Medication: read
        each from the server, as an EHR's prefetch would include it.
        """
        entries = bundle["entry"]
        have = {
            resource.get("id")
            for resource in _resources(entries)
            if resource.get("resourceType") == "Medication"
        }
        wanted: list[str] = []
        for resource in _resources(entries):
            ident = self._medication_id(resource)
            if ident is not None and ident not in have and ident not in wanted:
                wanted.append(ident)
        for ident in wanted:
            medication = self._get(f"{self._base}/Medication/{quote(ident, safe='')}", deadline)
            if medication is NOT_FOUND:
                continue  # the drug stays unknown, as with a prefetch that lacks it
            if (
                not isinstance(medication, Mapping)
                or medication.get("resourceType") != "Medication"
            ):
                raise Unavailable("a Medication it references could not be read")
            entries.append({"resource": medication, "search": {"mode": "include"}})
        return bundle

    def _medication_id(self, resource: Mapping[str, Any]) -> str | None:
        reference = resource.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, Mapping) else None
        if not isinstance(target, str) or target.startswith("#"):
            return None  # contained, or not a literal reference
        segments: tuple[str, ...] = tuple(target.split("/"))
        if target.startswith(("http://", "https://")):
            base, absolute = normalise(self._base), normalise(target)
            if base is None or absolute is None or not base.contains(absolute):
                return None  # on another server: never followed
            segments = absolute.path[len(base.path) :]
        # Medication/id, or a version of it (Medication/id/_history/n).
        if len(segments) not in (2, 4) or segments[0] != "Medication" or not segments[1]:
            return None
        return segments[1]


def _resources(entries: list[Any]) -> list[Mapping[str, Any]]:
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping):
            found.append(resource)
    return found


class RefusingFetcher:
    """For a fhirServer that is not allowed: nothing is sent anywhere."""

    def __call__(self, wanted: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: Unavailable(
                "the request's fhirServer is not among the FHIR servers this service may "
                "query (MCAS_FHIR_ALLOWED_SERVERS)"
            )
            for key in wanted
        }


def fetcher_for(
    fhir_server: str | None,
    access_token: str | None,
    context: Mapping[str, Any],
    config: Mapping[str, Any],
) -> FhirFallback | RefusingFetcher | None:
    """The fetcher for one hook call, or None when the request names no fhirServer."""
    if not fhir_server:
        return None
    settings = FallbackSettings.from_config(config)
    if not settings.allowlist.allows_base(fhir_server):
        return RefusingFetcher()
    return FhirFallback(fhir_server, access_token, context, settings)
