"""Updates benchmarks/RESULTS.md from the per-area figures in benchmarks/results/*.md.

Each benchmark script writes its own section file with the machine it ran on. RESULTS.md also holds
sections written by hand (a session's measurements and what they mean), so this does not rebuild it:
each results file replaces the level-2 section of the same heading (from that heading to the next
level-2 heading), a results file whose heading is not there yet is added at the end, and every other
section is kept as it is. Notes written by hand under a generated section go below a line
`<!-- notes -->` in that section: they are kept under the new figures. A section edited by hand above
that line (its text is not the results file's, old or new, plus notes) is left alone and named, unless
`--replace-edited`. Without a RESULTS.md it is built from the results files alone.

    .venv/bin/python benchmarks/collect.py [--replace-edited]
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "edge",
    "edge_openvino",
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
| The edge with the detector on OpenVINO (a CPU with AMX) | `benchmarks/bench_edge.py --backend openvino` |
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


NOTES = "<!-- notes -->"


def _generated_line(name: str) -> str:
    return f"<!-- generated from benchmarks/results/{name}.md by benchmarks/collect.py -->"


def generated(name: str) -> str | None:
    """A results file's text with its headings shifted so its top heading is level 2, and a line under
    the heading saying where it comes from."""
    path = HERE / "results" / f"{name}.md"
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    top = min((len(x) - len(x.lstrip("#")) for x in lines if x.startswith("#")), default=2)
    shifted = [
        ("#" * (2 - top) + x) if x.startswith("#") and top < 2 else (x[top - 2 :] if x.startswith("#") else x)
        for x in lines
    ]
    return stamped("\n".join(shifted), name)


def stamped(section: str, name: str) -> str:
    """A section with the line saying it comes from benchmarks/results/NAME.md under its heading."""
    lines = section.splitlines()
    return "\n".join([lines[0], _generated_line(name), *lines[1:]])


def split_sections(text: str) -> list[str]:
    """The document cut before every level-2 heading (the first part is what precedes the first)."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append([])
        parts[-1].append(line)
    return ["\n".join(p).strip() for p in parts]


def merge(document: str, sections: list[str], replace_edited: bool = False) -> tuple[str, list[str]]:
    """`document` with each of `sections` in place of the section of the same heading (or added), the
    notes below its NOTES line kept; and the headings of the sections left alone (edited by hand)."""
    parts = split_sections(document)
    heads = [p.splitlines()[0] if p.startswith("## ") else None for p in parts]
    edited: list[str] = []
    for section in sections:
        head = section.splitlines()[0]
        if head not in heads:
            parts.append(section)
            heads.append(head)
            continue
        i = heads.index(head)
        figures, marker, notes = parts[i].partition(NOTES)
        if figures.strip() != section.strip() and _edited(figures) and not replace_edited:
            edited.append(head)
            continue
        parts[i] = section + ("\n\n" + NOTES + notes if marker else "")
    return "\n\n".join(p for p in parts if p) + "\n", edited


def _edited(figures: str) -> bool:
    """A section not written by this script (no generated line under its heading) counts as edited."""
    return "<!-- generated from benchmarks/results/" not in figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replace-edited", action="store_true", help="replace sections edited by hand too")
    args = ap.parse_args()
    sections = [text for name in ORDER if (text := generated(name)) is not None]
    out = HERE / "RESULTS.md"
    if out.exists():
        text, edited = merge(out.read_text(encoding="utf-8"), sections, args.replace_edited)
        for head in edited:
            print(f"left alone (edited by hand above {NOTES}): {head}")
    else:
        text = "\n\n".join([HEADER, *sections]) + "\n"
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
