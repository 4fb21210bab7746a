"""The peer of bench_edge.py: Ultralytics' own track pipeline on one clip, timed from inside.

Runs in the Ultralytics venv (torch + ultralytics), offline, on the same YOLO11n ONNX file as ours:

    YOLO_OFFLINE=1 .venv-ultralytics/bin/python benchmarks/edge_peer.py CLIP --model yolo11n.onnx \
        --tracks OUT.jsonl [--frames 300] [--fps 25]

It is `YOLO(model, task="detect").track(source=CLIP, tracker="bytetrack.yaml", imgsz=640, stream=True,
verbose=False, classes=[0, 1, 2, 3, 5, 7])`, stopped after --frames results. It writes the tracks as
JSON Lines in our format ({"frame","t","track_id","class","box":[x1,y1,x2,y2],"conf"}) and prints one
JSON line: steady fps (results after the first 20), per-frame latency from the start of Ultralytics'
preprocess to the end of its tracker callback (p50/p95/max ms), and Ultralytics' own per-stage speeds.
An image folder is tracked with persist=True: without it Ultralytics resets the tracker at every image
(each image is a new "video path").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
os.environ.setdefault("YOLO_OFFLINE", "1")  # before the import: no downloads, no analytics

WARMUP_RESULTS = 20
ROAD_USERS = [0, 1, 2, 3, 5, 7]  # COCO person, bicycle, car, motorcycle, bus, truck


class FrameClock:
    """Callbacks that stamp the start of each batch (before preprocess) and the end of tracking."""

    def __init__(self) -> None:
        self.batch_start: list[float] = []
        self.track_end: list[float] = []
        self.input_shape: tuple[int, ...] = ()

    def watch_preprocess(self, predictor: Any) -> None:
        """Wrap the predictor's preprocess to note the letterboxed input shape (N, C, H, W)."""
        inner = predictor.preprocess

        def preprocess(im: Any) -> Any:
            out = inner(im)
            self.input_shape = tuple(out.shape)
            return out

        predictor.preprocess = preprocess

    def on_batch_start(self, predictor: Any) -> None:
        self.batch_start.append(time.perf_counter())

    def on_postprocess_end(self, predictor: Any) -> None:
        self.track_end.append(time.perf_counter())


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def track_records(result: Any, frame: int, fps: float, names: dict[int, str]) -> list[dict[str, Any]]:
    """Our track-record format for one Ultralytics result (tracked boxes only)."""
    boxes = result.boxes
    if boxes is None or boxes.id is None or len(boxes) == 0:
        return []
    ids = boxes.id.int().tolist()
    return [
        {
            "frame": frame,
            "t": round(frame / fps, 4),
            "track_id": int(tid),
            "class": names.get(int(cls), str(int(cls))),
            "box": [round(float(v), 1) for v in xyxy],
            "conf": round(float(conf), 3),
        }
        for tid, cls, xyxy, conf in zip(
            ids, boxes.cls.tolist(), boxes.xyxy.tolist(), boxes.conf.tolist(), strict=True
        )
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ultralytics import YOLO

    imported = time.perf_counter()
    model = YOLO(args.model, task="detect")
    clock = FrameClock()
    source = Path(args.source)
    stream = model.track(
        source=str(source),
        tracker="bytetrack.yaml",
        imgsz=640,
        stream=True,
        verbose=False,
        classes=ROAD_USERS,
        persist=source.is_dir(),
    )
    # registered after track() so they run after its tracker callback (the callbacks dict is shared)
    model.add_callback("on_predict_batch_start", clock.on_batch_start)
    model.add_callback("on_predict_postprocess_end", clock.on_postprocess_end)
    clock.watch_preprocess(model.predictor)  # track() made the predictor before returning the generator
    yields: list[float] = []
    speeds: list[dict[str, float]] = []
    track_ids: set[int] = set()
    names: dict[int, str] = dict(model.names)
    with open(args.tracks, "w", encoding="utf-8") as fh:
        for frame, result in enumerate(stream):
            yields.append(time.perf_counter())
            speeds.append(dict(result.speed))
            for rec in track_records(result, frame, args.fps, names):
                track_ids.add(rec["track_id"])
                fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            if frame + 1 >= args.frames:
                break
    stream.close()
    return summarise(clock, yields, speeds, track_ids, imported)


def summarise(
    clock: FrameClock,
    yields: list[float],
    speeds: list[dict[str, float]],
    track_ids: set[int],
    imported: float,
) -> dict[str, Any]:
    n = len(yields)
    latency = [(e - s) * 1e3 for s, e in zip(clock.batch_start, clock.track_end, strict=False)][:n]
    steady = latency[WARMUP_RESULTS:] or latency
    gaps = [(b - a) * 1e3 for a, b in zip(yields, yields[1:], strict=False)][WARMUP_RESULTS - 1 :]
    steady_fps = (
        (n - WARMUP_RESULTS) / (yields[-1] - yields[WARMUP_RESULTS - 1]) if n > WARMUP_RESULTS else None
    )
    mean = (
        {k: statistics.fmean(s[k] for s in speeds[WARMUP_RESULTS:] or speeds) for k in speeds[0]}
        if speeds
        else {}
    )
    stage_sum = [sum(s.values()) for s in speeds]
    tracker_ms = [max(0.0, lat - st) for lat, st in zip(latency, stage_sum, strict=False)][WARMUP_RESULTS:]
    return {
        "frames": n,
        "steady_fps": round(steady_fps, 2) if steady_fps else None,
        "fps_overall": round(n / (yields[-1] - STARTED), 2) if n else None,
        "latency_ms": {
            "p50": round(pct(steady, 50), 1) if steady else None,
            "p95": round(pct(steady, 95), 1) if steady else None,
            "max": round(max(steady), 1) if steady else None,
        },
        "latency_kind": "start of Ultralytics preprocess to end of its tracker callback, results after the first 20",
        "gap_ms_p95": round(pct(gaps, 95), 1) if gaps else None,
        "speed_ms_mean": {k: round(v, 2) for k, v in mean.items()},
        "tracker_ms_mean": round(statistics.fmean(tracker_ms), 2) if tracker_ms else None,
        "input_shape": f"{clock.input_shape[3]}x{clock.input_shape[2]}"
        if len(clock.input_shape) == 4
        else None,
        "tracks": len(track_ids),
        "import_s": round(imported - STARTED, 2),
        "first_result_s": round(yields[0] - STARTED, 2) if n else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="video file or image folder")
    ap.add_argument("--model", required=True, help="YOLO11n ONNX file")
    ap.add_argument("--tracks", required=True, type=Path, help="JSON Lines of the tracks (our format)")
    ap.add_argument("--frames", type=int, default=300, help="stop after this many results")
    ap.add_argument("--fps", type=float, default=25.0, help="frame rate for the records' t")
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
