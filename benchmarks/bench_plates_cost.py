"""What reading one Vietnamese plate costs: CPU and wall time per crop, one-row and two-row, one thread.

Issue 14 asks at most 30 ms a one-row plate and 60 ms a two-row plate on the 2-core edge box. This
reads each crop of `vn-plates-1row-bkav` (one-row, typed labels) and of the two-row crops of
`vn-plates-vitocolerole` with `PlateReader.read_crop` (country vn, onnxruntime with `--threads`
intra-op threads, the crop as the pipeline gives it) and records, per crop, the process CPU time and
the wall time of the call; with `--repeat R` each crop is read R times in a row and its least time
kept (the noise of a shared machine only adds). The first `--warmup` crops are read once before the
clock starts (model load, allocator, caches). The exact-read count is printed beside the times, so a
change meant to be faster can be checked to read exactly as before (same crops, same counts).

Wall time is the figure the targets mean, and it is only worth reporting from a quiet machine
(load average well under one per core: the report prints it, and says "LOADED" when it is not);
CPU time of the process is less sensitive to other processes but still inflated by shared cores.

    .venv/bin/python benchmarks/bench_plates_cost.py                    # every crop of both sets
    .venv/bin/python benchmarks/bench_plates_cost.py --limit 300 --repeat 3 --write benchmarks/results/plates_cost.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_plates import machine, sample, write_report  # noqa: E402
from benchmarks.bench_plates_vn import DATA, Item, bkav_items, vito_items  # noqa: E402
from detector.config import PlatesConfig  # noqa: E402
from detector.plates.reader import PlateReader  # noqa: E402

#: the issue's targets per plate, ms (on the 2-core edge box)
TARGET_MS = {"bkav one-row": 30.0, "vitocolerole two-row": 60.0}


@dataclass(frozen=True, slots=True)
class Cost:
    set: str
    label: str
    read: str
    cpu_ms: float
    wall_ms: float


def read_costs(reader: PlateReader, items: list[Item], repeat: int) -> list[Cost]:
    out = []
    for it in items:
        img = cv2.imread(str(it.path))
        if img is None:
            print(f"unreadable image: {it.path}", file=sys.stderr)
            continue
        best_cpu = best_wall = float("inf")
        text = ""
        for _ in range(repeat):
            c, t = time.process_time(), time.perf_counter()
            obs = reader.read_crop(img)
            read = reader.vote([obs]) if obs is not None else None
            best_cpu = min(best_cpu, (time.process_time() - c) * 1000)
            best_wall = min(best_wall, (time.perf_counter() - t) * 1000)
            text = read.normalized if read else ""
        out.append(Cost(it.set, it.label, text, best_cpu, best_wall))
    return out


def pct(v: list[float], q: float) -> float:
    s = sorted(v)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def table(costs: list[Cost]) -> list[str]:
    lines = [
        "| set | crops | exact reads | CPU ms median | CPU ms p90 | CPU ms mean | wall ms median | wall ms p90 | "
        "wall ms mean | target ms | wall median within target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in dict.fromkeys(c.set for c in costs):
        cs = [c for c in costs if c.set == s]
        cpu, wall = [c.cpu_ms for c in cs], [c.wall_ms for c in cs]
        exact = sum(c.read == c.label for c in cs)
        target = TARGET_MS.get(s, float("nan"))
        lines.append(
            f"| {s} | {len(cs)} | {exact} | {statistics.median(cpu):.1f} | {pct(cpu, 0.9):.1f} | "
            f"{statistics.fmean(cpu):.1f} | {statistics.median(wall):.1f} | {pct(wall, 0.9):.1f} | "
            f"{statistics.fmean(wall):.1f} | {target:.0f} | {'yes' if statistics.median(wall) <= target else 'no'} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most N crops per set, spread evenly")
    ap.add_argument("--repeat", type=int, default=1, help="read each crop R times, keep the least time")
    ap.add_argument("--warmup", type=int, default=20, help="crops read before the clock starts")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads of the reader")
    ap.add_argument("--write", type=Path, help="also write the markdown report here")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"no data at {DATA} (../shared/data absent?)", file=sys.stderr)
        return 2
    items: list[Item] = []
    one = [i for i in bkav_items()]
    two = [i for i in vito_items() if i.set == "vitocolerole two-row"]
    items = sample(one, args.limit) + sample(two, args.limit)
    reader = PlateReader.from_config(PlatesConfig(country="vn", threads=args.threads), with_detector=False)
    read_costs(reader, sample(one, args.warmup // 2) + sample(two, args.warmup - args.warmup // 2), 1)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    costs = read_costs(reader, items, max(1, args.repeat))
    load1 = os.getloadavg()
    reader.close()
    cores = os.cpu_count() or 1
    quiet = max(load0[0], load1[0]) < 0.5 * cores
    write_report(
        [
            "# Plate reading cost per crop (Vietnamese one-row and two-row)",
            "",
            f"Machine: {machine()}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end "
            f"({'quiet' if quiet else 'LOADED: wall times are not speed figures'}); "
            f"{time.perf_counter() - t0:.0f} s",
            f"Command: `{' '.join(sys.argv)}`; reader with {args.threads} onnxruntime thread(s), "
            f"least of {max(1, args.repeat)} read(s) per crop, {args.warmup} warm-up crops",
            "",
            *table(costs),
        ],
        args.write,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
