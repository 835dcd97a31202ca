"""The order-sign benchmark case (issue 15) runs and reports both medians; how fast
anything is, is not checked here (bench/order_sign.py reports it)."""

from __future__ import annotations

from bench.order_sign import DRAFTS, main, measure, order_sign_request
from bench.patients import make_patient


def test_the_order_sign_case_is_the_typical_patient_with_five_drafts() -> None:
    patient = make_patient("typical")
    request = order_sign_request(patient.request)
    assert request["hook"] == "order-sign" and len(DRAFTS) == 5
    assert request["prefetch"] == patient.request["prefetch"]
    assert len(request["context"]["draftOrders"]["entry"]) == 5


def test_a_short_run_answers_both_hooks_with_their_cards(capsys: object) -> None:
    result = measure(calls=3, warmup=1)
    assert result["errors"] == 0
    assert result["patient_view"]["n"] == result["order_sign"]["n"] == 3
    assert result["ratio"] is not None and result["target_ratio"] == 1.2
    assert result["topics"]["patient-view"] == sorted(make_patient("typical").expected_topics)
    assert result["topics"]["order-sign"] == [
        "order-beta-blocker", "order-ranitidine", "order-steroid-course", "order-trigger-drug"]
    assert main(["--calls", "2", "--warmup", "1", "--json"]) == 0
