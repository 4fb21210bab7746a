"""Field shapes the config schemas share: ids, image points and shapes, thresholds, bounded numbers; and the
bounds check.

An annotated type carries the constraints and a field adds its own default and description, e.g.
`zone: ImagePolygon | None = Field(default=None, description=...)`, so a zone polygon or a
confidence threshold is spelled once for the rules, the riders and the detectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from detector.errors import ConfigError

#: Ids of cameras, zones and lines: named in events, topics and file names.
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]

#: A point in pixels of the camera image.
Point = Annotated[tuple[float, float], Field(description="(x, y) in pixels of the camera image")]
#: An area of the camera image (pixels); shapely checks that it is a valid polygon when it is built.
ImagePolygon = Annotated[list[Point], Field(min_length=3)]
#: A line drawn on the camera image (pixels), first point first.
ImagePolyline = Annotated[list[Point], Field(min_length=2)]
#: A pixel box (x1, y1, x2, y2).
Box = tuple[float, float, float, float]
#: A point on the road plane in metres (any right-handed frame the operator chose).
WorldPoint = tuple[float, float]

#: A threshold strictly between 0 and 1 (a detection confidence, an IoU).
OpenFraction = Annotated[float, Field(gt=0, lt=1)]
#: A share above 0 and at most 1 (an overlap, the lit part of a lamp, an agreement).
Fraction = Annotated[float, Field(gt=0, le=1)]
#: A share from 0 to 1 inclusive.
ClosedFraction = Annotated[float, Field(ge=0, le=1)]
#: A duration, distance, speed or factor that must be above zero (seconds, pixels, km/h).
Positive = Annotated[float, Field(gt=0)]
#: A duration, distance or tolerance that may be zero (a grace time, a tolerance in pixels).
NonNegative = Annotated[float, Field(ge=0)]
#: A number of frames, samples, votes or crops: at least one.
Count = Annotated[int, Field(ge=1)]
#: onnxruntime intra-op threads of one model.
Threads = Annotated[int, Field(ge=1, le=64)]


def check_inside(points: Sequence[Sequence[float]], image_size: tuple[int, int] | None, where: str) -> None:
    """ConfigError naming `where` and the point when a point lies outside a `image_size` image."""
    if image_size is None:
        return
    w, h = image_size
    for x, y in points:
        if not (0 <= x <= w and 0 <= y <= h):
            raise ConfigError(f"{where}: point ({x:g}, {y:g}) is outside the {w}x{h} image")


def check_unique_ids(ids: Sequence[str], where: str) -> None:
    """ConfigError naming `where` and the first id that appears twice."""
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ConfigError(f"{where}: duplicate id {item!r}")
        seen.add(item)
