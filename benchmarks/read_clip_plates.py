"""Read the plates of every car in a clip, end to end: detect (YOLO11n), track (ByteTrack), find the
plate on the vehicle's box (platedet), read the best frames of each track and vote: the engine's own
stages, as `TrackPlateLookup` uses them for a violator (largest boxes first, up to `--frames` frames,
read by `PlateReader.read_track`).

Writes a contact sheet (per track: the best plate crop, its read, confidence and review flag) for a
person to check each read against the frames, and a markdown table.

    .venv/bin/python benchmarks/read_clip_plates.py ../shared/data/vn-cctv-bkav-aicam/traffic.mp4 \
        --sheet /tmp/clip_plates.png --write benchmarks/results/clip_plates_hanoi.md
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_plates import machine, write_report  # noqa: E402
from detector.config import (  # noqa: E402
    DetectorConfig,
    PlatesConfig,  # noqa: E402
    TrackerConfig,
)
from detector.detect import create_detector  # noqa: E402
from detector.plates.reader import PlateReader, Sighting  # noqa: E402
from detector.track import ByteTracker  # noqa: E402
from detector.types import Frame  # noqa: E402

VEHICLES = {2: "car", 5: "bus", 7: "truck"}  # COCO ids of four-wheel vehicles (one-row plates)


def frames(path: Path):  # noqa: ANN201
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    i = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        yield Frame(img, i, i / fps, str(path)), fps
        i += 1
    cap.release()


def vehicle_sighting(frame: Frame, box: tuple[float, float, float, float]) -> Sighting:
    """The vehicle's part of the frame (with a margin wider than any the reader looks in, cut at even
    pixels so that rounding is unchanged) as a sighting: the tracks' frames are not all kept."""
    h, w = frame.image.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = 0.15 * (x2 - x1) + 2, 0.15 * (y2 - y1) + 2
    ix1, iy1 = max(0, int(x1 - mx)) // 2 * 2, max(0, int(y1 - my)) // 2 * 2
    ix2, iy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    region = frame.image[iy1:iy2, ix1:ix2].copy()
    return Sighting(frame.index, region, (x1 - ix1, y1 - iy1, x2 - ix1, y2 - iy1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--frames", type=int, default=10, help="frames of each track searched for its plate")
    ap.add_argument("--min-track", type=int, default=5, help="tracks seen on fewer frames are skipped")
    ap.add_argument("--sheet", type=Path, help="contact sheet PNG of each track's best crop and read")
    ap.add_argument("--write", type=Path, help="also write the markdown table here")
    args = ap.parse_args()
    if not args.video.is_file():
        print(f"no video at {args.video}", file=sys.stderr)
        return 2
    det = create_detector(DetectorConfig())
    tracker = None
    boxes: dict[int, list[tuple[float, int, tuple[float, float, float, float]]]] = defaultdict(list)
    cls_of: dict[int, int] = {}
    for frame, fps in frames(args.video):
        tracker = tracker or ByteTracker(TrackerConfig(), fps)
        tracked = tracker.update(det.detect(frame), frame.timestamp)
        for i in range(len(tracked)):
            c = int(tracked.class_id[i])
            if c not in VEHICLES:
                continue
            tid = int(tracked.tracker_id[i])  # type: ignore[index]
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            boxes[tid].append(((x2 - x1) * (y2 - y1), frame.index, (x1, y1, x2, y2)))
            cls_of[tid] = c
    det.close()
    # the largest boxes of each track (as TrackPlateLookup picks a violator's frames)
    wanted: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = defaultdict(list)
    for tid, seen in boxes.items():
        if len(seen) < args.min_track:
            continue
        for _, fi, box in sorted(seen, reverse=True)[: args.frames]:
            wanted[fi].append((tid, box))
    reader = PlateReader.from_config(PlatesConfig(country="vn"))
    sightings: dict[int, list[Sighting]] = defaultdict(list)
    for frame, _ in frames(args.video):
        for tid, box in wanted.get(frame.index, []):
            sightings[tid].append(vehicle_sighting(frame, box))
    rows = []
    tiles = []
    for tid in sorted(t for t in boxes if len(boxes[t]) >= args.min_track):
        track = reader.read_track(sightings[tid])
        first, last = min(b[1] for b in boxes[tid]), max(b[1] for b in boxes[tid])
        if track is None:
            rows.append(
                f"| {tid} | {VEHICLES[cls_of[tid]]} | {first}-{last} | 0 | no plate found | - | - | - | - |"
            )
            continue
        read, seen = track.read, track.observations
        flag = "review" if read.needs_review else "trusted"
        rows.append(
            f"| {tid} | {VEHICLES[cls_of[tid]]} | {first}-{last} | {len(seen)} | {read.text} | "
            f"{read.confidence:.3f} | {flag} | {read.colour or '-'} | {', '.join(o.normalized for o in seen)} |"
        )
        crop, fi = track.crop, track.best.frame_index
        s = 72 / crop.shape[0]
        im = cv2.resize(crop, (min(360, int(crop.shape[1] * s)), 72), interpolation=cv2.INTER_CUBIC)
        tile = np.full((104, 380, 3), 255, np.uint8)
        tile[: im.shape[0], : im.shape[1]] = im
        text = f"#{tid} f{fi}: {read.text} {read.confidence:.2f} {flag}"
        cv2.putText(tile, text, (2, 95), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 200), 1)
        tiles.append(tile)
    reader.close()
    if args.sheet and tiles:
        while len(tiles) % 3:
            tiles.append(np.full_like(tiles[0], 255))
        cv2.imwrite(
            str(args.sheet), np.vstack([np.hstack(tiles[i : i + 3]) for i in range(0, len(tiles), 3)])
        )
    lines = [
        f"# Plates read end to end from {args.video.name}",
        "",
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.2f}",
        f"Command: `{' '.join(sys.argv)}`",
        "",
        "| track | class | frames | plate reads | voted read | confidence | flag | colour | per-frame reads |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    write_report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
