"""Multi-object tracking: our ByteTrack (detector/track/bytetrack.py) and the track histories the rules
read (detector/track/store.py). No tracking library: see the README's design note on the tracker."""

from detector.track.bytetrack import ByteTracker
from detector.track.store import TrackStore

__all__ = ["ByteTracker", "TrackStore"]
