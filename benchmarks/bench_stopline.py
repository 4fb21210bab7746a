"""The stop-line finder (`detector.rules.stopline_find`) against the Roboflow VN intersection frames' boxes.

`../shared/data/vn-redlight-stopline-frames-roboflow/test`: 490 frames (640x640, stretched), 410 human
stop-line boxes in 348 of them. Per frame the finder's best band (the suggestion `detector calibrate
--suggest-stop-line` shows first) is scored against the frame's boxes:

- detected: it matches a box: their x-ranges overlap by at least half of the shorter, and at the box's
  centre column the band's y is within `--tol` (default 0.02) of the image height of the box's centre
  (a box is a thin band's bounding box, so its centre row is the painted line's at that column);
- false: it matches no box (a frame without a stop-line box, or another band);
- missed: a box no best band matched (a frame with two boxes has at least one miss).

The distance is |y_band(box centre x) - y_box centre| / image height, given for the detected ones.
"Any of the top 3" repeats the count with the three best bands (the operator sees those).

Split: by sha1 of the frame's source name (the part before `_jpg.rf.`, so a source frame's copies
stay together) % 4 == 0: held-out; the rest: dev. The finder's thresholds were set on dev only.
Many frames come from a few cameras, so the parts share cameras: held-out is not a new camera.

    .venv/bin/python benchmarks/bench_stopline.py [--data DIR] [--write benchmarks/results/stopline.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_roboflow_signals import DEFAULT_DATA, STOP_LINE_CLASS, read_labels  # noqa: E402
from detector.rules.stopline_find import StopLineCandidate, StopLineSearch, find_stop_lines  # noqa: E402

Box = tuple[float, float, float, float]


def part(image_name: str) -> str:
    """'held-out' for a quarter of the source frames (sha1 of the name before `_jpg.rf.`), else 'dev'."""
    source = image_name.split("_jpg.rf.")[0]
    return "held-out" if int(hashlib.sha1(source.encode()).hexdigest(), 16) % 4 == 0 else "dev"


def distance(c: StopLineCandidate, box: Box, height: int, width: int) -> float | None:
    """|dy| / height at the box's centre column, or None when their x-ranges overlap by less than half
    of the shorter."""
    x1, y1, x2, y2 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    overlap = min(x2, c.p2[0]) - max(x1, c.p1[0])
    if overlap < 0.5 * min(x2 - x1, c.p2[0] - c.p1[0]):
        return None
    return abs(c.y_at((x1 + x2) / 2) - (y1 + y2) / 2) / height


@dataclass
class Tally:
    frames: int = 0
    boxes: int = 0
    detected: int = 0
    false: int = 0
    missed: int = 0
    top3_boxes_found: int = 0
    dists: list[float] = field(default_factory=list)


def match(
    cands: list[StopLineCandidate], boxes: list[Box], h: int, w: int, tol: float
) -> tuple[int | None, float]:
    """The box index the band matches (nearest within tol), and its distance."""
    best, best_d = None, tol
    for i, b in enumerate(boxes):
        for c in cands:
            d = distance(c, b, h, w)
            if d is not None and d <= best_d:
                best, best_d = i, d
    return best, best_d


def score(
    data: Path,
    params: StopLineSearch,
    tol: float,
    dump: Path | None,
    parts: tuple[str, ...] = ("dev", "held-out"),
) -> tuple[dict[str, Tally], float, int]:
    labels, n_images = read_labels(data)
    by_image: dict[str, list[Box]] = {}
    for b in labels:
        if b.cls == STOP_LINE_CLASS:
            by_image.setdefault(b.image, []).append(b.box)
    tallies = {name: Tally() for name in parts}
    cpu = 0.0
    lines = []
    for path in sorted((data / "images").glob("*.jpg")):
        if part(path.name) not in parts:
            continue
        raw = cv2.imread(str(path))
        if raw is None:
            raise ValueError(f"{path}: not a readable image")
        image = np.asarray(raw, np.uint8)  # imread's default colour read is 8-bit BGR
        h, w = image.shape[:2]
        t0 = time.process_time()
        cands = find_stop_lines(image, params=params)
        cpu += time.process_time() - t0
        boxes = by_image.get(path.name, [])
        t = tallies[part(path.name)]
        t.frames += 1
        t.boxes += len(boxes)
        hit, d = match(cands[:1], boxes, h, w, tol) if cands else (None, 0.0)
        if cands:
            if hit is None:
                t.false += 1
            else:
                t.detected += 1
                t.dists.append(d)
        t.missed += len(boxes) - (hit is not None)
        t.top3_boxes_found += sum(match(cands[:3], [b], h, w, tol)[0] is not None for b in boxes)
        if dump:
            rows = []
            for c in cands:
                ds = [distance(c, b, h, w) for b in boxes]
                near = min((x for x in ds if x is not None), default=None)
                rows.append({**{k: getattr(c, k) for k in c.__slots__}, "dist": near})
            lines.append(
                json.dumps({"image": path.name, "part": part(path.name), "boxes": boxes, "cands": rows})
            )
    if dump:
        dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tallies, cpu, n_images


def table(tallies: dict[str, Tally], tol: float) -> list[str]:
    out = [
        "| part | frames | boxes | detected | missed | false | recall | precision | abs(dy) / H median, p90 | boxes found in top 3 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in tallies.items():
        rec = t.detected / max(t.boxes, 1)
        prec = t.detected / max(t.detected + t.false, 1)
        q = np.percentile(t.dists, [50, 90]) if t.dists else [float("nan")] * 2
        out.append(
            f"| {name} | {t.frames} | {t.boxes} | {t.detected} | {t.missed} | {t.false} | {100 * rec:.1f}% | "
            f"{100 * prec:.1f}% | {q[0]:.4f}, {q[1]:.4f} | {t.top3_boxes_found} ({100 * t.top3_boxes_found / max(t.boxes, 1):.1f}%) |"
        )
    out.append("")
    out.append(
        f"Match tolerance: abs(dy) <= {tol} of the image height, x-overlap at least half of the shorter."
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tol", type=float, default=0.02, help="match tolerance, fraction of the image height")
    ap.add_argument("--write", type=Path, help="also write the markdown report here")
    ap.add_argument("--part", choices=("dev", "held-out", "both"), default="both")
    ap.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a finder setting"
    )
    ap.add_argument("--dump", type=Path, help="one JSON line per frame: boxes and every band found")
    args = ap.parse_args(argv)
    if not (args.data / "images").is_dir():
        print(f"{args.data}/images: not found (../shared/data absent?)", file=sys.stderr)
        return 1
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in StopLineSearch.__dataclass_fields__:
            print(f"--set {item}: no setting {name!r}", file=sys.stderr)
            return 2
        overrides[name] = type(getattr(StopLineSearch(), name))(float(value))
    params = StopLineSearch(**overrides)
    parts = ("dev", "held-out") if args.part == "both" else (args.part,)
    tallies, cpu, _ = score(args.data, params, args.tol, args.dump, parts)
    n_images = sum(t.frames for t in tallies.values())
    text = "\n".join(
        [
            "# Stop-line finder against the Roboflow VN stop-line boxes",
            "",
            f"Command: `.venv/bin/python benchmarks/bench_stopline.py`; date {time.strftime('%Y-%m-%d')}; "
            f"machine {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {n_images} frames, "
            f"{1000 * cpu / max(n_images, 1):.0f} ms CPU per frame (640x640).",
            "",
            f"Settings: `{params}`",
            "",
            *table(tallies, args.tol),
            "",
        ]
    )
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
