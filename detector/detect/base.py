"""The Detector protocol and model-file resolution shared by the backends."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import onnxruntime as ort

from detector.errors import ModelError
from detector.geometry.crop import Box, Crop
from detector.modelinfo import ModelInfo
from detector.types import Detections, Frame

log = logging.getLogger(__name__)

#: The models/ folder (a user may drop weights there; `detector models quantize` writes the int8
#: detector there); the package-shipped file is last. The checkout's models/ unless DETECTOR_MODELS_DIR
#: names another (an installed, non-editable package has no checkout: the service sets it).
REPO_MODELS_DIR = Path(
    os.environ.get("DETECTOR_MODELS_DIR") or Path(__file__).resolve().parents[2] / "models"
)


class Detector(Protocol):
    """Finds road users in one frame."""

    model: ModelInfo

    def detect(self, frame: Frame) -> Detections: ...

    def close(self) -> None: ...


class RegionDetector(Detector, Protocol):
    """A detector that can also run on part of a frame (detector/geometry/crop.py)."""

    @property
    def supports_regions(self) -> bool: ...

    def plan_crop(self, region: Box, width: int, height: int) -> Crop: ...

    def detect_region(self, frame: Frame, crop: Crop) -> Detections: ...


def region_detector(detector: Detector) -> RegionDetector | None:
    """The detector as one that detects in crops, if it is one and may (else None: whole frames)."""
    if callable(getattr(detector, "detect_region", None)) and getattr(detector, "supports_regions", False):
        return cast(RegionDetector, detector)
    return None


def detect_in(detector: Detector, frame: Frame, crop: Crop | None) -> Detections:
    """The frame's detections: the whole frame's, or those wholly inside `crop`."""
    if crop is None:
        return detector.detect(frame)
    regional = region_detector(detector)
    if regional is None:
        raise TypeError(f"{type(detector).__name__} cannot detect in part of a frame")
    return regional.detect_region(frame, crop)


def cpu_session_options(threads: int, arena: bool = False, spin: bool = False) -> ort.SessionOptions:
    """Options of every onnxruntime session the engine opens: `threads` intra-op threads, one inter-op
    thread, onnxruntime's CPU memory arena only where asked, and thread pools that do not spin.

    The arena keeps its high-water mark for good, and reuses it run after run. A model run on every
    frame at one input size (the vehicle detector) wants it: without it each run mallocs and frees its
    tensors (a few MB each), which glibc serves from heaps that fragment, and the lean replay's peak
    RSS grew by ~130 MB. Models run now and then at varying sizes (the plate models) do not: their
    arenas would hold ~70 MB for no measurable speed.

    onnxruntime's workers busy-wait for the next parallel section by default, which on a 2-core box
    takes the CPU that decoding, tracking and the evidence worker need: measured on YOLO11n int8 at
    640x384 with 20 ms of other work between runs, 48-71 ms of CPU per inference spinning against
    20-25 ms not spinning, and no slower in wall time (benchmarks/bench_ort_spin.py). `spin=True`
    (onnxruntime's default) is for a replay's vehicle detector, where nothing else waits for the CPU
    and a wake-up per parallel section costs frames (`DetectorConfig.spin`)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.enable_cpu_mem_arena = arena
    flag = "1" if spin else "0"
    opts.add_session_config_entry("session.intra_op.allow_spinning", flag)
    opts.add_session_config_entry("session.inter_op.allow_spinning", flag)
    opts.log_severity_level = 3
    return opts


def open_session(
    path: Path, threads: int, what: str, arena: bool = False, spin: bool = False
) -> ort.InferenceSession:
    """An onnxruntime CPU session with `threads` intra-op threads; ModelError names the file if it fails."""
    opts = cpu_session_options(threads, arena, spin)
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load {what} model {path}: {exc}") from exc


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_file(package: str, relative: str) -> Path | None:
    """A file shipped inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def resolve_model(
    configured: str | None, default_name: str, package: str, package_relative: str, what: str
) -> tuple[Path, str]:
    """Resolve a model file, always explicitly: the config's path, then models/, then the package's file.

    Returns (path, origin). Never downloads anything.
    """
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ModelError(f"{what} model not found: {configured} (set in the config)")
        return path, "config"
    local = REPO_MODELS_DIR / default_name
    if local.is_file():
        return local, "models/"
    shipped = package_file(package, package_relative)
    if shipped is not None:
        return shipped, f"package:{package}"
    raise ModelError(
        f"no {what} model: not configured, no {local}, and the package {package!r} "
        f"(which ships {package_relative}) is not installed"
    )


class InferenceSessionLike(Protocol):
    """What a detector needs of an onnxruntime session: its own, or one a box's cameras share
    (detector/detect/shared.py)."""

    def get_inputs(self) -> Any: ...

    def get_outputs(self) -> Any: ...

    def get_modelmeta(self) -> Any: ...

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]: ...
