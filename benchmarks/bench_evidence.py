"""Time and size of one evidence bundle: H.264 clip vs MPEG-4 part 2 vs no clip, plus verify time.

    .venv/bin/python benchmarks/bench_evidence.py [--width 1280 --height 720 --fps 25 --repeat 3]

Frames are generated (textured road, moving car, parked car) so the run needs no files. Each
variant writes `repeat` bundles into a temp folder (median reported), then verifies the chain.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
from machine import machine_line  # benchmarks/machine.py (scripts run by path)

from detector.config import EvidenceConfig
from detector.evidence.clip import h264_encoder
from detector.evidence.keys import Ed25519Signer
from detector.evidence.verify import verify_chain
from detector.evidence.writer import BundleWriter
from detector.types import Frame, ViolationType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the generated scenes
from tests.evidence.synthetic import camera_info, models, plate_read, scene, violation  # noqa: E402


def machine() -> str:
    try:
        import av

        av_v = av.__version__
    except ImportError:
        av_v = "absent"
    return f"{machine_line()}, PyAV {av_v}, H.264 encoder {h264_encoder()}"


def read_video(path: Path, n: int, fps: float) -> tuple[list[Frame], dict]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while len(frames) < n:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(Frame(image=img, index=len(frames), timestamp=len(frames) / fps, source_id="cam1"))
    finally:
        cap.release()
    if len(frames) < 2:
        raise SystemExit(f"{path}: fewer than 2 frames decoded")
    return frames, {}


def clip_psnr(clip: Path, frames: list[Frame]) -> float:
    """Mean PSNR (dB) of the decoded clip against the source frames."""
    cap = cv2.VideoCapture(str(clip))
    vals = []
    try:
        for f in frames:
            ok, img = cap.read()
            if not ok:
                break
            src = f.image[: img.shape[0], : img.shape[1]]
            vals.append(cv2.PSNR(src, img))
    finally:
        cap.release()
    return statistics.fmean(vals) if vals else float("nan")


def run_variant(name: str, cfg: EvidenceConfig, frames: list, dets: dict, fps: float, repeat: int) -> dict:
    signer = Ed25519Signer.generate()
    with tempfile.TemporaryDirectory(prefix="bench_evidence_") as tmp:
        w = BundleWriter(tmp, signer, camera_info(), models(), "c" * 64, config=cfg)
        times, cpu, sizes, clip_sizes = [], [], [], []
        n_clip = 0
        for r in range(repeat):
            at = len(frames) // 2
            kind = list(ViolationType)[r % len(ViolationType)]  # distinct event keys, same vehicle
            v = dataclasses.replace(violation(at, fps=fps), violation_type=kind)
            t0, c0 = time.perf_counter(), time.process_time()
            path = w.write(
                v,
                frames,
                plate=plate_read(),
                plate_crop=frames[at].image[100:140, 100:220],
                detections_by_frame=dets,
            )
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            files = list(path.iterdir())
            sizes.append(sum(f.stat().st_size for f in files))
            clip = path / "clip.mp4"
            clip_sizes.append(clip.stat().st_size if clip.exists() else 0)
            psnr = clip_psnr(clip, frames) if clip.exists() else float("nan")
            n_clip = len(frames)
        t0 = time.perf_counter()
        report = verify_chain(tmp, [signer.public_key])
        verify_s = time.perf_counter() - t0
        assert report.ok, report.all_problems()
    return {
        "variant": name,
        "write_s": statistics.median(times),
        "cpu_s": statistics.median(cpu),
        "bundle_kb": statistics.median(sizes) / 1024,
        "clip_kb": statistics.median(clip_sizes) / 1024,
        "psnr": psnr,
        "clip_frames": n_clip if cfg.clip_enabled else 0,
        "verify_ms_per_bundle": verify_s / repeat * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--pre", type=float, default=2.0)
    ap.add_argument("--post", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--video",
        type=Path,
        default=None,
        help="Use the first frames of this video (e.g. sample_videos/sample_scene.mp4) instead",
    )
    a = ap.parse_args()
    if a.video is not None:
        cap = cv2.VideoCapture(str(a.video))
        a.fps = cap.get(cv2.CAP_PROP_FPS) or a.fps
        cap.release()
    n = int(round((a.pre + a.post) * a.fps)) + 1
    if a.video is not None:
        frames, dets = read_video(a.video, n, a.fps)
        a.height, a.width = frames[0].image.shape[:2]
        n = len(frames)
    else:
        sfs = list(scene(n, width=a.width, height=a.height, fps=a.fps, wall_time0=1.8e9))
        frames = [s.frame for s in sfs]
        dets = {s.frame.index: s.detections for s in sfs}
    src = a.video or "generated frames (noise-textured road, 2 boxes)"
    print(f"machine: {machine()}")
    print(
        f"input: {src}, {a.width}x{a.height} @ {a.fps:g} fps, clip window {a.pre:g}+{a.post:g} s = {n} frames, "
        f"median of {a.repeat}"
    )
    base = {"pre_s": a.pre, "post_s": a.post, "jpeg_quality": 90, "clip_max_width": a.width}
    variants = [
        ("h264 clip (libx264 crf 23, veryfast)", EvidenceConfig(**base, clip_codec="h264")),
        ("mpeg4 clip (MPEG-4 part 2 fallback)", EvidenceConfig(**base, clip_codec="mpeg4")),
        ("no clip (6 JPEGs only)", EvidenceConfig(**base, clip_enabled=False)),
    ]
    print(
        f"{'variant':40s} {'write s':>8s} {'cpu s':>6s} {'bundle KiB':>11s} {'clip KiB':>9s} {'PSNR dB':>8s} {'verify ms':>10s}"
    )
    for name, cfg in variants:
        r = run_variant(name, cfg, frames, dets, a.fps, a.repeat)
        print(
            f"{r['variant']:40s} {r['write_s']:8.3f} {r['cpu_s']:6.3f} {r['bundle_kb']:11.1f} {r['clip_kb']:9.1f} {r['psnr']:8.1f} "
            f"{r['verify_ms_per_bundle']:10.1f}"
        )


if __name__ == "__main__":
    main()
