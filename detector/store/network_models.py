"""Tables of the network side (issue 18): the notice's life after a fine, the inspection-registry
stand-in, wanted-plate hotlists and their alerts, traffic statistics.

They share `detector.store.orm.Base` (`detector.store.models` imports this module, so the migration
test sees one metadata); the schema itself is created by migration 0004_network.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from detector.store.orm import Base, BigId, UTCDateTime


class NoticeState(StrEnum):
    """States of a notice ("thông báo vi phạm") from the fine to its closing (see notice_states.py)."""

    OPENED = "opened"
    OWNER_UNKNOWN = "owner_unknown"
    ROUTED = "routed"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    PUBLISHED = "published"
    FLAGGED = "flagged"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class NoticeRow(Base):
    """One case per fine: owner, the unit that handles it, its deadlines and where it stands."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fine_id: Mapped[int] = mapped_column(ForeignKey("fines.id"), nullable=False, unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    decision_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    payment_ref: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    plate_normalized: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_name: Mapped[str | None] = mapped_column(Text)
    owner_address: Mapped[str | None] = mapped_column(Text)
    owner_district: Mapped[str | None] = mapped_column(String(100))
    owner_province: Mapped[str | None] = mapped_column(String(100))
    unit_code: Mapped[str | None] = mapped_column(String(32))
    unit_name: Mapped[str | None] = mapped_column(Text)
    unit_address: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    notify_deadline: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_file: Mapped[str | None] = mapped_column(Text)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))
    publish_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        Index("ix_notices_state", "state"),
        Index("ix_notices_plate_normalized", "plate_normalized"),
    )


class InspectionFlag(Base):
    """Stand-in for the inspection registry (đăng kiểm): a vehicle with an unpaid notice is flagged."""

    __tablename__ = "inspection_flags"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plate_normalized: Mapped[str] = mapped_column(String(32), nullable=False)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), nullable=False, unique=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_inspection_flags_plate", "plate_normalized"),)


class HotlistEntry(Base):
    """A wanted plate (stolen, hit-and-run, wanted by a unit)."""

    __tablename__ = "hotlist"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plate_normalized: Mapped[str] = mapped_column(String(32), nullable=False)
    plate_text: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (Index("ix_hotlist_plate", "plate_normalized"),)


class HotlistAlert(Base):
    """A sighting of a hotlisted plate: camera, time, picture; exact or tolerant match."""

    __tablename__ = "hotlist_alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    hotlist_id: Mapped[int] = mapped_column(
        BigInteger, nullable=False
    )  # the centre's entry id (no FK: an edge
    # box's store holds alerts for a list it received as a file)
    wanted_plate: Mapped[str] = mapped_column(String(32), nullable=False)
    wanted_reason: Mapped[str] = mapped_column(String(32), nullable=False)
    camera_id: Mapped[str] = mapped_column(String(64), nullable=False)
    track_id: Mapped[int] = mapped_column(Integer, nullable=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    plate_read: Mapped[str] = mapped_column(String(32), nullable=False)
    match_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    match_detail: Mapped[str] = mapped_column(Text, nullable=False)
    picture: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TrafficStatRow(Base):
    """Traffic statistics of one camera, lane and class over one interval."""

    __tablename__ = "traffic_stats"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), nullable=False)
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    interval_s: Mapped[float] = mapped_column(Float, nullable=False)
    lane_id: Mapped[str] = mapped_column(String(64), nullable=False)
    vehicle_class: Mapped[str] = mapped_column(String(32), nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    speed_median_kmh: Mapped[float | None] = mapped_column(Float)
    speed_p85_kmh: Mapped[float | None] = mapped_column(Float)
    occupancy: Mapped[float | None] = mapped_column(Float)
    queue_max_m: Mapped[float | None] = mapped_column(Float)
    congestion: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (Index("ix_traffic_stats_camera_start", "camera_id", "interval_start"),)


class SectionViolationRow(Base):
    """An average-speed violation between two cameras: both passages' signed bundles by reference.
    `decision` is fine (plates matched surely) or review (any doubt); a reviewer decides either way."""

    __tablename__ = "section_violations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    section_id: Mapped[str] = mapped_column(String(64), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    entry_camera: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_event_id: Mapped[str] = mapped_column(String(200), nullable=False)
    entry_manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    entry_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    exit_camera: Mapped[str] = mapped_column(String(64), nullable=False)
    exit_event_id: Mapped[str] = mapped_column(String(200), nullable=False)
    exit_manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    exit_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    plate_normalized: Mapped[str | None] = mapped_column(String(32))
    vehicle_class: Mapped[str] = mapped_column(String(32), nullable=False)
    speed_kmh: Mapped[float] = mapped_column(Float, nullable=False)
    speed_low_kmh: Mapped[float] = mapped_column(Float, nullable=False)
    limit_kmh: Mapped[float] = mapped_column(Float, nullable=False)
    match_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    match_confidence: Mapped[float] = mapped_column(Float, nullable=False)
    reasons_json: Mapped[str] = mapped_column(Text, nullable=False)
    measured_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    violation_id: Mapped[int | None] = mapped_column(BigInteger)  # the stored violation it became
    __table_args__ = (
        UniqueConstraint("entry_event_id", "exit_event_id", name="uq_section_violations_pair"),
        Index("ix_section_violations_decision", "decision"),
    )


class PassageRow(Base):
    """A vehicle timed at a section camera's line: a signed, chained bundle of type `passage`
    (verified and chained at ingest like a violation's, kept out of the violations and review)."""

    __tablename__ = "passages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    camera_id: Mapped[str] = mapped_column(String(64), nullable=False)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    manifest_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    section_id: Mapped[str | None] = mapped_column(String(64))
    track_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    crossed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the camera's clock
    clock_uncertainty_s: Mapped[float] = mapped_column(Float, nullable=False)
    timing_uncertainty_s: Mapped[float] = mapped_column(Float, nullable=False)
    vehicle_class: Mapped[str] = mapped_column(String(32), nullable=False)
    plate_text: Mapped[str | None] = mapped_column(String(32))
    plate_normalized: Mapped[str | None] = mapped_column(String(32))
    candidates_json: Mapped[str] = mapped_column(Text, nullable=False)  # [[text, confidence], ...]
    location: Mapped[str] = mapped_column(Text, nullable=False)
    bundle_dir: Mapped[str] = mapped_column(String(200), nullable=False)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (Index("ix_passages_camera_crossed", "camera_id", "crossed_at"),)
