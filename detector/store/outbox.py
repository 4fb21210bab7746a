"""MQTT publishing of new violations through a durable outbox.

Ingest writes an `outbox` row (`queue_violation_created`) in the same transaction as the violation
(a section violation made from two stored passages likewise). `OutboxPublisher` sends
pending rows in id order with QoS 1 and sets `sent_at` only after the broker's PUBACK
(`MQTTMessageInfo.wait_for_publish` + `is_published`). While the broker is unreachable rows stay
pending and are sent when it comes back; a sent row is never sent again after a restart. The one
window left (PUBACK received, process killed before `sent_at` is written) resends that message:
every payload carries a `message_id` for consumers to drop duplicates.

One publisher per database (the loop is not meant to run twice against the same outbox).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from detector.config import MqttConfig
from detector.measures import Measures, Scalar, measures_json
from detector.store.db import Clock, Database
from detector.store.models import OutboxMessage, ViolationRow

log = logging.getLogger(__name__)


def outbox_topic(prefix: str, camera_id: str) -> str:
    return f"{prefix.rstrip('/')}/{camera_id}"


def queue_violation_created(
    s: Session, row: ViolationRow, measured: Measures, topic_prefix: str, now: datetime, **extra: Scalar
) -> None:
    """The `violation.created` message of a new (flushed) violation row, written in its transaction;
    `extra` adds fields to the payload (ingest adds the bundle's `sequence`)."""
    message_id = str(uuid.uuid4())
    payload = {
        "message_id": message_id,
        "type": "violation.created",
        "violation_id": row.id,
        "event_id": row.event_id,
        "camera_id": row.camera_id,
        "violation_type": row.violation_type,
        "vehicle_class": row.vehicle_class,
        "plate_text": row.plate_text,
        "plate_normalized": row.plate_normalized,
        "occurred_at": row.occurred_at.isoformat(),
        "location": row.location,
        "measured": measures_json(measured),
        "status": row.status,
        "manifest_sha256": row.manifest_sha256,
    } | extra
    s.add(
        OutboxMessage(
            message_id=message_id,
            topic=outbox_topic(topic_prefix, row.camera_id),
            payload=json.dumps(payload, sort_keys=True, ensure_ascii=False),
            created_at=now,
            attempts=0,
        )
    )


class Sender(Protocol):
    """Sends one message and returns True only once the broker acknowledged it."""

    def send(self, topic: str, payload: bytes) -> bool: ...

    def close(self) -> None: ...


class PahoSender:
    """paho-mqtt 2.x client, QoS 1, reconnecting on the next send after any failure."""

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self._client: object | None = None
        self._connected = threading.Event()

    def _connect(self) -> object | None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.config.client_id)
        connected = self._connected
        connected.clear()

        def on_connect(_c: object, _u: object, _f: object, reason_code: object, _p: object) -> None:
            if not getattr(reason_code, "is_failure", False):
                connected.set()

        def on_disconnect(_c: object, _u: object, _f: object, _rc: object, _p: object) -> None:
            connected.clear()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        try:
            client.connect(self.config.host, self.config.port, keepalive=30)
        except OSError as exc:
            log.warning("MQTT broker %s:%d unreachable: %s", self.config.host, self.config.port, exc)
            return None
        client.loop_start()
        if not connected.wait(self.config.publish_timeout_s):
            log.warning("MQTT broker %s:%d did not accept the connection", self.config.host, self.config.port)
            client.loop_stop()
            client.disconnect()
            return None
        return client

    def send(self, topic: str, payload: bytes) -> bool:
        if self._client is None or not self._connected.is_set():
            self.close()
            self._client = self._connect()
            if self._client is None:
                return False
        client = self._client
        try:
            info = client.publish(topic, payload, qos=1)  # type: ignore[attr-defined]
            info.wait_for_publish(self.config.publish_timeout_s)
            ok = bool(info.is_published())
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("MQTT publish to %s failed: %s", topic, exc)
            ok = False
        if not ok:
            self.close()  # drop paho's in-memory queue; the outbox row is the durable copy
        return ok

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()  # type: ignore[attr-defined]
                client.loop_stop()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - closing a broken client must not raise
                log.debug("MQTT client close failed", exc_info=True)


def pending_messages(db: Database) -> int:
    """Outbox rows not yet acknowledged by the broker (the backlog a heartbeat and /metrics report)."""
    with db.session() as s:
        return int(
            s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
            or 0
        )


class OutboxPublisher:
    def __init__(self, db: Database, sender: Sender, clock: Clock, batch_size: int = 100) -> None:
        self.db = db
        self.sender = sender
        self.clock = clock
        self.batch_size = batch_size

    def pending_count(self) -> int:
        return pending_messages(self.db)

    def publish_pending(self) -> int:
        """Send pending rows in order, stopping at the first failure. Returns how many were acknowledged."""
        sent = 0
        while True:
            with self.db.session() as s:
                rows = list(
                    s.execute(
                        select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload)
                        .where(OutboxMessage.sent_at.is_(None))
                        .order_by(OutboxMessage.id)
                        .limit(self.batch_size)
                    )
                )
            if not rows:
                return sent
            for row in rows:
                with self.db.write() as s:
                    s.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row.id)
                        .values(attempts=OutboxMessage.attempts + 1)
                    )
                if not self.sender.send(row.topic, row.payload.encode("utf-8")):
                    return sent
                with self.db.write() as s:
                    s.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row.id, OutboxMessage.sent_at.is_(None))
                        .values(sent_at=self.clock())
                    )
                sent += 1

    def run(self, stop: threading.Event, idle_s: float = 1.0, retry_s: float = 5.0) -> None:
        """Loop until `stop` is set: publish, then wait `idle_s` (or `retry_s` after a failure)."""
        while not stop.is_set():
            try:
                self.publish_pending()
                failed = self.pending_count() > 0
            except Exception:  # noqa: BLE001 - keep the loop alive; the rows stay pending
                log.exception("outbox publisher pass failed")
                failed = True
            stop.wait(retry_s if failed else idle_s)
        self.sender.close()
