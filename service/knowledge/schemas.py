"""The shape of every ``cards/`` file, written as marshmallow schemas (the thresholds' style).

One schema per file: ``CodesSchema`` (codes.yaml), ``DrugsSchema`` (drugs.yaml),
``MediatorsSchema`` (mediators.yaml), ``ReferencesSchema`` (references.yaml),
``cards_schema`` (cards.yaml, built with the keys of references.yaml so a topic's links
name a known reference) and ``SentencesSchema`` (sentences.yaml). Unknown keys are
refused, except where a file names its own entries (condition sets, drugs, analytes,
references, form words...: ``_MapOf``). Types are strict: a YAML ``yes`` is no string
and ``1`` is no boolean. Checks between entries of one file (a drug's class, the drug
each proposable class suggests) are ``@validates_schema`` methods.

``load_file`` runs a schema and turns its messages into one ``KnowledgeError`` naming
the file and each field path (``drugs.ranitidine.suggest: ...``). The loader
(service/knowledge/loader.py) reads the YAML, loads it here, and builds the frozen model.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from service.cdshooks.validation_errors import error_pairs
from service.knowledge.drug_table import ALLOWED_SUGGESTIONS, matches
from service.knowledge.model import KnowledgeError
from service.knowledge.sentences import SENTENCES
from service.knowledge.topics import ORDER_TOPICS, TOPICS
from service.thresholds.model import ANALYTES_WITH_THRESHOLD

INDICATORS: tuple[str, ...] = ("info", "warning", "critical")
CODE_STATUSES: tuple[str, ...] = ("V1", "V2", "U")
FORMS: tuple[str, ...] = ("oral", "systemic", "autoinjector")
ANALYTE_RULES: tuple[str, ...] = ("tryptase_20_plus_2",)
# No {tier}: summaries are worded in drugs and facts, never in ladder tiers.
SUMMARY_PLACEHOLDERS = frozenset({"missing", "days", "drugs", "drug", "proposed",
                                  "proposed_options", "dose", "target", "step", "history",
                                  "lookback", "max_days"})
SUMMARY_MAX = 120
LABEL_MAX = 60  # a suggestion's label (docs/clinical-rules.md §5)
# What a card may propose besides drugs (cards/drafts.yaml).
DRAFT_KINDS: tuple[str, ...] = ("referral", "mediator_tests", "ranitidine_switch")
# Cards folded into the ladder card (docs/clinical-rules.md §4 "Fewer cards").
FOLDED_TOPICS: tuple[str, ...] = ("mediator-evidence", "biologic-review")


# Strict scalar fields -------------------------------------------------------------------


def _not_blank(text: str) -> None:
    if not text.strip():
        raise ValidationError("Must not be empty.")


def _text(**kwargs: Any) -> fields.String:
    """A non-empty string."""
    return fields.String(validate=_not_blank, **kwargs)


class _Bool(fields.Boolean):
    """true or false, nothing else (not 1, not "yes")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class _Int(fields.Integer):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number.")
        return super()._deserialize(value, attr, data, **kwargs)


class _Number(fields.Float):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Must be a number.")
        return super()._deserialize(value, attr, data, **kwargs)


def _texts(**kwargs: Any) -> fields.List[str]:
    return fields.List(_text(), **kwargs)


class _MapOf(fields.Field[dict[str, Any]]):
    """A mapping whose keys the file chooses (a drug, a condition set), each value ``inner``.

    Errors are keyed by the entry's own key, so the path reads ``drugs.cetirizine.class``.
    """

    def __init__(self, inner: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError("Must be a mapping.")
        loaded: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                errors[str(key)] = ["The key must be a name (a string)."]
                continue
            try:
                loaded[key] = self.inner.deserialize(item, key, value)
            except ValidationError as exc:
                errors[key] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _nested(schema: type[Schema] | Schema, **kwargs: Any) -> fields.Nested:
    return fields.Nested(schema, **kwargs)


# codes.yaml -----------------------------------------------------------------------------


class _SystemSchema(_Strict):
    uri = _text(required=True)
    oids = _texts()


class _Icd10Schema(_Strict):
    exact = _texts()
    prefix = _texts()
    unverified = _texts()  # U codes: kept out of matching until a site confirms them


class _SnomedSchema(_Strict):
    exact = _texts()
    unverified = _texts()


class _CodeSetSchema(_Strict):
    meaning = _text()
    icd10cm = _nested(_Icd10Schema)
    snomed = _nested(_SnomedSchema)


class _IndicationSchema(_CodeSetSchema):
    display = _text(required=True)


class CodesSchema(_Strict):
    systems = _MapOf(_nested(_SystemSchema), required=True)
    condition_sets = _MapOf(_nested(_CodeSetSchema), required=True)
    other_indications = _MapOf(_nested(_IndicationSchema))
    episode_seventh_characters = _texts(required=True)
    follow_up_seventh_characters = _texts(required=True)


# drugs.yaml -----------------------------------------------------------------------------


class _ClassSchema(_Strict):
    label = _text(required=True)
    tier = _Int(allow_none=True, validate=validate.Range(min=1, max=4))


class _CodeSchema(_Strict):
    code = _text(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CODE_STATUSES))
    site_confirmed = _Bool()
    display = _text()


class _CodingSchema(_Strict):
    system = _text(required=True)
    code = _text(required=True)
    display = _text()


class _DrugSchema(_Strict):
    drug_class = fields.String(required=True, data_key="class")
    requires_form = fields.String(allow_none=True, validate=validate.OneOf(FORMS))
    rxnorm = _nested(_CodeSchema, allow_none=True)
    atc = _text()  # documentation only; never matched
    names = _texts(required=True, validate=validate.Length(
        min=1, error="At least one name is needed."))
    products = fields.List(_nested(_CodeSchema))
    extra_codes = fields.List(_nested(_CodeSchema))
    suggest = _Bool()
    never_suggest = _Bool()
    suggest_text = _text()
    suggest_name = _text()
    # a site's verified dose-form coding; never a product code (that fixes a strength)
    suggest_form_coding = fields.List(_nested(_CodingSchema))


class DrugsSchema(_Strict):
    classes = _MapOf(_nested(_ClassSchema), required=True)
    form_words = _MapOf(_texts(), required=True)
    unclear_names = _MapOf(_text())
    drugs = _MapOf(_nested(_DrugSchema), required=True)

    @validates_schema
    def _drugs_hold_together(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, dict[str, list[str]]] = {}

        def refuse(key: str, field: str, message: str) -> None:
            errors.setdefault(key, {}).setdefault(field, []).append(message)

        classes, form_words = data["classes"], data["form_words"]
        for key, spec in data["drugs"].items():
            drug_class, form = spec["drug_class"], spec.get("requires_form")
            if drug_class not in classes:
                refuse(key, "class", f"unknown class {drug_class!r}")
            needed = "non_systemic" if form == "systemic" else form
            if needed is not None and needed not in form_words:
                refuse(key, "requires_form", f"form_words has no {needed!r}")
            products = {p["code"] for p in spec.get("products") or ()}
            for coding in spec.get("suggest_form_coding") or ():
                if coding["code"] in products:
                    refuse(key, "suggest_form_coding",
                           f"{coding['code']} is a product code (it fixes a strength): "
                           "only a dose-form concept may go here")
            if spec.get("suggest") and spec.get("never_suggest"):
                refuse(key, "suggest", "a never_suggest drug cannot be suggested")
            elif spec.get("suggest") and drug_class not in ALLOWED_SUGGESTIONS:
                refuse(key, "suggest", f"class {drug_class!r} is never proposed")
        if errors:
            raise ValidationError({"drugs": errors})
        missing: list[str] = []
        for drug_class in sorted(ALLOWED_SUGGESTIONS):
            key = _suggested(data["drugs"], drug_class)
            if key is None:
                missing.append(f"no drug of class {drug_class!r} has suggest: true")
                continue
            rxnorm = data["drugs"][key].get("rxnorm")
            if rxnorm is None or not matches(rxnorm):
                refuse(key, "rxnorm", "a suggested drug needs a V1/V2 RxNorm code")
        if missing or errors:
            raise ValidationError({"drugs": {**errors, "_schema": missing}})


def _suggested(drugs: Mapping[str, Mapping[str, Any]], drug_class: str) -> str | None:
    """The drug ``DrugTable.suggested_drug`` will propose for ``drug_class``."""
    for key, spec in drugs.items():
        if spec["drug_class"] == drug_class and spec.get("suggest") and not spec.get(
            "never_suggest"
        ):
            return key
    return None


# mediators.yaml -------------------------------------------------------------------------


class _AnalyteSchema(_Strict):
    display = _text(required=True)
    loinc = _texts(required=True, validate=validate.Length(min=1))
    unit = _text(allow_none=True)
    unit_spellings = _texts()
    conversions = _MapOf(_Number(validate=validate.Range(min=0, min_inclusive=False)))
    threshold = fields.String(validate=validate.OneOf(sorted(ANALYTES_WITH_THRESHOLD)))
    prostaglandin_marker = _Bool()
    rule = fields.String(validate=validate.OneOf(ANALYTE_RULES))
    interference = fields.String()
    unit_display = _text()  # the unit as cards write it for clinicians


class MediatorsSchema(_Strict):
    loinc_system = _text(required=True)
    analytes = _MapOf(_nested(_AnalyteSchema), required=True)


# references.yaml ------------------------------------------------------------------------


class _ReferenceSchema(_Strict):
    authority = _text()  # the card's source.label when a topic names this reference
    citation = _text(required=True)
    label = _text(required=True)
    url = _text(required=True)
    verified = _Bool()


class ReferencesSchema(_Strict):
    references = _MapOf(_nested(_ReferenceSchema), required=True)


# cards.yaml -----------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _summary(text: str) -> None:
    unknown = _placeholders(text) - SUMMARY_PLACEHOLDERS
    if not text or len(text) > SUMMARY_MAX or unknown:
        raise ValidationError(
            f"needs 1-{SUMMARY_MAX} characters and known placeholders "
            f"({', '.join(sorted(SUMMARY_PLACEHOLDERS))})"
        )


def _topic_schema(reference_keys: Iterable[str]) -> type[Schema]:
    known = sorted(reference_keys)
    reference = validate.OneOf(
        known, error="unknown reference {input!r} (references.yaml has: {choices})")
    attrs: dict[str, Any] = {
        "title": _text(required=True),
        "indicator": fields.String(required=True, validate=validate.OneOf(INDICATORS)),
        "summary": fields.String(required=True, validate=_summary),
        "evidence": _text(required=True),
        "source": fields.String(required=True, validate=reference),
        "detail": fields.String(),
        "fold_text": _text(),
        "covers": fields.List(fields.String(validate=validate.OneOf(FOLDED_TOPICS))),
        # The cross-reference: every link names an entry of references.yaml.
        "links": fields.List(fields.String(validate=reference)),
        "override_reasons": _texts(required=True, validate=validate.Length(min=1)),
        "suggestions": fields.List(fields.String(validate=validate.OneOf(
            sorted(ALLOWED_SUGGESTIONS),
            error="{input!r} is never proposed (only {choices})"))),
        "drafts": fields.List(fields.String(validate=validate.OneOf(DRAFT_KINDS))),
    }
    return type("TopicSchema", (_Strict,), attrs)


class _SourceSchema(_Strict):
    label = _text(required=True)
    url = _text(required=True)


class _OverrideReasonSchema(_Strict):
    display = _text(required=True)
    needs_proposal = _Bool()


class _EvidenceLevelSchema(_Strict):
    label = _text(required=True)
    meaning = _text(required=True)


def cards_schema(references: Mapping[str, Mapping[str, Any]]) -> Schema:
    """The schema of cards.yaml: every topic of ``TOPICS``, linking only to these references."""
    topic = _topic_schema(references)
    topics = type("TopicsSchema", (_Strict,), {
        name: _nested(topic, required=True) for name in TOPICS})

    def topics_hold_together(self: Schema, data: dict[str, Any], **_: Any) -> None:
        reasons, levels = data["override_reasons"], data["evidence_levels"]
        errors: dict[str, dict[str, list[str]]] = {}

        def refuse(name: str, field: str, message: str) -> None:
            errors.setdefault(name, {}).setdefault(field, []).append(message)

        for name, spec in data["topics"].items():
            proposes = bool(spec.get("suggestions") or spec.get("drafts"))
            for code in spec["override_reasons"]:
                if code not in reasons:
                    refuse(name, "override_reasons", f"unknown override reason {code!r}")
                elif reasons[code].get("needs_proposal") and not proposes:
                    refuse(name, "override_reasons",
                           f"{code!r} only on a card that proposes something")
            if spec["evidence"] not in levels:
                refuse(name, "evidence", f"unknown evidence level {spec['evidence']!r}")
            if not references.get(spec["source"], {}).get("authority"):
                refuse(name, "source", f"reference {spec['source']!r} has no authority")
            if "fold_text" in spec and name not in FOLDED_TOPICS:
                refuse(name, "fold_text", f"only {', '.join(FOLDED_TOPICS)} are folded")
        if errors:
            raise ValidationError({"topics": errors})

    attrs: dict[str, Any] = {
        "topic_system": _text(required=True),
        "override_reason_system": _text(required=True),
        "source": _nested(_SourceSchema),
        "override_reasons": _MapOf(_nested(_OverrideReasonSchema), required=True),
        "evidence_levels": _MapOf(_nested(_EvidenceLevelSchema), required=True),
        "reminder": _text(required=True),
        "topics": _nested(topics, required=True),
        "_hold_together": validates_schema(topics_hold_together),
    }
    schema: Schema = type("CardsSchema", (_Strict,), attrs)()
    return schema


# triggers.yaml --------------------------------------------------------------------------

TRIGGER_TOPICS: tuple[str, ...] = ("order-trigger-drug", "order-beta-blocker")


def _reference_list(known: list[str]) -> fields.List[str]:
    return fields.List(fields.String(validate=validate.OneOf(
        known, error="unknown reference {input!r} (references.yaml has: {choices})")))


def triggers_schema(reference_keys: Iterable[str]) -> Schema:
    """The schema of triggers.yaml: classes linking only to these references."""
    known = sorted(reference_keys)
    trigger_class = type("TriggerClassSchema", (_Strict,), {
        "label": _text(required=True),
        "topic": fields.String(required=True, validate=validate.OneOf(TRIGGER_TOPICS)),
        "effect": _text(required=True),
        "does": _text(required=True),
        "alternatives": _texts(),
        "links": _reference_list(known),
        "evidence": _text(required=True),  # a key of order_cards.yaml evidence_levels
        "skip_forms": _text(),
        "snooze": _Bool(required=True),
    })
    trigger = type("TriggerSchema", (_Strict,), {
        "trigger_class": fields.String(required=True, data_key="class"),
        "rxnorm": _nested(_CodeSchema, allow_none=True),
        "names": _texts(required=True, validate=validate.Length(
            min=1, error="At least one name is needed.")),
        "indicator": fields.String(validate=validate.OneOf(INDICATORS)),
    })

    def hold_together(self: Schema, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        for key, spec in data["classes"].items():
            form = spec.get("skip_forms")
            if form is not None and form not in data["form_words"]:
                errors.setdefault("classes", {})[key] = {
                    "skip_forms": [f"form_words has no {form!r}"]}
        for key, spec in data["drugs"].items():
            if spec["trigger_class"] not in data["classes"]:
                errors.setdefault("drugs", {})[key] = {
                    "class": [f"unknown class {spec['trigger_class']!r}"]}
        if errors:
            raise ValidationError(errors)

    attrs: dict[str, Any] = {
        "form_words": _MapOf(_texts(), required=True),
        "classes": _MapOf(_nested(trigger_class), required=True),
        "drugs": _MapOf(_nested(trigger), required=True),
        "_hold_together": validates_schema(hold_together),
    }
    schema: Schema = type("TriggersSchema", (_Strict,), attrs)()
    return schema


# order_cards.yaml -----------------------------------------------------------------------

ORDER_SUMMARY_PLACEHOLDERS = frozenset({"effect", "step", "days", "max_days"})
LADDER_STEPS: tuple[str, ...] = ("tier1_incomplete", "no_evidence", "no_omalizumab")


def _order_summary(text: str) -> None:
    unknown = _placeholders(text) - ORDER_SUMMARY_PLACEHOLDERS
    if not text or len(text) > SUMMARY_MAX or unknown:
        raise ValidationError(
            f"needs 1-{SUMMARY_MAX} characters and known placeholders "
            f"({', '.join(sorted(ORDER_SUMMARY_PLACEHOLDERS))})"
        )


def order_cards_schema(reference_keys: Iterable[str]) -> Schema:
    """The schema of order_cards.yaml: every topic of ``ORDER_TOPICS``.

    A trigger topic (its evidence, source and links come from triggers.yaml) may leave
    them out; the others must give them.
    """
    known = sorted(reference_keys)
    topic = type("OrderTopicSchema", (_Strict,), {
        "title": _text(required=True),
        "indicator": fields.String(required=True, validate=validate.OneOf(INDICATORS)),
        "summary": fields.String(required=True, validate=_order_summary),
        "detail": fields.String(),
        "evidence": _text(),
        "source": fields.String(validate=validate.OneOf(
            known, error="unknown reference {input!r} (references.yaml has: {choices})")),
        "links": _reference_list(known),
        "override_reasons": _texts(required=True, validate=validate.Length(min=1)),
    })
    topics = type("OrderTopicsSchema", (_Strict,), {
        name: _nested(topic, required=True) for name in ORDER_TOPICS})
    steps = type("LadderStepsSchema", (_Strict,), {
        name: _text(required=True) for name in LADDER_STEPS})

    def hold_together(self: Schema, data: dict[str, Any], **_: Any) -> None:
        codes = set(data["override_reasons"])
        errors: dict[str, Any] = {}
        for name, spec in data["topics"].items():
            problems: dict[str, list[str]] = {}
            unknown = [c for c in spec["override_reasons"] if c not in codes]
            if unknown:
                problems["override_reasons"] = [f"unknown override reason(s) {unknown}"]
            level = spec.get("evidence")
            if level is not None and level not in data["evidence_levels"]:
                problems["evidence"] = [f"unknown evidence level {level!r}"]
            if name not in TRIGGER_TOPICS:
                for needed in ("evidence", "source", "links"):
                    if not spec.get(needed):
                        problems[needed] = ["Required for a topic that is not a trigger topic."]
            if problems:
                errors[name] = problems
        if errors:
            raise ValidationError({"topics": errors})

    reason = type("OrderOverrideReasonSchema", (_Strict,), {"display": _text(required=True)})
    level = type("EvidenceLevelSchema", (_Strict,), {
        "label": _text(required=True), "meaning": _text(required=True)})
    attrs: dict[str, Any] = {
        "override_reasons": _MapOf(_nested(reason), required=True),
        "evidence_levels": _MapOf(_nested(level), required=True),
        "ladder_steps": _nested(steps, required=True),
        "topics": _nested(topics, required=True),
        "_hold_together": validates_schema(hold_together),
    }
    schema: Schema = type("OrderCardsSchema", (_Strict,), attrs)()
    return schema


# drafts.yaml ----------------------------------------------------------------------------


def _label(allowed: Iterable[str], room: int = 0) -> fields.String:
    """A suggestion label: at most LABEL_MAX characters, ``room`` kept for placeholders."""
    known = set(allowed)

    def check(text: str) -> None:
        _not_blank(text)
        unknown = _placeholders(text) - known
        if unknown:
            raise ValidationError(f"unknown placeholder(s) {sorted(unknown)}")
        if len(text) > LABEL_MAX - room:
            raise ValidationError(
                f"at most {LABEL_MAX - room} characters (labels are at most {LABEL_MAX} "
                "once filled in)")

    return fields.String(required=True, validate=check)


class _MedicationDraftSchema(_Strict):
    label = _label({"drug"}, room=20)
    description = _text(required=True)


class _ReferralSchema(_Strict):
    label = _label(())
    text = _text(required=True)
    coding = fields.List(_nested(_CodingSchema))
    reason = _text()


class _MediatorTestSchema(_Strict):
    loinc = _text(required=True)
    display = _text(required=True)
    timing = _text(required=True)
    patient_instruction = _text(required=True)


class _MediatorTestsSchema(_Strict):
    label = _label(())
    tests = fields.List(_nested(_MediatorTestSchema), required=True,
                        validate=validate.Length(min=1))


class _SwitchSchema(_Strict):
    label = _label({"drug"}, room=20)
    stop_description = _text(required=True)


def drafts_schema(loincs: Iterable[str]) -> Schema:
    """The schema of drafts.yaml; a mediator test must be a LOINC code of mediators.yaml."""
    known = frozenset(loincs)

    def known_tests(self: Schema, data: dict[str, Any], **_: Any) -> None:
        unknown = [t["loinc"] for t in data["mediator_tests"]["tests"] if t["loinc"] not in known]
        if unknown:
            raise ValidationError({"mediator_tests": {"tests": [
                f"LOINC {code} is not a code of mediators.yaml" for code in unknown]}})

    attrs: dict[str, Any] = {
        "medication": _nested(_MedicationDraftSchema, required=True),
        "referral": _nested(_ReferralSchema, required=True),
        "mediator_tests": _nested(_MediatorTestsSchema, required=True),
        "ranitidine_switch": _nested(_SwitchSchema, required=True),
        "_known_tests": validates_schema(known_tests),
    }
    schema: Schema = type("DraftsSchema", (_Strict,), attrs)()
    return schema


# sentences.yaml -------------------------------------------------------------------------


def _sentence(key: str, allowed: tuple[str, ...]) -> fields.String:
    def check(text: str) -> None:
        _not_blank(text)
        unknown = _placeholders(text) - set(allowed)
        if unknown:
            raise ValidationError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")

    return fields.String(required=True, validate=check, data_key=key)


def _field_name(key: str) -> str:
    # marshmallow stores a dotted field name as nested attributes: the file's key is the
    # data_key, the field a plain identifier.
    return key.replace(".", "__")


class _SentencesBase(_Strict):
    @post_load
    def _by_key(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {key: data[_field_name(key)] for key in SENTENCES}


# Every sentence of service/knowledge/sentences.py, with only the placeholders listed there.
SentencesSchema: type[Schema] = type("SentencesSchema", (_SentencesBase,), {
    _field_name(key): _sentence(key, allowed) for key, allowed in SENTENCES.items()
})


# snooze.yaml ----------------------------------------------------------------------------

# The kinds of facts a snooze fingerprint may name (service/pipeline/facts/model.py).
EVENT_KINDS: tuple[str, ...] = (
    "anaphylaxis", "anaphylaxis_follow_up", "anaphylaxis_history", "angioedema", "history",
    "respiratory", "trigger",
)
DIAGNOSIS_KINDS: tuple[str, ...] = (
    "mcas", "monoclonal_mcas", "clonal", "hereditary_alpha_tryptasemia", "airway_disease",
    "pregnancy", "steroid_replacement",
)


def _one_of(choices: Iterable[str], what: str) -> fields.List[str]:
    known = sorted(choices)
    return fields.List(fields.String(validate=validate.OneOf(
        known, error=f"unknown {what} {{input!r}} (known: {{choices}})")))


def snooze_schema(drug_classes: Iterable[str], analytes: Iterable[str]) -> Schema:
    """The schema of snooze.yaml: the decisive facts of every topic of ``TOPICS``, naming
    only event and diagnosis kinds the facts know, drug classes of drugs.yaml and
    analytes of mediators.yaml."""
    decisive = type("DecisiveSchema", (_Strict,), {
        "meaning": _text(),
        "events": _one_of(EVENT_KINDS, "event kind"),
        "diagnoses": _one_of(DIAGNOSIS_KINDS, "diagnosis kind"),
        "therapy_classes": _one_of(drug_classes, "drug class"),
        "active_therapies": _Bool(),
        "results": _one_of(analytes, "analyte"),
    })
    topics = type("SnoozeTopicsSchema", (_Strict,), {
        name: _nested(decisive, required=True) for name in TOPICS})
    schema: Schema = type("SnoozeSchema", (_Strict,), {
        "topics": _nested(topics, required=True)})()
    return schema


# Loading --------------------------------------------------------------------------------


def load_file(schema: Schema, data: Any, origin: str) -> dict[str, Any]:
    """``data`` loaded by ``schema``, or a ``KnowledgeError`` naming ``origin`` and each field."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        problems = sorted(
            f"{path}: {text}" if path else text for path, text in error_pairs(exc.messages)
        )
        raise KnowledgeError(f"{origin}: " + "; ".join(problems)) from None
    return loaded
