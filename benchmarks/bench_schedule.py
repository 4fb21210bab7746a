"""What the detection schedule and the int8 detector do to decisions and tracks.

For each setting (detect_every N, fp32 or int8) the sample scene and the real clips run through the
runtime (`RunSession`, evidence off):
- sample scene: the ground-truth violations found (6 expected, no false one) and the ground-truth
  vehicles recovered (one track id covers the vehicle at IoU >= 0.5 on >= 50% of the frames where it
  is at least 95% visible and 30 px wide), with the id switches among those frames;
- real clips (no labels), each with its camera config (zones, signal): continuity against the first
  setting (full-rate detection) on the same clip. Every reference track seen on >= 10 frames is
  matched frame by frame (IoU >= 0.5) to the setting's boxes; `covered` is the share of its frames
  matched, `fragments` the number of distinct track ids covering it (1.0 is perfect continuity), and
  the detector's share of frames actually run. The same again over the frames where the reference
  box stands in the judged region (every zone plus the full-rate margin: where rules decide), and
  the violations each setting reports.

    python benchmarks/bench_schedule.py [--frames 300] [--write]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from edge_accuracy import iou  # benchmarks/edge_accuracy.py (scripts run by path)
from machine import machine_line  # benchmarks/machine.py (scripts run by path)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from shapely.geometry import Point  # noqa: E402

from detector.config import CameraConfig, load_camera_config  # noqa: E402
from detector.geometry import Scene  # noqa: E402
from detector.pipeline import FrameResult  # noqa: E402
from detector.runtime.loop import LoopOptions  # noqa: E402
from detector.runtime.schedule import judged_region  # noqa: E402
from detector.runtime.session import RunRequest, RunSession  # noqa: E402
from detector.sample.groundtruth import load_ground_truth  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
Box = tuple[float, float, float, float]
# (detect every, weights, full_rate_young_s, crop_max_share); the first is the real clips' reference
SETTINGS = [
    (1, "fp32", 0.3, 0.5),
    (2, "fp32", 0.3, 0.5),
    (3, "fp32", 0.3, 0.5),
    (1, "int8", 0.3, 0.5),
    (2, "int8", 0.3, 0.0),
    (2, "int8", 0.3, 0.5),
    (3, "int8", 0.3, 0.5),
]
Setting = tuple[int, str, float, float]  # (detect every, weights, full rate young s, crop max share)


def parse_settings(text: str) -> list[Setting]:
    """`2:int8:0.3,2:int8:0:0` -> [(2, "int8", 0.3, 0.5), (2, "int8", 0.0, 0.0)] (the 4th field, the
    largest crop share of a forced detection, defaults to the config's 0.5)."""
    out = []
    for item in text.split(","):
        every, weights, young, *crop = item.split(":")
        out.append((int(every), weights, float(young), float(crop[0]) if crop else 0.5))
    return out


# each clip with its camera config (zones, signal): the schedule keeps full rate where its rules judge
CLIPS = {
    "UA-DETRAC intersection": (
        SHARED / "ua-detrac-evadb-sample" / "clips" / "intersection_252f.mp4",
        "ua_detrac_intersection.yaml",
    ),
    "Hanoi stop line 1080p": (SHARED / "vn-cctv-bkav-aicam" / "traffic.mp4", "vn_bkav_hanoi_stopline.yaml"),
    "VN red-light intersection": (
        SHARED / "vn-redlight-cctv-davidbeckiet" / "test2.mp4",
        "vn_davidbeckiet_redlight.yaml",
    ),
    "Makassar dusk (motorbikes)": (
        SHARED / "id-makassar-cctv-night" / "traffic.mp4",
        "id_makassar_night.yaml",
    ),
}


def run(
    cfg: CameraConfig, cfg_path: Path, setting: Setting, frames: int | None, out: Path
) -> tuple[dict[int, list[tuple[int, Box]]], Any, float]:
    every, precision, young, crop = setting
    cfg = cfg.model_copy(
        update={
            "runtime": cfg.runtime.model_copy(
                update={"detect_every": every, "full_rate_young_s": young, "crop_max_share": crop}
            ),
            "detector": cfg.detector.model_copy(update={"precision": precision, "input_size": None}),
        }
    )
    boxes: dict[int, list[tuple[int, Box]]] = defaultdict(list)

    def on_result(r: FrameResult) -> None:
        d = r.detections
        assert d.tracker_id is not None
        for i in range(len(d)):
            x1, y1, x2, y2 = (float(v) for v in d.xyxy[i])
            boxes[r.frame.index].append((int(d.tracker_id[i]), (x1, y1, x2, y2)))

    session = RunSession.open(
        RunRequest(
            cfg,
            cfg_path,
            out,
            preview=False,
            evidence=False,
            store=False,
            loop=LoopOptions(max_frames=frames, on_result=on_result),
        )
    )
    t0 = time.perf_counter()
    try:
        summary = session.run()
    finally:
        session.close()
    return boxes, summary, time.perf_counter() - t0


def coverage(
    reference: dict[int, list[tuple[int, Box]]],
    got: dict[int, list[tuple[int, Box]]],
    min_frames: int = 10,
    region: Any = None,
) -> tuple[float, float, int]:
    """(mean covered share, mean fragments, reference tracks) of the reference tracks in `got`; with a
    `region` (shapely), only the reference boxes whose ground point (bottom centre) lies in it count."""
    by_track: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    for f, rows in reference.items():
        for tid, box in rows:
            if region is None or region.contains(Point((box[0] + box[2]) / 2, box[3])):
                by_track[tid].append((f, box))
    covered, fragments = [], []
    for obs in by_track.values():
        if len(obs) < min_frames:
            continue
        ids: Counter[int] = Counter()
        hit = 0
        for f, box in obs:
            best = max(got.get(f, []), key=lambda r: iou(r[1], box), default=None)
            if best is not None and iou(best[1], box) >= 0.5:
                hit += 1
                ids[best[0]] += 1
        covered.append(hit / len(obs))
        fragments.append(len(ids) if ids else 0)
    n = len(covered)
    return (sum(covered) / n if n else 0.0, sum(fragments) / n if n else 0.0, n)


def sample_row(setting: Setting, work: Path) -> str:
    every, precision, young, crop = setting
    cfg_path = REPO / "configs" / "sample_scene.yaml"
    cfg = load_camera_config(cfg_path)
    truth = load_ground_truth(REPO / "sample_videos" / "ground_truth.json")
    boxes, summary, secs = run(cfg, cfg_path, setting, None, work / f"s{every}{precision}{young}{crop}")
    found = sorted(v.violation_type.value for v in summary.violations)
    expected = sorted(x.type for _, x in truth.violations())
    recovered = switches = total = 0
    for v in truth.vehicles:
        ids: Counter[int] = Counter()
        frames = 0
        last = None
        for b in v.boxes:
            if b.visible < 0.95 or b.occluded > 0.1 or b.x2 - b.x1 < 30:
                continue
            frames += 1
            gt = (b.x1, b.y1, b.x2, b.y2)
            best = max(boxes.get(b.frame, []), key=lambda r: iou(r[1], gt), default=None)
            if best is not None and iou(best[1], gt) >= 0.5:
                ids[best[0]] += 1
                switches += last is not None and best[0] != last
                last = best[0]
        if frames:
            total += 1
            recovered += bool(ids) and ids.most_common(1)[0][1] >= 0.5 * frames
    sched = summary.runtime["schedule"]
    share = sched["detected"] / max(1, sched["detected"] + sched["predicted"])
    cropped = sched["cropped"] / max(1, sched["detected"] + sched["predicted"])
    ok = "yes" if found == expected else f"no: {found}"
    return (
        f"| sample scene | {every} | {precision} | {young:g} | {crop:g} | {share:.0%} ({cropped:.0%}) | {len(found)} / {len(expected)} ({ok}) "
        f"| {recovered} / {total} | {switches} | {summary.frames / secs:.1f} |"
    )


def clip_rows(
    name: str, clip: Path, config: str, frames: int, work: Path, settings: list[Setting]
) -> list[str]:
    cfg_path = REPO / "configs" / config
    cfg = load_camera_config(cfg_path)
    cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"uri": str(clip)})})
    region = None  # where the rules may judge a track (the schedule's full-rate region for young tracks)
    if cfg.rules is not None and cfg.rules.image_size is not None:
        scene = Scene.from_config(cfg.rules, cfg.rules.image_size)
        region = judged_region(scene, cfg.runtime.full_rate_margin_px)
    reference: dict[int, list[tuple[int, Box]]] | None = None
    rows = []
    for setting in settings:
        every, precision, young, crop = setting
        boxes, summary, secs = run(
            cfg, cfg_path, setting, frames, work / f"{name[:6]}{every}{precision}{young}{crop}"
        )
        if reference is None:
            reference = boxes
        cov, frag, n = coverage(reference, boxes)
        jcov, jfrag, jn = coverage(reference, boxes, region=region)
        sched = summary.runtime["schedule"]
        share = sched["detected"] / max(1, sched["detected"] + sched["predicted"])
        cropped = sched["cropped"] / max(1, sched["detected"] + sched["predicted"])
        rows.append(
            f"| {name} | {every} | {precision} | {young:g} | {crop:g} | {share:.0%} ({cropped:.0%}) | {summary.tracks} | {n} | {cov:.1%} "
            f"| {frag:.2f} | {jn} | {jcov:.1%} | {jfrag:.2f} | {len(summary.violations)} | {summary.frames / secs:.1f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--write", action="store_true")
    ap.add_argument(
        "--settings",
        type=parse_settings,
        default=SETTINGS,
        help="EVERY:WEIGHTS:YOUNG_S,... (the first is the clips' reference; default: every 1-3, fp32 and int8, 0.3)",
    )
    args = ap.parse_args()
    work = Path("/tmp/bench-schedule")
    work.mkdir(exist_ok=True)
    print(f"machine: {machine_line()}")
    sample = [
        "| clip | detect every | weights | full rate young s | crop max share | frames detected (in a crop) "
        "| GT violations "
        "| GT vehicles recovered | id switches | fps |",
        "|" + "---|" * 10,
    ]
    for setting in args.settings:
        sample.append(sample_row(setting, work))
        print(sample[-1], flush=True)
    clips = [
        "| clip | detect every | weights | full rate young s | crop max share | frames detected (in a crop) "
        "| tracks "
        "| reference tracks (first setting) | covered | fragments | of which judged | covered there "
        "| fragments there | violations | fps |",
        "|" + "---|" * 15,
    ]
    for name, (clip, config) in CLIPS.items():
        if not clip.exists():
            print(f"{name}: skipped (no {clip})")
            continue
        clips += clip_rows(name, clip, config, args.frames, work, args.settings)
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine_line()}; load average {os.getloadavg()[0]:.1f} at "
        f"the end; `python benchmarks/bench_schedule.py --frames {args.frames}` (the fps column is the loop's "
        "own, evidence off, for comparison between rows only).\n\n"
        + "\n".join(sample)
        + "\n\n"
        + "\n".join(clips)
        + "\n"
    )
    print(text)
    if args.write:
        (REPO / "benchmarks" / "results" / "schedule.md").write_text(
            "## Detection schedule and int8: decisions and track continuity\n\n" + text, encoding="utf-8"
        )


if __name__ == "__main__":
    main()
