"""Per-stage throughput of the foundation: decode, detect, track, in frames per second.

Peers measured in the same run: the bare onnxruntime call on a ready blob (what our pre- and
post-processing add), and detection at a smaller input size (what resolution costs).

    .venv/bin/python benchmarks/bench_pipeline.py [--frames 150] [--write]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from machine import machine_line  # benchmarks/machine.py (scripts run by path)

from detector.config import TrackerConfig, load_camera_config
from detector.detect.onnx import OnnxYoloDetector
from detector.sources import VideoFileSource
from detector.track import ByteTracker

REPO = Path(__file__).resolve().parents[1]
CLIPS = {
    "sample scene": "configs/sample_scene.yaml",
    "UA-DETRAC intersection": "configs/ua_detrac_intersection.yaml",
    "bgs video02 (highway)": "configs/bgs_video02.yaml",
    "bgs video03 (highway)": "configs/bgs_video03.yaml",
}


def bench_clip(name: str, cfg_path: Path, frames: int) -> dict[str, float] | None:
    try:
        cfg = load_camera_config(cfg_path)
    except Exception as exc:  # a clip that is not here is reported, not fatal
        print(f"{name}: skipped ({exc})")
        return None
    if not Path(cfg.source.uri).exists():
        print(f"{name}: skipped (no {cfg.source.uri})")
        return None
    src = VideoFileSource(cfg.source.uri)
    t0 = time.perf_counter()
    decoded = [f for f, _ in zip(src, range(frames), strict=False)]
    decode_s = time.perf_counter() - t0
    det = OnnxYoloDetector(cfg.detector)
    small = OnnxYoloDetector(cfg.detector.model_copy(update={"input_size": (320, 192)}))
    det.detect(decoded[0])  # warm up
    small.detect(decoded[0])
    t0 = time.perf_counter()
    dets = [det.detect(f) for f in decoded]
    detect_s = time.perf_counter() - t0
    blob, _, _ = det.preprocess(decoded[0].image)
    t0 = time.perf_counter()
    for _ in decoded:
        det.session.run(None, {det._input_name: blob})
    infer_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in decoded:
        small.detect(f)
    small_s = time.perf_counter() - t0
    tracker = ByteTracker(TrackerConfig(), src.info.fps)
    t0 = time.perf_counter()
    for f, d in zip(decoded, dets, strict=True):
        tracker.update(d, f.timestamp)
    track_s = time.perf_counter() - t0
    n = len(decoded)
    return {
        "frames": n,
        "size": f"{decoded[0].width}x{decoded[0].height}",
        "input": "x".join(map(str, det.input_size)),
        "decode_fps": n / decode_s,
        "detect_fps": n / detect_s,
        "infer_only_fps": n / infer_s,
        "detect_small_fps": n / small_s,
        "track_fps": n / track_s,
        "mean_dets": sum(len(d) for d in dets) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/pipeline.md")
    args = ap.parse_args()
    machine = machine_line()
    print(f"machine: {machine}")
    rows = []
    header = (
        "| clip | frames | size | detector input | decode fps | detect fps | of which inference-only fps "
        "| detect @320x192 fps (ratio) | track fps | detections/frame |"
    )
    rows.append(header)
    rows.append("|" + "---|" * 10)
    for name, rel in CLIPS.items():
        r = bench_clip(name, REPO / rel, args.frames)
        if r is None:
            continue
        rows.append(
            f"| {name} | {r['frames']} | {r['size']} | {r['input']} | {r['decode_fps']:.0f} | {r['detect_fps']:.1f} "
            f"| {r['infer_only_fps']:.1f} ({r['detect_fps'] / r['infer_only_fps']:.2f}x of it) "
            f"| {r['detect_small_fps']:.1f} ({r['detect_small_fps'] / r['detect_fps']:.2f}x) "
            f"| {r['track_fps']:.0f} | {r['mean_dets']:.1f} |"
        )
        print(rows[-1])
    if args.write:
        out = REPO / "benchmarks" / "results" / "pipeline.md"
        out.parent.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%d")
        out.write_text(
            f"## Pipeline stages (decode, detect, track)\n\nMeasured {stamp} on {machine}; "
            f"`python benchmarks/bench_pipeline.py --frames {args.frames}`, onnxruntime with 2 threads, "
            f"load average {os.getloadavg()[0]:.1f} at the end.\n\n" + "\n".join(rows) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
