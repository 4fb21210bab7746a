"""The lamp-colour classifier and the stop-line labels of the Roboflow VN intersection frames.

`../shared/data/vn-redlight-stopline-frames-roboflow/test`: 490 frames (640x640, stretched) with human
YOLO boxes for red, yellow (amber) and green lamps and for the stop line. For every labelled lamp box,
`detector.signals.classify_lamp_colour` says which colour is lit in it (the box's lamp layout is unknown,
so only hue decides); the figures are accuracy per labelled colour and the confusion table. For the
stop line, the labelled boxes are described (how thin, how wide, where), since the engine has no
stop-line detector: stop lines are drawn per camera with `detector calibrate`.

    .venv/bin/python benchmarks/bench_roboflow_signals.py [--data DIR] [--out benchmarks/results/roboflow_signals.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.signals import Phase, classify_lamp_colour

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "vn-redlight-stopline-frames-roboflow" / "test"
#: data.yaml: 0 car, 1 green_light, 2 motobike, 3 red_light, 4 stop_line, 5 yellow_light
LAMP_CLASSES = {1: Phase.GREEN, 3: Phase.RED, 5: Phase.AMBER}
STOP_LINE_CLASS = 4
COLOURS = (Phase.RED, Phase.AMBER, Phase.GREEN)


@dataclass(frozen=True, slots=True)
class LabelledBox:
    image: str
    cls: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 normalised to 0..1

    def pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = self.box
        return x1 * width, y1 * height, x2 * width, y2 * height


def read_labels(data: Path) -> tuple[list[LabelledBox], int]:
    """Every labelled box of the split (normalised); and the number of images."""
    images = sorted((data / "images").glob("*.jpg"))
    out: list[LabelledBox] = []
    for img in images:
        lab = data / "labels" / (img.stem + ".txt")
        if not lab.is_file():
            continue
        for line_no, line in enumerate(lab.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                raise ValueError(f"{lab}:{line_no}: expected 'class xc yc w h', got {line!r}")
            c, xc, yc, bw, bh = int(parts[0]), *(float(v) for v in parts[1:])
            out.append(LabelledBox(img.name, c, (xc - bw / 2, yc - bh / 2, xc + bw / 2, yc + bh / 2)))
    return out, len(images)


def classify_lamps(data: Path, boxes: list[LabelledBox]) -> list[tuple[LabelledBox, Phase, Phase]]:
    """(box, labelled colour, predicted colour) for every lamp box."""
    results = []
    by_image: dict[str, list[LabelledBox]] = {}
    for b in boxes:
        if b.cls in LAMP_CLASSES:
            by_image.setdefault(b.image, []).append(b)
    for name, items in sorted(by_image.items()):
        raw = cv2.imread(str(data / "images" / name))
        if raw is None:
            raise ValueError(f"{data / 'images' / name}: not a readable image")
        image = np.asarray(raw, np.uint8)  # imread's default colour read is 8-bit BGR
        h, w = image.shape[:2]
        for b in items:
            results.append((b, LAMP_CLASSES[b.cls], classify_lamp_colour(image, b.pixels(w, h))))
    return results


def lamp_table(results: list[tuple[LabelledBox, Phase, Phase]]) -> list[str]:
    conf = Counter((truth, pred) for _, truth, pred in results)
    preds = (*COLOURS, Phase.UNKNOWN)
    lines = [
        "| labelled \\ read | " + " | ".join(p.value for p in preds) + " | accuracy |",
        "|---" * (len(preds) + 2) + "|",
    ]
    for t in COLOURS:
        n = sum(conf[(t, p)] for p in preds)
        acc = conf[(t, t)] / n if n else float("nan")
        lines.append(
            f"| {t.value} ({n}) | " + " | ".join(str(conf[(t, p)]) for p in preds) + f" | {100 * acc:.1f}% |"
        )
    n_all = len(results)
    right = sum(conf[(t, t)] for t in COLOURS)
    lines.append(f"| all ({n_all}) | | | | | {100 * right / max(n_all, 1):.1f}% |")
    return lines


def stop_line_stats(boxes: list[LabelledBox], n_images: int) -> list[str]:
    sl = [b for b in boxes if b.cls == STOP_LINE_CLASS]
    if not sl:
        return ["no stop-line boxes"]
    arr = np.array([b.box for b in sl])
    w = arr[:, 2] - arr[:, 0]
    h = arr[:, 3] - arr[:, 1]
    yc = (arr[:, 1] + arr[:, 3]) / 2
    w, h, yc = 100 * w, 100 * h, 100 * yc  # percent of the image
    per_image = Counter(b.image for b in sl)
    q = lambda a: " / ".join(f"{v:.0f}" for v in np.percentile(a, [5, 50, 95]))  # noqa: E731
    return [
        f"- {len(sl)} stop-line boxes in {len(per_image)} of {n_images} frames "
        f"({sum(1 for c in per_image.values() if c > 1)} frames with more than one)",
        f"- width, % of the image width (5th / median / 95th percentile): {q(w)}; height, % of the image "
        f"height: {q(h)}; height / width median {np.median(h / np.maximum(w, 1e-6)):.3f}",
        f"- box centre, % of the image height from the top: {q(yc)}",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "roboflow_signals.md")
    args = ap.parse_args(argv)
    if not (args.data / "images").is_dir():
        print(f"{args.data}/images: not found (../shared/data absent?)", file=sys.stderr)
        return 1
    t0 = time.process_time()
    boxes, n_images = read_labels(args.data)
    results = classify_lamps(args.data, boxes)
    cpu = time.process_time() - t0
    head = [
        "# Lamp colour per labelled box, and the stop-line labels (Roboflow VN intersection frames)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_roboflow_signals.py`; date {time.strftime('%Y-%m-%d')}; "
        f"machine {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"{len(results)} lamp boxes in {n_images} frames, {1000 * cpu / max(len(results), 1):.2f} ms CPU per box.",
        "",
        "`classify_lamp_colour(image, box)` (hue of bright saturated pixels, min value 140, min fraction 0.01):",
        "",
    ]
    text = "\n".join(
        [*head, *lamp_table(results), "", "Stop-line labels:", "", *stop_line_stats(boxes, n_images), ""]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
