"""The ladder card: at most one of tier-1, tier-2, tier-3, tier-4, specialist-referral.

docs/clinical-rules.md §4 (ladder), §6.3, §6.9, §1:
- tier-1 when the current tier is 0, or tier 1 is not complete (whatever the current
  tier): it is then the only ladder card, even if a higher tier is refractory.
- tier-2 when tier 1 is complete, the current tier is 1 and it is refractory (a
  leukotriene modifier first, saying why, when leukotriene E4 is elevated);
  tier-3 / tier-4 / specialist-referral when the current tier 2 / 3 / 4 is refractory.
- No ladder card when either medication key is unavailable (the current tier is then
  unknown), and only tier-1 on an unconfirmed diagnosis.
"""

from __future__ import annotations

from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.ladder import Position
from service.pipeline.rules.model import Decision, MediatorFinding, day

_NEXT = {1: "tier-2", 2: "tier-3", 3: "tier-4", 4: "specialist-referral"}
_LADDER_CLASSES = ("h1", "h2", "leukotriene", "cromolyn_oral", "omalizumab", "dupilumab")


def _ladder_therapies(facts: Facts) -> tuple[Therapy, ...]:
    return tuple(t for t in facts.therapies if t.drug_class in _LADDER_CLASSES)


def _tier1(facts: Facts, pos: Position) -> Decision:
    classes = {t.drug_class for t in facts.therapies}
    missing = [c for c in ("h1", "h2") if c not in classes]
    names = {"h1": "H1 antihistamine", "h2": "H2 antihistamine"}
    missing_text = " and ".join(names[c] for c in missing)
    if pos.current_tier == 0:
        reason = ("No active first-line (H1 or H2 antihistamine) or higher-tier therapy "
                  "is on record.")
    else:
        reason = (f"Tier 1 is not complete: no active {missing_text} is on record"
                  + (f", although a tier-{pos.current_tier} therapy is active."
                     if pos.current_tier > 1 else "."))
    return Decision(
        topic="tier-1",
        params={"missing": missing_text},
        reasons=(reason,),
        therapies=_ladder_therapies(facts),
        suggestions=tuple(missing),
    )


def _escalation(
    facts: Facts, pos: Position, now_days: int, mediators: tuple[MediatorFinding, ...],
    thresholds_min: tuple[int, int, int],
) -> Decision:
    topic = _NEXT[pos.current_tier]
    min_days, min_episodes, min_respiratory = thresholds_min
    reasons = [
        f"Tier {pos.current_tier} since {day(pos.tier_start)}: {now_days} days "
        f"(trial of at least {min_days} days met).",
        f"Since then, inside the lookback: {len(pos.episodes)} anaphylaxis episode(s) "
        f"(refractory from {min_episodes}) and {len(pos.respiratory)} respiratory event(s) "
        f"(refractory from {min_respiratory}).",
    ]
    suggestions: tuple[str, ...] = ()
    shown = tuple(m for m in mediators if m.elevated)
    if topic == "tier-2":
        lte4 = [m for m in shown if m.result.analyte == "leukotriene_e4"]
        suggestions = ("leukotriene", "cromolyn_oral")
        if lte4:
            reasons.append(
                f"Leukotriene E4 is elevated ({lte4[0].reason}, {day(lte4[0].result.when)}): "
                "a leukotriene modifier is proposed first."
            )
        prostaglandins = [m for m in shown if m.result.prostaglandin_marker]
        if prostaglandins:
            reasons.append(
                f"A prostaglandin marker is elevated ({prostaglandins[0].result.display}: "
                f"{prostaglandins[0].reason}): aspirin may be considered, with caution "
                "(it can trigger degranulation)."
            )
    return Decision(
        topic=topic,
        params={"tier": str(pos.current_tier), "days": str(now_days)},
        reasons=tuple(reasons),
        therapies=_ladder_therapies(facts),
        episodes=pos.episodes,
        respiratory=pos.respiratory,
        mediators=shown,
        suggestions=suggestions,
    )


def ladder_decision(
    facts: Facts, pos: Position, *, confirmed: bool, now_days: int | None,
    mediators: tuple[MediatorFinding, ...], minimums: tuple[int, int, int],
) -> Decision | None:
    if any(key in facts.unavailable for key in ("medicationStatements", "medicationRequests")):
        return None
    if pos.current_tier == 0 or not pos.tier1_complete:
        return _tier1(facts, pos)
    if not confirmed or not pos.refractory or now_days is None:
        return None
    return _escalation(facts, pos, now_days, mediators, minimums)

