"""Outbox delivery through a real Mosquitto started on a free port: nothing lost while the broker is
down, everything delivered when it is back, nothing sent twice after a publisher restart."""

# ruff: noqa: F811  (pytest fixtures are imported from the support modules by name)
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.store.config import MqttConfig
from detector.store.outbox import OutboxPublisher, PahoSender
from tests.store.support import Keys, Store, bundles, db_url, keys, make_store, pg_database, pg_url  # noqa: F401

pytestmark = pytest.mark.mqtt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # readiness wait, not an assertion on time
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture()
def broker() -> Iterator[Broker]:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto binary not installed")
    b = Broker(_free_port())
    yield b
    b.stop()


class Subscriber:
    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self._got = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{port}")
        self.client.on_subscribe = lambda *a: subscribed.set()

        def on_message(_c, _u, msg) -> None:  # noqa: ANN001
            with self._got:
                self.messages.append((msg.topic, json.loads(msg.payload)))
                self._got.notify_all()

        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10), "no SUBACK"

    def wait_for(self, n: int) -> list[tuple[str, dict]]:
        with self._got:
            self._got.wait_for(lambda: len(self.messages) >= n, timeout=15)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_outbox_survives_broker_outage_and_restart(
    db_url: str, tmp_path: Path, keys: Keys, bundles: list[Path], broker: Broker
) -> None:
    mqtt_cfg = MqttConfig(port=broker.port, publish_timeout_s=3, client_id=f"pub-{broker.port}")
    store: Store = make_store(db_url, tmp_path, keys, mqtt=mqtt_cfg)
    try:
        ids = [store.services.ingest.ingest_path(b).violation_id for b in bundles[:3]]
        pub = OutboxPublisher(store.db, PahoSender(mqtt_cfg), store.clock)
        assert pub.publish_pending() == 0  # broker down: nothing acknowledged, nothing marked
        assert pub.pending_count() == 3

        broker.start()
        sub = Subscriber(broker.port, "detector/violations/#")
        assert pub.publish_pending() == 3
        assert pub.pending_count() == 0
        got = sub.wait_for(3)
        assert [p["violation_id"] for _, p in got] == ids
        assert {t for t, _ in got} == {"detector/violations/cam1"}
        assert len({p["message_id"] for _, p in got}) == 3

        restarted = OutboxPublisher(store.db, PahoSender(mqtt_cfg), store.clock)
        assert restarted.publish_pending() == 0  # a restart sends nothing twice
        sub.close()
        pub.sender.close()

        broker.stop()  # the broker goes away with the publisher connected
        r4 = store.services.ingest.ingest_path(bundles[3])
        assert restarted.publish_pending() == 0 and restarted.pending_count() == 1
        broker.start()
        sub2 = Subscriber(broker.port, "detector/violations/#")
        assert restarted.publish_pending() == 1
        got2 = sub2.wait_for(1)
        assert [p["violation_id"] for _, p in got2] == [r4.violation_id]
        sub2.close()
        restarted.sender.close()
    finally:
        store.services.close()
