"""The web console in a real browser: Playwright drives Debian's chromium (never a downloaded
browser) against a real `detector serve` on 127.0.0.1, over the evidence of a replay of the sample.

One replay (the six sample violations, signed by the runtime's evidence worker) feeds a store that
`detector serve` serves; five bundles are ingested before the browser looks, the sixth while the
feed is open. Screenshots of every page go to the test's folder, or to $DETECTOR_CONSOLE_SHOTS when
set (that is how docs/console/*.png were made).
"""

# ruff: noqa: F811
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from detector.config import load_camera_config
from detector.evidence.keys import write_key_pair
from detector.plates.grammar import normalize_plate
from detector.runtime.loop import LoopOptions
from detector.runtime.session import RunRequest, RunSession
from detector.store import audit as audit_log
from detector.store.config import load_store_config
from detector.store.db import Database, upgrade
from detector.store.services import StoreServices, build_services
from tests.conftest import REPO
from tests.mjpeg_server import MjpegCamera

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
CONFIG = REPO / "configs" / "sample_scene.yaml"
BROKER = ("127.0.0.1", 1883)
KEEPALIVE_S = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _broker_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=2).close()
        return True
    except OSError:
        return False


@dataclass
class Console:
    base: str
    services: StoreServices
    tokens: dict[str, str]
    bundles: list[Path]
    prefix: str
    shots: Path


@pytest.fixture(scope="module")
def sample_bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """The sample replayed by the runtime (as `detector replay` does): its signed bundles, in order."""
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
    return bundles, keys.public


@pytest.fixture(scope="module")
def console(
    sample_bundles: tuple[list[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    bundles, public = sample_bundles
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
            "enabled": _broker_up(),
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
    port = _free_port()
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
        yield Console(base, services, tokens, bundles, prefix, shots)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        services.close()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page_as(browser: object, console: Console) -> Iterator[object]:
    """`page_as(role)`: a fresh browser context (its own sessionStorage) signed in with that role."""
    contexts = []

    def open_as(role: str, lang: str = "vi") -> object:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        contexts.append(ctx)
        page = ctx.new_page()
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


def _until(page: object, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates its
    predicate as a string in the page, which the console's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {expression}")
        time.sleep(0.1)


def _shot(page: object, console: Console, name: str, full: bool = False) -> None:
    page.mouse.move(1279, 799)  # type: ignore[attr-defined]  # no hover left where a button was clicked
    page.screenshot(path=str(console.shots / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]


def _violations(console: Console) -> list:
    return console.services.feed.page(0, 100)


def test_sign_in_refuses_a_bad_token(browser: object, console: Console) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{console.base}/")
    page.wait_for_selector("#sign-in:not([hidden])")
    _shot(page, console, "sign-in")
    page.fill("#token-input", "dtk_not-a-real-token")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "không hợp lệ" in page.inner_text("#sign-in-error")
    assert page.is_hidden("#nav")
    ctx.close()


def test_feed_shows_the_violations_and_receives_a_new_one_live(page_as: object, console: Console) -> None:
    page = page_as("viewer")
    _until(page, "document.querySelectorAll('#feed .violation-card').length === 5")
    _until(page, "[...document.querySelectorAll('#feed img')].every(i => i.complete && i.naturalWidth > 0)")
    assert "Trực tiếp" in page.inner_text(".live")
    result = console.services.ingest.ingest_path(console.bundles[5], actor="edge")
    assert result.status == "accepted"
    _until(page, "document.querySelectorAll('#feed .violation-card').length === 6", timeout=15)
    first = page.locator("#feed .violation-card").first
    assert first.get_attribute("data-violation-id") == str(result.violation_id)
    assert "fresh" in (first.get_attribute("class") or "")
    _until(page, "[...document.querySelectorAll('#feed img')].every(i => i.naturalWidth > 0)")
    types = {c.get_attribute("data-type") for c in page.locator("#feed .violation-card").all()}
    assert types == {v.violation_type for v in _violations(console)}
    page.wait_for_timeout(3200)  # the new card's highlight fades
    _shot(page, console, "feed")
    assert page.errors == []


def _open_violation(page: object, console: Console, vid: int) -> None:
    page.goto(f"{console.base}/console/#/violation/{vid}")
    page.wait_for_selector(f".violation-layout[data-violation-id='{vid}']")


def test_evidence_page_plays_the_clip_and_shows_what_was_measured(page_as: object, console: Console) -> None:
    red = next(v for v in _violations(console) if v.violation_type == "red_light")
    page = page_as("viewer")
    _open_violation(page, console, red.id)
    _until(page, "document.getElementById('clip').readyState >= 3", timeout=20)
    t0 = page.evaluate("document.getElementById('clip').currentTime")
    page.wait_for_timeout(1200)
    t1 = page.evaluate("document.getElementById('clip').currentTime")
    assert t1 != t0, "the clip does not play"
    assert page.evaluate("document.getElementById('clip').videoWidth") > 0
    images = [f.name for f in red.files if f.name.endswith(".jpg")]
    _until(
        page,
        f"document.querySelectorAll('.gallery img').length === {len(images)} && "
        "[...document.querySelectorAll('.gallery img')].every(i => i.complete && i.naturalWidth > 0)",
    )
    assert page.inner_text("[data-fact=phase] dd") == "Đỏ"
    into_red = float(page.inner_text("[data-fact=into_red] dd").split()[0])
    assert into_red == pytest.approx(float(red.measured["time_into_red_s"]), abs=0.01)
    assert red.plate_text and red.plate_text in page.inner_text("[data-fact=plate]")
    page.wait_for_selector("#integrity")
    assert page.get_attribute("#integrity", "data-signature-ok") == "true"
    assert page.inner_text("[data-fact=chain_prev] dd") in ("khớp", "không có")
    assert page.inner_text("[data-fact=chain_next] dd") in ("khớp", "không có")
    assert page.locator(".review-form").count() == 0  # a viewer does not review
    speeding = next(v for v in _violations(console) if v.violation_type == "speeding")
    _open_violation(page, console, speeding.id)
    speed = page.inner_text("[data-fact=speed] dd")
    assert "±" in speed and f"{float(speeding.measured['speed_kmh']):.1f}" in speed
    _open_violation(page, console, red.id)
    _until(page, "document.getElementById('clip').readyState >= 3")
    page.wait_for_selector("#integrity")
    page.wait_for_timeout(500)
    _shot(page, console, "violation", full=True)
    assert page.errors == []


def test_viewer_cannot_see_the_review_queue(page_as: object, console: Console) -> None:
    page = page_as("viewer")
    assert page.is_hidden("#nav a[data-route=review]")
    page.goto(f"{console.base}/console/#/review")
    page.wait_for_selector("#page .error")
    assert "không được xem" in page.inner_text("#page .error")
    assert page.locator(".queue-row").count() == 0


def test_reviewer_confirms_and_the_fine_is_found_by_plate_and_paid(page_as: object, console: Console) -> None:
    pending = [v for v in _violations(console) if v.status == "pending" and v.plate_text]
    target = next(v for v in pending if v.violation_type == "red_light")
    page = page_as("reviewer")
    page.click("#nav a[data-route=review]")
    _until(page, f"document.querySelectorAll('.queue-row').length === {len(pending)}")
    _until(page, "[...document.querySelectorAll('.queue-row img')].every(i => i.naturalWidth > 0)")
    _shot(page, console, "review")
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
    _shot(citizen, console, "lookup", full=True)
    notice.locator("button[name=pay]").click()
    notice.locator(".pay .ok").wait_for()
    assert "BL-" in notice.locator(".pay .ok").inner_text()
    assert console.services.payments.get_fine(fine.fine_id).status == "paid"
    assert citizen.errors == [] and page.errors == []


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln[:1] != "#"}


def test_cameras_page_shows_a_live_box_and_turns_offline_when_it_is_killed(
    page_as: object, console: Console, tmp_path: Path
) -> None:
    if not _broker_up():
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
    metrics_port = _free_port()
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
            _until(
                page,
                "(() => { const r = document.querySelector(\"tr[data-camera-id='edge-live']\");"
                " return r && r.dataset.state === 'online' && parseFloat(r.querySelector('[data-field=fps]')"
                ".textContent) > 0; })()",
                timeout=180,
            )
            assert row.locator("[data-field=state]").inner_text() == "Online"
            m = _metrics(metrics_port)
            assert m['detector_frames_processed_total{camera_id="edge-live"}'] > 0
            assert (
                m['detector_frames_in_total{camera_id="edge-live"}']
                >= m['detector_frames_processed_total{camera_id="edge-live"}']
            )
            assert m['detector_stage_seconds_count{camera_id="edge-live",stage="track"}'] > 0
            assert 'detector_frame_latency_seconds_bucket{camera_id="edge-live",le="+Inf"}' in m
            page.wait_for_timeout(1500)
            _shot(page, console, "cameras")
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
    _shot(page, console, "cameras-offline")
    assert page.errors == []
