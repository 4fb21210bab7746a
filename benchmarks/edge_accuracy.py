"""Accuracy of the edge benchmark's runs: sample-scene ground truth and the labelled UA-DETRAC boxes."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detector.sample.groundtruth import GroundTruth, load_ground_truth
from detector.sample.measure import countable

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GT_PATH = REPO / "sample_videos" / "ground_truth.json"
DETRAC_FOLDER = SHARED / "ua-detrac-evadb-sample" / "MVI_20011"
DETRAC_XML = SHARED / "ua-detrac-evadb-sample" / "MVI_20011.xml"
IOU_MATCH = 0.5
RECOVERED_SHARE = 0.5
RECOVERY_RULE = (
    f"a ground-truth vehicle is recovered when one track id overlaps it at IoU >= {IOU_MATCH} on at least "
    f"{RECOVERED_SHARE:.0%} of the frames it is visible (fully in frame, unoccluded, >= 30 px wide: "
    "`countable` of detector/sample/measure.py) among the frames run; boxes are matched one-to-one per "
    "frame, greedily by IoU; an id switch is a change of the matched track id of a vehicle between two of "
    "its matched frames; a ground-truth violation is found when ours reports the same type on a track "
    f"that overlaps that vehicle at IoU >= {IOU_MATCH} on some frame"
)

Box = tuple[float, float, float, float]
ByFrame = dict[int, list[tuple[int, Box]]]


def load_tracks(path: Path) -> ByFrame:
    """Track records by frame: (track id, box), confirmed tracks only."""
    by_frame: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    if not path.exists():
        return by_frame
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            if int(r["track_id"]) >= 0:
                by_frame[int(r["frame"])].append((int(r["track_id"]), tuple(r["box"])))
    return by_frame


def track_count(path: Path) -> int:
    """Distinct track ids in a track-record file (the same count for both pipelines)."""
    return len({tid for boxes in load_tracks(path).values() for tid, _ in boxes})


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_frame(truth: list[tuple[int, Box]], preds: list[tuple[int, Box]]) -> dict[int, int]:
    """One-to-one greedy matching by IoU >= IOU_MATCH: truth id -> track id."""
    pairs = sorted(((iou(tb, pb), tid, pid) for tid, tb in truth for pid, pb in preds), reverse=True)
    used_t: set[int] = set()
    used_p: set[int] = set()
    out: dict[int, int] = {}
    for value, tid, pid in pairs:
        if value < IOU_MATCH:
            break
        if tid not in used_t and pid not in used_p:
            out[tid] = pid
            used_t.add(tid)
            used_p.add(pid)
    return out


def sample_matches(gt: GroundTruth, preds: ByFrame, frames: int) -> dict[int, list[tuple[int, int | None]]]:
    """Per ground-truth vehicle: (frame, matched track id or None) over its countable frames."""
    truth: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    for v in gt.vehicles:
        for b in v.boxes:
            if b.frame < frames and countable(b):
                truth[b.frame].append((v.id, b.xyxy))
    seq: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for frame in sorted(truth):
        m = match_frame(truth[frame], preds.get(frame, []))
        for vid, _ in truth[frame]:
            seq[vid].append((frame, m.get(vid)))
    return seq


def sample_accuracy(
    gt: GroundTruth, tracks: Path, frames: int, summary: dict[str, Any] | None
) -> dict[str, Any]:
    """Vehicles recovered, id switches and (ours) violations found, over the first `frames` frames."""
    reported = (
        None if summary is None else [(v["type"], int(v["track_id"])) for v in summary.get("violations", [])]
    )
    return sample_accuracy_of(load_tracks(tracks), frames, reported, gt)


def sample_accuracy_of(
    preds: ByFrame, frames: int, reported: Sequence[Sequence[Any]] | None, gt: GroundTruth | None = None
) -> dict[str, Any]:
    """`sample_accuracy` of boxes by frame and the (type, track id) of the violations reported."""
    gt = gt or load_ground_truth(GT_PATH)
    seq = sample_matches(gt, preds, frames)
    recovered = switches = 0
    for vehicle in seq.values():
        ids = [t for _, t in vehicle if t is not None]
        if ids and max(ids.count(t) for t in set(ids)) >= RECOVERED_SHARE * len(vehicle):
            recovered += 1
        switches += sum(a != b for a, b in zip(ids, ids[1:], strict=False))
    acc: dict[str, Any] = {"recovered": recovered, "vehicles": len(seq), "id_switches": switches}
    expected = [(vid, v) for vid, v in gt.violations() if v.frame < frames]
    acc["violations_expected"] = len(expected)
    acc["violations_total"] = len(gt.violations())
    if reported is None:
        return acc
    left = [(str(t), int(tid)) for t, tid in reported]
    found = 0
    for vid, v in expected:
        tracks_of_vehicle = {t for _, t in seq.get(vid, []) if t is not None}
        hit = next((r for r in left if r[0] == v.type and r[1] in tracks_of_vehicle), None)
        if hit is not None:
            left.remove(hit)
            found += 1
    acc["violations_found"] = found
    acc["violations_reported"] = len(reported)
    return acc


def detrac_labels() -> dict[int, list[tuple[int, Box]]]:
    """Labelled DETRAC boxes by 0-based frame (img00001.jpg is frame 0)."""
    import xml.etree.ElementTree as ET

    out: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    for frame in ET.parse(DETRAC_XML).getroot().findall("frame"):
        for target in frame.iter("target"):
            b = target.find("box")
            assert b is not None
            x, y, w, h = (float(b.get(k, 0)) for k in ("left", "top", "width", "height"))
            out[int(frame.get("num", 1)) - 1].append((int(target.get("id", 0)), (x, y, x + w, y + h)))
    return out


def detrac_accuracy(tracks: Path) -> dict[str, int]:
    labels, preds = detrac_labels(), load_tracks(tracks)
    matched = sum(len(match_frame(boxes, preds.get(frame, []))) for frame, boxes in labels.items())
    per_frame = {frame: len(match_frame(boxes, preds.get(frame, []))) for frame, boxes in labels.items()}
    return {
        "matched": matched,
        "labelled": sum(len(b) for b in labels.values()),
        **{f"frame{f}": n for f, n in per_frame.items()},
    }
