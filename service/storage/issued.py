"""Recording the cards the service issues, so feedback can be tied to card topics.

Recording is never allowed to cost the clinician the cards: a failure is logged (without
patient data) and counted, and the hook answers as usual.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from service.cdshooks.cards import Card
from service.ops import metrics
from service.pipeline.hook import OrderCardRecord
from service.storage.database import Storage
from service.storage.models import issued_cards
from service.storage.patient_hash import context_hash, patient_hash
from service.storage.upsert import insert_many_or_ignore

log = logging.getLogger(__name__)

_failures = 0
_failures_lock = threading.Lock()
# After a failure, recording pauses this long, so an outage costs the hook one timeout.
RECORDING_BACKOFF_SECONDS = 5.0


def recording_failures() -> int:
    """Cards this process failed to record since it started (for logs and metrics)."""
    return _failures


def _count_failure() -> None:
    global _failures
    with _failures_lock:
        _failures += 1
    metrics.record_storage_failure("record_cards")


def record_issued_cards(
    store: Storage,
    cards: Iterable[Card],
    *,
    hook_instance: str,
    patient_id: str,
    issued_at: datetime,
    thresholds_version: str,
    fingerprints: Mapping[str, str] | None = None,
    test: bool = False,
    snoozed: Iterable[tuple[str, str] | tuple[str, str, str | None]] = (),
    hook: str | None = None,
    user_id: str | None = None,
    encounter_id: str | None = None,
    orders: Mapping[str, OrderCardRecord] | None = None,
    rules_version: str | None = None,
) -> bool:
    """Store one row per card; False (logged, counted) when that failed. Never raises.

    ``fingerprints``: topic -> fingerprint (service/pipeline/fingerprint.py); ``test``: a
    test patient's cards; ``snoozed``: (topic, fingerprint[, snooze key]) of each decision
    held back by a snooze, recorded with status ``snoozed`` so the outcomes view can count
    them. ``orders``: for order-time cards, card uuid -> the draft order it judged, its
    snooze key and fingerprint; their user and encounter are stored as salted hashes, like
    the patient. ``rules_version``: the rules version the cards were decided by (the hook
    layer passes service.pipeline.rules.RULES_VERSION), stored on every row, snoozed ones
    included: the outcomes chart marks when a version was first issued.
    """
    cards = list(cards)
    snoozed = list(snoozed)
    fingerprints = fingerprints or {}
    if not (cards or snoozed) or not store.record_cards:
        return True
    if time.monotonic() < store.recording_paused_until:
        for _ in cards:
            _count_failure()
        log.debug("card recording paused after a failure; %d card(s) not recorded", len(cards))
        return False
    try:
        salt = store.salt()
        orders = orders or {}
        user_hash = context_hash(salt, "user", user_id) if user_id and orders else None
        encounter_hash = (
            context_hash(salt, "encounter", encounter_id) if encounter_id and orders else None
        )
        common = {
            "hook_instance": hook_instance,
            "issued_at": issued_at,
            "thresholds_version": thresholds_version,
            "patient_hash": patient_hash(salt, patient_id),
            "test": test,
            "hook": hook,
            "rules_version": rules_version,
        }
        rows = []
        for card in cards:
            topic = str(card["source"]["topic"]["code"])
            order = orders.get(str(card["uuid"]))
            rows.append({
                **common,
                "card_uuid": str(card["uuid"]),
                "topic": topic,
                "fingerprint": order.fingerprint if order else fingerprints.get(topic),
                "status": "issued",
                "snooze_key": order.snooze_key if order else None,
                "user_hash": user_hash if order else None,
                "encounter_hash": encounter_hash if order else None,
                "draft_order_id": order.draft_order if order else None,
            })
        for topic, fingerprint, *key in snoozed:
            rows.append({
                **common,
                "card_uuid": str(uuid.uuid4()),
                "topic": topic,
                "fingerprint": fingerprint,
                "status": "snoozed",
                "snooze_key": key[0] if key else None,
                # one statement for every row: the same columns in each
                "user_hash": None,
                "encounter_hash": None,
                "draft_order_id": None,
            })
        # One transaction, one statement for all of the call's rows, committed before
        # the answer is sent (the snooze reads them); without waiting for an fsync on
        # SQLite (Storage.recording_engine, docs/storage.md "Durability").
        with store.recording_engine().begin() as connection:
            insert_many_or_ignore(connection, issued_cards, rows, "card_uuid")
    except Exception as exc:  # any failure: the clinician still gets the cards
        for _ in cards:
            _count_failure()
        store.recording_paused_until = time.monotonic() + RECORDING_BACKOFF_SECONDS
        log.warning(
            "could not record %d issued card(s), pausing recording for %.0f s: %s: %s",
            len(cards),
            RECORDING_BACKOFF_SECONDS,
            type(exc).__name__,
            _safe_reason(exc),
        )
        return False
    return True


def _safe_reason(exc: BaseException) -> str:
    # SQLAlchemy's message carries the bound parameters; the driver's does not.
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0][:200] if str(original) else type(original).__name__
