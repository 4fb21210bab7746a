"""Frames of a replay's tracks.jsonl where two road users cover one two-wheeler (IoU > 0.5).

.venv/bin/python benchmarks/riders_duplicates.py OUT/tracks.jsonl
"""

import collections
import json
import sys

by = collections.defaultdict(list)
for l in open(sys.argv[1]):
    r = json.loads(l)
    by[r["frame"]].append(r)


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u else 0


dups = 0
frames = set()
for f, rs in by.items():
    for i in range(len(rs)):
        for j in range(i + 1, len(rs)):
            a, b = rs[i], rs[j]
            if {a["class"], b["class"]} & {"motorcycle", "bicycle"} and {a["class"], b["class"]} <= {
                "motorcycle",
                "bicycle",
                "person",
            }:
                if iou(a["box"], b["box"]) > 0.5:
                    dups += 1
                    frames.add(f)
print(
    "duplicate two-wheeler road users (IoU>0.5):",
    dups,
    "in",
    len(frames),
    "of",
    len(by),
    "frames",
    sorted(frames)[:20],
)
