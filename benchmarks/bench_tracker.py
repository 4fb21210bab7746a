"""Track continuity of one tracker build against another, on the sample scene and the real clips.

Runs the runtime (evidence, store and preview off) on each clip at its config's settings and keeps every
reported box with its track id. `--dump FILE` saves them; `--against FILE` compares this build with a
saved one (e.g. the previous tracker) on the same clips:

- sample scene: ground-truth vehicles recovered (one track id on >= 50% of the frames where the vehicle
  is countable), id switches among those frames, ground-truth violations found;
- every clip (no labels needed): tracks, tracks seen on >= 10 frames, the share of boxes that keep
  their id from one detected frame to the next where the vehicle clearly is the same (IoU > 0.7 with a
  box of the previous frame), and each build's long tracks as covered by the other's (`covered`: share
  of the frames matched at IoU >= 0.5; `fragments`: distinct ids covering one track, 1.0 is perfect);
- the tracker's time per detected frame (track + store update, from the summary's stage times).

    python benchmarks/bench_tracker.py [--frames 300] [--dump FILE] [--against FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_schedule import coverage  # benchmarks/bench_schedule.py (scripts run by path)
from edge_accuracy import iou, sample_accuracy_of  # benchmarks/edge_accuracy.py
from machine import machine_line  # benchmarks/machine.py

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from detector.config import CameraConfig, load_camera_config  # noqa: E402
from detector.pipeline import FrameResult  # noqa: E402
from detector.runtime.loop import LoopOptions  # noqa: E402
from detector.runtime.session import RunRequest, RunSession  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
Box = tuple[float, float, float, float]
ByFrame = dict[int, list[tuple[int, Box]]]


def clips() -> list[tuple[str, Path, Path | None]]:
    """(name, video, config or None for a minimal one) of the clips that are here."""
    out: list[tuple[str, Path, Path | None]] = [
        ("sample scene", REPO / "sample_videos" / "sample_scene.mp4", REPO / "configs" / "sample_scene.yaml"),
        (
            "UA-DETRAC intersection",
            SHARED / "ua-detrac-evadb-sample" / "clips" / "intersection_252f.mp4",
            REPO / "configs" / "ua_detrac_intersection.yaml",
        ),
        ("VN BKAV traffic 1080p", SHARED / "vn-cctv-bkav-aicam" / "traffic.mp4", None),
        ("VN red-light intersection", SHARED / "vn-redlight-cctv-davidbeckiet" / "test2.mp4", None),
    ]
    return [c for c in out if c[1].exists()]


def run_boxes(name: str, video: Path, cfg_path: Path | None, frames: int | None, out: Path) -> dict[str, Any]:
    if cfg_path is None:
        cfg = CameraConfig.model_validate({"camera_id": "bench", "name": name, "source": {"uri": str(video)}})
        cfg_path = out / "none.yaml"
    else:
        cfg = load_camera_config(cfg_path)
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"uri": str(video)})})
    boxes: ByFrame = defaultdict(list)

    def on_result(r: FrameResult) -> None:
        d = r.detections
        assert d.tracker_id is not None
        for i in range(len(d)):
            x1, y1, x2, y2 = (round(float(v), 1) for v in d.xyxy[i])
            boxes[r.frame.index].append((int(d.tracker_id[i]), (x1, y1, x2, y2)))

    request = RunRequest(
        cfg,
        cfg_path,
        out,
        preview=False,
        evidence=False,
        store=False,
        loop=LoopOptions(max_frames=frames, on_result=on_result),
    )
    session = RunSession.open(request)
    t0 = time.perf_counter()
    try:
        summary = session.run()
    finally:
        session.close()
    times = summary.times
    return {
        "frames": summary.frames,
        "wall_s": time.perf_counter() - t0,
        "track_ms": 1e3 * times.track / max(1, times.frames),
        "detected": times.detected_frames,
        "violations": [[v.violation_type.value, v.track_id] for v in summary.violations],
        "boxes": {str(f): [[t, *b] for t, b in rows] for f, rows in boxes.items()},
    }


def by_frame(run: dict[str, Any]) -> ByFrame:
    return {int(f): [(int(r[0]), (r[1], r[2], r[3], r[4])) for r in rows] for f, rows in run["boxes"].items()}


def continuity(run: dict[str, Any]) -> dict[str, float]:
    boxes = by_frame(run)
    lengths: dict[int, int] = defaultdict(int)
    for rows in boxes.values():
        for tid, _ in rows:
            lengths[tid] += 1
    same = total = 0
    frames = sorted(boxes)
    for prev, cur in zip(frames, frames[1:], strict=False):
        for tid, box in boxes[cur]:
            best = max(boxes[prev], key=lambda r: iou(r[1], box), default=None)
            if best is not None and iou(best[1], box) > 0.7:
                total += 1
                same += best[0] == tid
    return {
        "tracks": len(lengths),
        "long": sum(n >= 10 for n in lengths.values()),
        "kept": same / total if total else float("nan"),
        "pairs": total,
    }


def row(name: str, label: str, run: dict[str, Any], other: dict[str, Any] | None) -> str:
    c = continuity(run)
    cover = "-"
    if other is not None:
        cov, frag, n = coverage(by_frame(other), by_frame(run))
        cover = f"{cov:.1%} / {frag:.2f} (of {n})"
    gt = "-"
    if name == "sample scene":
        acc = sample_accuracy_of(by_frame(run), run["frames"], run["violations"])
        gt = (
            f"{acc['recovered']}/{acc['vehicles']}, {acc['id_switches']} id sw., "
            f"{acc['violations_found']}/{acc['violations_expected']} violations "
            f"({acc['violations_reported']} reported)"
        )
    return (
        f"| {name} | {label} | {run['frames']} ({run['detected']}) | {c['tracks']} | {c['long']} "
        f"| {c['kept']:.2%} of {c['pairs']} | {cover} | {gt} | {run['track_ms']:.2f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--dump", type=Path, help="save this build's boxes to FILE (JSON)")
    ap.add_argument("--against", type=Path, help="compare with a build saved by --dump")
    ap.add_argument("--label", default="this build")
    args = ap.parse_args()
    print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.1f}")
    ours: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_tracker_") as tmp:
        for name, video, cfg in clips():
            frames = None if name == "sample scene" else args.frames
            ours[name] = run_boxes(name, video, cfg, frames, Path(tmp))
            print(f"{name}: {ours[name]['frames']} frames, {ours[name]['wall_s']:.1f} s", flush=True)
    if args.dump:
        args.dump.write_text(json.dumps({"label": args.label, "runs": ours}), encoding="utf-8")
    base = json.loads(args.against.read_text(encoding="utf-8")) if args.against else None
    lines = [
        "| clip | build | frames (detected) | tracks | tracks >= 10 frames | id kept frame to frame "
        "| long tracks of the other build covered / fragments | sample ground truth | tracker ms per frame |",
        "|" + "---|" * 9,
    ]
    for name in ours:
        old = base["runs"].get(name) if base else None
        if old is not None:
            lines.append(row(name, base["label"], old, ours[name]))
        lines.append(row(name, args.label, ours[name], old))
    print(f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
