"""Hotlists in the store: wanted plates (added and withdrawn with an audit row), the file pushed to
edge boxes, and alerts: each alert is a row and an MQTT outbox message written in one transaction
(the outbox publisher sends it within its idle period, 1 s by default), and the SSE stream serves
the rows as they come."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from pathlib import Path

from pydantic import Field
from sqlalchemy import select

from detector.base import FrozenModel
from detector.fsutil import atomic_write_bytes
from detector.network.hotlist import REASONS, HotlistHit
from detector.platetext import normalize_plate
from detector.store import audit
from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest, NotFound
from detector.store.models import OutboxMessage
from detector.store.network_models import HotlistAlert, HotlistEntry

log = logging.getLogger(__name__)


class HotlistEntryView(FrozenModel):
    id: int = Field(description="Entry id")
    plate_normalized: str = Field(description="Wanted plate (key)")
    plate_text: str = Field(description="As written")
    reason: str = Field(description="stolen, hit_and_run, wanted")
    unit: str = Field(description="Unit that wants it")
    note: str = Field(description="Free text")
    active: bool = Field(description="Still wanted")
    added_at: datetime = Field(description="Since")


class HotlistAlertView(FrozenModel):
    id: int = Field(description="Alert id (SSE id)")
    alert_key: str = Field(description="camera:time:track:entry")
    hotlist_id: int = Field(description="Wanted-plate entry (the centre's id)")
    wanted_plate: str = Field(description="The wanted plate as listed")
    wanted_reason: str = Field(description="stolen, hit_and_run, wanted")
    camera_id: str = Field(description="Camera that saw it")
    track_id: int = Field(description="Passage (track) on that camera")
    seen_at: datetime = Field(description="Time of the frame (UTC)")
    plate_read: str = Field(description="What the reader read (top)")
    match_kind: str = Field(description="exact or tolerant")
    match_detail: str = Field(description="How it matched, e.g. one character misread")
    picture: str | None = Field(description="Picture of the sighting (path on the edge box)")
    created_at: datetime = Field(description="When the store recorded it")


def _view(cls, row):  # noqa: ANN001, ANN202
    return cls(**{n: getattr(row, n) for n in cls.model_fields})


class HotlistService:
    def __init__(self, db: Database, clock: Clock, topic_prefix: str = "detector/hotlist") -> None:
        self.db = db
        self.clock = clock
        self.topic_prefix = topic_prefix

    def add(self, plate: str, reason: str, unit: str, *, actor: str, note: str = "") -> HotlistEntryView:
        key = normalize_plate(plate)
        if not key:
            raise InvalidRequest(f"hotlist: plate {plate[:40]!r} has no letters or digits")
        if reason not in REASONS:
            raise InvalidRequest(f"hotlist: reason {reason!r} is not one of {', '.join(REASONS)}")
        if not unit.strip():
            raise InvalidRequest("hotlist: the unit that wants the vehicle is required")
        with self.db.write() as s:
            now = self.clock()
            e = HotlistEntry(
                plate_normalized=key,
                plate_text=plate.strip(),
                reason=reason,
                unit=unit.strip(),
                note=note.strip(),
                active=True,
                added_at=now,
            )
            s.add(e)
            s.flush()
            audit.record(
                s,
                at=now,
                actor=actor,
                action="hotlist_add",
                entity="hotlist",
                entity_id=e.id,
                before=None,
                after={"plate": key, "reason": reason, "unit": e.unit},
            )
            return _view(HotlistEntryView, e)

    def withdraw(self, entry_id: int, *, actor: str, reason: str) -> HotlistEntryView:
        with self.db.write() as s:
            e = s.get(HotlistEntry, entry_id)
            if e is None:
                raise NotFound(f"hotlist entry {entry_id} not found")
            now = self.clock()
            e.active = False
            audit.record(
                s,
                at=now,
                actor=actor,
                action="hotlist_withdraw",
                entity="hotlist",
                entity_id=e.id,
                before={"active": True},
                after={"active": False, "reason": reason},
            )
            return _view(HotlistEntryView, e)

    def active(self) -> list[HotlistEntryView]:
        with self.db.session() as s:
            q = select(HotlistEntry).where(HotlistEntry.active.is_(True)).order_by(HotlistEntry.id)
            return [_view(HotlistEntryView, e) for e in s.scalars(q)]

    def export_json(self) -> bytes:
        """The file edge boxes read; `version` is the highest entry id and the count."""
        with self.db.session() as s:
            rows = list(s.scalars(select(HotlistEntry).order_by(HotlistEntry.id)))
        live = [e for e in rows if e.active]
        # the version changes whenever an entry is added or withdrawn
        doc = {
            "version": max((e.id for e in rows), default=0) * 100_000 + len(live),
            "generated_at": self.clock().isoformat(),
            "entries": [
                {
                    "id": e.id,
                    "plate": e.plate_normalized,
                    "plate_text": e.plate_text,
                    "reason": e.reason,
                    "unit": e.unit,
                    "note": e.note,
                }
                for e in live
            ],
        }
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")

    def export(self, path: Path) -> Path:
        atomic_write_bytes(path, self.export_json(), mode=0o644)
        return path

    def raise_alert(self, hit: HotlistHit) -> None:
        """Store the alert and its MQTT message in one transaction (idempotent on the alert key)."""
        with self.db.write() as s:
            if s.scalars(select(HotlistAlert.id).where(HotlistAlert.alert_key == hit.alert_key)).first():
                return
            now = self.clock()
            a = HotlistAlert(
                alert_key=hit.alert_key,
                hotlist_id=hit.wanted.id,
                wanted_plate=hit.wanted.plate_text,
                wanted_reason=hit.wanted.reason,
                camera_id=hit.camera_id,
                track_id=hit.track_id,
                seen_at=hit.seen_at,
                plate_read=hit.plate_read,
                match_kind=hit.match.kind,
                match_detail=hit.match.detail,
                picture=hit.picture,
                created_at=now,
            )
            s.add(a)
            s.flush()
            view = _view(HotlistAlertView, a)
            payload = view.model_dump(mode="json") | {
                "wanted": {
                    "plate": hit.wanted.plate_text,
                    "reason": hit.wanted.reason,
                    "unit": hit.wanted.unit,
                },
                "message_id": uuid.uuid4().hex,
            }
            s.add(
                OutboxMessage(
                    message_id=payload["message_id"],
                    topic=f"{self.topic_prefix}/{hit.camera_id}",
                    payload=json.dumps(payload, ensure_ascii=False),
                    created_at=now,
                    attempts=0,
                )
            )
        log.warning(
            "HOTLIST %s (%s) seen by %s track %d at %s: %s",
            hit.wanted.plate_text,
            hit.wanted.reason,
            hit.camera_id,
            hit.track_id,
            hit.seen_at.isoformat(),
            hit.match.detail,
        )

    def alerts(self, after: int = 0, limit: int = 100) -> list[HotlistAlertView]:
        with self.db.session() as s:
            q = select(HotlistAlert).where(HotlistAlert.id > after).order_by(HotlistAlert.id).limit(limit)
            return [_view(HotlistAlertView, a) for a in s.scalars(q)]
