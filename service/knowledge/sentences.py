"""The sentences cards show beside the facts (cards/sentences.yaml), with their placeholders.

The rules decide *that* a sentence applies and fill its placeholders with facts (dates,
values, drug names, counts); ``cards/sentences.yaml`` decides its words. A sentence missing
from the file, or a placeholder not listed here, stops the service at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

SENTENCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Reading the record (docs/clinical-rules.md §2 "Reading a resource"): counts by kind.
        "reading.left_out": ("count", "kind"),
        "reading.undated": ("count", "kind"),
        "kind.Condition": (),
        "kind.Observation": (),
        "kind.MedicationStatement": (),
        "kind.MedicationRequest": (),
        "kind.MedicationAdministration": (),
        "kind.MedicationDispense": (),
        "kind.Medication": (),
        "kind.Patient": (),
        # Data that could not be had (6.9).
        "unavailable.conditions": (),
        "unavailable.observations": (),
        "unavailable.medicationStatements": (),
        "unavailable.medicationRequests": (),
        "unavailable.patient": (),
        # Patient facts (2).
        "patient.age_unknown": (),
        "patient.child": ("age",),
        "patient.pregnant": (),
        "patient.monoclonal": (),
        "clonal": ("code",),
        "unclear_product": ("name", "candidates"),
        # Therapies (2, 3).
        "therapy.as_needed": ("drug",),
        "therapy.indication": ("drug", "indication"),
        "therapy.no_judged_course": ("drug", "date"),
        "therapy.start_is_order_date": ("drug", "date"),
        "therapy.not_proposed_again": ("drug", "status", "date"),
        "omalizumab.dose": ("dose", "threshold"),
        "omalizumab.dose_unknown": (),
        "history.anaphylaxis": ("records",),
        "history.angioedema": ("records",),
        "history.undated": ("count",),
        # Episodes and respiratory events (2, 6.4, 6.21, 6.23).
        "episode.merged_follow_up": ("date", "first", "days"),
        "episode.merged_next_day": ("date", "first"),
        "episode.triggered": ("date", "trigger"),
        "episode.triggered_counted": ("date", "trigger"),
        "episode.suspected": ("date",),
        "episode.history_only": ("label",),
        "episode.follow_up_code": ("label", "date"),
        "episode.before_response_onset": ("date", "onset_days"),
        "episode.undated": ("label",),
        "respiratory.not_counted_airway": ("count", "disease"),
        "respiratory.dyspnoea_listed": ("count",),
        "respiratory.not_counted_above_tier1": ("count",),
        # Mediators and tryptase (2).
        "mediator.not_assessable": ("analyte", "date", "value", "unit"),
        "mediator.child_lab_range": (),
        "tryptase.acute": ("value", "date", "hours"),
        "tryptase.acute_unverified": ("value", "date"),
        "tryptase.baseline": ("value", "date"),
        "tryptase.unused_near_episode": ("value", "date"),
        "tryptase.unused_unit": ("value", "date", "unit"),
        "tryptase.unused_undated": ("value",),
        "tryptase.unused_no_pair": ("value", "date"),
        "tryptase.sm_flag": ("value",),
        "evidence.none": (),
        # Ladder (3): first line, the therapy tried and the attacks counted on it.
        "tier1.none": (),
        "tier1.incomplete": ("missing",),
        "tier1.later_line_active": ("drugs",),
        "ladder.on_therapy": ("drugs", "date", "days", "trial_days"),
        "ladder.episodes_counted": ("count", "date", "onset_days", "lookback", "min",
                                    "recent"),
        "ladder.respiratory_counted": ("count", "min"),
        "ladder.last_step": ("drugs",),
        "ladder.tier2_not_on_record": (),
        # Why the safety and quality cards fired (4).
        "epinephrine.none": (),
        "albuterol.events": ("count", "lookback"),
        "albuterol.none": (),
        "aspirin.active": ("date",),
        "aspirin.no_marker": (),
        "aspirin.marker_not_elevated": (),
        "steroid.active": ("date", "days", "max_days"),
        "ranitidine.active": ("date",),
        "biologic.active": ("drug", "date", "days", "low", "high"),
        "mediator.none_on_record": (),
        "mediator.none_objective": (),
        "mediator.elevated_not_timed": ("count",),
        "mediator.single_tryptase": ("count",),
        "ladder.lte4_first": ("finding", "date"),
        "ladder.prostaglandin_elevated": ("analyte", "finding"),
        # Ranitidine on the medication list: a card cannot change that record (5).
        "ranitidine.stop_in_text": (),
        "ladder.evidence_first": ("step",),
        "ladder.specialist_instead": (),
    }
)
