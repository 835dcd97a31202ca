"""The order-time core without HTTP (issue 15, docs/clinical-rules.md §7): what is
judged, the rules' edges, "not twice" and the order-time snooze through an in-memory
CardHistory, and the summary cut at a word boundary."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from service.cdshooks.envelope import load_hook_request
from service.errors import StorageUnavailable
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.hook import HookResult
from service.pipeline.orders import run_order_hook
from service.pipeline.orders.cards import order_summary
from service.pipeline.orders.not_twice import order_fingerprint
from service.pipeline.ports import PastCard
from service.thresholds.files import load_thresholds
from tests.support.orders import as_hook, order_request

KNOWLEDGE = load_knowledge(bundled_cards_dir())
THRESHOLDS = load_thresholds(bundled_cards_dir() / "thresholds.yaml")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
IBUPROFEN = "order-trigger-drug--fires--ibuprofen-at-order-sign"
USER = "Practitioner/example-prescriber"


class History:
    """An in-memory CardHistory: the cards given, or a failure."""

    def __init__(self, cards: Sequence[PastCard] = (), fail: bool = False) -> None:
        self.cards, self.fail = list(cards), fail
        self.asked: list[tuple[str, datetime, str | None]] = []

    def past_cards(self, patient_id: str, since: datetime, user_id: str | None = None
                   ) -> Sequence[PastCard]:
        self.asked.append((patient_id, since, user_id))
        if self.fail:
            raise StorageUnavailable("down")
        return [dataclasses.replace(c, same_user=c.same_user and user_id == USER)
                for c in self.cards if c.issued_at >= since]

    def answered_cards(self, patient_id: str, since: datetime, topics: Collection[str],
                       user_id: str | None = None) -> Sequence[PastCard]:
        return [c for c in self.past_cards(patient_id, since, user_id)
                if c.outcome is not None and c.topic in topics]


def with_snooze(days: int) -> Any:
    return dataclasses.replace(THRESHOLDS, snooze_days=MappingProxyType(
        {**THRESHOLDS.snooze_days, "order-trigger-drug": days}))


def run(request: dict[str, Any], history: History | None = None,
        snooze_days: int | None = None, thresholds: Any = THRESHOLDS,
        snooze: bool = True) -> HookResult:
    if snooze_days is not None:
        thresholds = with_snooze(snooze_days)
    return run_order_hook(load_hook_request(request, request["hook"]), knowledge=KNOWLEDGE,
                          thresholds=thresholds, now=NOW, history=history, snooze=snooze)


def topics(result: HookResult) -> list[str]:
    return result.topics


def past(topic: str = "order-trigger-drug", *, hook: str = "order-select",
         outcome: str | None = "overridden", minutes: float = 10, same_user: bool = True,
         draft: str = "MedicationRequest/draft-ibuprofen", code: str | None = None,
         item: str | None = "ibuprofen:oral") -> PastCard:
    at = NOW - timedelta(minutes=minutes)
    return PastCard("c-1", topic, at, outcome, at if outcome else None, code, hook=hook,
                    draft_order=draft, snooze_key=item, same_user=same_user,
                    fingerprint=order_fingerprint(topic, item))


# What is judged --------------------------------------------------------------------------


def test_order_select_judges_only_the_selected_drafts() -> None:
    request = order_request(IBUPROFEN, NOW)
    selected = as_hook(request, "order-select", ["MedicationRequest/draft-cetirizine"])
    assert topics(run(selected)) == []
    selected = as_hook(request, "order-select", ["MedicationRequest/draft-ibuprofen"])
    assert topics(run(selected)) == ["order-trigger-drug"]
    assert topics(run(request)) == ["order-trigger-drug"]


def test_the_record_of_an_order_card_names_its_draft_and_item() -> None:
    result = run(order_request(IBUPROFEN, NOW))
    [card] = result.cards
    record = result.orders[card["uuid"]]
    assert record.draft_order == "MedicationRequest/draft-ibuprofen"
    assert record.snooze_key == "ibuprofen:oral"
    assert record.fingerprint == order_fingerprint("order-trigger-drug", "ibuprofen:oral")


# Not twice (docs/clinical-rules.md §7) --------------------------------------------------


SIGN = order_request(IBUPROFEN, NOW)


@pytest.mark.parametrize(("card", "shown"), [
    (past(outcome="overridden"), False),
    (past(outcome="accepted"), False),
    (past(outcome=None), True),  # no answer: shown again
    (past(same_user=False), True),  # another user
    (past(minutes=61), True),  # outside order_dedupe_minutes = 60
    (past(minutes=59), False),
    (past(hook="order-sign"), True),  # only cards shown at order-select
    (past(draft="MedicationRequest/other"), True),
    (past(topic="order-aspirin"), True),
])
def test_a_card_answered_at_order_select_is_not_repeated_at_order_sign(
    card: PastCard, shown: bool
) -> None:
    result = run(SIGN, History([card]))
    assert (topics(result) == ["order-trigger-drug"]) is shown
    if not shown:
        assert result.deduplicated == ["order-trigger-drug"]


def test_at_order_select_nothing_is_deduplicated() -> None:
    select = as_hook(SIGN, "order-select", ["MedicationRequest/draft-ibuprofen"])
    assert topics(run(select, History([past()]))) == ["order-trigger-drug"]


def test_the_history_is_asked_for_this_patient_and_user_over_the_longest_window() -> None:
    history = History()
    run(SIGN, history, snooze_days=7)
    [(patient, since, user)] = history.asked
    assert patient == SIGN["context"]["patientId"] and user == USER
    assert since == NOW - timedelta(days=7)


def test_an_unreadable_history_shows_the_cards() -> None:
    result = run(SIGN, History(fail=True))
    assert topics(result) == ["order-trigger-drug"] and result.snooze_unavailable


# The order-time snooze (docs/clinical-rules.md §7) --------------------------------------


def tolerated(item: str = "ibuprofen:oral", days: float = 3, topic: str = "order-trigger-drug",
              draft: str = "MedicationRequest/old") -> PastCard:
    return past(topic, hook="order-sign", outcome="overridden", minutes=days * 1440,
                code="tolerated-before", item=item, draft=draft, same_user=False)


def test_tolerated_before_snoozes_the_same_ingredient_and_route() -> None:
    assert topics(run(SIGN, History([tolerated()]), snooze_days=7)) == []
    assert topics(run(SIGN, History([tolerated(days=8)]), snooze_days=7)) == [
        "order-trigger-drug"]
    assert topics(run(SIGN, History([tolerated("ibuprofen:intravenous")]), snooze_days=7)) == [
        "order-trigger-drug"]
    assert topics(run(SIGN, History([tolerated()]), snooze_days=0)) == ["order-trigger-drug"]
    other_reason = dataclasses.replace(tolerated(), override_code="benefit-outweighs-risk")
    assert topics(run(SIGN, History([other_reason]), snooze_days=7)) == ["order-trigger-drug"]
    cleared = dataclasses.replace(tolerated(), snooze_cleared_at=NOW - timedelta(hours=1))
    assert topics(run(SIGN, History([cleared]), snooze_days=7)) == ["order-trigger-drug"]


def test_the_snooze_is_the_thresholds_and_is_recorded_as_held_back() -> None:
    """snooze_days.order-trigger-drug (7 as shipped) decides; a snoozed decision is in
    ``snoozed`` with its ingredient and route, for recording and /metrics."""
    result = run(SIGN, History([tolerated(days=6)]))
    assert topics(result) == []
    [held] = result.snoozed
    assert (held.topic, held.snooze_key) == ("order-trigger-drug", "ibuprofen:oral")
    assert held.fingerprint == order_fingerprint("order-trigger-drug", "ibuprofen:oral")


def test_a_test_patient_is_not_snoozed_but_not_twice_still_applies() -> None:
    assert topics(run(SIGN, History([tolerated()]), snooze=False)) == ["order-trigger-drug"]
    assert topics(run(SIGN, History([past()]), snooze=False)) == []


def test_beta_blockers_neuromuscular_blockers_and_contrast_are_never_snoozed() -> None:
    beta = order_request("order-beta-blocker--fires--metoprolol-with-anaphylaxis-history", NOW)
    snooze = History([tolerated("metoprolol:oral", topic="order-beta-blocker")])
    assert topics(run(beta, snooze, snooze_days=7)) == ["order-beta-blocker"]
    for name, text in (("atracurium", "atracurium 50 mg injection"),
                       ("iohexol", "iohexol 350 mg iodine/mL injection")):
        request = copy.deepcopy(SIGN)
        draft = request["context"]["draftOrders"]["entry"][0]["resource"]
        draft["medicationCodeableConcept"] = {"text": text}
        draft["dosageInstruction"] = [{"route": {"text": "intravenous"}}]
        assert topics(run(request)) == ["order-trigger-drug"], name
        history = History([tolerated(f"{name}:intravenous")])
        assert topics(run(request, history, snooze_days=7)) == ["order-trigger-drug"], name


# Rules at their edges --------------------------------------------------------------------


def _with_draft(name: str, **changes: Any) -> dict[str, Any]:
    request = order_request(name, NOW)
    request["context"]["draftOrders"]["entry"][0]["resource"].update(changes)
    return request


STEROID = "order-steroid-course--fires--prednisone-30-day-course"


@pytest.mark.parametrize(("duration", "fires"), [
    ({"value": 14, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}, False),
    ({"value": 15, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}, True),
    ({"value": 3, "unit": "weeks", "system": "http://unitsofmeasure.org", "code": "wk"}, True),
    ({"value": 1, "unit": "month", "system": "http://unitsofmeasure.org", "code": "mo"}, True),
])
def test_steroid_course_exceeds_the_limit_strictly(duration: dict[str, Any], fires: bool) -> None:
    request = _with_draft(STEROID, dispenseRequest={"expectedSupplyDuration": duration})
    assert (topics(run(request)) == ["order-steroid-course"]) is fires


def test_steroid_bounds_duration_and_replacement_therapy() -> None:
    bounded = _with_draft(STEROID, dispenseRequest={}, dosageInstruction=[{"timing": {
        "repeat": {"boundsDuration": {"value": 21, "unit": "d", "system":
                                      "http://unitsofmeasure.org", "code": "d"}}}}])
    assert topics(run(bounded)) == ["order-steroid-course"]
    replacement = _with_draft(STEROID, reasonCode=[{"coding": [{
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E27.1"}]}])
    assert topics(run(replacement)) == []  # the draft's reason: adrenal insufficiency
    condition = copy.deepcopy(order_request(STEROID, NOW))
    conditions = condition["prefetch"]["conditions"]
    addison = copy.deepcopy(conditions["entry"][0])
    addison["resource"].update(id="addison", code={"coding": [{
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E27.1"}]})
    conditions["entry"].append(addison)
    conditions["total"] += 1
    assert topics(run(condition)) == []  # an active Condition: replacement therapy


def test_order_ladder_not_for_another_indication() -> None:
    request = _with_draft("order-ladder--fires--omalizumab-with-tier-1-incomplete", reasonCode=[
        {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.909"}]}])
    assert topics(run(request)) == []


def test_missing_data_holds_back_the_reasons_that_need_it() -> None:
    aspirin = order_request("order-aspirin--fires--aspirin-without-prostaglandin-marker", NOW)
    del aspirin["prefetch"]["observations"]
    aspirin.pop("fhirServer")
    assert topics(run(aspirin)) == []
    omalizumab = order_request("order-ladder--fires--omalizumab-with-tier-1-incomplete", NOW)
    del omalizumab["prefetch"]["medicationStatements"]
    omalizumab.pop("fhirServer")
    # the tier is unknown, but "no mediator evidence" still holds
    result = run(omalizumab)
    assert topics(result) == ["order-ladder"]
    assert "document mediator release" in result.cards[0]["summary"]
    assert "could not be retrieved" in result.cards[0]["detail"]


def test_a_card_type_switched_off_is_not_shown() -> None:
    off = dataclasses.replace(THRESHOLDS, cards_enabled={
        **THRESHOLDS.cards_enabled, "order-trigger-drug": False})
    assert topics(run(SIGN, thresholds=off)) == []


# The summary ------------------------------------------------------------------------------


def test_the_summary_keeps_the_order_words_and_cuts_them_at_a_word_boundary() -> None:
    message = "NSAIDs can trigger mast cell mediator release"
    assert order_summary("ibuprofen 400 mg tablet", message) == (
        "ibuprofen 400 mg tablet: NSAIDs can trigger mast cell mediator release")
    long_words = "ibuprofen 400 mg tablet " + "taken with food after breakfast " * 5
    summary = order_summary(long_words, message)
    assert len(summary) < 140 and summary.endswith(f"…: {message}")
    kept = summary.removesuffix(f"…: {message}")
    assert long_words.startswith(kept) and long_words[len(kept)] == " "
    assert len(order_summary("x" * 300, message)) < 140
