"""One onnxruntime session of the vehicle detector shared by the cameras of an edge box.

    shared = SharedSessions(batch_wait_s=0.0)
    det_a = shared.detector(cfg_a.detector)     # an OnnxYoloDetector over the shared session
    det_b = shared.detector(cfg_b.detector)     # same model file and threads: the same session

Each camera keeps its own pre- and post-processing (input size, confidence, classes); only the
network is shared: one copy of the weights and one arena instead of one per camera. Cameras whose
configs name another model file or thread count get a session of their own.

Two ways to share, chosen by `batch_wait_s`:

- 0 (the default): sequential sharing. A camera's inference runs when it asks, one at a time
  (a lock), so N cameras' inferences never fight over the box's cores with N x threads at once.
- > 0: batching. The first camera to ask waits up to `batch_wait_s` for the others; the frames
  (of the same input size) then go through the network as one batch (the YOLO11n exports have a
  dynamic batch axis). On the 2-core box this measured no cheaper per frame than one frame at a
  time (benchmarks/RESULTS.md, "Several cameras per edge box"), and it adds the wait to every
  frame's latency, so it is off unless asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import DetectorConfig
from detector.detect.base import InferenceSessionLike
from detector.detect.onnx import OnnxYoloDetector, open_detector_session
from detector.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(eq=False)  # compared by identity: a request holds an array
class _Request:
    blob: np.ndarray
    done: bool = False
    output: np.ndarray | None = None
    error: BaseException | None = None


@dataclass
class BatchStats:
    """How the shared session ran: inferences (network runs) and frames through them."""

    runs: int = 0
    frames: int = 0
    by_size: dict[int, int] = field(default_factory=dict)  # batch size -> runs

    def as_dict(self) -> dict[str, object]:
        return {"runs": self.runs, "frames": self.frames, "batch_sizes": dict(sorted(self.by_size.items()))}


class SharedSession:
    """An onnxruntime session several camera threads call as if each had its own.

    Duck-types the parts of an onnxruntime session the detector uses (`get_inputs`, `get_outputs`,
    `get_modelmeta`, `run`)."""

    def __init__(
        self,
        session: InferenceSessionLike,
        batch_wait_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.batch_wait_s = batch_wait_s
        self.participants = 0  # cameras registered (a batch never waits for more than these)
        self.stats = BatchStats()
        self._clock = clock
        self._input = session.get_inputs()[0].name
        self._run_lock = threading.Lock()  # one network run at a time
        self._cond = threading.Condition()
        self._pending: list[_Request] = []

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def get_outputs(self) -> Any:
        return self.session.get_outputs()

    def get_modelmeta(self) -> Any:
        return self.session.get_modelmeta()

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        blob = feed[self._input]
        if self.batch_wait_s <= 0 or self.participants < 2:
            with self._run_lock:
                out = self.session.run(output_names, feed)
            self._count(int(blob.shape[0]))
            return list(out)
        return [self._batched(blob)]

    def _count(self, frames: int) -> None:
        with self._cond:
            self.stats.runs += 1
            self.stats.frames += frames
            self.stats.by_size[frames] = self.stats.by_size.get(frames, 0) + 1

    def _batched(self, blob: np.ndarray) -> np.ndarray:
        req = _Request(blob)
        with self._cond:
            self._pending.append(req)
            self._cond.notify_all()
            deadline = self._clock() + self.batch_wait_s
            while not req.done:
                if req not in self._pending:  # another camera's thread took it into its batch
                    self._cond.wait()
                    continue
                same = [r for r in self._pending if r.blob.shape == blob.shape]
                if len(same) >= self.participants or self._clock() >= deadline:
                    for r in same:  # this thread runs the batch of its input size
                        self._pending.remove(r)
                    break
                self._cond.wait(timeout=max(deadline - self._clock(), 0.0005))
            else:
                return self._result(req)
        self._run_batch(same)
        return self._result(req)

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            stacked = np.concatenate([r.blob for r in batch], axis=0)
            with self._run_lock:
                (raw,) = self.session.run(None, {self._input: stacked})
            for i, r in enumerate(batch):
                r.output = raw[i : i + 1]
        except BaseException as exc:  # every waiting camera sees the failure, not a hang
            for r in batch:
                r.error = exc
        self._count(len(batch))
        with self._cond:
            for r in batch:
                r.done = True
            self._cond.notify_all()

    @staticmethod
    def _result(req: _Request) -> np.ndarray:
        if req.error is not None:
            raise req.error
        assert req.output is not None
        return req.output


class SharedSessions:
    """The box's shared sessions, one per (model file, threads); hands out per-camera detectors."""

    def __init__(self, batch_wait_s: float = 0.0) -> None:
        self.batch_wait_s = batch_wait_s
        self.sessions: dict[tuple[str, int, str], SharedSession] = {}

    def detector(self, cfg: DetectorConfig) -> OnnxYoloDetector:
        if cfg.backend == "ultralytics":
            raise ConfigError(
                "detector.backend is 'ultralytics': cameras of one box share an onnx or openvino session only"
            )
        path, _origin = OnnxYoloDetector._resolve(cfg)
        key = (str(Path(path).resolve()), cfg.threads, cfg.backend)
        shared = self.sessions.get(key)
        if shared is None:
            session = open_detector_session(path, cfg.model_copy(update={"spin": False}))
            shared = self.sessions[key] = SharedSession(session, self.batch_wait_s)
            log.info("shared vehicle detector session: %s, %d threads, %s", path, cfg.threads, cfg.backend)
        shared.participants += 1
        return OnnxYoloDetector(cfg, session=shared)

    def stats(self) -> dict[str, object]:
        return {
            f"{Path(k[0]).name} x{k[1]} threads{'' if k[2] == 'onnx' else ', ' + k[2]}": s.stats.as_dict()
            for k, s in self.sessions.items()
        }
