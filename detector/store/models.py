"""SQLAlchemy 2 models of the store. The schema itself is created by the Alembic migrations in
`detector/store/migrations/versions`; these classes must match them (a test checks it).

Times are stored as UTC (`UTCDateTime` hands back timezone-aware datetimes on every backend).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# the network tables (notices, inspection flags, hotlists, traffic statistics) and the API's shared
# rate-limit buckets (issue 19) share this metadata: imported here so `Base` holds the whole schema
from detector.store import network_models as _network_models  # noqa: F401
from detector.store import ratelimit_models as _ratelimit_models  # noqa: F401
from detector.store.orm import Base, BigId, UTCDateTime


class ViolationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class FineStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELLED = "cancelled"


class ForwardState(StrEnum):
    PENDING = "pending"
    FORWARDED = "forwarded"
    FAILED = "failed"


class CameraChain(Base):
    """Head of each camera's hash chain as known to this store."""

    __tablename__ = "camera_chain"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_manifest_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    key_id: Mapped[str | None] = mapped_column(String(16))


class SigningKey(Base):
    """Key registry: a key may sign bundles only of its cameras, within its window, unless revoked."""

    __tablename__ = "signing_keys"
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key_b64: Mapped[str] = mapped_column(String(64), nullable=False)
    cameras_json: Mapped[str] = mapped_column(Text, nullable=False)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    added_by: Mapped[str] = mapped_column(String(100), nullable=False)


class ViolationRow(Base):
    __tablename__ = "violations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    camera_id: Mapped[str] = mapped_column(String(64), nullable=False)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    manifest_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    violation_type: Mapped[str] = mapped_column(String(32), nullable=False)
    vehicle_class: Mapped[str] = mapped_column(String(32), nullable=False)
    plate_text: Mapped[str | None] = mapped_column(String(32))
    plate_normalized: Mapped[str | None] = mapped_column(String(32))
    plate_colour: Mapped[str | None] = mapped_column(String(32))
    plate_confidence: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    location: Mapped[str] = mapped_column(Text, nullable=False, default="")
    detecting_unit: Mapped[str] = mapped_column(Text, nullable=False, default="")
    measured_json: Mapped[str] = mapped_column(Text, nullable=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    review_hints_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    bundle_dir: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ViolationStatus.PENDING.value)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_violations_plate_normalized", "plate_normalized"),
        Index("ix_violations_camera_sequence", "camera_id", "sequence"),
        Index("ix_violations_status", "status"),
    )


class EvidenceFile(Base):
    """A file of an accepted bundle: only these names can be served."""

    __tablename__ = "evidence_files"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    __table_args__ = (UniqueConstraint("violation_id", "name", name="uq_evidence_files_violation_name"),)


class Fine(Base):
    """A fine and the notice fields a Vietnamese "thông báo vi phạm" carries."""

    __tablename__ = "fines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), nullable=False, unique=True)
    notice_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    plate_text: Mapped[str] = mapped_column(String(32), nullable=False)
    plate_normalized: Mapped[str] = mapped_column(String(32), nullable=False)
    plate_colour: Mapped[str | None] = mapped_column(String(32))
    vehicle_type: Mapped[str] = mapped_column(String(64), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    place: Mapped[str] = mapped_column(Text, nullable=False)
    violation_text: Mapped[str] = mapped_column(Text, nullable=False)
    legal_basis: Mapped[str] = mapped_column(Text, nullable=False)
    detecting_unit: Mapped[str] = mapped_column(Text, nullable=False)
    amount_min_vnd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_max_vnd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_due_vnd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=FineStatus.UNPAID.value)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (Index("ix_fines_plate_normalized", "plate_normalized"),)


class Payment(Base):
    """At most one payment per fine; an idempotency key names one payment for ever."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fine_id: Mapped[int] = mapped_column(ForeignKey("fines.id"), nullable=False, unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    amount_vnd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    receipt_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    paid_by: Mapped[str] = mapped_column(String(100), nullable=False)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AuditEntry(Base):
    """Append-only (database triggers reject UPDATE and DELETE)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(200), nullable=False)
    before_json: Mapped[str | None] = mapped_column(Text)
    after_json: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)


class QuarantineEntry(Base):
    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(200))
    camera_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message to publish, written in the violation's transaction; sent_at set after PUBACK."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)


class ForwardItem(Base):
    """Durable record of bundles to forward to the central store: a violation's or a section camera's
    passage (one of the two ids is set); forwarded in id order, which is each camera's chain order."""

    __tablename__ = "forward_queue"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("violations.id"), nullable=True, unique=True)
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passages.id"), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=ForwardState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remote_status: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_forward_queue_due", "state", "next_attempt_at"),)


class ApiToken(Base):
    """Bearer tokens: only the sha256 of the secret is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class CameraHeartbeat(Base):
    """One heartbeat of an edge box's camera (MQTT `<prefix>/<camera_id>/heartbeat`), kept for a while."""

    __tablename__ = "camera_heartbeats"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the edge box's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the store's clock
    frames: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fps: Mapped[float] = mapped_column(Float, nullable=False)
    dropped: Mapped[int] = mapped_column(BigInteger, nullable=False)
    queue_depth: Mapped[int] = mapped_column(Integer, nullable=False)
    latency_p95_ms: Mapped[float] = mapped_column(Float, nullable=False)
    disk_free_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    outbox_backlog: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payload_json: Mapped[str] = mapped_column(Text, nullable=False)  # every figure the box sent
    __table_args__ = (Index("ix_camera_heartbeats_camera_at", "camera_id", "received_at"),)


class CameraHealth(Base):
    """Each camera's current state: its retained MQTT status (online/offline) and last heartbeat."""

    __tablename__ = "camera_health"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # when the store learnt it
    last_heartbeat_id: Mapped[int | None] = mapped_column(BigInteger)
