"""The tables. Changing them means a new Alembic revision in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite has no time zones; it stores the UTC wall time, which sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

issued_cards = Table(
    "issued_cards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("thresholds_version", String(64), nullable=True),
    # HMAC-SHA256 of the patient id, hex: lets analyses count patients, never name them.
    Column("patient_hash", String(64), nullable=False),
    # Snoozes (issue 14, docs/clinical-rules.md §8). What the facts behind the card were
    # (service/pipeline/fingerprint.py); NULL for cards recorded before 0005.
    Column("fingerprint", String(64), nullable=True),
    # A test patient's card (MCAS_TEST_PATIENT_PREFIX / _IDS): left out of the report.
    Column("test", Boolean, nullable=False, server_default=false()),
    # "issued": shown; "snoozed": held back by a snooze, recorded to be counted, never shown.
    Column("status", String(16), nullable=False, server_default="issued"),
    # What besides the topic a snooze is kept for (order-time: ingredient and route).
    Column("snooze_key", String(128), nullable=True),
    # Set when an administrator cleared the snooze this card's override made.
    Column("snooze_cleared_at", UTCDateTime(), nullable=True),
    # Migration 0006 (order time, issue 15): the hook the card was issued at; for
    # order-time cards the user and encounter (salted hashes, like the patient) and the
    # draft order judged ("MedicationRequest/<id>"); the trigger's ingredient and route
    # is the snooze_key above.
    Column("hook", String(32), nullable=True),
    Column("user_hash", String(64), nullable=True),
    Column("encounter_hash", String(64), nullable=True),
    Column("draft_order_id", String(160), nullable=True),
    # Migration 0009: the rules version of the card (service/pipeline/rules RULES_VERSION,
    # passed in by the hook layer); NULL for cards recorded before 0009 ("unknown").
    Column("rules_version", String(32), nullable=True),
    UniqueConstraint("card_uuid", name="uq_issued_cards_card_uuid"),
)
Index("ix_issued_cards_issued_at", issued_cards.c.issued_at)
# The outcomes report (migrations 0007, 0009): the period's cards by topic, service (hook),
# status, test flag and versions, their distinct patients, and a feedback item's card,
# each read from an index alone.
Index("ix_issued_cards_report", issued_cards.c.issued_at, issued_cards.c.topic,
      issued_cards.c.hook, issued_cards.c.status, issued_cards.c.test,
      issued_cards.c.thresholds_version, issued_cards.c.rules_version,
      issued_cards.c.patient_hash)
Index("ix_issued_cards_card_topic", issued_cards.c.card_uuid, issued_cards.c.topic,
      issued_cards.c.hook, issued_cards.c.thresholds_version, issued_cards.c.rules_version)
# The snooze read: one patient's cards of the last snooze_days (service/storage/history.py).
Index(
    "ix_issued_cards_patient_hash",
    issued_cards.c.patient_hash,
    issued_cards.c.topic,
    issued_cards.c.issued_at,
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 over (card, outcome, outcomeTimestamp, accepted suggestion ids): the same
    # item sent twice hits this unique key and is stored once.
    Column("item_key", String(64), nullable=False),
    Column("card_uuid", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_at", UTCDateTime(), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),
    Column("override_system", String(256), nullable=True),
    Column("override_code", String(128), nullable=True),
    Column("override_display", String(256), nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    # Feedback on a test patient's card (its issued card's flag; false when unknown).
    Column("test", Boolean, nullable=False, server_default=false()),
    # The card's patient hash, copied when the feedback arrives (migration 0008, issue 18):
    # the snooze read starts from a patient's answered cards, not from all their cards.
    # NULL for feedback on a card the service never recorded.
    Column("patient_hash", String(64), nullable=True),
    UniqueConstraint("item_key", name="uq_feedback_item_key"),
)
Index("ix_feedback_card_uuid", feedback.c.card_uuid)
Index("ix_feedback_outcome_at", feedback.c.outcome_at)
Index("ix_feedback_report", feedback.c.outcome_at, feedback.c.outcome, feedback.c.card_uuid)
Index("ix_feedback_patient_hash", feedback.c.patient_hash, feedback.c.card_uuid)
# 0009: feedback received after the roll-up's watermark (late feedback), and "the first
# item of this outcome the service received for the card" (service/storage/report.py).
Index("ix_feedback_received_at", feedback.c.received_at)
Index("ix_feedback_first", feedback.c.card_uuid, feedback.c.outcome, feedback.c.received_at,
      feedback.c.id)

# The outcomes report's daily roll-up (migration 0009, service/storage/rollup.py): counts
# per closed UTC day, written in batches; a batch is one transaction guarded by the single
# state row (compare-and-set on ``batch``), so two instances never count a day twice.
report_rollup_state = Table(
    "report_rollup_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("batch", Integer, nullable=False),
    # Cards issued before this (a UTC midnight) are rolled up ...
    Column("closed_until", UTCDateTime(), nullable=False),
    # ... and feedback received up to this on those days (the late-feedback watermark).
    Column("received_until", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
# One marker row per rolled-up day (its unique key: a day is rolled up once).
report_rollup_days = Table(
    "report_rollup_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("batch", Integer, nullable=False),
    Column("rolled_at", UTCDateTime(), nullable=False),
)


def _daily_split() -> list[Column[Any]]:
    """What the daily card and outcome counts are split by (fresh columns per table)."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("batch", Integer, nullable=False),
        Column("day", String(10), nullable=False),
        Column("week", String(10), nullable=False),  # the Monday of the day
        Column("topic", String(64), nullable=False),
        Column("service", String(16), nullable=False),
        Column("thresholds_version", String(64), nullable=False),
        Column("rules_version", String(32), nullable=False),
        Column("test", Boolean, nullable=False),
    ]


report_daily_cards = Table(
    "report_daily_cards",
    metadata,
    *_daily_split(),
    Column("status", String(16), nullable=False),
    Column("cards", Integer, nullable=False),
)
Index("ix_report_daily_cards_day", report_daily_cards.c.day, report_daily_cards.c.topic,
      report_daily_cards.c.batch)
# Cards counted per outcome, on the day of the first such feedback item received for them.
report_daily_outcomes = Table(
    "report_daily_outcomes",
    metadata,
    *_daily_split(),
    Column("outcome", String(16), nullable=False),
    Column("cards", Integer, nullable=False),
)
Index("ix_report_daily_outcomes_day", report_daily_outcomes.c.day,
      report_daily_outcomes.c.topic, report_daily_outcomes.c.batch)
# Feedback items per outcome day, topic, outcome and override reason; user comments counted.
report_daily_items = Table(
    "report_daily_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch", Integer, nullable=False),
    Column("day", String(10), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("override_system", String(256), nullable=True),
    Column("override_code", String(128), nullable=True),
    Column("override_display", String(256), nullable=True),
    Column("items", Integer, nullable=False),
    Column("comments", Integer, nullable=False),
)
Index("ix_report_daily_items_day", report_daily_items.c.day, report_daily_items.c.topic,
      report_daily_items.c.batch)
# Distinct patients per day, topic and service as a HyperLogLog sketch (mergeable).
report_daily_patients = Table(
    "report_daily_patients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch", Integer, nullable=False),
    Column("day", String(10), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("service", String(16), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("sketch", LargeBinary, nullable=False),
)
Index("ix_report_daily_patients_day", report_daily_patients.c.day,
      report_daily_patients.c.topic, report_daily_patients.c.batch)

# Versions of the administrator thresholds (issue 6). A version is never changed once
# written; the active pointer (one row) says which one the service uses. The id is the
# version number shown to administrators and stamped, with the content hash, on cards.
thresholds_versions = Table(
    "thresholds_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("content_hash", String(64), nullable=False),
    # The full validated values, JSON in the shape of thresholds.yaml.
    Column("values_json", Text, nullable=False),
    # [{"field": "min_trial_days.tier1", "old": 28, "new": 200}, ...] against the parent.
    Column("changes_json", Text, nullable=False),
    Column("author", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("parent_id", Integer, ForeignKey("thresholds_versions.id"), nullable=True),
    # "import" (the file's values, recorded by the first change), "apply" or "rollback".
    Column("action", String(16), nullable=False),
    Column("rollback_of", Integer, ForeignKey("thresholds_versions.id"), nullable=True),
)

Index("ix_thresholds_versions_created_at", thresholds_versions.c.created_at)

thresholds_active = Table(
    "thresholds_active",
    metadata,
    # Always 1: a single row, so "insert the first pointer" is a unique-key race.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version_id", Integer, ForeignKey("thresholds_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The timeline app (docs/timeline.md): OAuth state of launches under way, and sessions.
# Both expire and are purged; keys are HMACs of the browser's values under MCAS_SECRET_KEY
# (a database read yields no usable cookie or state), and the access token, the PKCE
# verifier and the patient id are encrypted with a key derived from it.
timeline_launches = Table(
    "timeline_launches",
    metadata,
    Column("state_key", String(64), primary_key=True),
    Column("browser_key", String(64), nullable=False),
    Column("iss", Text, nullable=False),
    Column("token_endpoint", Text, nullable=False),
    Column("secret_json", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
Index("ix_timeline_launches_expires_at", timeline_launches.c.expires_at)

timeline_sessions = Table(
    "timeline_sessions",
    metadata,
    Column("session_key", String(64), primary_key=True),
    Column("iss", Text, nullable=False),
    Column("secret_json", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
Index("ix_timeline_sessions_expires_at", timeline_sessions.c.expires_at)

# Seen JWT ids of every replica (issue 17, service/storage/replay_jti.py): one row per
# token claimed, keyed by a hash of issuer and jti, kept until the token expires. Times
# are POSIX seconds, as the token's own `exp`.
replay_jti = Table(
    "replay_jti",
    metadata,
    # sha256 hex of "<iss>\x1f<jti>": fixed length, whatever the client put in its jti.
    Column("key_hash", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
    # Set while the request that claimed it runs; NULL once it succeeded (used up).
    Column("pending_until", Float, nullable=True),
)
Index("ix_replay_jti_expires_at", replay_jti.c.expires_at)
