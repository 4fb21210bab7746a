"""The web console in a real browser: Playwright drives Debian's chromium (never a downloaded
browser) against a real `detector serve` on 127.0.0.1, over the evidence of a replay of the sample.

One replay (the six sample violations, signed by the runtime's evidence worker) feeds a store that
`detector serve` serves; five bundles are ingested before the browser looks, the sixth while the
feed is open. The replay's track records give the traffic statistics (`detector stats compute`), and
hotlist sightings are raised in the store as the edge's hotlist stage raises them. Screenshots of
every page go to the test's folder, or to $DETECTOR_CONSOLE_SHOTS when set (that is how
docs/console/*.png were made). Shared helpers: tests/api/console_support.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from detector.config import load_camera_config, load_store_config
from detector.evidence.keys import write_key_pair
from detector.measures import RedLightMeasures, SpeedingMeasures
from detector.platetext import normalize_plate
from detector.runtime.loop import LoopOptions
from detector.runtime.session import RunRequest, RunSession
from detector.store import audit as audit_log
from detector.store.db import Database, upgrade
from detector.store.services import build_services
from detector.store.views import ViolationView
from tests.api.console_support import (
    BROKER,
    Console,
    api_json,
    api_status,
    broker_up,
    free_port,
    metrics,
    shot,
    until,
)
from tests.cameras.mjpeg_server import MjpegCamera
from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
CONFIG = REPO / "configs" / "sample_scene.yaml"
KEEPALIVE_S = 4
# page_as(role, lang="vi"): a Playwright Page signed in with that role, its page errors in `.errors`
PageAs = Callable[..., Any]


@pytest.fixture(scope="module")
def sample_bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, Path]:
    """The sample replayed by the runtime (as `detector replay` does): its signed bundles, in order,
    the public key and the run's track records."""
    if not CHROMIUM.exists():  # before the replay: no browser, nothing to drive
        pytest.skip(f"{CHROMIUM} is absent (scripts/setup.sh installs Debian's chromium as root)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (dev extra)")
    out = tmp_path_factory.mktemp("console_replay")
    keys = write_key_pair(out / "keys")
    session = RunSession.open(
        RunRequest(load_camera_config(CONFIG), CONFIG, out, preview=False, key=keys.private, store=False,
                   loop=LoopOptions())
    )  # fmt: skip
    try:
        session.run()
    finally:
        session.close()
    assert session.built.evidence is not None
    bundles = sorted((p for _, p in session.built.evidence.written), key=lambda p: p.name)
    assert len(bundles) == 6, bundles
    assert (out / "tracks.jsonl").is_file()
    return bundles, keys.public, out / "tracks.jsonl"


@pytest.fixture(scope="module")
def console(
    sample_bundles: tuple[list[Path], Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    bundles, public, tracks = sample_bundles
    root = tmp_path_factory.mktemp("console_store")
    (root / "trusted").mkdir()
    shutil.copy(public, root / "trusted" / "edge.pub")
    prefix = f"test-{uuid.uuid4().hex[:8]}/cameras"
    store_cfg = {
        "url": f"sqlite:///{root / 'store.db'}",
        "evidence_dir": str(root / "evidence"),
        "quarantine_dir": str(root / "quarantine"),
        "trusted_keys": str(root / "trusted"),
        "sse_poll_s": 0.2,
        "camera_health": {
            "enabled": broker_up(),
            "topic_prefix": prefix,
            "client_id": f"serve-{prefix[5:13]}",
        },
    }
    cfg_path = root / "store.yaml"
    cfg_path.write_text(json.dumps(store_cfg), encoding="utf-8")
    cfg = load_store_config(cfg_path)
    db = Database.from_url(cfg.url)
    upgrade(db.engine)
    services = build_services(cfg, db=db)
    tokens = {
        role: services.tokens.create(name, role, timedelta(hours=2)).secret
        for role, name in (("viewer", "watch-desk"), ("reviewer", "analyst"), ("payments", "citizen-desk"))
    }
    for b in bundles[:5]:
        assert services.ingest.ingest_path(b, actor="edge").status == "accepted"
    port = free_port()
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "serve", "--store-config", str(cfg_path), "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/v1/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("detector serve did not start: " + (root / "serve.log").read_text())
        printed = (root / "serve.log").read_text(encoding="utf-8")
        assert f"console: http://127.0.0.1:{port}/console/" in printed, printed
        shots = Path(os.environ.get("DETECTOR_CONSOLE_SHOTS") or root / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Console(base, services, tokens, bundles, prefix, shots, cfg_path, tracks)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        services.close()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page_as(browser: Browser, console: Console) -> Iterator[PageAs]:
    """`page_as(role)`: a fresh browser context (its own sessionStorage) signed in with that role."""
    contexts = []

    def open_as(role: str, lang: str = "vi") -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        page: Any = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        page.goto(f"{console.base}/")
        if lang == "en":
            page.click("[data-lang=en]")
        page.fill("#token-input", console.tokens[role])
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#nav:not([hidden])")
        assert page.evaluate("sessionStorage.getItem('detector.token')") == console.tokens[role]
        return page

    yield open_as
    for ctx in contexts:
        ctx.close()


def _violations(console: Console) -> list[ViolationView]:
    return console.services.feed.page(0, 100)


def test_sign_in_refuses_a_bad_token(browser: Browser, console: Console) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(f"{console.base}/")
    page.wait_for_selector("#sign-in:not([hidden])")
    shot(page, console, "sign-in")
    page.fill("#token-input", "dtk_not-a-real-token")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "không hợp lệ" in page.inner_text("#sign-in-error")
    assert page.is_hidden("#nav")
    ctx.close()


def test_feed_shows_the_violations_and_receives_a_new_one_live(page_as: PageAs, console: Console) -> None:
    page = page_as("viewer")
    until(page, "document.querySelectorAll('#feed .violation-card').length === 5")
    until(page, "[...document.querySelectorAll('#feed img')].every(i => i.complete && i.naturalWidth > 0)")
    assert "Trực tiếp" in page.inner_text(".live")
    result = console.services.ingest.ingest_path(console.bundles[5], actor="edge")
    assert result.status == "accepted"
    until(page, "document.querySelectorAll('#feed .violation-card').length === 6", timeout=15)
    first = page.locator("#feed .violation-card").first
    assert first.get_attribute("data-violation-id") == str(result.violation_id)
    assert "fresh" in (first.get_attribute("class") or "")
    until(page, "[...document.querySelectorAll('#feed img')].every(i => i.naturalWidth > 0)")
    types = {c.get_attribute("data-type") for c in page.locator("#feed .violation-card").all()}
    assert types == {v.violation_type for v in _violations(console)}
    page.wait_for_timeout(3200)  # the new card's highlight fades
    shot(page, console, "feed")
    assert page.errors == []


def _open_violation(page: Any, console: Console, vid: int) -> None:
    page.goto(f"{console.base}/console/#/violation/{vid}")
    page.wait_for_selector(f".violation-layout[data-violation-id='{vid}']")


def test_evidence_page_plays_the_clip_and_shows_what_was_measured(page_as: PageAs, console: Console) -> None:
    red = next(v for v in _violations(console) if v.violation_type == "red_light")
    page = page_as("viewer")
    _open_violation(page, console, red.id)
    until(page, "document.getElementById('clip').readyState >= 3", timeout=20)
    t0 = page.evaluate("document.getElementById('clip').currentTime")
    page.wait_for_timeout(1200)
    t1 = page.evaluate("document.getElementById('clip').currentTime")
    assert t1 != t0, "the clip does not play"
    assert page.evaluate("document.getElementById('clip').videoWidth") > 0
    images = [f.name for f in red.files if f.name.endswith(".jpg")]
    until(
        page,
        f"document.querySelectorAll('.gallery img').length === {len(images)} && "
        "[...document.querySelectorAll('.gallery img')].every(i => i.complete && i.naturalWidth > 0)",
    )
    assert page.inner_text("[data-fact=phase] dd") == "Đỏ"
    into_red = float(page.inner_text("[data-fact=into_red] dd").split()[0])
    assert isinstance(red.measured, RedLightMeasures)
    assert into_red == pytest.approx(red.measured.time_into_red_s, abs=0.01)
    assert red.plate_text and red.plate_text in page.inner_text("[data-fact=plate]")
    page.wait_for_selector("#integrity")
    assert page.get_attribute("#integrity", "data-signature-ok") == "true"
    assert page.inner_text("[data-fact=chain_prev] dd") in ("khớp", "không có")
    assert page.inner_text("[data-fact=chain_next] dd") in ("khớp", "không có")
    assert page.locator(".review-form").count() == 0  # a viewer does not review
    speeding = next(v for v in _violations(console) if v.violation_type == "speeding")
    _open_violation(page, console, speeding.id)
    speed = page.inner_text("[data-fact=speed] dd")
    assert isinstance(speeding.measured, SpeedingMeasures)
    assert "±" in speed and f"{speeding.measured.speed_kmh:.1f}" in speed
    _open_violation(page, console, red.id)
    until(page, "document.getElementById('clip').readyState >= 3")
    page.wait_for_selector("#integrity")
    page.wait_for_timeout(500)
    shot(page, console, "violation", full=True)
    assert page.errors == []


def test_viewer_cannot_see_the_review_queue(page_as: PageAs, console: Console) -> None:
    page = page_as("viewer")
    assert page.is_hidden("#nav a[data-route=review]")
    page.goto(f"{console.base}/console/#/review")
    page.wait_for_selector("#page .error")
    assert "không được xem" in page.inner_text("#page .error")
    assert page.locator(".queue-row").count() == 0


def test_reviewer_confirms_and_the_fine_is_found_by_plate_and_paid(page_as: PageAs, console: Console) -> None:
    pending = [v for v in _violations(console) if v.status == "pending" and v.plate_text]
    target = next(v for v in pending if v.violation_type == "red_light")
    page = page_as("reviewer")
    page.click("#nav a[data-route=review]")
    until(page, f"document.querySelectorAll('.queue-row').length === {len(pending)}")
    until(page, "[...document.querySelectorAll('.queue-row img')].every(i => i.naturalWidth > 0)")
    shot(page, console, "review")
    row = page.locator(f".queue-row[data-violation-id='{target.id}']")
    row.locator("button[name=reject]").click()  # a rejection without a reason is refused in the page
    assert "lý do" in row.locator("[role=status]").inner_text()
    row.locator("input[name=reason]").fill("đèn đỏ rõ, biển số đọc đúng")
    row.locator("button[name=confirm]").click()
    row.locator(".ok").wait_for()
    assert "TB-" in row.locator(".ok").inner_text()
    with console.services.db.session() as s:
        entries = audit_log.entries(s, "violation", str(target.id), 10)
    confirm = [e for e in entries if e.action == "confirm"]
    assert len(confirm) == 1 and confirm[0].actor.startswith("analyst#")
    assert confirm[0].after and confirm[0].after["review_reason"] == "đèn đỏ rõ, biển số đọc đúng"

    citizen = page_as("payments")
    assert citizen.evaluate("location.hash") == "#/lookup"
    assert target.plate_text is not None
    written = target.plate_text.lower().replace("-", " ").replace(".", "")  # as a citizen might type it
    assert normalize_plate(written) == target.plate_normalized
    citizen.fill("#plate-input", written)
    citizen.click("#lookup-form button[type=submit]")
    notice = citizen.locator(".notice").first
    notice.wait_for()
    (fine,) = console.services.payments.lookup(target.plate_text)
    assert notice.get_attribute("data-fine-id") == str(fine.fine_id)
    assert "Nghị định 168/2024" in notice.locator("[data-field=legal_basis]").inner_text()
    assert (
        f"{fine.amount_due_vnd:,}".replace(",", ".") in notice.locator("[data-field=amount_due]").inner_text()
    )
    assert notice.locator("[data-status]").inner_text() == "Chưa nộp phạt"
    shot(citizen, console, "lookup", full=True)
    notice.locator("button[name=pay]").click()
    notice.locator(".pay .ok").wait_for()
    assert "BL-" in notice.locator(".pay .ok").inner_text()
    assert console.services.payments.get_fine(fine.fine_id).status == "paid"
    assert citizen.errors == [] and page.errors == []


def test_cameras_page_shows_a_live_box_and_turns_offline_when_it_is_killed(
    page_as: PageAs, console: Console, tmp_path: Path
) -> None:
    if not broker_up():
        pytest.skip(f"Mosquitto at {BROKER[0]}:{BROKER[1]} is unreachable")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(
        "camera_id: edge-live\nname: loopback camera\n"
        "source: {uri: 'http://127.0.0.1:1/x', fps: 10, reconnect_attempts: 100000, reconnect_delay_s: 0.2}\n"
        "evidence: {enabled: false}\n"
        f"telemetry: {{mqtt_enabled: true, topic_prefix: '{console.prefix}', keepalive_s: {KEEPALIVE_S},"
        " heartbeat_s: 1}\n",
        encoding="utf-8",
    )
    metrics_port = free_port()
    with MjpegCamera(frames_per_connection=300) as cam:
        proc = subprocess.Popen(
            [sys.executable, "-m", "detector", "run", "--config", str(cfg), "--source", cam.url,
             "--out", str(tmp_path / "out"), "--metrics-port", str(metrics_port)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=(tmp_path / "run.log").open("w"),
        )  # fmt: skip
        try:
            page = page_as("viewer", lang="en")
            page.click("#nav a[data-route=cameras]")
            row = page.locator("tr[data-camera-id='edge-live']")
            until(
                page,
                "(() => { const r = document.querySelector(\"tr[data-camera-id='edge-live']\");"
                " return r && r.dataset.state === 'online' && parseFloat(r.querySelector('[data-field=fps]')"
                ".textContent) > 0; })()",
                timeout=180,
            )
            assert row.locator("[data-field=state]").inner_text() == "Online"
            m = metrics(metrics_port)
            assert m['detector_frames_processed_total{camera_id="edge-live"}'] > 0
            assert (
                m['detector_frames_in_total{camera_id="edge-live"}']
                >= m['detector_frames_processed_total{camera_id="edge-live"}']
            )
            assert m['detector_stage_seconds_count{camera_id="edge-live",stage="track"}'] > 0
            assert 'detector_frame_latency_seconds_bucket{camera_id="edge-live",le="+Inf"}' in m
            page.wait_for_timeout(1500)
            shot(page, console, "cameras")
        finally:
            proc.send_signal(signal.SIGKILL)  # kill -9: no clean stop, the broker sends the last will
            proc.wait(30)
        t0 = time.monotonic()
        page.wait_for_selector("tr[data-camera-id='edge-live'][data-state='offline']", timeout=30000)
        took = time.monotonic() - t0
    print(
        f"console shows edge-live offline {took:.1f} s after kill -9 (keep-alive {KEEPALIVE_S} s, page polls 3 s)"
    )
    assert took <= 1.5 * KEEPALIVE_S + 3 + 1
    assert row.locator("[data-field=state]").inner_text() == "Offline"
    shot(page, console, "cameras-offline")
    assert page.errors == []


# ---------------------------------------------------------------------------- traffic and alerts
SAMPLE_COUNT_LINE = ("0", "20", "12.5", "20")  # world y = 20 m across the three lanes (test_network_stats)


def test_traffic_page_charts_the_counts_the_api_serves(page_as: PageAs, console: Console) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detector", "stats", "compute", "--store-config", str(console.store_config),
         "--camera-config", str(CONFIG), "--tracks", str(console.tracks), "--count-line", *SAMPLE_COUNT_LINE,
         "--interval", "14"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    camera = load_camera_config(CONFIG).camera_id
    rows = api_json(console, f"/v1/stats?camera_id={camera}")
    assert isinstance(rows, list) and rows
    classes = [r for r in rows if r["vehicle_class"] != "all"]
    lanes = [r for r in rows if r["vehicle_class"] == "all"]
    total = sum(r["count"] for r in classes)
    assert total > 0
    intervals = sorted({r["interval_start"] for r in rows})

    page = page_as("viewer", lang="en")
    page.click("#nav a[data-route=traffic]")
    until(page, f"document.querySelectorAll('#traffic-chart .bar').length === {len(intervals)}")
    assert page.input_value("#traffic-camera") == camera
    assert page.get_attribute("#traffic-summary", "data-total") == str(total)

    def drawn() -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for bar in page.locator("#traffic-chart .bar").all():
            start = bar.get_attribute("data-interval") or ""
            for rect in bar.locator("rect[data-key]").all():
                out[(start, rect.get_attribute("data-key") or "")] = int(
                    rect.get_attribute("data-count") or 0
                )
        return out

    def expected(key: str) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for r in classes:
            if r["count"]:
                k = (r["interval_start"], r[key])
                out[k] = out.get(k, 0) + r["count"]
        return out

    assert drawn() == expected("vehicle_class")
    assert [b.get_attribute("data-interval") for b in page.locator("#traffic-chart .bar").all()] == intervals
    legend = {li.get_attribute("data-key") for li in page.locator("#traffic-legend li").all()}
    assert legend == {r["vehicle_class"] for r in classes if r["count"]}
    # the per-lane table: every lane row of the API, with its speeds, occupancy, queue and congestion
    assert page.locator("#traffic-table tbody tr").count() == len(lanes)
    for r in lanes:
        tr = page.locator(
            f"#traffic-table tr[data-interval='{r['interval_start']}'][data-lane='{r['lane_id']}']"
        )
        assert tr.locator("[data-field=count]").inner_text() == str(r["count"])
        for field, key, scale in (
            ("speed_median", "speed_median_kmh", 1),
            ("speed_p85", "speed_p85_kmh", 1),
            ("occupancy", "occupancy", 100),
            ("queue", "queue_max_m", 1),
        ):
            shown = tr.locator(f"[data-field={field}]").inner_text().rstrip("%")
            if r[key] is None:
                assert shown == "–", (field, r)
            else:  # one decimal (a tie may round either way)
                assert float(shown) == pytest.approx(r[key] * scale, abs=0.051), (field, r)
        assert (
            tr.locator("[data-field=congestion] .badge").get_attribute("class")
            == f"badge cg-{r['congestion']}"
        )
    shot(page, console, "traffic", full=True)
    # by lane, the same vehicles; a bar picked narrows the table to its interval
    page.click(".seg button[data-by=lane]")
    until(page, "document.querySelector('.seg button[data-by=lane]').classList.contains('active')")
    assert drawn() == expected("lane_id")
    busiest = max(intervals, key=lambda s: sum(r["count"] for r in classes if r["interval_start"] == s))
    page.click(f"#traffic-chart .bar[data-interval='{busiest}'] rect.hit")
    n = sum(1 for r in lanes if r["interval_start"] == busiest)
    until(page, f"document.querySelectorAll('#traffic-table tbody tr').length === {n}")
    picked = {tr.get_attribute("data-interval") for tr in page.locator("#traffic-table tbody tr").all()}
    assert picked == {busiest}
    shot(page, console, "traffic-by-lane", full=True)
    # Vietnamese labels
    page.click("[data-lang=vi]")
    until(page, f"document.querySelectorAll('#traffic-chart .bar').length === {len(intervals)}")
    assert "Tốc độ trung vị" in page.inner_text("#traffic-table thead")
    assert page.errors == []


def _sighting(
    console: Console, bundle: Path, folder: Path
) -> tuple[ViolationView, dict[str, Any], str] | None:
    """A stored sample violation's vehicle as the edge's hotlist stage would have seen it: its view,
    its manifest and a picture of the vehicle (the bundle's own crop) where the stage writes them."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    view = next((v for v in _violations(console) if v.event_id == manifest["event_id"]), None)
    if view is None or not view.plate_normalized:
        return None
    picture = folder / f"{view.camera_id}-t{manifest['violation']['track_id']}.jpg"
    shutil.copy(bundle / "vehicle.jpg", picture)
    return view, manifest, str(picture)


def test_alerts_page_shows_sightings_and_receives_one_live(
    page_as: PageAs, console: Console, tmp_path: Path
) -> None:
    from detector.network.hotlist import HotlistFile, HotlistWatcher
    from detector.network.plate_match import Reading

    folder = tmp_path / "hotlist"
    folder.mkdir()
    sightings = [s for b in console.bundles if (s := _sighting(console, b, folder)) is not None]
    read = list({s[0].plate_normalized: s for s in sightings}.values())
    assert len(read) >= 2  # two vehicles with different plates
    (first, m1, pic1), (second, m2, pic2) = read[0], read[1]
    assert first.plate_text and first.plate_normalized and second.plate_text and second.plate_normalized
    hot = console.services.hotlists
    hot.add(first.plate_text, "stolen", "PC08 Công an TP. Hồ Chí Minh", actor="test")
    hot.add(second.plate_text, "hit_and_run", "PC08 Công an TP. Hồ Chí Minh", actor="test")
    watcher = HotlistWatcher(HotlistFile(hot.export(tmp_path / "hotlist.json")), hot, first.camera_id)
    page = page_as("viewer")  # on the feed: the shell follows the alerts on every page
    until(page, "document.body.dataset.alerts === 'live'")
    track1 = m1["violation"]["track_id"]
    watcher.observe(track1, first.occurred_at, Reading.of([(first.plate_normalized, 0.96)]), pic1)
    until(page, "document.getElementById('alerts-unseen').textContent === '1'")
    assert page.is_visible("#alerts-unseen") and page.evaluate("location.hash") == "#/feed"
    page.click("#nav a[data-route=alerts]")
    until(page, "document.querySelectorAll('#alerts .alert-card').length === 1")
    assert page.is_hidden("#alerts-unseen")
    until(page, "document.querySelector('.live').classList.contains('on')")
    card = page.locator("#alerts .alert-card").first
    assert card.get_attribute("data-match") == "exact"
    assert card.locator("[data-field=match]").inner_text() == "Khớp chính xác"
    assert card.locator("[data-field=plate_read] dd").inner_text() == first.plate_normalized
    assert card.locator("[data-field=wanted_plate] .plate").inner_text() == first.plate_text
    assert card.locator("[data-field=camera] dd").inner_text() == first.camera_id
    assert "xe bị trộm cắp" in card.locator(".alert-title").inner_text()
    until(page, "[...document.querySelectorAll('#alerts img')].every(i => i.complete && i.naturalWidth > 0)")

    # a tolerant sighting arrives while the page is open: the last digit misread
    key = second.plate_normalized
    misread = key[:-1] + ("1" if key[-1] != "1" else "7")
    (alert,) = watcher.observe(
        m2["violation"]["track_id"], second.occurred_at, Reading.of([(misread, 0.88)]), pic2
    )
    assert alert.match.kind == "tolerant"
    until(page, "document.querySelectorAll('#alerts .alert-card').length === 2", timeout=15)
    new = page.locator("#alerts .alert-card").first
    assert "fresh" in (new.get_attribute("class") or "")
    assert new.get_attribute("data-match") == "tolerant"
    assert new.locator("[data-field=match]").inner_text() == "Khớp gần đúng"
    assert new.locator("[data-field=plate_read] dd").inner_text() == misread
    assert new.locator("[data-field=wanted_plate] .plate").inner_text() == second.plate_text
    assert new.locator("[data-field=match_detail] dd").inner_text() == alert.match.detail
    until(page, "[...document.querySelectorAll('#alerts img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.is_hidden("#alerts-unseen")  # seen on the page it came to
    page.wait_for_timeout(3200)  # the new card's highlight fades
    shot(page, console, "alerts", full=True)
    # the route serves a JPEG only; a picture this host does not hold: the page says where it is
    (stored,) = [a for a in hot.alerts(0, 1000) if a.plate_read == misread]
    assert api_status(console, f"/v1/hotlist/alerts/{stored.id}/picture") == 200
    Path(pic2).write_bytes(b"not a picture")
    assert api_status(console, f"/v1/hotlist/alerts/{stored.id}/picture") == 404
    page.reload()
    until(page, "document.querySelectorAll('#alerts .alert-card').length === 2")
    box = page.locator(f"[data-alert-id='{stored.id}'] .alert-picture")
    until(
        page,
        f"document.querySelector(\"[data-alert-id='{stored.id}'] .alert-picture\").textContent.length > 0",
    )
    assert pic2 in box.inner_text() and "thiết bị camera" in box.inner_text()
    assert page.errors == []
