"""The console's server side: its files, the routes it reads (whoami, review queue, cameras,
verification), the cameras' heartbeats in the store and `/metrics`, over a real SQLite store with
bundles signed by the evidence module."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detector.store.errors import InvalidRequest
from detector.store.heartbeat import Heartbeat, HeartbeatSubscriber, parse_heartbeat, split_topic
from tests.api.support import Api
from tests.store.support import accepted_id


def _beat(camera_id: str = "cam1", **figures: object) -> Heartbeat:
    values: dict[str, object] = {
        "camera_id": camera_id,
        "at": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "interval_s": 5.0,
        "uptime_s": 60.0,
        "frames": 1500,
        "fps": 24.8,
        "dropped": 3,
        "queue_depth": 1,
        "latency_p50_ms": 40.0,
        "latency_p95_ms": 85.0,
        "disk_free_bytes": 12 * 1024**3,
        "outbox_backlog": 2,
    }
    values.update(figures)
    return Heartbeat(**values)  # type: ignore[arg-type]


def test_console_files_are_served_with_a_strict_policy(api: Api) -> None:
    r = api.client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"
    page = api.client.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/console/static/app.js">' in page.text
    for name in (
        "app.js", "api.js", "dom.js", "i18n.js", "pages.js", "violations.js", "traffic.js", "alerts.js",
        "console.css",
    ):  # fmt: skip
        f = api.client.get(f"/console/static/{name}")
        assert f.status_code == 200, name
        text = f.text.replace('"http://www.w3.org/2000/svg"', "")  # the SVG namespace: a name, not a load
        assert "http://" not in text and "https://" not in text, f"{name} loads something from outside"
    assert api.client.get("/console/static/../app.py").status_code == 404


CONSOLE = Path(__file__).resolve().parents[2] / "detector" / "api" / "console"


def test_every_console_label_is_written_once_in_both_languages() -> None:
    """i18n.js holds one table, key: [Vietnamese, English]; every label the page and the scripts name
    is in it, with both texts."""
    src = (CONSOLE / "i18n.js").read_text(encoding="utf-8")
    assert src.count("const TEXTS = {") == 1 and "vi: {" not in src and "en: {" not in src
    body = src.split("const TEXTS = {", 1)[1].split("\n};", 1)[0]
    texts: dict[str, list[str]] = {}
    for line in body.strip().splitlines():
        key, _, value = line.strip().partition(": ")
        key = json.loads(key) if key.startswith('"') else key
        assert key not in texts, f"label {key!r} twice"
        texts[key] = json.loads(value.rstrip(","))
    assert len(texts) > 100
    for key, pair in texts.items():
        assert len(pair) == 2 and all(isinstance(s, str) and s.strip() for s in pair), key
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-placeholder)?="([^"]+)"', html))
    for script in CONSOLE.glob("*.js"):
        used |= set(re.findall(r'\bt\("([^"]+)"\)', script.read_text(encoding="utf-8")))
    assert used and used <= set(texts), sorted(used - set(texts))


def test_whoami_names_each_role_and_refuses_no_token(api: Api) -> None:
    assert api.client.get("/v1/whoami").status_code == 401
    for role in ("viewer", "reviewer", "payments", "ingest"):
        r = api.client.get("/v1/whoami", headers=api.h(role))
        assert r.status_code == 200 and r.json()["role"] == role and r.json()["name"] == f"{role}-user"


def test_latest_gives_the_newest_first(api: Api, bundles: list[Path]) -> None:
    ids = [accepted_id(api.store.services.ingest.ingest_path(b)) for b in bundles[:4]]
    r = api.client.get("/v1/feed/latest?limit=3", headers=api.h("viewer"))
    assert r.status_code == 200 and [v["id"] for v in r.json()] == ids[:0:-1]
    assert r.json()[0]["files"], "the feed's cards need the file list for their thumbnails"
    assert api.client.get("/v1/feed/latest", headers=api.h("payments")).status_code == 403


def test_review_queue_is_for_reviewers_only(api: Api, bundles: list[Path]) -> None:
    ids = [accepted_id(api.store.services.ingest.ingest_path(b)) for b in bundles[:3]]
    assert api.client.get("/v1/review/queue", headers=api.h("viewer")).status_code == 403
    api.store.services.review.review(ids[1], "reject", actor="t", reason="blurred")
    r = api.client.get("/v1/review/queue", headers=api.h("reviewer"))
    assert r.status_code == 200
    assert [v["id"] for v in r.json()["items"]] == [ids[0], ids[2]]


def test_verification_reports_signature_and_chain_links(api: Api, bundles: list[Path]) -> None:
    ids = [accepted_id(api.store.services.ingest.ingest_path(b)) for b in bundles[:3]]
    first = api.client.get(f"/v1/violations/{ids[0]}/verification", headers=api.h("viewer")).json()
    assert first["signature_ok"] and first["manifest_matches"] and first["key_id"]
    assert first["prev_link"] == "none" and first["next_link"] == "linked"
    mid = api.client.get(f"/v1/violations/{ids[1]}/verification", headers=api.h("viewer")).json()
    assert (mid["prev_link"], mid["next_link"], mid["sequence"]) == ("linked", "linked", 2)
    last = api.client.get(f"/v1/violations/{ids[2]}/verification", headers=api.h("viewer")).json()
    assert last["next_link"] == "none" and last["files_checked"] >= 3
    # a stored file changed on disk since ingest: the page must say so, naming the file
    stored = Path(api.store.config.evidence_dir)
    bundle = next(p for p in stored.rglob("at.jpg") if str(ids[1]) and p.parent.name.startswith("00000002"))
    bundle.write_bytes(bundle.read_bytes() + b"\0")
    bad = api.client.get(f"/v1/violations/{ids[1]}/verification", headers=api.h("viewer")).json()
    assert bad["signature_ok"] is False and any("at.jpg" in p for p in bad["problems"])
    # the previous bundle's manifest replaced: the next one's link is broken
    prev_dir = next(p for p in stored.rglob("manifest.json") if p.parent.name.startswith("00000001")).parent
    shutil.copy(bundle.parent / "manifest.json", prev_dir / "manifest.json")
    again = api.client.get(f"/v1/violations/{ids[0]}/verification", headers=api.h("viewer")).json()
    assert again["manifest_matches"] is False and again["signature_ok"] is False
    assert api.client.get("/v1/violations/999/verification", headers=api.h("viewer")).status_code == 404


def test_heartbeats_status_and_staleness(api: Api) -> None:
    hb = api.store.services.heartbeats
    clock = api.store.clock
    assert api.client.get("/v1/cameras", headers=api.h("viewer")).json() == []
    hb.record_status("cam1", "online")
    hb.record_heartbeat(_beat())
    cams = api.client.get("/v1/cameras", headers=api.h("viewer")).json()
    assert [(c["camera_id"], c["status"], c["stale"]) for c in cams] == [("cam1", "online", False)]
    assert cams[0]["heartbeat"]["fps"] == 24.8 and cams[0]["heartbeat"]["outbox_backlog"] == 2
    clock.advance(16)  # more than three 5 s intervals without a word
    assert api.client.get("/v1/cameras", headers=api.h("viewer")).json()[0]["stale"] is True
    hb.record_heartbeat(_beat(frames=1900))
    assert api.client.get("/v1/cameras", headers=api.h("viewer")).json()[0]["stale"] is False
    hb.record_status("cam1", "offline")
    cam = api.client.get("/v1/cameras", headers=api.h("viewer")).json()[0]
    assert cam["status"] == "offline" and cam["heartbeat"]["frames"] == 1900
    history = api.client.get("/v1/cameras/cam1/heartbeats", headers=api.h("reviewer")).json()
    assert [h["frames"] for h in history] == [1900, 1500]
    assert api.client.get("/v1/cameras", headers=api.h("payments")).status_code == 403


def test_old_heartbeats_are_pruned(api: Api) -> None:
    hb = api.store.services.heartbeats
    hb.record_heartbeat(_beat(frames=1))
    api.store.clock.advance(8 * 86400)
    hb.record_heartbeat(_beat(frames=2))
    assert [h.frames for h in hb.history("cam1")] == [2]


def test_subscriber_records_good_messages_and_drops_bad_ones(api: Api) -> None:
    sub = HeartbeatSubscriber(api.store.services.heartbeats, "127.0.0.1", 1, "detector/cameras", "t")
    sub.handle("detector/cameras/cam9/status", b"online")
    sub.handle("detector/cameras/cam9/heartbeat", _beat("cam9").model_dump_json().encode())
    sub.handle("detector/cameras/cam9/heartbeat", _beat("other").model_dump_json().encode())  # wrong camera
    sub.handle("detector/cameras/cam9/heartbeat", b"{not json")
    sub.handle("detector/cameras/cam9/status", b"exploded")
    sub.handle("elsewhere/cam9/status", b"offline")
    assert sub.received == 2
    (cam,) = api.store.services.heartbeats.cameras()
    assert cam.camera_id == "cam9" and cam.status == "online" and cam.heartbeat is not None
    assert split_topic("detector/cameras", "detector/cameras/a/b/status") is None
    with pytest.raises(
        InvalidRequest, match="heartbeat of cam1: fps: Input should be greater than or equal to 0"
    ):
        parse_heartbeat(_beat().model_dump_json().replace('"fps":24.8', '"fps":-1').encode(), "cam1")


def test_metrics_report_the_store_and_the_cameras(api: Api, bundles: list[Path]) -> None:
    svc = api.store.services
    ids = [accepted_id(svc.ingest.ingest_path(b)) for b in bundles[:2]]
    svc.review.review(ids[0], "confirm", actor="t", reason="")
    svc.heartbeats.record_status("cam1", "online")
    svc.heartbeats.record_heartbeat(_beat(dropped=7))
    text = api.client.get("/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"
    }
    types = {v.violation_type for v in svc.feed.page(0, 10)}
    assert sum(v for k, v in lines.items() if k.startswith("detector_violations{")) == 2
    assert any(f'violation_type="{t}"' in k and 'status="confirmed"' in k for k in lines for t in types)
    assert lines['detector_fines{status="unpaid"}'] == 1
    assert lines["detector_bundles_ingested_total"] == 2
    assert lines["detector_ingest_rejections_total"] == 0
    assert lines["detector_outbox_backlog"] == 2  # MQTT publishing is off in this store
    assert lines['detector_camera_up{camera_id="cam1"}'] == 1
    assert lines['detector_camera_dropped_frames{camera_id="cam1"}'] == 7
    assert lines['detector_camera_latency_p95_seconds{camera_id="cam1"}'] == pytest.approx(0.085)


def test_stats_cameras_name_each_camera_with_its_first_and_last_interval(api: Api) -> None:
    from datetime import timedelta

    from detector.network.stats import TrafficStat

    t0 = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    rows = [
        TrafficStat(cam, t0 + timedelta(seconds=60 * k), 60.0, "lane_0", "car", k + 1, 40.0, 45.0)
        for cam, n in (("cam-b", 3), ("cam-a", 1))
        for k in range(n)
    ]
    assert api.client.get("/v1/stats/cameras", headers=api.h("viewer")).json() == []
    api.store.services.traffic.save(rows)
    got = api.client.get("/v1/stats/cameras", headers=api.h("viewer")).json()
    assert [(c["camera_id"], c["rows"]) for c in got] == [("cam-a", 1), ("cam-b", 3)]
    assert got[1]["first_interval"].startswith("2026-11-20T00:30:00")
    assert got[1]["last_interval"].startswith("2026-11-20T00:32:00")
    assert api.client.get("/v1/stats/cameras", headers=api.h("payments")).status_code == 403


def test_latest_alerts_and_their_pictures(api: Api, tmp_path: Path) -> None:
    import json

    import cv2
    import numpy as np

    from detector.network.hotlist import HotlistFile, HotlistWatcher
    from detector.network.plate_match import Reading

    hot = api.store.services.hotlists
    for plate in ("51F-123.45", "30A-678.90", "43A-692.62", "29B-111.22"):
        hot.add(plate, "stolen", "PC08", actor="t")
    (tmp_path / "h.json").write_bytes(hot.export_json())
    ok, jpeg = cv2.imencode(".jpg", np.full((40, 60, 3), 128, np.uint8))
    assert ok
    (tmp_path / "good.jpg").write_bytes(jpeg.tobytes())
    (tmp_path / "fake.jpg").write_text("not a picture")
    watcher = HotlistWatcher(HotlistFile(tmp_path / "h.json"), hot, "cam1")
    t0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    pictures = [str(tmp_path / "good.jpg"), str(tmp_path / "fake.jpg"), "/etc/passwd", None]
    for k, (plate, pic) in enumerate(
        zip(("51F12345", "30A67890", "43A69262", "29B11122"), pictures, strict=True)
    ):
        assert watcher.observe(k + 1, t0, Reading.of([(plate, 0.9)]), pic)
    latest = api.client.get("/v1/hotlist/alerts/latest?limit=3", headers=api.h("viewer")).json()
    ids = [a.id for a in hot.alerts()]
    assert [a["id"] for a in latest] == ids[:0:-1]
    assert latest[-1]["match_kind"] == "exact" and latest[0]["plate_read"] == "29B11122"
    r = api.client.get(f"/v1/hotlist/alerts/{ids[0]}/picture", headers=api.h("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == jpeg.tobytes()
    for alert_id, says in (
        (ids[1], "fake.jpg"),
        (ids[2], "/etc/passwd"),
        (ids[3], "no picture"),
        (999, "not found"),
    ):
        r = api.client.get(f"/v1/hotlist/alerts/{alert_id}/picture", headers=api.h("viewer"))
        assert r.status_code == 404 and says in json.dumps(r.json()), r.text
        assert "root:" not in r.text
    assert api.client.get(f"/v1/hotlist/alerts/{ids[0]}/picture").status_code == 401
    assert (
        api.client.get(f"/v1/hotlist/alerts/{ids[0]}/picture", headers=api.h("payments")).status_code == 403
    )
    assert api.client.get("/v1/hotlist/alerts/latest", headers=api.h("payments")).status_code == 403
