"""The annotators: the label placer (no two labels overlap, all inside the frame), and every picture
producer (replay preview, evidence overview, `detector calibrate`) still making its pictures."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.annotate.labels import (
    Label,
    LabelAnnotator,
    LabelPlacer,
    Place,
    Style,
    ascii_fold,
    fit_text,
    text_size,
)
from detector.annotate.scene import ZoneAnnotator, calibration_view, signal_text
from detector.annotate.shapes import BarAnnotator
from detector.config import CameraConfig, load_camera_config
from detector.evidence import images as im
from detector.measures import RedLightMeasures
from detector.outputs import PreviewWriter, preview_picture
from detector.pipeline import FrameResult
from detector.signals import Phase, SignalState
from detector.types import Detections, EvidenceFrames, Frame, Track, TrackPoint, Violation, ViolationType

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "configs" / "sample_scene.yaml"
REAL = ROOT / "configs" / "vn_davidbeckiet_redlight.yaml"

Rect = tuple[int, int, int, int]


def overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_disjoint_inside(rects: list[Rect], width: int, height: int) -> None:
    for r in rects:
        assert 0 <= r[0] < r[2] <= width and 0 <= r[1] < r[3] <= height, r
    for a, b in combinations(rects, 2):
        assert not overlap(a, b), (a, b)


sizes = st.tuples(st.integers(1, 400), st.integers(1, 60))
anchors = st.tuples(st.floats(-200, 2200), st.floats(-200, 1300), st.floats(0, 500), st.floats(0, 400)).map(
    lambda a: (a[0], a[1], a[0] + a[2], a[1] + a[3])
)


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(40, 1920),
    height=st.integers(30, 1080),
    labels=st.lists(st.tuples(sizes, anchors, st.sampled_from(list(Place))), max_size=60),
    blocked=st.lists(anchors, max_size=3),
    avoided=st.lists(anchors, max_size=20),
)
def test_placed_labels_never_overlap_and_stay_inside(width, height, labels, blocked, avoided) -> None:
    placer = LabelPlacer(width, height)
    for b in blocked:
        placer.block(b)
    for a in avoided:  # vehicles: kept off where possible, never at the price of an overlap
        placer.avoid(a)
    keep = placer.taken
    placed: list[Rect] = []
    for size, anchor, place in labels:
        rect = placer.place(size, anchor, place)
        if rect is not None:
            assert rect[2] - rect[0] == min(size[0], width) and rect[3] - rect[1] == min(size[1], height)
            placed.append(rect)
    assert_disjoint_inside(placed, width, height)
    for r in placed:
        assert not any(overlap(r, k) for k in keep), (r, keep)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
def test_many_crowded_labels_all_find_a_place(seed: int, n: int) -> None:
    """Boxes piled on one another in a 960x540 frame: every one of up to 40 labels of a typical size
    is placed (moved or stacked, not dropped), and still none overlaps another."""
    rng = np.random.default_rng(seed)
    placer = LabelPlacer(960, 540)
    rects = []
    for _ in range(n):
        x, y = rng.uniform(300, 500), rng.uniform(200, 300)  # all anchors within 200x100 px
        w, h = rng.integers(40, 160), rng.integers(12, 20)
        rect = placer.place((int(w), int(h)), (x, y, x + rng.uniform(20, 120), y + rng.uniform(20, 90)))
        assert rect is not None
        rects.append(rect)
    assert_disjoint_inside(rects, 960, 540)


def test_the_first_free_place_is_next_to_the_anchor() -> None:
    placer = LabelPlacer(960, 540)
    assert placer.place((40, 16), (100, 100, 200, 180)) == (100, 84, 140, 100)  # above, left-aligned
    assert placer.place((40, 16), (100, 100, 200, 180)) == (160, 84, 200, 100)  # then above, right-aligned
    assert placer.place((40, 16), (100, 100, 200, 180)) == (100, 180, 140, 196)  # then below
    assert placer.place((60, 20), (0, 0, 30, 30)) == (0, 30, 60, 50)  # above is off the frame: below


def test_a_zone_name_keeps_off_the_vehicle_parked_on_it() -> None:
    placer = LabelPlacer(960, 540)
    car = (400, 200, 560, 320)
    placer.avoid(car)
    rect = placer.place((120, 18), (480, 260, 480, 260), Place.CENTRE)  # the zone's centre is under the car
    assert rect is not None and not overlap(rect, car)
    assert abs((rect[1] + rect[3]) / 2 - 260) < 120  # still near the zone


def test_labels_are_drawn_once_fixed_ones_stacked_and_keep_clear_respected() -> None:
    img = np.zeros((540, 960, 3), np.uint8)
    same = Label("stop line: stop_line", (300, 200, 300, 200), (0, 0, 255))
    fixed = [
        Label(t, (0, 0, 0, 0), (0, 220, 255), place=Place.FIXED, background=False) for t in ("a", "b", "c")
    ]
    clear = (250, 120, 420, 260)
    placed = LabelAnnotator().layout(img.shape, [same, same, *fixed], keep_clear=[clear])
    assert [p.text for p in placed].count("stop line: stop_line") == 1
    ys = [p.rect[1] for p in placed if p.label.place is Place.FIXED]
    assert ys[0] == 0 and ys == sorted(ys) and len(set(ys)) == 3  # panel lines one under another
    moved = next(p for p in placed if p.text.startswith("stop"))
    assert not overlap(moved.rect, clear)
    assert_disjoint_inside([p.rect for p in placed], 960, 540)


def test_text_too_long_for_the_frame_is_cut_and_folded_to_ascii() -> None:
    style = Style.for_image(320, 240)
    long = "Ngã tư Hàng Xanh " * 20
    placed = LabelAnnotator(style).layout((240, 320), [Label(long, (10, 10, 50, 50), (255, 255, 255))])
    assert (
        len(placed) == 1 and placed[0].text.endswith("...") and placed[0].text.startswith("Nga tu Hang Xanh")
    )
    assert_disjoint_inside([placed[0].rect], 320, 240)
    assert text_size(fit_text("x" * 500, 1.0, 2, 200), 1.0, 2)[0] <= 200
    assert ascii_fold("Đường Điện Biên Phủ") == "Duong Dien Bien Phu"


def test_style_grows_with_the_picture_and_the_preview_shrink() -> None:
    small, big = Style.for_image(960, 540), Style.for_image(1920, 1080)
    h_small = text_size("Ag", small.scale, small.thickness)[1]
    h_big = text_size("Ag", big.scale, big.thickness)[1]
    assert 9 <= h_small <= 14 and 1.7 < h_big / h_small < 2.3 and big.line > small.line
    shrunk = Style.of(np.zeros((1080, 1920, 3), np.uint8), shown_width=960)
    assert shrunk.scale == pytest.approx(2 * small.scale)


def _sample_frame() -> tuple[np.ndarray, CameraConfig]:
    cfg = load_camera_config(SAMPLE)
    w, h = cfg.rules.image_size or (960, 540)
    cap = cv2.VideoCapture(str(ROOT / "sample_videos" / "sample_scene.mp4"))
    ok, image = cap.read()
    cap.release()
    if not ok:
        rng = np.random.default_rng(0)
        image = rng.integers(40, 120, (h, w, 3), dtype=np.uint8)
    return image, cfg


def test_zones_are_drawn_and_their_labels_do_not_overlap() -> None:
    image, cfg = _sample_frame()
    zones = ZoneAnnotator(cfg.rules)
    red = SignalState(Phase.RED, 2.0, 2.0, 3.0)
    drawn = zones.annotate(image.copy(), red)
    stop = np.asarray(cfg.rules.zones.stop_lines[0].points)
    x, y = (int(v) for v in stop[:2].mean(axis=0))
    assert drawn[y, x, 2] > 200 and drawn[y, x, 1] < 80  # the stop line in the phase colour (red)
    labels = zones.labels(image.shape, red)
    placed = LabelAnnotator().layout(image.shape, labels)
    assert len(placed) == len(labels)  # every zone named, the signal too
    assert_disjoint_inside([p.rect for p in placed], image.shape[1], image.shape[0])
    assert any(p.text.startswith("signal red") for p in placed)


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (SignalState(Phase.RED, 2.0, 2.0, 3.0), "signal red since 2.0 s"),
        (
            SignalState(Phase.RED, 0.0, 0.0, None, frozenset({"right", "left"})),
            "signal red since 0.0 s, arrows lit: left, right",
        ),
        (
            SignalState(Phase.GREEN, 12.34, None, None, frozenset({"right"})),
            "signal green since 12.3 s, arrow lit: right",
        ),
        (SignalState.unknown(), "signal unknown"),
    ],
)
def test_signal_label_says_the_phase_and_its_time_once(state: SignalState, text: str) -> None:
    """On red the time into red is the time the phase has lasted: written once, not twice."""
    assert signal_text(state) == text


@pytest.mark.parametrize("config", [SAMPLE, REAL])
def test_calibration_view_keeps_size_and_marks_the_frame(config: Path) -> None:
    cfg = load_camera_config(config)
    w, h = cfg.rules.image_size or (960, 540)
    blank = np.full((h, w, 3), 90, np.uint8)
    out = calibration_view(
        blank, cfg.rules, SignalState(Phase.GREEN, 1.0, None, None), [(z.id, z.polygon) for z in cfg.ignore]
    )
    assert out.shape == blank.shape and (blank == 90).all()  # a copy
    changed = (out != blank).any(axis=2).mean()
    assert 0.02 < changed < 0.9  # zones, labels (and a grid where calibrated) drawn, the frame still seen


def _frame_result(width: int, height: int, n: int, seed: int = 1) -> FrameResult:
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 110, (height, width, 3), dtype=np.uint8)
    x = rng.uniform(0.3, 0.6, n) * width
    y = rng.uniform(0.3, 0.6, n) * height
    bw, bh = rng.uniform(0.05, 0.15, n) * width, rng.uniform(0.05, 0.15, n) * height
    xyxy = np.stack([x, y, x + bw, y + bh], axis=1).astype(np.float32)
    ids = np.arange(1, n + 1)
    conf = rng.uniform(0.3, 1.0, n).astype(np.float32)
    dets = Detections(xyxy, conf, np.full(n, 2), ids, {"riders": np.zeros(n, np.int64)})
    tracks = {}
    for i, tid in enumerate(ids):
        t = Track(int(tid))
        for k in range(5):
            x1, y1, x2, y2 = (float(v) for v in xyxy[i] + np.array([0, 8 * (k - 4), 0, 8 * (k - 4)]))
            t.append(TrackPoint(k, k / 10, (x1, y1, x2, y2), 0.9, 2))
        tracks[int(tid)] = t
    measured = RedLightMeasures(
        phase="red",
        time_into_red_s=1.0,
        time_into_red_behind_line_s=0.9,
        preceding_amber_s=3.0,
        distance_behind_line_px=12.0,
        distance_past_line_px=30.0,
        lane_id="lane_0",
    )
    v = Violation(ViolationType.RED_LIGHT, "cam", 1, "car", 4, 0.4, EvidenceFrames(3, 4, 4), measured, "1")
    return FrameResult(Frame(image, 4, 0.4, "cam"), dets, tracks, tuple(int(i) for i in ids), (v,))


@pytest.mark.parametrize("size", [(960, 540), (1920, 1080)])
def test_preview_picture_of_a_crowd(size: tuple[int, int]) -> None:
    width, height = size
    result = _frame_result(width, height, 25)
    _, cfg = _sample_frame()
    zones = ZoneAnnotator(cfg.rules)

    def overlay(image: np.ndarray, r: FrameResult, style: Style) -> list[Label]:
        return zones.labels(image.shape, None)

    out = preview_picture(result, "Ngã tư Hàng Xanh camera 1", [overlay], shown_width=960)
    assert out.shape == (height, width, 3)
    assert (out != result.frame.image).any(axis=2).mean() > 0.05
    bar = BarAnnotator(top=True).rect(out, 1, Style.of(out, 960))
    assert (out[bar[1] : bar[3], -5:] == 0).all()  # the status bar across the top


def test_preview_writer_writes_video_snapshots_and_violation_frames(tmp_path: Path) -> None:
    writer = PreviewWriter(tmp_path, 10.0, "cam", snapshots=2)
    for i in range(12):
        r = _frame_result(1280, 720, 3, seed=i)
        r = FrameResult(
            Frame(r.frame.image, i, i / 10, "cam"),
            r.detections,
            r.tracks,
            r.active,
            r.violations if i == 5 else (),
        )
        writer.write(r)
    writer.close()
    assert (tmp_path / "preview.mp4").stat().st_size > 1000
    shots = sorted(tmp_path.glob("*.jpg"))
    assert len(shots) == 3  # two snapshots, one violation frame
    for p in shots:
        img = cv2.imread(str(p))
        assert img is not None and img.shape == (540, 960, 3) and img.std() > 10


@pytest.mark.parametrize("size", [(960, 540), (1920, 1080)])
def test_overview_never_covers_the_violator(size: tuple[int, int]) -> None:
    width, height = size
    result = _frame_result(width, height, 12, seed=3)
    dets = result.detections
    dets.xyxy[0] = [0.05 * width, 0.8 * height, 0.25 * width, 0.97 * height]  # by the bottom bar, alone
    bx1, by1, bx2, by2 = (float(v) for v in dets.xyxy[0])
    box = (bx1, by1, bx2, by2)
    text = im.OverviewText(
        "Ngã tư Hàng Xanh",
        "cam1",
        "Đường Điện Biên Phủ, quận Bình Thạnh, TP Hồ Chí Minh " * 3,
        "RED LIGHT  #1 car",
        ("signal: red (+1.2 s)", "plate: 51F-123.45 (0.93)"),
    )
    _, cfg = _sample_frame()
    zones = ZoneAnnotator(cfg.rules)

    def annotate(image: np.ndarray, frame: Frame, style: Style) -> list[Label]:
        return zones.labels(image.shape, None)  # names only: the zones' lines would cross the box

    out, masked = im.overview(result.frame, 1, box, dets, text, privacy_mask=False, annotate=annotate)
    assert out.shape == (height, width, 3) and masked == 0
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    m = Style.for_image(width, height).line + 2
    inner = (slice(y1 + m, y2 - m), slice(x1 + m, x2 - m))
    assert (out[inner] == result.frame.image[inner]).all()  # no label on the violator
    assert (out[:3, :, :] == 0).mean() > 0.5  # the timestamp bar moved to the top, off the violator
