"""MQTT health of a live run: a retained status per camera with a last will, and heartbeats.

    <prefix>/<camera_id>/status      "online" (retained) on every (re)connection; "offline" (retained)
                                     on a clean stop, and from the broker itself as the last will
                                     when the box dies or its link drops (after ~1.5x keep-alive)
    <prefix>/<camera_id>/heartbeat   `detector.store.heartbeat.Heartbeat` JSON (retained, QoS 1)
                                     every `heartbeat_s`, from the frame loop's figures

A broker that is down never stops the camera: paho reconnects in the background and heartbeats
are skipped (logged once) until it is back. The figures come from `figures()`, a callable the CLI
builds from the run (`heartbeat_from_session`), read on this publisher's own thread.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from detector.config import TelemetryConfig
from detector.store.heartbeat import STATUS_OFFLINE, STATUS_ONLINE, Heartbeat, heartbeat_json

if TYPE_CHECKING:
    from detector.runtime.session import RunSession

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 3.0


def status_topic(prefix: str, camera_id: str) -> str:
    return f"{prefix.rstrip('/')}/{camera_id}/status"


def heartbeat_topic(prefix: str, camera_id: str) -> str:
    return f"{prefix.rstrip('/')}/{camera_id}/heartbeat"


def _num(d: object, key: str) -> float:
    v = d.get(key, 0) if isinstance(d, dict) else 0
    return float(v) if isinstance(v, int | float) else 0.0


def heartbeat_from_session(
    session: RunSession, interval_s: float, *, wall: Callable[[], float] = time.time
) -> Callable[[], Heartbeat]:
    """A callable giving the run's heartbeat now: the loop's figures, the disk, the store."""
    started = wall()
    camera_id = session.req.cfg.camera_id
    out = Path(session.req.out)

    def figures() -> Heartbeat:
        loop = session.loop
        f = loop.figures()
        latency = f.get("latency_ms", {})
        built = session.built
        try:
            disk_free = shutil.disk_usage(out).free
        except OSError:
            disk_free = 0
        backlog = 0
        if session.store is not None:
            from detector.store.outbox import pending_messages

            backlog = pending_messages(session.store.db)
        now = wall()
        return Heartbeat(
            camera_id=camera_id,
            at=datetime.fromtimestamp(now, UTC),
            interval_s=interval_s,
            uptime_s=round(max(now - started, 0.0), 1),
            frames=int(_num(f, "frames")),
            fps=round(_num(f, "fps"), 2),
            steady_fps=round(_num(f, "steady_fps"), 2),
            dropped=int(_num(f, "dropped")),
            queue_depth=len(loop.queue),
            evidence_pending=int(_num(f, "evidence_pending")),
            latency_p50_ms=_num(latency, "p50"),
            latency_p95_ms=_num(latency, "p95"),
            disk_free_bytes=disk_free,
            outbox_backlog=backlog,
            violations=len(session.summary.violations),
            bundles=len(built.evidence.written) if built.evidence is not None else 0,
            ingest_rejected=sum(r.status == "rejected" for r in list(session.ingested)),
        )

    return figures


class HealthPublisher:
    """Connects with a last will, publishes `online`, then a heartbeat every `heartbeat_s`."""

    def __init__(self, cfg: TelemetryConfig, camera_id: str, figures: Callable[[], Heartbeat]) -> None:
        self.cfg = cfg
        self.camera_id = camera_id
        self.figures = figures
        self.status_topic = status_topic(cfg.topic_prefix, camera_id)
        self.heartbeat_topic = heartbeat_topic(cfg.topic_prefix, camera_id)
        self.connected = threading.Event()
        self.sent = 0
        self._stop = threading.Event()
        self._client: object | None = None
        self._thread: threading.Thread | None = None
        self._warned = False

    def start(self) -> HealthPublisher:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"detector-run-{self.camera_id}")
        client.will_set(self.status_topic, STATUS_OFFLINE, qos=1, retain=True)

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason_code: object, _p: object) -> None:
            if getattr(reason_code, "is_failure", False):
                log.warning("MQTT broker refused %s: %s", self.camera_id, reason_code)
                return
            c.publish(self.status_topic, STATUS_ONLINE, qos=1, retain=True)
            self.connected.set()
            self._warned = False
            log.info("MQTT: %s online at %s:%d", self.camera_id, self.cfg.mqtt_host, self.cfg.mqtt_port)

        def on_disconnect(_c: object, _u: object, _f: object, _rc: object, _p: object) -> None:
            self.connected.clear()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.cfg.mqtt_host, self.cfg.mqtt_port, keepalive=self.cfg.keepalive_s)
        client.loop_start()
        self._client = client
        self._thread = threading.Thread(target=self._run, name="health-mqtt", daemon=True)
        self._thread.start()
        return self

    def publish_heartbeat(self) -> bool:
        client = self._client
        if client is None or not self.connected.is_set():
            if not self._warned:
                log.warning(
                    "MQTT broker %s:%d not connected: heartbeats of %s wait",
                    self.cfg.mqtt_host,
                    self.cfg.mqtt_port,
                    self.camera_id,
                )
                self._warned = True
            return False
        info = client.publish(self.heartbeat_topic, heartbeat_json(self.figures()), qos=1, retain=True)  # type: ignore[attr-defined]
        self.sent += 1
        return info.rc == 0

    def _run(self) -> None:
        self.connected.wait(min(self.cfg.heartbeat_s, 5.0))
        while not self._stop.is_set():
            try:
                self.publish_heartbeat()
            except Exception:  # noqa: BLE001 - health reporting must never stop the camera
                log.exception("heartbeat of %s failed", self.camera_id)
            self._stop.wait(self.cfg.heartbeat_s)

    def close(self) -> None:
        """A last heartbeat and a retained `offline`, then disconnect (the will is not sent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self.connected.is_set():
                self._client = client
                self.publish_heartbeat()
                self._client = None
                info = client.publish(self.status_topic, STATUS_OFFLINE, qos=1, retain=True)  # type: ignore[attr-defined]
                info.wait_for_publish(PUBLISH_WAIT_S)
            client.disconnect()  # type: ignore[attr-defined]
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("MQTT close of %s: %s", self.camera_id, exc)
        finally:
            client.loop_stop()  # type: ignore[attr-defined]
