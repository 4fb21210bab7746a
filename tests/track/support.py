"""Helpers of the tracking tests (used by the riders and end-to-end tests too)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detector.types import Detections


def tracker_ids(d: Detections) -> npt.NDArray[np.int64]:
    """The tracker ids of `d`: Detections fills them (-1 where untracked), so they are never None."""
    assert d.tracker_id is not None
    return d.tracker_id
