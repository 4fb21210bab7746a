"""Edge health in the store: each camera's MQTT status (online/offline) and its heartbeats.

An edge box (`detector run`, see `detector.telemetry.publisher`) publishes, per camera,

    <prefix>/<camera_id>/status      "online" / "offline", retained; the broker publishes "offline"
                                     itself (the box's last will) when the box dies
    <prefix>/<camera_id>/heartbeat   a `Heartbeat` (JSON) every few seconds, retained

`HeartbeatSubscriber` (run by `detector serve`) records both through `HeartbeatService`: a history of
heartbeats (pruned after `keep_days`) and the current state per camera, which the console's cameras
page, `/v1/cameras` and `/metrics` read. A camera whose last message is older than three of its
heartbeat intervals is shown as stale, whatever its status says.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, ValidationError
from sqlalchemy import delete, select

from detector.base import FrozenModel
from detector.store.db import Clock, Database
from detector.store.errors import InvalidRequest
from detector.store.models import CameraHealth, CameraHeartbeat

log = logging.getLogger(__name__)

STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
CameraStatus = Literal["online", "offline"]
_CAMERA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
STALE_INTERVALS = 3.0  # a camera silent for this many heartbeat intervals is stale


class Heartbeat(FrozenModel):
    """What an edge box reports about one camera every `interval_s` (the MQTT heartbeat payload)."""

    camera_id: str = Field(pattern=_CAMERA_ID.pattern, description="Camera the figures are of")
    at: datetime = Field(description="When the box measured them (its UTC clock)")
    interval_s: float = Field(gt=0, le=3600, description="Seconds until the next heartbeat")
    uptime_s: float = Field(ge=0, description="Seconds since the run started")
    frames: int = Field(ge=0, description="Frames processed since the run started")
    fps: float = Field(ge=0, description="Frames processed per second since the start")
    steady_fps: float = Field(default=0.0, ge=0, description="Frames per second after the first ten")
    dropped: int = Field(ge=0, description="Frames dropped by the capture queue (loop too slow)")
    queue_depth: int = Field(ge=0, description="Frames waiting in the capture queue now")
    evidence_pending: int = Field(default=0, ge=0, description="Violations waiting for their bundle")
    latency_p50_ms: float = Field(ge=0, description="Capture to decision, median, ms")
    latency_p95_ms: float = Field(ge=0, description="Capture to decision, 95th percentile, ms")
    disk_free_bytes: int = Field(ge=0, description="Free bytes where the run writes its evidence")
    outbox_backlog: int = Field(ge=0, description="Stored violations not yet published over MQTT")
    violations: int = Field(default=0, ge=0, description="Violations decided since the run started")
    bundles: int = Field(default=0, ge=0, description="Evidence bundles written since the run started")
    ingest_rejected: int = Field(default=0, ge=0, description="Bundles the embedded store rejected")


class CameraView(FrozenModel):
    """A camera as the console's cameras page shows it."""

    camera_id: str
    status: CameraStatus = Field(description="The box's retained MQTT status")
    status_at: datetime = Field(description="When the store learnt that status")
    stale: bool = Field(description="No message for three heartbeat intervals: the figures are old")
    last_heartbeat_at: datetime | None = Field(description="The last heartbeat's time (box clock)")
    received_at: datetime | None = Field(description="When the store received it")
    heartbeat: Heartbeat | None = Field(description="The last heartbeat's figures")


def parse_heartbeat(payload: bytes, camera_id: str) -> Heartbeat:
    """A heartbeat payload, checked against the camera its topic names."""
    try:
        hb = Heartbeat.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "<root>"
        raise InvalidRequest(f"heartbeat of {camera_id}: {where}: {first['msg']}") from exc
    if hb.camera_id != camera_id:
        raise InvalidRequest(f"heartbeat on the topic of {camera_id} names camera {hb.camera_id}")
    return hb


class HeartbeatService:
    def __init__(self, db: Database, clock: Clock, keep_days: float = 7.0) -> None:
        self.db = db
        self.clock = clock
        self.keep = timedelta(days=keep_days)

    def record_status(self, camera_id: str, status: str) -> None:
        if not _CAMERA_ID.match(camera_id):
            raise InvalidRequest(f"status: camera id {camera_id[:70]!r} is not valid")
        if status not in (STATUS_ONLINE, STATUS_OFFLINE):
            raise InvalidRequest(f"status of {camera_id}: expected online or offline, got {status[:20]!r}")
        now = self.clock()
        with self.db.write() as s:
            row = s.get(CameraHealth, camera_id)
            if row is None:
                s.add(CameraHealth(camera_id=camera_id, status=status, status_at=now))
            elif row.status != status:
                row.status, row.status_at = status, now
        log.info("camera %s is %s", camera_id, status)

    def record_heartbeat(self, hb: Heartbeat) -> int:
        now = self.clock()
        with self.db.write() as s:
            beat = CameraHeartbeat(
                camera_id=hb.camera_id,
                at=hb.at,
                received_at=now,
                frames=hb.frames,
                fps=hb.fps,
                dropped=hb.dropped,
                queue_depth=hb.queue_depth,
                latency_p95_ms=hb.latency_p95_ms,
                disk_free_bytes=hb.disk_free_bytes,
                outbox_backlog=hb.outbox_backlog,
                payload_json=hb.model_dump_json(),
            )
            s.add(beat)
            s.flush()
            row = s.get(CameraHealth, hb.camera_id)
            if row is None:  # a heartbeat is a sign of life, even before the status arrives
                s.add(
                    CameraHealth(
                        camera_id=hb.camera_id, status=STATUS_ONLINE, status_at=now, last_heartbeat_id=beat.id
                    )
                )
            else:
                row.last_heartbeat_id = beat.id
            s.execute(
                delete(CameraHeartbeat).where(
                    CameraHeartbeat.camera_id == hb.camera_id, CameraHeartbeat.received_at < now - self.keep
                )
            )
            return beat.id

    def cameras(self) -> list[CameraView]:
        """Every camera the store has heard of, by id, with its last heartbeat."""
        now = self.clock()
        with self.db.session() as s:
            rows = list(s.scalars(select(CameraHealth).order_by(CameraHealth.camera_id)))
            ids = [r.last_heartbeat_id for r in rows if r.last_heartbeat_id is not None]
            beats = {b.id: b for b in s.scalars(select(CameraHeartbeat).where(CameraHeartbeat.id.in_(ids)))}
            views = []
            for r in rows:
                b = beats.get(r.last_heartbeat_id) if r.last_heartbeat_id is not None else None
                hb = Heartbeat.model_validate_json(b.payload_json) if b is not None else None
                last_word = max(r.status_at, b.received_at) if b is not None else r.status_at
                interval = hb.interval_s if hb is not None else 10.0
                stale = (
                    r.status == STATUS_ONLINE
                    and (now - last_word).total_seconds() > STALE_INTERVALS * interval
                )
                views.append(
                    CameraView(
                        camera_id=r.camera_id,
                        status=r.status,  # type: ignore[arg-type]
                        status_at=r.status_at,
                        stale=stale,
                        last_heartbeat_at=b.at if b is not None else None,
                        received_at=b.received_at if b is not None else None,
                        heartbeat=hb,
                    )
                )
            return views

    def history(self, camera_id: str, limit: int = 100) -> list[Heartbeat]:
        """The camera's last `limit` heartbeats, newest first."""
        with self.db.session() as s:
            q = (
                select(CameraHeartbeat.payload_json)
                .where(CameraHeartbeat.camera_id == camera_id)
                .order_by(CameraHeartbeat.id.desc())
                .limit(limit)
            )
            return [Heartbeat.model_validate_json(p) for p in s.scalars(q)]


def split_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """(camera_id, kind) of `<prefix>/<camera_id>/<kind>`, or None for any other topic."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 2 or parts[1] not in ("status", "heartbeat") or not _CAMERA_ID.match(parts[0]):
        return None
    return parts[0], parts[1]


class HeartbeatSubscriber:
    """Subscribes to the cameras' status and heartbeat topics and records them (paho-mqtt 2.x).

    paho reconnects by itself (`loop_start` + `connect_async`); every (re)connection subscribes again.
    A malformed message is logged and dropped: it never stops the subscriber.
    """

    def __init__(
        self,
        service: HeartbeatService,
        host: str,
        port: int,
        prefix: str,
        client_id: str,
        keepalive_s: int = 30,
    ) -> None:
        self.service = service
        self.host, self.port, self.prefix = host, port, prefix.rstrip("/")
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.subscribed = threading.Event()
        self.received = 0
        self._client: object | None = None

    def handle(self, topic: str, payload: bytes) -> None:
        where = split_topic(self.prefix, topic)
        if where is None:
            log.warning("ignoring message on unexpected topic %r", topic[:200])
            return
        camera_id, kind = where
        try:
            if kind == "status":
                self.service.record_status(camera_id, payload.decode("utf-8", "replace").strip())
            else:
                self.service.record_heartbeat(parse_heartbeat(payload, camera_id))
        except InvalidRequest as exc:
            log.warning("dropped MQTT message on %s: %s", topic, exc)
            return
        self.received += 1

    def start(self) -> HeartbeatSubscriber:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        topics = [(f"{self.prefix}/+/status", 1), (f"{self.prefix}/+/heartbeat", 1)]

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason_code: object, _p: object) -> None:
            if getattr(reason_code, "is_failure", False):
                log.warning(
                    "MQTT broker %s:%d refused the heartbeat subscriber: %s",
                    self.host,
                    self.port,
                    reason_code,
                )
                return
            c.subscribe(topics)

        def on_subscribe(_c: object, _u: object, _mid: object, _codes: object, _p: object) -> None:
            self.subscribed.set()

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                self.handle(msg.topic, bytes(msg.payload))
            except Exception:  # noqa: BLE001 - a store error must not kill paho's network thread
                log.exception("recording MQTT message on %s failed", msg.topic)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        client.loop_start()
        self._client = client
        log.info(
            "recording camera health from %s:%d %s/+/{status,heartbeat}", self.host, self.port, self.prefix
        )
        return self

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()  # type: ignore[attr-defined]
            client.loop_stop()  # type: ignore[attr-defined]


def heartbeat_json(hb: Heartbeat) -> bytes:
    return json.dumps(hb.model_dump(mode="json"), sort_keys=True).encode("utf-8")
