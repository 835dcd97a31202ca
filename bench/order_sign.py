"""The order-sign hook against patient-view, on the same patient (issue 15).

The typical benchmark patient (bench/patients.py: 40 resources) with 5 draft orders
(ibuprofen, metoprolol, a 30-day prednisone course, ranitidine, cetirizine), fired at
``mcas-order-safety-sign`` and, interleaved so both see the same machine load, the same
patient at ``mcas-therapy-tier`` (patient-view); each call under a new patient id, so the
card history each call reads is that of one patient, as in real traffic. In-process (the
app's test client, as the "hook in-process" column of the main benchmark), with card
recording on in a temporary
SQLite database, so the order-time card history read and the recording are in the cost.
Target: the order-sign median within 1.2 times the patient-view median.

    .venv/bin/python -m bench.order_sign                 # 300 calls of each
    .venv/bin/python -m bench.order_sign --calls 30 --json
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import tempfile
import time
import uuid
from typing import Any

from .patients import make_patient
from .stats import ratio as median_ratio
from .stats import summarize

PATIENT_VIEW = "/cds-services/mcas-therapy-tier"
ORDER_SIGN = "/cds-services/mcas-order-safety-sign"
TARGET_RATIO = 1.2
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# (id, text, RxNorm ingredient code of the project's knowledge, extra members)
DRAFTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("draft-ibuprofen", "ibuprofen 400 mg tablet", "5640", {}),
    ("draft-metoprolol", "metoprolol tartrate 25 mg tablet", "6918", {}),
    ("draft-prednisone", "prednisone 20 mg tablet", "8640", {"dispenseRequest": {
        "expectedSupplyDuration": {"value": 30, "unit": "days",
                                   "system": "http://unitsofmeasure.org", "code": "d"}}}),
    ("draft-ranitidine", "ranitidine 150 mg tablet", "9143", {}),
    ("draft-cetirizine", "cetirizine 10 mg tablet", "20610", {}),
)


def order_sign_request(patient_view: dict[str, Any]) -> dict[str, Any]:
    """The patient-view request of the same patient sent as order-sign with 5 drafts."""
    request = copy.deepcopy(patient_view)
    patient = request["context"]["patientId"]
    entries = []
    for rid, text, code, extra in DRAFTS:
        entries.append({"resource": {
            "resourceType": "MedicationRequest", "id": rid, "status": "draft",
            "intent": "order", "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": {"text": text, "coding": [
                {"system": RXNORM, "code": code, "display": text.split()[0]}]},
            "dosageInstruction": [{"route": {"text": "oral"}}],
            **extra,
        }})
    request["hook"] = "order-sign"
    request["context"] = {
        "patientId": patient, "userId": "Practitioner/bench-1", "encounterId": "bench-enc",
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": entries},
    }
    return request


def _fresh(body: dict[str, Any], index: int) -> bytes:
    """The body for call ``index``: a new hookInstance and a new patient id, as real traffic
    brings (one patient's history does not grow by hundreds of cards a minute)."""
    old = body["context"]["patientId"]
    new = f"{old}-{index}"
    text = json.dumps({**body, "hookInstance": str(uuid.uuid4())}, separators=(",", ":"))
    text = text.replace(f'/{old}"', f'/{new}"')
    return text.replace(f'"patientId":"{old}"', f'"patientId":"{new}"').encode()


def _topics(response: Any) -> list[str]:
    return sorted(c["source"]["topic"]["code"] for c in response.get_json()["cards"])


def measure(calls: int, warmup: int = 20) -> dict[str, Any]:
    from service import create_app

    patient = make_patient("typical")
    view_body = patient.request
    sign_body = order_sign_request(view_body)
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app({"AUTH_DISABLED": True, "DATA_DIR": data_dir,
                          "PATIENT_HASH_SALT": "bench-salt-0123456789abcdef"})
        client = app.test_client()
        samples: dict[str, list[float]] = {"patient-view": [], "order-sign": []}
        topics: dict[str, list[str]] = {}
        errors = 0
        gc.freeze()
        for index in range(warmup + calls):
            for name, path, body in (("patient-view", PATIENT_VIEW, view_body),
                                     ("order-sign", ORDER_SIGN, sign_body)):
                payload = _fresh(body, index)
                started = time.perf_counter()
                response = client.post(path, data=payload,
                                       headers={"Content-Type": "application/json"})
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors += 1
                    continue
                topics.setdefault(name, _topics(response))
                if index >= warmup:
                    samples[name].append(elapsed)
        app.extensions["mcas_storage"].dispose()
    view, sign = summarize(samples["patient-view"]), summarize(samples["order-sign"])
    ratio = median_ratio(sign["median_ms"], view["median_ms"])
    return {
        "patient": patient.name,
        "resources": patient.resource_count,
        "drafts": len(DRAFTS),
        "calls": calls,
        "errors": errors,
        "patient_view": view,
        "order_sign": sign,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "met": ratio is not None and ratio <= TARGET_RATIO,
        "topics": topics,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = measure(args.calls, args.warmup)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if not result["errors"] else 1
    print(f"typical patient ({result['resources']} resources), {result['drafts']} draft "
          f"orders, {result['calls']} calls each, in-process, recording on")
    for name in ("patient_view", "order_sign"):
        stats = result[name]
        print(f"  {name:13} median {stats['median_ms']:7.2f} ms   "
              f"p99 {stats['p99_ms']:7.2f} ms")
    verdict = "met" if result["met"] else "MISSED"
    print(f"  order-sign / patient-view median: {result['ratio']:.2f} "
          f"(target <= {TARGET_RATIO}: {verdict})")
    print(f"  cards: {result['topics']}")
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
