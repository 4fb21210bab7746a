"""Frames of a replay's tracks.jsonl where two road users cover one two-wheeler (IoU > 0.5).

A `person` or two-wheeler record over another two-wheeler's record in the same frame is one motorbike
counted twice. Prints the count of such pairs and of the frames holding them.

    .venv/bin/python benchmarks/riders_duplicates.py OUT/tracks.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

TWO_WHEELERS = {"motorcycle", "bicycle"}


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main(path: str) -> None:
    by_frame: dict[int, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            by_frame[rec["frame"]].append(rec)
    pairs, frames = 0, set()
    for f, recs in by_frame.items():
        for i, a in enumerate(recs):
            for b in recs[i + 1 :]:
                classes = {a["class"], b["class"]}
                if (
                    classes & TWO_WHEELERS
                    and classes <= TWO_WHEELERS | {"person"}
                    and iou(a["box"], b["box"]) > 0.5
                ):
                    pairs += 1
                    frames.add(f)
    print(
        f"duplicate two-wheeler road users (IoU > 0.5): {pairs} in {len(frames)} of {len(by_frame)} frames "
        f"{sorted(frames)[:20]}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
