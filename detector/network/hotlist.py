"""Hotlists on the edge: the wanted plates pushed by the centre (a JSON file the run reads and
re-reads when it changes) and the watcher that turns a plate reading into an alert at once, one
per passage (track) and wanted plate, whether or not the vehicle committed a violation.

The file (written by `detector hotlist export` / GET /v1/hotlist/export):
    {"version": 3, "generated_at": "...", "entries": [{"id": 1, "plate": "47C34855",
      "plate_text": "47C-348.55", "reason": "stolen", "unit": "...", "note": ""}, ...]}
Matching (`plate_match.match_wanted`) takes any candidate of the reading that equals a wanted plate
as an exact hit, and a top read one character away as a tolerant hit, said as such in the alert.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from detector.errors import ConfigError
from detector.network.plate_match import PlateMatch, Reading, match_wanted

log = logging.getLogger(__name__)
REASONS = ("stolen", "hit_and_run", "wanted")


@dataclass(frozen=True, slots=True)
class WantedPlate:
    id: int
    plate: str  # normalised key
    plate_text: str
    reason: str
    unit: str
    note: str


@dataclass(frozen=True, slots=True)
class HotlistHit:
    """An alert to raise: who was seen where and when, and how sure the match is."""

    wanted: WantedPlate
    camera_id: str
    track_id: int
    seen_at: datetime
    plate_read: str
    match: PlateMatch
    picture: str | None

    @property
    def alert_key(self) -> str:
        """One alert per camera, passage (track) and wanted plate."""
        return f"{self.camera_id}:{self.seen_at:%Y%m%dT%H%M%S}:{self.track_id}:{self.wanted.id}"


class AlertSink(Protocol):
    def raise_alert(self, hit: HotlistHit) -> None: ...


def parse_hotlist(raw: object, where: str) -> tuple[int, tuple[WantedPlate, ...]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise ConfigError(f"{where}: a hotlist must be an object with an 'entries' list")
    out = []
    for i, e in enumerate(raw["entries"]):
        try:
            w = WantedPlate(
                int(e["id"]),
                str(e["plate"]),
                str(e["plate_text"]),
                str(e["reason"]),
                str(e["unit"]),
                str(e.get("note", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: entries.{i} is malformed ({exc!r})") from exc
        if w.reason not in REASONS:
            raise ConfigError(f"{where}: entries.{i}.reason {w.reason!r} is not one of {REASONS}")
        out.append(w)
    return int(raw.get("version", 0)), tuple(out)


class HotlistFile:
    """The pushed hotlist: read at start, read again by `refresh()` when the file has changed (a
    bad new file is logged and the last good list kept)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self.version = 0
        self.entries: tuple[WantedPlate, ...] = ()
        if not self.refresh(strict=True):
            raise ConfigError(f"{self.path}: hotlist not loaded")

    def refresh(self, strict: bool = False) -> bool:
        """Re-read the file if its size or mtime changed; True when a list is loaded."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if strict:
                raise ConfigError(f"{self.path}: hotlist file cannot be read: {exc}") from exc
            log.warning("hotlist %s: %s; keeping version %d", self.path, exc, self.version)
            return bool(self.entries) or self._stamp is not None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return True
        try:
            version, entries = parse_hotlist(
                json.loads(self.path.read_text(encoding="utf-8")), str(self.path)
            )
        except (OSError, ValueError, ConfigError) as exc:
            if strict:
                raise ConfigError(f"{self.path}: {exc}") from exc
            log.error("hotlist %s unreadable (%s); keeping version %d", self.path, exc, self.version)
            return self._stamp is not None
        self._stamp, self.version, self.entries = stamp, version, entries
        log.info("hotlist %s: version %d, %d wanted plates", self.path, version, len(entries))
        return True


class HotlistWatcher:
    """Raises an alert on the first reading of a passage that matches a wanted plate (per track and
    wanted plate: later frames of the same passage raise nothing)."""

    def __init__(
        self, hotlist: HotlistFile, sink: AlertSink, camera_id: str, max_tracks: int = 10_000
    ) -> None:
        self.hotlist = hotlist
        self.sink = sink
        self.camera_id = camera_id
        self.max_tracks = max_tracks
        self._raised: dict[int, set[int]] = {}
        self.alerts = 0

    def observe(
        self, track_id: int, seen_at: datetime, reading: Reading, picture: str | None = None
    ) -> list[HotlistHit]:
        by_key = {w.plate: w for w in self.hotlist.entries}
        done = self._raised.setdefault(track_id, set())
        hits = []
        top = reading.top[0] if reading.top else ""
        for key, m in match_wanted(reading, list(by_key)):
            w = by_key[key]
            if w.id in done:
                continue
            done.add(w.id)
            hit = HotlistHit(w, self.camera_id, track_id, seen_at, top, m, picture)
            self.sink.raise_alert(hit)
            self.alerts += 1
            hits.append(hit)
        if len(self._raised) > self.max_tracks:  # finished passages are forgotten, oldest first
            for tid in list(self._raised)[: len(self._raised) - self.max_tracks]:
                del self._raised[tid]
        return hits

    def end_track(self, track_id: int) -> None:
        self._raised.pop(track_id, None)
