"""Hotlists: wanted plates in the store, the file pushed to the edge (and refreshed), alerts on the
sample scene read by the real plate reader (one per passage, at the frame the plate is first read,
with or without a violation), a tolerant match that says so, MQTT outbox rows and the SSE stream."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from detector.network.hotlist import HotlistFile, HotlistWatcher
from detector.network.plate_match import Reading
from detector.sample.groundtruth import GroundTruth, load_ground_truth
from detector.store.models import OutboxMessage
from tests.store.support import Broker, Keys, Store, make_store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture()
def hstore(db_url: str, tmp_path: Path, keys: Keys) -> Iterator[Store]:
    s = make_store(db_url, tmp_path, keys)
    yield s
    s.services.close()


def test_file_is_pushed_and_refreshed(hstore: Store, tmp_path: Path) -> None:
    svc = hstore.services.hotlists
    a = svc.add("60L-909.37", "stolen", "Phòng CSGT Đồng Nai", actor="ops")
    path = svc.export(tmp_path / "edge" / "hotlist.json")
    hl = HotlistFile(path)
    assert [w.plate for w in hl.entries] == ["60L90937"]
    v1 = hl.version
    svc.add("15M 195 14", "hit_and_run", "Đội CSGT Hồng Bàng", actor="ops")
    svc.withdraw(a.id, actor="ops", reason="recovered")
    svc.export(path)
    os.utime(path, ns=(1, 1))  # a new file even within the same mtime tick
    assert hl.refresh() and hl.version != v1
    assert [(w.plate, w.reason) for w in hl.entries] == [("15M19514", "hit_and_run")]
    path.write_text("{not json")
    assert hl.refresh() and [w.plate for w in hl.entries] == ["15M19514"]  # the last good list is kept


def test_watcher_raises_one_alert_per_passage_and_says_when_tolerant(hstore: Store, tmp_path: Path) -> None:
    svc = hstore.services.hotlists
    svc.add("47C-348.55", "wanted", "PC08", actor="ops")
    w = HotlistWatcher(HotlistFile(svc.export(tmp_path / "h.json")), svc, "camA")
    sure = Reading.of([("47C-348.55", 0.9)])
    assert len(w.observe(5, T0, sure)) == 1
    assert w.observe(5, T0 + timedelta(seconds=0.1), sure) == []  # same passage
    misread = Reading.of([("47C-34B.55", 0.8)])
    hits = w.observe(9, T0 + timedelta(seconds=60), misread)  # another passage, one character misread
    assert [h.match.kind for h in hits] == ["tolerant"] and "position 6 (B/8" in hits[0].match.detail
    assert w.observe(11, T0, Reading.of([("43A-692.62", 0.95)])) == []  # a different car
    alerts = svc.alerts()
    assert [(a.track_id, a.match_kind) for a in alerts] == [(5, "exact"), (9, "tolerant")]
    with hstore.db.session() as s:
        msgs = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "detector/hotlist/camA")))
    assert len(msgs) == 2 and json.loads(msgs[1].payload)["match_detail"].startswith("read 47C34B55")


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return load_ground_truth(ROOT / "sample_videos" / "ground_truth.json")


@pytest.mark.slow
def test_sample_plates_raise_alerts_on_the_edge(tmp_path: Path, keys: Keys, truth: GroundTruth) -> None:
    """Two sample cars are wanted: one that runs the red light, one that breaks no rule. The real
    plate reader reads each visible car every fifth frame; each wanted car raises one alert, at
    most 1 s (stream time) after its plate is first big enough to read, and no other car raises any."""
    import cv2

    from detector.config import PlatesConfig
    from detector.plates.reader import PlateReader
    from detector.plates.textdet import TextLineDetector
    from detector.stages import TrackPlateLookup
    from detector.types import Frame

    store = make_store(f"sqlite:///{tmp_path / 's.db'}", tmp_path, keys)
    svc = store.services.hotlists
    wanted = {v.id: v for v in truth.vehicles if v.role.startswith(("runs the red", "law-abiding, crosses"))}
    wanted = {k: wanted[k] for k in sorted(wanted)[:2]}
    for v in wanted.values():
        svc.add(v.plate, "stolen", "PC08", actor="ops")
    watcher = HotlistWatcher(HotlistFile(svc.export(tmp_path / "hotlist.json")), svc, "sample")
    # the edge's plate path: platedet on the vehicle box, the text-line detector where it finds none
    reader = TrackPlateLookup(PlateReader.from_config(PlatesConfig()), fallback=TextLineDetector())
    cap = cv2.VideoCapture(str(ROOT / "sample_videos" / "sample_scene.mp4"))
    readable: dict[int, float] = {}
    try:
        for frame in range(truth.scene.frame_count):
            ok, image = cap.read()
            assert ok, f"sample video ended at frame {frame}"
            if frame % 5:
                continue
            for v in truth.vehicles:
                b = v.box_at(frame)
                if (
                    b is None
                    or b.visible < 0.99
                    or b.plate_box is None
                    or b.plate_box[2] - b.plate_box[0] < 60
                ):
                    continue
                readable.setdefault(v.id, b.t)
                seen = reader._observe(
                    Frame(image=image, index=frame, timestamp=b.t, source_id="sample"), b.xyxy
                )
                if seen is not None:
                    obs = seen[0]
                    watcher.observe(
                        v.id, T0 + timedelta(seconds=b.t), Reading.of([(obs.text, obs.confidence)])
                    )
    finally:
        cap.release()
        reader.close()
    alerts = svc.alerts()
    assert sorted(a.track_id for a in alerts) == sorted(wanted), [(a.track_id, a.plate_read) for a in alerts]
    for a in alerts:
        delay = (a.seen_at - T0).total_seconds() - readable[a.track_id]
        assert 0 <= delay <= 1.0, (a.track_id, delay)
    store.services.close()


def test_sse_streams_alerts(tmp_path: Path, keys: Keys) -> None:
    from tests.api.support import make_api

    api = make_api(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, keys)
    r = api.client.post(
        "/v1/hotlist",
        json={"plate": "51F-123.45", "reason": "hit_and_run", "unit": "PC08"},
        headers=api.h("reviewer"),
    )
    assert r.status_code == 200, r.text
    assert (
        api.client.post(
            "/v1/hotlist", json={"plate": "51F-123.45", "reason": "x", "unit": "u"}, headers=api.h("reviewer")
        ).status_code
        == 422
    )
    export = api.client.get("/v1/hotlist/export", headers=api.h("ingest")).json()
    (tmp_path / "h.json").write_text(json.dumps(export))
    HotlistWatcher(HotlistFile(tmp_path / "h.json"), api.store.services.hotlists, "cam9").observe(
        3, T0, Reading.of([("51F12345", 0.9)]), picture="/var/lib/detector/sightings/cam9-3.jpg"
    )
    body = api.client.get(
        "/v1/hotlist/alerts/stream", params={"follow": "false"}, headers=api.h("viewer")
    ).text
    assert "event: hotlist" in body and '"camera_id":"cam9"' in body and "cam9-3.jpg" in body
    api.client.close()
    api.store.services.close()


@pytest.mark.slow
def test_runtime_raises_alerts_for_passing_hotlisted_cars(tmp_path: Path, truth: GroundTruth) -> None:
    """The edge runtime (RunSession, the replay's frame loop) with the hotlist stage on its result
    hook: the first 80 frames of the sample hold a law-abiding car and the speeder; both are wanted.
    Each raises exactly one alert in the run's store, stamped with the frame it was read on, within
    1 s (stream time) of the frame where its plate first becomes large enough to read."""
    from detector.config import load_camera_config
    from detector.evidence.keys import write_key_pair
    from detector.network.hotlist_stage import open_hotlist_stage
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession
    from detector.store.hotlists import HotlistService

    config = ROOT / "configs" / "sample_scene.yaml"
    cfg = load_camera_config(config)
    wanted = [v for v in truth.vehicles if v.id in (1, 2)]
    list_path = tmp_path / "hotlist.json"
    entries = [
        {"id": k + 1, "plate": v.plate_normalized, "plate_text": v.plate, "reason": "stolen", "unit": "PC08"}
        for k, v in enumerate(wanted)
    ]
    list_path.write_text(json.dumps({"version": 1, "entries": entries}))
    start = cfg.source.start_time
    assert start is not None
    keys = write_key_pair(tmp_path / "keys")
    opts = LoopOptions(max_frames=80)
    session = RunSession.open(
        RunRequest(cfg, config, tmp_path / "out", preview=False, key=keys.private, loop=opts)
    )
    assert session.store is not None
    stage = open_hotlist_stage(list_path, cfg, tmp_path / "out", session.store, start)
    opts.on_result = stage.submit
    try:
        session.run()
    finally:
        stage.close()
        session.close()
    svc: HotlistService = HotlistService(session.store.db, session.store.clock)
    alerts = svc.alerts()
    by_entry = {a.hotlist_id: a for a in alerts}
    assert len(alerts) == 2 and set(by_entry) == {1, 2}, [(a.track_id, a.plate_read) for a in alerts]
    assert stage.stats.dropped == 0 and stage.stats.alerts == 2
    for k, v in enumerate(wanted):
        a = by_entry[k + 1]
        first = next(
            b.t for b in v.boxes if b.visible >= 0.99 and b.y2 - b.y1 >= 60 and b.x2 < 958 and b.y2 < 538
        )
        delay = (a.seen_at - start).total_seconds() - first
        assert -0.2 <= delay <= 1.0, (v.plate, delay)
        assert a.picture is not None and Path(a.picture).is_file()


@pytest.mark.mqtt
def test_alert_reaches_an_mqtt_subscriber(tmp_path: Path, keys: Keys, broker: Broker) -> None:
    """The alert's outbox message is delivered by the store's publisher to a real Mosquitto."""

    from detector.config import MqttConfig
    from detector.store.outbox import OutboxPublisher, PahoSender
    from tests.store.support import Subscriber

    b = broker
    b.start()
    store = make_store(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, keys)
    try:
        svc = store.services.hotlists
        svc.add("43A-692.62", "hit_and_run", "PC08-DNG", actor="ops")
        watcher = HotlistWatcher(HotlistFile(svc.export(tmp_path / "h.json")), svc, "cam7")
        sub = Subscriber(b.port, "detector/hotlist/#")
        watcher.observe(4, T0, Reading.of([("43A-692.62", 0.97)]), picture="cam7-4.jpg")
        cfg = MqttConfig(port=b.port, publish_timeout_s=3, client_id=f"pub-{b.port}")
        pub = OutboxPublisher(store.db, PahoSender(cfg), store.clock)
        assert pub.publish_pending() == 1
        ((topic, payload),) = sub.wait_for(1)
        assert topic == "detector/hotlist/cam7"
        assert payload["wanted"] == {"plate": "43A-692.62", "reason": "hit_and_run", "unit": "PC08-DNG"}
        assert payload["seen_at"].startswith("2026-12-07T08:00:00") and payload["picture"] == "cam7-4.jpg"
        sub.close()
        pub.sender.close()
    finally:
        store.services.close()
