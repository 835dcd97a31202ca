"""Synthetic patients for the benchmark: deterministic for a given seed and evaluation day.

Three sizes, each a complete CDS Hooks ``patient-view`` request with every prefetch key:

- ``typical``: about 40 resources, an MCAS patient on incomplete first line;
- ``heavy``: 1,000 Observations, 100 medications, 200 Conditions, as an EHR sends when it
  ignores the Observation code filter: mostly codes the rules never read, plus about 20
  mediator results and the patient's MCAS therapies, refractory on tier 1;
- ``extreme``: the heavy patient with 5,000 Observations.

Anything the rules read uses only codes from the project's clinical knowledge (ICD-10-CM
D89.42, T78.2XXA, Z87.892, R06.2; the mediator LOINC codes; RxNorm cetirizine 1014678,
famotidine 4278, epinephrine auto-injector 1870230). The noise (common laboratory and
vital-sign LOINC codes, everyday ICD-10-CM problems, everyday RxNorm ingredients) uses
real codes that no rule reads, so the service does the same work a real chart costs it.

Dates are relative to ``now`` so the same clinical picture holds on any day.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

PATIENT_NAMES = ("typical", "heavy", "extreme")
EHR_BASE = "https://ehr.example.org/fhir"

# Unread noise: (LOINC, display, UCUM unit, low, high, category). Common, real codes.
NOISE_OBSERVATIONS: tuple[tuple[str, str, str, float, float, str], ...] = (
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 16.0, "laboratory"),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0,
     "laboratory"),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400,
     "laboratory"),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99, "laboratory"),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.2, "laboratory"),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145, "laboratory"),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1,
     "laboratory"),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
     "U/L", 7, 56, "laboratory"),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
     "U/L", 10, 40, "laboratory"),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, "laboratory"),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 120, 200,
     "laboratory"),
    ("8867-4", "Heart rate", "/min", 60, 100, "vital-signs"),
    ("9279-1", "Respiratory rate", "/min", 12, 20, "vital-signs"),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.2, "vital-signs"),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 95, 100,
     "vital-signs"),
    ("29463-7", "Body weight", "kg", 55, 80, "vital-signs"),
)

# Unread noise problems: (ICD-10-CM, display). None in a family the rules read.
NOISE_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("I10", "Essential (primary) hypertension"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("J30.9", "Allergic rhinitis, unspecified"),
    ("E03.9", "Hypothyroidism, unspecified"),
    ("F41.1", "Generalized anxiety disorder"),
    ("F32.9", "Major depressive disorder, single episode, unspecified"),
    ("G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    ("K58.9", "Irritable bowel syndrome without diarrhea"),
    ("M79.7", "Fibromyalgia"),
    ("R51.9", "Headache, unspecified"),
    ("E55.9", "Vitamin D deficiency, unspecified"),
    ("L50.9", "Urticaria, unspecified"),
)

# Unread noise drugs: (RxNorm ingredient RxCUI, name). No drug the rules classify.
NOISE_DRUGS: tuple[tuple[str, str], ...] = (
    ("29046", "lisinopril"),
    ("6809", "metformin"),
    ("83367", "atorvastatin"),
    ("10582", "levothyroxine"),
    ("7646", "omeprazole"),
    ("17767", "amlodipine"),
    ("36437", "sertraline"),
    ("6918", "metoprolol"),
    ("5487", "hydrochlorothiazide"),
    ("25480", "gabapentin"),
    ("52175", "losartan"),
    ("161", "acetaminophen"),
    ("40790", "pantoprazole"),
    ("4493", "fluoxetine"),
)


@dataclass(frozen=True)
class Patient:
    name: str
    request: dict[str, Any]
    body: bytes
    expected_topics: frozenset[str]
    counts: dict[str, int]

    @property
    def resource_count(self) -> int:
        return sum(self.counts.values())


class _Builder:
    def __init__(self, name: str, seed: int, now: datetime) -> None:
        # str seeds hash deterministically in random.Random (not via hash()).
        self.rng = random.Random(f"{seed}:{name}")
        self.now = now
        self.patient_id = f"bench-{name}"
        self._serial = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def at(self, days_ago: float, hour: int = 9) -> str:
        moment = (self.now - timedelta(days=days_ago)).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.patient_id}"}

    # -- resources --------------------------------------------------------------------

    def patient(self) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "id": self.patient_id,
            "active": True,
            "name": [{"use": "official", "family": "Benchmark", "given": ["Synthetic"]}],
            "gender": "female",
            "birthDate": "1984-03-02",
        }

    def condition(
        self,
        code: str,
        display: str,
        onset_days_ago: float,
        *,
        clinical: str = "active",
        category: str = "problem-list-item",
    ) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": self.next_id("cond"),
            "meta": {"lastUpdated": self.at(max(onset_days_ago - 1, 0))},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": clinical}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": category}]}],
            "code": {
                "coding": [{"system": ICD10, "code": code, "display": display}],
                "text": display,
            },
            "subject": self.subject(),
            "onsetDateTime": self.at(onset_days_ago),
            "recordedDate": self.at(onset_days_ago),
        }

    def observation(
        self,
        code: str,
        display: str,
        value: float,
        unit: str,
        days_ago: float,
        *,
        category: str = "laboratory",
        low: float | None = None,
        high: float | None = None,
        hour: int = 9,
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": self.next_id("obs"),
            "meta": {"lastUpdated": self.at(days_ago, hour)},
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}],
                     "text": display},
            "subject": self.subject(),
            "effectiveDateTime": self.at(days_ago, hour),
            "issued": self.at(days_ago, min(hour + 3, 23)),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        if high is not None:
            limits: dict[str, Any] = {"high": {"value": high, "unit": unit, "system": UCUM,
                                               "code": unit}}
            if low is not None:
                limits["low"] = {"value": low, "unit": unit, "system": UCUM, "code": unit}
            resource["referenceRange"] = [limits]
            flag = "H" if value > high else ("L" if low is not None and value < low else "N")
            resource["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
        return resource

    def noise_observation(self) -> dict[str, Any]:
        code, display, unit, low, high, category = self.rng.choice(NOISE_OBSERVATIONS)
        spread = (high - low) * 0.15
        value = round(self.rng.uniform(low - spread, high + spread), 1)
        return self.observation(
            code, display, value, unit, self.rng.uniform(1, 1500),
            category=category, low=low, high=high, hour=self.rng.randint(7, 18),
        )

    def medication(
        self,
        kind: str,
        rxcui: str,
        text: str,
        start_days_ago: float,
        *,
        status: str = "active",
    ) -> dict[str, Any]:
        concept = {"coding": [{"system": RXNORM, "code": rxcui, "display": text}], "text": text}
        resource: dict[str, Any] = {
            "resourceType": kind,
            "id": self.next_id("ms" if kind == "MedicationStatement" else "mr"),
            "status": status,
            "medicationCodeableConcept": concept,
            "subject": self.subject(),
        }
        if kind == "MedicationStatement":
            resource["effectivePeriod"] = {"start": self.at(start_days_ago)}
            resource["dateAsserted"] = self.at(start_days_ago)
        else:
            resource["intent"] = "order"
            resource["authoredOn"] = self.at(start_days_ago)
            resource["dosageInstruction"] = [{"text": "as directed"}]
        return resource

    def noise_medication(self, kind: str) -> dict[str, Any]:
        rxcui, name = self.rng.choice(NOISE_DRUGS)
        # MedicationRequests are prefetched with status=active; statements vary.
        status = "active" if kind == "MedicationRequest" else self.rng.choice(
            ("active", "completed", "stopped")
        )
        return self.medication(kind, rxcui, name, self.rng.uniform(30, 2000), status=status)


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{EHR_BASE}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }


def _mcas_conditions(b: _Builder, *, refractory: bool) -> list[dict[str, Any]]:
    found = [
        b.condition("D89.42", "Idiopathic mast cell activation syndrome", 400),
        b.condition("Z87.892", "Personal history of anaphylaxis", 380),
    ]
    if refractory:
        # Three anaphylaxis episodes after tier 1 was complete, inside the lookback, plus
        # a follow-up encounter (7th character D, never a new episode) and a wheeze.
        for days in (100, 60, 20):
            found.append(b.condition("T78.2XXA", "Anaphylactic shock, unspecified, initial "
                                     "encounter", days, clinical="resolved",
                                     category="encounter-diagnosis"))
        found.append(b.condition("T78.2XXD", "Anaphylactic shock, unspecified, subsequent "
                                 "encounter", 55, clinical="resolved",
                                 category="encounter-diagnosis"))
        found.append(b.condition("R06.2", "Wheezing", 30, clinical="resolved",
                                 category="encounter-diagnosis"))
    else:
        found.append(b.condition("T78.2XXA", "Anaphylactic shock, unspecified, initial "
                                 "encounter", 250, clinical="resolved",
                                 category="encounter-diagnosis"))
    return found


def _mediators(b: _Builder, *, elevated: bool, count: int) -> list[dict[str, Any]]:
    """About ``count`` mediator results; with ``elevated`` the evidence is on record."""
    found: list[dict[str, Any]] = []
    tryptase = ("21582-2", "Tryptase [Mass/volume] in Serum or Plasma", "ng/mL")
    # Baselines well away from every episode; with ``elevated`` an acute value 3 hours
    # after the 60-days-ago episode crosses 1.2 x baseline + 2.
    for days in (300, 200, 150):
        found.append(b.observation(*tryptase[:2], round(b.rng.uniform(4.5, 5.5), 1),
                                   tryptase[2], days, low=0, high=11.4))
    if elevated:
        found.append(b.observation(*tryptase[:2], 14.2, tryptase[2], 60, low=0, high=11.4,
                                   hour=12))
    lte4 = ("33343-5", "Leukotriene E4 [Mass/mass] in Urine", "pg/mg{creat}")
    nmh = ("44340-8", "N-methylhistamine [Mass/time] in 24 hour Urine", "ug/g{creat}")
    pgf = ("94381-1", "2,3-dinor-11beta-prostaglandin F2alpha in 24 hour Urine",
           "pg/mg{creat}")
    hist = ("34316-0", "Histamine [Moles/volume] in Plasma", "nmol/L")
    normal = ((lte4, 40, 90, 104), (nmh, 80, 180, 200), (pgf, 600, 1500, 1802),
              (hist, 2, 6, 8))
    while len(found) < count - (1 if elevated else 0):
        (code, display, unit), lo, hi, limit = normal[len(found) % len(normal)]
        found.append(b.observation(code, display, round(b.rng.uniform(lo, hi), 1), unit,
                                   b.rng.uniform(5, 700), high=limit))
    if elevated:
        found.append(b.observation(lte4[0], lte4[1], 186.0, lte4[2], 59, high=104))
    return found


def _mcas_therapies(b: _Builder, *, complete: bool) -> list[dict[str, Any]]:
    found = [b.medication("MedicationStatement", "1014678", "cetirizine 10 MG Oral Tablet", 150)]
    if complete:
        found.append(b.medication("MedicationRequest", "4278", "famotidine", 140))
        found.append(b.medication("MedicationRequest", "1870230",
                                  "epinephrine 0.3 ML 1 MG/ML Auto-Injector", 380))
    return found


def _request(b: _Builder, conditions: list, observations: list, statements: list,
             requests: list) -> dict[str, Any]:
    return {
        "hookInstance": b.uuid(),
        "hook": "patient-view",
        "context": {"patientId": b.patient_id, "userId": "Practitioner/bench-1"},
        "prefetch": {
            "patient": b.patient(),
            "conditions": bundle(conditions),
            "observations": bundle(observations),
            "medicationStatements": bundle(statements),
            "medicationRequests": bundle(requests),
        },
    }


def _split_meds(meds: list[dict[str, Any]]) -> tuple[list, list]:
    statements = [m for m in meds if m["resourceType"] == "MedicationStatement"]
    requests = [m for m in meds if m["resourceType"] == "MedicationRequest"]
    return statements, requests


def _typical(b: _Builder) -> tuple[dict[str, Any], frozenset[str]]:
    # Incomplete first line (H1 only), anaphylaxis history without an auto-injector, and
    # only normal mediator results: tier-1 (with mediator-evidence folded into it) and
    # epinephrine-autoinjector.
    conditions = _mcas_conditions(b, refractory=False)
    conditions += [b.condition(*b.rng.choice(NOISE_CONDITIONS), b.rng.uniform(30, 3000))
                   for _ in range(6)]
    observations = _mediators(b, elevated=False, count=8)
    observations += [b.noise_observation() for _ in range(14)]
    meds = _mcas_therapies(b, complete=False)
    meds += [b.noise_medication(b.rng.choice(("MedicationStatement", "MedicationRequest")))
             for _ in range(7)]
    topics = frozenset({"tier-1", "epinephrine-autoinjector"})
    return _request(b, conditions, observations, *_split_meds(meds)), topics


def _large(b: _Builder, observation_count: int) -> tuple[dict[str, Any], frozenset[str]]:
    # Tier 1 complete and refractory (3 episodes after its start), LTE4 elevated, a wheeze
    # and no albuterol: tier-2 (leukotriene modifier first) and albuterol.
    conditions = _mcas_conditions(b, refractory=True)
    conditions += [b.condition(*b.rng.choice(NOISE_CONDITIONS), b.rng.uniform(1, 3000),
                               clinical=b.rng.choice(("active", "resolved", "inactive")),
                               category="encounter-diagnosis")
                   for _ in range(200 - len(conditions))]
    observations = _mediators(b, elevated=True, count=20)
    observations += [b.noise_observation() for _ in range(observation_count - len(observations))]
    meds = _mcas_therapies(b, complete=True)
    meds += [b.noise_medication(b.rng.choice(("MedicationStatement", "MedicationRequest")))
             for _ in range(100 - len(meds))]
    b.rng.shuffle(conditions)
    b.rng.shuffle(observations)
    b.rng.shuffle(meds)
    topics = frozenset({"tier-2", "albuterol"})
    return _request(b, conditions, observations, *_split_meds(meds)), topics


def make_patient(name: str, *, seed: int = 8, now: datetime | None = None) -> Patient:
    """One benchmark patient; the same ``seed`` and ``now`` give the same bytes."""
    if now is None:
        now = datetime.now(UTC)
    # The start of the day: the same bytes all day long, and every event in the past.
    now = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    builder = _Builder(name, seed, now)
    if name == "typical":
        request, topics = _typical(builder)
    elif name == "heavy":
        request, topics = _large(builder, 1000)
    elif name == "extreme":
        request, topics = _large(builder, 5000)
    else:
        raise ValueError(f"unknown patient {name!r}; choose from {', '.join(PATIENT_NAMES)}")
    prefetch = request["prefetch"]
    counts = {key: len(value.get("entry", ())) if value["resourceType"] == "Bundle" else 1
              for key, value in prefetch.items()}
    body = json.dumps(request, separators=(",", ":")).encode()
    return Patient(name, request, body, topics, counts)
