"""What an edge box does when its disk fills (offline for hours, nobody there).

Free space is measured on the output filesystem (statvfs) at most every `check_every` calls:
  - above `shed_below_bytes`: everything is written;
  - below it: previews and track records are shed first (`SheddingSink` skips their writes), with
    a warning on the way down and the count in `metrics()`;
  - below `floor_bytes`: evidence bundles are not started either (`BundleWriter` refuses before it
    touches the disk and the evidence stage records the violation as not written); the frame loop
    keeps deciding, so the summary still lists every violation.
Bundles already written are never deleted here: they stay until the central store acknowledged
them (the forwarder's queue), and a write cut short by a full disk leaves only its temp folder,
which is removed (the chain and every published bundle are untouched).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

from detector.config import DiskConfig

log = logging.getLogger(__name__)


class DiskLevel(IntEnum):
    OK = 0
    SHED = 1  # previews and track records are dropped
    FLOOR = 2  # evidence bundles are not started either


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class DiskGuard:
    """Thread-safe: the output worker and the evidence worker ask it at once."""

    def __init__(self, path: Path, config: DiskConfig | None = None) -> None:
        cfg = config or DiskConfig()
        self.path = Path(path)
        self.shed_below = int(cfg.shed_below_mb * 1024 * 1024)
        self.floor = int(cfg.floor_mb * 1024 * 1024)
        self.check_every = cfg.check_every
        self._lock = threading.Lock()
        self._calls = 0
        self._level = DiskLevel.OK
        self._free: int | None = None
        self.shed: dict[str, int] = {}
        self.refused = 0

    def level(self, *, fresh: bool = False) -> DiskLevel:
        with self._lock:
            if fresh or self._free is None or self._calls % self.check_every == 0:
                self._measure()
            self._calls += 1
            return self._level

    def _measure(self) -> None:
        try:
            free = free_bytes(self.path)
        except OSError as exc:
            log.error("%s: cannot measure free space: %s", self.path, exc)
            return
        self._free = free
        new = (
            DiskLevel.FLOOR
            if free < self.floor
            else DiskLevel.SHED
            if free < self.shed_below
            else DiskLevel.OK
        )
        if new != self._level:
            what = {
                DiskLevel.OK: "writing everything again",
                DiskLevel.SHED: "shedding previews and track records",
                DiskLevel.FLOOR: "below the floor: no new evidence bundles, decisions continue",
            }[new]
            (log.warning if new > DiskLevel.OK else log.info)(
                "%s: %.0f MB free: %s", self.path, free / 1024 / 1024, what
            )
        self._level = new

    def note_shed(self, name: str) -> None:
        with self._lock:
            self.shed[name] = self.shed.get(name, 0) + 1

    def note_refused(self) -> None:
        with self._lock:
            self.refused += 1

    def metrics(self) -> dict[str, object]:
        with self._lock:
            return {
                "level": self._level.name.lower(),
                "free_bytes": self._free,
                "shed_writes": dict(self.shed),
                "bundles_refused": self.refused,
            }


class _Sink(Protocol):
    def write(self, result: Any) -> None: ...
    def finish(self, late: Sequence[Any]) -> None: ...
    def close(self) -> None: ...


@dataclass
class SheddingSink:
    """Wraps an optional output (preview, track records): its writes are skipped while the disk is low.

    A write that fails with a full disk (ENOSPC) is counted as shed as well, never raised: losing a
    preview must not stop the box deciding."""

    inner: _Sink
    guard: DiskGuard
    name: str

    def write(self, result: object) -> None:
        if self.guard.level() >= DiskLevel.SHED:
            self.guard.note_shed(self.name)
            return
        try:
            self.inner.write(result)
        except OSError as exc:
            if exc.errno != 28:  # ENOSPC
                raise
            self.guard.note_shed(self.name)
            self.guard.level(fresh=True)

    def finish(self, late: Sequence[object]) -> None:
        self.inner.finish(late)

    def close(self) -> None:
        try:
            self.inner.close()
        except OSError as exc:
            if exc.errno != 28:
                raise
            log.warning("%s: could not finish writing (disk full): %s", self.name, exc)
