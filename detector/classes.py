"""The road-user classes the engine knows (COCO ids and names): a vocabulary without dependencies,
shared by the config schemas (which check class names) and the frame-level types."""

from __future__ import annotations

#: COCO class ids of the road users the engine keeps, and the names used everywhere else.
COCO_ROAD_USERS: dict[int, str] = {
    0: "person",
    1: "bicycle",
    2: "car",
    3: "motorcycle",
    5: "bus",
    7: "truck",
}
VEHICLE_CLASSES: frozenset[str] = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
