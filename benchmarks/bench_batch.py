"""Batch replay speed-up from 1 to 2 Dask worker processes, and the work per video that bounds it.

The same batch (the sample scene's first `--frames` frames, `--videos` times under distinct camera
ids, evidence signed, ingested into a SQLite store) runs on a local cluster of 1 and of 2 worker
processes, alternating (1, 2, 1, 2...) so both see the same machine load. Per run: wall seconds from
cluster start to the last bundle stored, and per video the task's wall and CPU seconds. The ideal
speed-up is min(workers, cores, videos); the batch falls short of it by the cluster's start-up, the
driver's serial ingest, and the longest video (the tail when videos do not divide evenly).

    nice -n 10 .venv/bin/python benchmarks/bench_batch.py [--videos 4] [--frames 60] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from detector.batch.manifest import plan_jobs
from detector.batch.runner import BatchOptions, run_batch, store_ingester
from detector.config import ManifestEntry
from detector.evidence.keys import PUBLIC_NAME, write_key_pair
from detector.store.services import open_embedded_store

REPO = Path(__file__).resolve().parents[1]


def one_run(workers: int, videos: int, frames: int, root: Path) -> dict[str, float]:
    out = root / f"w{workers}-{time.monotonic_ns()}"
    keys, trusted = out / "keys", out / "trusted"
    write_key_pair(keys)
    trusted.mkdir()
    shutil.copyfile(keys / PUBLIC_NAME, trusted / "batch.pub")
    cfg = str(REPO / "configs" / "sample_scene.yaml")
    entries = [ManifestEntry(config=cfg, name=f"v{i}", camera_id=f"bench-v{i}") for i in range(videos)]
    jobs = plan_jobs(entries, ["sample"] * videos, out, keys, max_frames=frames)
    services = open_embedded_store(out / "store", trusted)
    t0 = time.perf_counter()
    try:
        outcomes = run_batch(jobs, BatchOptions(workers=workers), store_ingester(services))
    finally:
        services.close()
    wall = time.perf_counter() - t0
    reports = [o.report for o in outcomes]
    assert all(r.error is None for r in reports), [r.error for r in reports]
    return {
        "wall_s": wall,
        "video_wall_s": statistics.median(r.wall_s for r in reports),
        "video_cpu_s": statistics.median(r.cpu_s for r in reports),
        "frames": sum(r.frames for r in reports),
        "violations": sum(r.violations for r in reports),
        "stored": sum(o.ingest.accepted for o in outcomes),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    rows: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        for r in range(args.rounds):
            for w in (1, 2):
                res = one_run(w, args.videos, args.frames, Path(tmp))
                rows[w].append(res)
                print(f"round {r} workers {w}: {res} load {os.getloadavg()}", flush=True)
    print(
        f"\nload average {os.getloadavg()}, {os.cpu_count()} CPUs, {args.videos} videos x {args.frames} frames\n"
    )
    print(
        "| workers | batch wall s | video wall s (median) | video CPU s (median) | frames | violations stored |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for w, rs in rows.items():
        med = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
        print(
            f"| {w} | {med['wall_s']:.1f} | {med['video_wall_s']:.1f} | {med['video_cpu_s']:.1f} | "
            f"{med['frames']:.0f} | {med['stored']:.0f} |"
        )
    w1 = statistics.median(x["wall_s"] for x in rows[1])
    w2 = statistics.median(x["wall_s"] for x in rows[2])
    print(f"\nspeed-up 1 -> 2 workers: {w1 / w2:.2f}x")


if __name__ == "__main__":
    main()
