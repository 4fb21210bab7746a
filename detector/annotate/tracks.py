"""Tracked road users over a frame: each track's box, path and label in its own colour, the riders of
two-wheelers, and the violators outlined in red with the violation's name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from detector.annotate.labels import Colour, Image, Label, Style
from detector.annotate.shapes import (
    PRIORITY_TRACK,
    PRIORITY_VIOLATION,
    RED,
    BoxAnnotator,
    TraceAnnotator,
)
from detector.types import COCO_ROAD_USERS, Detections, Track, Violation


class Boxed(Protocol):
    @property
    def xyxy(self) -> tuple[float, float, float, float]: ...


@lru_cache(maxsize=4096)
def track_colour(track_id: int) -> Colour:
    """A stable colour per track id (the same in every frame)."""
    rng = np.random.default_rng(track_id * 7919 + 17)
    r, g, b = (int(v) for v in rng.integers(60, 255, 3))
    return (b, g, r)


class TrackAnnotator:
    """Boxes, paths and labels ("#id class confidence xriders") of a frame's tracked detections."""

    def __init__(self, trace_length: int = 40) -> None:
        self._traces = TraceAnnotator(trace_length)

    def annotate(
        self,
        frame: Image,
        detections: Detections,
        tracks: Mapping[int, Track],
        riders: Mapping[int, Sequence[Boxed]] | None = None,
        violations: Iterable[Violation] = (),
        style: Style | None = None,
    ) -> Image:
        st = style or Style.of(frame)
        assert detections.tracker_id is not None
        ids = [int(t) for t in detections.tracker_id]
        colours = [track_colour(t) for t in ids]
        BoxAnnotator().annotate(frame, detections.xyxy, colours, st)
        thin = BoxAnnotator(thickness=1)
        for tid, colour in zip(ids, colours, strict=True):
            for r in (riders or {}).get(tid, ()):
                thin.annotate(frame, r.xyxy, colour, st)
        n = self._traces.length
        traces = (
            ([p.anchor for p in tracks[t].points[-n:]], c)
            for t, c in zip(ids, colours, strict=True)
            if t in tracks
        )
        self._traces.annotate(frame, traces, st)
        outline = BoxAnnotator(thickness=st.line + 2, grow=st.line + 2)
        for v in violations:
            if v.track_id in tracks:
                outline.annotate(frame, tracks[v.track_id].last.xyxy, RED, st)
        return frame

    def labels(
        self,
        detections: Detections,
        tracks: Mapping[int, Track],
        violations: Iterable[Violation] = (),
        style: Style | None = None,
    ) -> list[Label]:
        """Each track's label by its box; a violator's by its red outline, with the violation's name."""
        assert detections.tracker_id is not None
        riders = detections.data.get("riders")
        g = (
            (style.line + 2) * 3 // 2 + 1 if style is not None else 0
        )  # the red outline's reach beyond the box
        red = {v.track_id: v for v in violations if v.track_id in tracks}
        out: list[Label] = []
        for i, tid in enumerate(int(t) for t in detections.tracker_id):
            text = f"#{tid} {COCO_ROAD_USERS.get(int(detections.class_id[i]), '?')} {detections.confidence[i]:.2f}"
            if riders is not None and int(riders[i]):
                text += f" x{int(riders[i])}"  # people riding it
            x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
            if tid in red:
                x1, y1, x2, y2 = x1 - g, y1 - g, x2 + g, y2 + g
            out.append(Label(text, (x1, y1, x2, y2), track_colour(tid), PRIORITY_TRACK))
        for v in red.values():
            x1, y1, x2, y2 = tracks[v.track_id].last.xyxy
            box = (x1 - g, y1 - g, x2 + g, y2 + g)
            out.append(Label(v.violation_type.value.replace("_", " ").upper(), box, RED, PRIORITY_VIOLATION))
        return out
