"""Outbox delivery through a real Mosquitto started on a free port: nothing lost while the broker is
down, everything delivered when it is back, nothing sent twice after a publisher restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import MqttConfig
from detector.store.outbox import OutboxPublisher, PahoSender
from tests.store.support import Broker, Keys, Store, Subscriber, make_store

pytestmark = pytest.mark.mqtt


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
