"""onnxruntime's spinning thread pools against non-spinning ones, on the edge detector.

    python benchmarks/bench_ort_spin.py [--rounds 3] [--runs 40] [--gap-ms 20]

Each round runs YOLO11n int8 (640x384) with 2 intra-op threads `--runs` times, with `--gap-ms` of sleep
between runs standing for the rest of a frame's work (decode, tracking, evidence on other threads),
once with spinning allowed (onnxruntime's default) and once without (the engine's setting,
detector.detect.base.cpu_session_options), interleaved. It prints CPU ms per inference (user + system
of this process, the load-independent figure) and wall ms per inference, with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

from detector.detect.base import cpu_session_options  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / "models" / "yolo11n-int8.onnx"


def measure(spin: bool, runs: int, gap_s: float) -> tuple[float, float]:
    opts = cpu_session_options(2, spin=spin)
    sess = ort.InferenceSession(str(MODEL), sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).random((1, 3, 384, 640), dtype=np.float32)
    for _ in range(3):
        sess.run(None, {name: x})
    r0, busy = resource.getrusage(resource.RUSAGE_SELF), 0.0
    for _ in range(runs):
        s = time.perf_counter()
        sess.run(None, {name: x})
        busy += time.perf_counter() - s
        time.sleep(gap_s)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    del sess
    return cpu / runs * 1000, busy / runs * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    a = ap.parse_args()
    print(machine_line())
    print("| round | spinning | CPU ms / inference | wall ms / inference | load before |")
    print("|---|---|---|---|---|")
    for r in range(1, a.rounds + 1):
        for spin in (True, False):
            load = os.getloadavg()[0]
            cpu, wall = measure(spin, a.runs, a.gap_ms / 1000)
            print(
                f"| {r} | {'yes (default)' if spin else 'no (engine)'} | {cpu:.1f} | {wall:.1f} | {load:.1f} |"
            )


if __name__ == "__main__":
    main()
