"""Helpers of the detection tests (used by the tracking, plate and end-to-end tests too)."""

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def detrac_targets(xml: Path, frame_num: int) -> list[tuple[float, float, float, float]]:
    root = ET.parse(xml).getroot()
    for frame in root.findall("frame"):
        if int(frame.get("num", -1)) == frame_num:
            out = []
            for target in frame.iter("target"):
                box = target.find("box")
                assert box is not None, f"{xml}: a target without a box in frame {frame_num}"
                b = box.attrib
                x, y, w, h = (float(b[k]) for k in ("left", "top", "width", "height"))
                out.append((x, y, x + w, y + h))
            return out
    return []
