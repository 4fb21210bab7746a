"""Plate angle: how well the plate's angle is measured, what it costs the reading, and what picking a
track's frames by it gains, on the openalpr US crops turned by known angles.

Data: ``../shared/data/openalpr-benchmarks/seg_and_ocr`` (504 tight US plate crops, human labels).
Each crop is turned in software by a known amount, so the true angle is known:
- tilt: rotated by 0-35 degrees in the image plane (the canvas grown, edges replicated);
- yaw: the plate turned away, its right edge shortened to r x its height (a perspective warp; the
  width shrinks with it).

Three tables:
1. the pose measured (`detector.plates.pose.plate_pose`) against the true angle;
2. exact-plate reads at each angle, ours (`PlateReader`, country us with the crop's state) and the
   peer (RapidOCR rec-only on the same turned crop), each relative to its own read rate square on.
   `pose.TILT_READ_RATE` and `YAW_READ_RATE` are the "ours, relative" column of a run of this script;
3. a track made from each crop: ten frames in which the plate turns from square-on to 36 degrees while
   it grows (approaching) or barely grows (turning at a junction). As in the pipeline (the violator's
   plate read on up to 10 frames, the best `vote_frames`, 5 by default, voted; `read_track` reads
   those), the best 5 frames are voted, picked by quality with the angle (height x detection x sharpness x frontality, the
   reader's default) and without it (the same score, frontality left out), on the same readings; and
   all 10 for comparison. The frames on which no pose is found give `pose.NO_POSE_READ_RATE`.

    .venv/bin/python benchmarks/bench_plate_angle.py --limit 100
    .venv/bin/python benchmarks/bench_plate_angle.py --write benchmarks/results/plate_angle.md
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_plates import DATA, machine, peer_rec, sample, write_report  # noqa: E402
from detector.config import PlatesConfig  # noqa: E402
from detector.plates.image import Image, sharpness  # noqa: E402
from detector.plates.pose import plate_pose  # noqa: E402
from detector.plates.reader import PlateReader  # noqa: E402
from detector.plates.vote import PlateObservation, plate_quality, vote  # noqa: E402

TILTS = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0)
YAWS = (0.85, 0.7, 0.55, 0.4)
#: synthetic tracks: (tilt in degrees, plate height in px) per frame
TRACKS = {
    "approaching: the plate grows fast as it turns": tuple((4.0 * i, 26 + 4 * i) for i in range(10)),
    "turning at a junction: the plate turns more than it grows": tuple((4.0 * i, 44 + i) for i in range(10)),
}  # fmt: skip


def rotate(img: Image, deg: float) -> Image:
    """`img` turned `deg` degrees clockwise on screen (its line of characters falls to the right)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(w * c + h * s), int(w * s + h * c)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), borderMode=cv2.BORDER_REPLICATE)


def yaw(img: Image, r: float) -> Image:
    """`img` with its right edge shortened to `r` x its height (and the width to (1 + r) / 2)."""
    h, w = img.shape[:2]
    nw = int(w * (1 + r) / 2)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = np.array([[0, 0], [nw, h * (1 - r) / 2], [nw, h * (1 + r) / 2], [0, h]], dtype=np.float32)
    return cv2.warpPerspective(
        img, cv2.getPerspectiveTransform(src, dst), (nw, h), borderMode=cv2.BORDER_REPLICATE
    )


def resize_to(img: Image, height: int) -> Image:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(8, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


@dataclass
class Variant:
    n: int = 0
    ours: int = 0
    peer: int = 0
    no_pose: int = 0
    no_pose_ours: int = 0
    tilt: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    front: list[float] = field(default_factory=list)


def track_votes(
    reader: PlateReader, img: Image, truth: str, spec: tuple[tuple[float, int], ...], poses: Poses
) -> dict[str, tuple[bool, bool]]:
    """One crop made into a track's frames (tilt, plate height), each read once; whether the vote is
    right, and right and trusted (not flagged for review), when the best `vote_frames` are picked with
    the angle, without it, and when all are voted. Counts each frame's read into `poses`."""
    frames: list[tuple[PlateObservation, float]] = []
    for i, (tilt, height) in enumerate(spec):
        crop = rotate(resize_to(img, height), tilt)
        obs = reader.read_crop(crop, i)
        poses.add(tilt, plate_pose(crop) is not None, bool(obs and obs.normalized == truth))
        if obs is not None:
            frames.append((obs, plate_quality(height, 1.0, sharpness(crop))))
    cfg = reader.cfg
    picks = {
        "with angle": sorted(frames, key=lambda f: f[1] * f[0].frontality, reverse=True)[: cfg.vote_frames],
        "without angle": sorted(frames, key=lambda f: f[1], reverse=True)[: cfg.vote_frames],
        "every frame": frames,
    }
    out = {}
    for key, picked in picks.items():
        read = vote([o for o, _ in picked], cfg.trust_threshold, cfg.top_candidates, cfg.country)
        right = bool(read and read.normalized == truth)
        out[key] = (right, right and read is not None and not read.needs_review)
    return out


@dataclass
class Poses:
    """Exact reads of track frames: square-on, and where no pose was found."""

    square: list[int] = field(default_factory=lambda: [0, 0])
    no_pose: list[int] = field(default_factory=lambda: [0, 0])
    found: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, tilt: float, found: bool, right: bool) -> None:
        if tilt == 0:
            self.square[0] += right
            self.square[1] += 1
        part = self.found if found else self.no_pose
        part[0] += right
        part[1] += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most N crops (spread over the set)")
    ap.add_argument("--write", type=Path, default=None, help="also write the markdown report here")
    args = ap.parse_args()
    base = DATA / "openalpr-benchmarks" / "seg_and_ocr"
    if not (base / "groundtruth.csv").is_file():
        print(f"no openalpr crops at {base}", file=sys.stderr)
        return 2
    from rapidocr import RapidOCR

    peer = peer_rec(RapidOCR(params={"Global.log_level": "error"}))
    generic = PlateReader.from_config(PlatesConfig(country="generic"), with_detector=False)
    readers: dict[str, PlateReader] = {}
    variants = {("tilt", t): Variant() for t in TILTS} | {("yaw", r): Variant() for r in YAWS}
    tracks = {
        title: dict.fromkeys(
            (
                "with angle",
                "without angle",
                "every frame",
                "n",
                "with angle trusted",
                "without angle trusted",
                "every frame trusted",
            ),
            0,
        )
        for title in TRACKS
    }
    poses = Poses()
    for name, state, truth in sample(list(csv.reader((base / "groundtruth.csv").open())), args.limit):
        img = cv2.imread(str(base / "usimages" / name))
        if img is None:
            continue
        if state not in readers:
            cfg = PlatesConfig(country="us", region=state, state_from_plate=False)
            readers[state] = PlateReader(cfg, None, generic.ocr)
        reader = readers[state]
        for (kind, amount), v in variants.items():
            turned = rotate(img, amount) if kind == "tilt" else yaw(img, amount)
            obs = reader.read_crop(turned)
            v.n += 1
            v.ours += bool(obs and obs.normalized == truth)
            v.peer += peer(turned) == truth
            pose = plate_pose(turned)
            if pose is None:
                v.no_pose += 1
                v.no_pose_ours += bool(obs and obs.normalized == truth)
            else:
                v.tilt.append(pose.tilt_deg)
                v.ratio.append(pose.height_ratio)
                v.front.append(pose.frontality)
        for title, spec in TRACKS.items():
            for key, (right, trusted) in track_votes(reader, img, truth, spec, poses).items():
                tracks[title][key] += right
                tracks[title][key + " trusted"] += trusted
            tracks[title]["n"] += 1
    vote_frames = generic.cfg.vote_frames
    generic.close()

    lines = ["# Plate angle: measured, its cost to reading, and frame choice by it", ""]
    lines += [f"Machine: {machine()}", f"Command: `{' '.join(sys.argv)}`", ""]
    lines += ["## Pose measured against the true angle, and exact reads at each angle", ""]
    lines += [
        "| turned | n | pose found | tilt measured (median, p10-p90) | height ratio measured (median) | "
        "frontality (median) | ours exact | ours, relative | ours, pose not found (relative) | peer exact | "
        "peer, relative |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ours0 = variants[("tilt", 0.0)].ours or 1
    peer0 = variants[("tilt", 0.0)].peer or 1
    for (kind, amount), v in variants.items():
        if not v.n:
            continue
        t = np.array(v.tilt or [0.0])
        label = f"tilt {amount:.0f} deg" if kind == "tilt" else f"yaw, far edge {amount:.2f} x"
        lines.append(
            f"| {label} | {v.n} | {100 * (v.n - v.no_pose) / v.n:.1f}% | {np.median(t):.1f} "
            f"({np.percentile(t, 10):.1f} to {np.percentile(t, 90):.1f}) | {np.median(v.ratio or [1.0]):.3f} | "
            f"{np.median(v.front or [1.0]):.3f} | {100 * v.ours / v.n:.1f}% | {v.ours / ours0:.3f} | "
            f"{f'{v.no_pose_ours}/{v.no_pose} ({v.no_pose_ours / v.no_pose / (ours0 / v.n):.2f})' if v.no_pose else '-'} | "
            f"{100 * v.peer / v.n:.1f}% | {v.peer / peer0:.3f} |"
        )
    nf = sum(v.no_pose for v in variants.values())
    nf_ours = sum(v.no_pose_ours for v in variants.values())
    lines += [
        "",
        f"Pose not found, all turns: {nf_ours} of {nf} read exactly, "
        f"{nf_ours / max(1, nf) / (ours0 / max(1, variants[('tilt', 0.0)].n)):.2f} of the square-on rate.",
    ]
    for title, spec in TRACKS.items():
        counts = tracks[title]
        n = counts["n"] or 1
        lines += [
            "",
            f"## A track of ten frames, {title}",
            "",
            f"Frames (tilt deg, plate px): {', '.join(f'({a:.0f}, {h})' for a, h in spec)}.",
            "",
            "| frames voted | n | exact | exact and trusted (not flagged for review) |",
            "|---|---|---|---|",
            *(
                f"| {label} | {counts['n']} | {100 * counts[key] / n:.1f}% | "
                f"{100 * counts[key + ' trusted'] / n:.1f}% |"
                for label, key in (
                    (f"best {vote_frames} by quality with the angle (default)", "with angle"),
                    (f"best {vote_frames} by quality without the angle", "without angle"),
                    (f"all {len(spec)}", "every frame"),
                )
            ),
        ]
    sq = poses.square[0] / max(1, poses.square[1])
    lines += [
        "",
        "## Track frames on which no pose is found",
        "",
        f"Exact reads: square-on frames {poses.square[0]}/{poses.square[1]} ({100 * sq:.1f}%); "
        f"frames with a pose found {poses.found[0]}/{poses.found[1]}; frames with no pose found "
        f"{poses.no_pose[0]}/{poses.no_pose[1]} ({poses.no_pose[0] / max(1, poses.no_pose[1]) / max(sq, 1e-9):.2f} "
        "of the square-on rate: `pose.NO_POSE_READ_RATE`).",
        "",
    ]
    write_report(lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
