"""Edge health over the real Mosquitto at 127.0.0.1:1883: a box's retained status with its last will
and its heartbeats, recorded in the store by the subscriber `detector serve` runs.

A clean stop publishes `offline` itself; a box killed with SIGKILL is turned `offline` by the broker
(the last will) within 1.5 keep-alives. Each test uses its own topic prefix.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detector.config import TelemetryConfig
from detector.store.db import utc_now
from detector.store.heartbeat import Heartbeat, HeartbeatSubscriber
from detector.telemetry.publisher import HealthPublisher
from tests.store.support import Keys, Store, make_store

pytestmark = pytest.mark.mqtt
BROKER = ("127.0.0.1", 1883)
SLACK_S = 6.0


def _broker_up() -> None:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as exc:
        pytest.skip(f"Mosquitto at {BROKER[0]}:{BROKER[1]} is unreachable: {exc}")


def _wait(check: Callable[[], bool], timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture()
def health(tmp_path: Path, keys: Keys) -> Iterator[tuple[Store, HeartbeatSubscriber, str]]:
    _broker_up()
    store = make_store(f"sqlite:///{tmp_path / 'health.db'}", tmp_path, keys)
    store.services.heartbeats.clock = utc_now  # the broker's timing is real: so is the store's clock
    prefix = f"test-{uuid.uuid4().hex[:8]}/cameras"
    sub = HeartbeatSubscriber(
        store.services.heartbeats, *BROKER, prefix, f"sub-{uuid.uuid4().hex[:8]}"
    ).start()
    assert sub.subscribed.wait(10), "the subscriber did not subscribe"
    yield store, sub, prefix
    sub.close()
    store.services.close()


def _figures(camera_id: str, frames: list[int]) -> Callable[[], Heartbeat]:
    def figures() -> Heartbeat:
        frames[0] += 25
        return Heartbeat(
            camera_id=camera_id, at=datetime.now(UTC), interval_s=0.2, uptime_s=1.0, frames=frames[0], fps=25.0,
            dropped=0, queue_depth=1, latency_p50_ms=30.0, latency_p95_ms=60.0, disk_free_bytes=10**9,
            outbox_backlog=0,
        )  # fmt: skip

    return figures


def _status(store: Store, camera_id: str) -> str | None:
    cams = {c.camera_id: c for c in store.services.heartbeats.cameras()}
    return cams[camera_id].status if camera_id in cams else None


def test_clean_stop_publishes_offline_and_heartbeats_are_recorded(
    health: tuple[Store, HeartbeatSubscriber, str],
) -> None:
    store, _sub, prefix = health
    cfg = TelemetryConfig(mqtt_enabled=True, topic_prefix=prefix, heartbeat_s=0.2, keepalive_s=5)
    pub = HealthPublisher(cfg, "edge1", _figures("edge1", [0])).start()
    try:
        _wait(lambda: _status(store, "edge1") == "online", 10, "online")
        _wait(lambda: len(store.services.heartbeats.history("edge1")) >= 3, 10, "three heartbeats")
    finally:
        pub.close()
    _wait(lambda: _status(store, "edge1") == "offline", 10, "offline after a clean stop")
    frames = [h.frames for h in store.services.heartbeats.history("edge1")]
    assert frames == sorted(frames, reverse=True) and frames[0] >= 75  # newest first, counting up


PUBLISHER = """
import sys, time
from datetime import UTC, datetime
from detector.store.heartbeat import Heartbeat
from detector.config import TelemetryConfig
from detector.telemetry.publisher import HealthPublisher
cfg = TelemetryConfig(mqtt_enabled=True, topic_prefix=sys.argv[1], heartbeat_s=0.5, keepalive_s=int(sys.argv[2]))
beat = lambda: Heartbeat(camera_id="edge2", at=datetime.now(UTC), interval_s=0.5, uptime_s=0, frames=1, fps=1,
                         dropped=0, queue_depth=0, latency_p50_ms=1, latency_p95_ms=1, disk_free_bytes=1,
                         outbox_backlog=0)
pub = HealthPublisher(cfg, "edge2", beat).start()
pub.connected.wait(10)
print("connected", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_dead_box_goes_offline_within_the_keepalive(
    health: tuple[Store, HeartbeatSubscriber, str], how: str
) -> None:
    """SIGKILL: the kernel closes the socket and the broker sends the will at once. SIGSTOP: the box
    hangs with its connection open (as a box that lost power or its link), so only the keep-alive
    tells: the will must come after one keep-alive and within 1.5 of them."""
    store, _sub, prefix = health
    keepalive = 2
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, prefix, str(keepalive)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        _wait(lambda: _status(store, "edge2") == "online", 10, "online")
        _wait(lambda: bool(store.services.heartbeats.history("edge2")), 10, "a heartbeat")
        proc.send_signal(getattr(signal, how))
        took = _wait(lambda: _status(store, "edge2") == "offline", 10 * keepalive, "the last will")
    finally:
        proc.kill()
        proc.wait(10)
    print(f"offline {took:.2f} s after {how} (keep-alive {keepalive} s)")
    # the broker must act by 1.5 keep-alives; the slack is for a 2-core box shared by busy jobs
    # (measured under load: 3.3-8 s with a 2 s keep-alive; see benchmarks/RESULTS.md)
    assert took <= 1.5 * keepalive + SLACK_S
    if how == "SIGSTOP":
        assert took >= keepalive - 0.5  # it was the keep-alive, not a closed socket
