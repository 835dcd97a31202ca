"""The ladder card: at most one of tier-1, tier-2, confirm-before-biologic, tier-3,
omalizumab-dose, tier-4, specialist-referral (docs/clinical-rules.md §3, §4, §6.3, §6.9, §6.12,
§6.24, §6.26).

- No ladder card when either medication key is unavailable (the current tier is then
  unknown) or with clonal disease on record (docs/clinical-rules.md §1).
- tier-1 when the current tier is 0, or tier 1 is not complete: then it is the only
  ladder card, even if a higher tier is refractory. Nothing beyond it on an unconfirmed
  diagnosis.
- Refractory on tier 1: tier-2 (a leukotriene modifier first, saying why, when LTE4 is
  elevated).
- Refractory on tier 2: tier-3 with objective mediator evidence, else
  confirm-before-biologic.
- Refractory on tier 3: without a tier-2 therapy on record, the tier-2 add-on card;
  else without evidence, confirm-before-biologic; else a known omalizumab dose below
  omalizumab_dose_mg_per_4_weeks gives omalizumab-dose (a child: specialist-referral);
  else a child, a pregnant patient or monoclonal MCAS gives specialist-referral; else
  tier-4 (an unknown dose: "check the dose first").
- Refractory on tier 4: specialist-referral.
With the systemic mastocytosis flag, confirm-before-biologic, tier-3, omalizumab-dose and
tier-4 open with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.episodes import Respiratory
from service.pipeline.rules.evidence import Evidence
from service.pipeline.rules.ladder import Position
from service.pipeline.rules.model import Decision, MediatorFinding, Note, day, note
from service.pipeline.rules.timeline import lookback_start
from service.thresholds.model import Thresholds

_LADDER_CLASSES = ("h1", "h2", "leukotriene", "cromolyn_oral", "omalizumab", "dupilumab")
_BIOLOGICS = ("omalizumab", "dupilumab")
_TIER2 = frozenset({"leukotriene", "cromolyn_oral"})
_MEDICATION_KEYS = ("medicationStatements", "medicationRequests")
_UNDATED = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LadderContext:
    confirmed: bool
    clonal: bool
    evidence: Evidence
    mediators: tuple[MediatorFinding, ...]  # non-tryptase findings
    child: bool
    pregnant: bool
    monoclonal: bool
    sm_flag: float | None
    breathing: Respiratory
    episode_notes: tuple[Note, ...]
    patient_notes: tuple[Note, ...]
    thresholds: Thresholds
    now: datetime


def _ladder_therapies(facts: Facts) -> tuple[Therapy, ...]:
    return tuple(t for t in facts.therapies if t.drug_class in _LADDER_CLASSES)


def therapy_notes(therapies: tuple[Therapy, ...]) -> list[Note]:
    notes: list[Note] = []
    for therapy in therapies:
        name = therapy.label or therapy.drug
        if therapy.as_needed and therapy.tier is not None:
            notes.append(note("therapy.as_needed", drug=name))
        if therapy.drug_class in _BIOLOGICS and therapy.indication:
            notes.append(note("therapy.indication", drug=name, indication=therapy.indication))
        if therapy.source == "MedicationRequest" and not therapy.supplied and therapy.tier:
            if not therapy.judged:
                notes.append(note("therapy.no_judged_course", drug=name,
                                  date=day(therapy.ordered_on)))
            elif therapy.tier >= 2:
                notes.append(note("therapy.start_is_order_date", drug=name,
                                  date=day(therapy.ordered_on)))
    return notes


def withheld(facts: Facts, classes: tuple[str, ...], thresholds: Thresholds,
             now: datetime) -> tuple[Therapy, ...]:
    """Records of these classes that must not be proposed again: active, on hold, or
    stopped within the lookback (docs/clinical-rules.md §2)."""
    since = lookback_start(now, thresholds.lookback_days)
    found = []
    for record in facts.records:
        if record.drug_class not in classes:
            continue
        if record.status in {"active", "on-hold"}:
            found.append(record)
        elif record.status == "stopped":
            when = record.ended or record.ordered_on
            if when is not None and when >= since:
                found.append(record)
    return tuple(found)


def omalizumab_dose(facts: Facts) -> float | None:
    """From the latest active omalizumab request (else statement) with a readable dose."""
    for source in ("MedicationRequest", "MedicationStatement"):
        dosed = [t for t in facts.therapies if t.drug_class == "omalizumab"
                 and t.source == source and t.dose_mg_per_4_weeks is not None]
        if dosed:
            latest = max(dosed, key=lambda t: (t.ordered_on is not None,
                                              t.ordered_on or _UNDATED))
            return latest.dose_mg_per_4_weeks
    return None


def drug_names(therapies: tuple[Therapy, ...]) -> str:
    """The drugs of these therapies, by their drugs.yaml name, once each: "a + b"."""
    return " + ".join(dict.fromkeys(t.drug for t in therapies))


def _tier1(facts: Facts, pos: Position, ctx: LadderContext) -> Decision:
    classes = {t.drug_class for t in facts.therapies if not t.as_needed}
    missing = [c for c in ("h1", "h2") if c not in classes]
    names = {"h1": "H1 antihistamine", "h2": "H2 antihistamine"}
    missing_text = ("H1 or H2 antihistamine" if len(missing) == 2
                    else " or ".join(names[c] for c in missing))
    if pos.current_tier == 0:
        reasons = [note("tier1.none")]
    else:
        reasons = [note("tier1.incomplete", missing=missing_text)]
        if pos.current_tier > 1:
            reasons.append(note("tier1.later_line_active",
                                drugs=drug_names(pos.tier_therapies)))
    therapies = _ladder_therapies(facts)
    return Decision(
        topic="tier-1",
        params={"missing": missing_text},
        therapies=therapies,
        suggestions=tuple(missing),
        notes=(*reasons, *ctx.patient_notes, *therapy_notes(therapies)),
        withheld=withheld(facts, tuple(missing), ctx.thresholds, ctx.now),
    )


def _window_notes(pos: Position, ctx: LadderContext, now_days: int) -> list[Note]:
    """How long the current therapy was tried and the attacks counted on it."""
    thresholds = ctx.thresholds
    tier = pos.current_tier
    onset = thresholds.response_onset_days[tier]
    assert pos.tier_start is not None
    counted_from = pos.tier_start + timedelta(days=onset)
    notes = [
        note("ladder.on_therapy", drugs=drug_names(pos.tier_therapies),
             date=day(pos.tier_start), days=now_days,
             trial_days=thresholds.min_trial_days[tier]),
        note("ladder.episodes_counted", count=len(pos.episodes), date=day(counted_from),
             onset_days=onset, lookback=thresholds.lookback_days,
             min=thresholds.min_anaphylaxis_episodes, recent=thresholds.recent_event_days),
    ]
    if tier == 1 and pos.respiratory:
        notes.append(note("ladder.respiratory_counted", count=len(pos.respiratory),
                          min=thresholds.min_respiratory_events))
    return notes


def _respiratory_notes(pos: Position, ctx: LadderContext) -> list[Note]:
    breathing = ctx.breathing
    since = lookback_start(ctx.now, ctx.thresholds.lookback_days)
    inside = [c for c in breathing.clusters if c.start >= since]
    notes: list[Note] = []
    if inside and not breathing.counts:
        notes.append(note("respiratory.not_counted_airway", count=len(inside),
                          disease=breathing.airway_disease or "airway disease"))
    elif inside and pos.current_tier >= 2:
        notes.append(note("respiratory.not_counted_above_tier1", count=len(inside)))
    if breathing.dyspnoea:
        notes.append(note("respiratory.dyspnoea_listed", count=breathing.dyspnoea))
    return notes


def _escalation(
    facts: Facts, pos: Position, ctx: LadderContext, now_days: int
) -> Decision | None:
    tier = pos.current_tier
    thresholds = ctx.thresholds
    lead: list[Note] = []
    notes: list[Note] = []
    suggestions: tuple[str, ...] = ()
    evidence = ctx.evidence.found
    tier2_on_record = any(r.drug_class in _TIER2 for r in facts.records) or any(
        s.drug_class in _TIER2 for s in facts.supplies
    )
    if tier == 1:
        topic = "tier-2"
    elif tier == 2:
        topic = "tier-3" if evidence else "confirm-before-biologic"
    elif tier == 3:
        dose = omalizumab_dose(facts)
        if not tier2_on_record:
            topic = "tier-2"
            notes.append(note("ladder.tier2_not_on_record"))
        elif not evidence:
            topic = "confirm-before-biologic"
        elif dose is not None and dose < thresholds.omalizumab_dose_mg_per_4_weeks:
            topic = "specialist-referral" if ctx.child else "omalizumab-dose"
            notes.append(note("omalizumab.dose", dose=f"{dose:g}",
                              threshold=f"{thresholds.omalizumab_dose_mg_per_4_weeks:g}"))
            if ctx.child:
                notes.append(note("ladder.specialist_instead"))
        elif ctx.child or ctx.pregnant or ctx.monoclonal:
            topic = "specialist-referral"
            notes.append(note("ladder.specialist_instead"))
            if dose is None:
                notes.append(note("omalizumab.dose_unknown"))
        else:
            topic = "tier-4"
            if dose is None:
                notes.append(note("omalizumab.dose_unknown"))
    else:
        topic = "specialist-referral"
        notes.append(note("ladder.last_step", drugs=drug_names(pos.tier_therapies)))
    if topic == "confirm-before-biologic":
        if "observations" in facts.unavailable:
            return None  # it would fire because results are absent (docs/clinical-rules.md §6.9)
        step = "a further biologic step" if tier == 3 else "a biologic step"
        notes[:0] = [note("evidence.none"), note("ladder.evidence_first", step=step)]
    if ctx.sm_flag is not None and topic in {
        "confirm-before-biologic", "tier-3", "omalizumab-dose", "tier-4"
    }:
        lead.append(note("tryptase.sm_flag", value=f"{ctx.sm_flag:g}"))
    reasons: list[Note] = []
    shown = tuple(m for m in ctx.mediators if m.elevated)
    if topic == "tier-2":
        suggestions = ("leukotriene", "cromolyn_oral")
        lte4 = [m for m in shown if m.result.analyte == "leukotriene_e4"]
        if lte4:
            reasons.append(note("ladder.lte4_first", finding=lte4[0].reason,
                                date=day(lte4[0].result.when)))
        prostaglandins = [m for m in shown if m.result.prostaglandin_marker]
        if prostaglandins:
            reasons.append(note("ladder.prostaglandin_elevated",
                                analyte=prostaglandins[0].result.display,
                                finding=prostaglandins[0].reason))
    onset_days = thresholds.response_onset_days[tier]
    early = [note("episode.before_response_onset", date=day(e.start), onset_days=onset_days)
             for e in pos.early]
    therapies = _ladder_therapies(facts)
    dose_now = omalizumab_dose(facts)
    return Decision(
        topic=topic,
        params={"drugs": drug_names(pos.tier_therapies), "days": str(now_days),
                "step": "a further biologic step" if tier == 3 else "a biologic",
                "dose": f"{dose_now:g}" if dose_now is not None else "",
                "target": f"{thresholds.omalizumab_dose_mg_per_4_weeks:g}"},
        therapies=therapies,
        episodes=tuple(e.cluster for e in pos.episodes),
        respiratory=pos.respiratory,
        mediators=tuple(ctx.evidence.decisive) or shown,
        suggestions=suggestions,
        lead=tuple(lead),
        notes=(*_window_notes(pos, ctx, now_days), *reasons, *ctx.patient_notes, *notes,
               *therapy_notes(therapies), *ctx.episode_notes,
               *early, *_respiratory_notes(pos, ctx)),
        withheld=withheld(facts, suggestions, thresholds, ctx.now),
    )


def ladder_decision(
    facts: Facts, pos: Position, ctx: LadderContext, now_days: int | None
) -> Decision | None:
    if any(key in facts.unavailable for key in _MEDICATION_KEYS) or ctx.clonal:
        return None
    if pos.current_tier == 0 or not pos.tier1_complete:
        return _tier1(facts, pos, ctx)
    if not ctx.confirmed or not pos.refractory or now_days is None:
        return None
    return _escalation(facts, pos, ctx, now_days)
