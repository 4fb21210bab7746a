"""Writes benchmarks/RESULTS.md from the per-area figures in benchmarks/results/*.md.

Each benchmark script writes its own section file with the machine it ran on; this only joins them.

    .venv/bin/python benchmarks/collect.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "edge",
    "memory",
    "tracker",
    "stream",
    "soak",
    "schedule",
    "int8",
    "pipeline",
    "rules",
    "plates",
    "plate_angle",
    "plates_vn",
    "evidence",
    "store",
    "scale",
]
HEADER = """# Benchmark results

Speed, memory and accuracy figures, each with the machine it ran on and a peer measured in the
same run. Regenerate a section with its script (named in the section), then this file with
`python benchmarks/collect.py`. Figures taken while other jobs shared the 2 cores say so; compare
the ratios, which come from one run.

| section | script |
| --- | --- |
| The edge: ours against Ultralytics' track pipeline (fps, latency, RSS, tracks) | `benchmarks/bench_edge.py` |
| Where the lean replay's memory goes (imports, models, buffers), before and after | `benchmarks/bench_memory.py` |
| Our ByteTrack against `trackers`: track continuity | `benchmarks/bench_tracker.py` |
| A 1080p 25 fps RTSP camera in real time, full pipeline, 10 minutes | `benchmarks/bench_stream.py` |
| 30-minute soak on the RTSP camera: RSS over time (plot) | `benchmarks/bench_stream.py --soak` |
| Detection schedule and int8: decisions and track continuity | `benchmarks/bench_schedule.py` |
| int8 YOLO11n against fp32: recall, precision, speed | `benchmarks/bench_int8.py` |
| Pipeline stages: decode, detect, track (frames/s) | `benchmarks/bench_pipeline.py` |
| Rules: sample scene, highway speeds, intersection review | replays described in the section |
| Plate reading: accuracy and ms per plate | `benchmarks/bench_plates.py` |
| Plate angle: measured, its cost to reading, frame choice by it | `benchmarks/bench_plate_angle.py` |
| Vietnamese plates: real one-row and two-row crops, review flags, a real clip | `benchmarks/bench_plates_vn.py`, `benchmarks/read_clip_plates.py` |
| Evidence bundles: time and size | `benchmarks/bench_evidence.py` |
| Store: lookup latency at 1M violations, ingest rate | `benchmarks/bench_store.py` |
| Beyond one box: Dask vs Ray, batch replay speed-up, partitioned store, central store under load | `benchmarks/bench_engines.py`, `bench_batch.py`, `bench_store.py`, `bench_central.py` |
"""


def main() -> None:
    parts = [HEADER]
    for name in ORDER:
        path = HERE / "results" / f"{name}.md"
        if path.exists():
            text = path.read_text(encoding="utf-8").strip()
            # shift headings so each section's top heading is level 2, under the file's title
            lines = text.splitlines()
            top = min((len(x) - len(x.lstrip("#")) for x in lines if x.startswith("#")), default=2)
            lines = [
                ("#" * (2 - top) + x)
                if x.startswith("#") and top < 2
                else (x[top - 2 :] if x.startswith("#") else x)
                for x in lines
            ]
            parts.append("\n".join(lines))
    out = HERE / "RESULTS.md"
    out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
