"""Plate detection on vehicle crops with platedet's ONNX (YOLOv8s-seg, one class 'plate').

The model is run through onnxruntime directly (the platedet package itself is never imported). Its
graph is fp16 with a fixed 640x640 input; at load it is rewritten in memory (see `onnx_graph`) to fp32
and to the configured input size. Output0 is (1, 37, N): cx, cy, w, h, plate score, 32 mask coefficients.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from detector.config import PlatesConfig
from detector.detect.base import ModelInfo, cpu_session_options, resolve_model, sha256_file
from detector.detect.onnx import letterbox, nms
from detector.errors import ModelError
from detector.plates.onnx_graph import rewrite_platedet

log = logging.getLogger(__name__)

PLATEDET_PACKAGE = "platedet"
PLATEDET_PACKAGE_FILE = "artifacts/platedet.onnx"
PLATEDET_LOCAL_NAME = "platedet.onnx"


@dataclass(frozen=True, slots=True)
class PlateBox:
    """A plate found in an image: pixel box (x1, y1, x2, y2) in that image's coordinates."""

    xyxy: tuple[float, float, float, float]
    confidence: float

    @property
    def width(self) -> float:
        return self.xyxy[2] - self.xyxy[0]

    @property
    def height(self) -> float:
        return self.xyxy[3] - self.xyxy[1]

    def shifted(self, dx: float, dy: float) -> PlateBox:
        x1, y1, x2, y2 = self.xyxy
        return PlateBox((x1 + dx, y1 + dy, x2 + dx, y2 + dy), self.confidence)


class PlateDetector(Protocol):
    """Finds plates in an image (a vehicle crop or a whole photo)."""

    model: ModelInfo

    def detect(self, image_bgr: npt.NDArray[np.uint8]) -> list[PlateBox]: ...

    def close(self) -> None: ...


def resolve_platedet(configured: str | None) -> tuple[Path, str]:
    """The detector file: the config's path, then models/platedet.onnx, then the platedet package's file."""
    return resolve_model(
        configured, PLATEDET_LOCAL_NAME, PLATEDET_PACKAGE, PLATEDET_PACKAGE_FILE, "plate detector"
    )


class OnnxPlateDetector:
    """platedet YOLOv8-seg through onnxruntime, boxes only (the mask branch is pruned at load)."""

    def __init__(
        self,
        path: Path,
        origin: str = "config",
        input_size: int = 320,
        to_fp32: bool = True,
        confidence: float = 0.25,
        iou: float = 0.5,
        threads: int = 2,
    ) -> None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read plate detector: {exc}") from exc
        self.model = ModelInfo(
            name="platedet", role="plate_detector", sha256=sha256_file(path), file=path.name, version=origin
        )
        try:
            probe = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: not a loadable ONNX model: {exc}") from exc
        shape = probe.get_inputs()[0].shape
        if len(shape) != 4 or not isinstance(shape[2], int) or shape[1] != 3:
            raise ModelError(f"{path}: expected an image input (1, 3, H, W), got {shape}")
        out_shape = probe.get_outputs()[0].shape
        if len(out_shape) != 3 or out_shape[1] not in (5, 37):
            raise ModelError(f"{path}: expected a one-class YOLOv8 output (1, 5|37, N), got {out_shape}")
        native = int(shape[2])
        is_fp16 = probe.get_inputs()[0].type == "tensor(float16)"
        has_masks = len(probe.get_outputs()) > 1
        del probe
        needs_rewrite = (to_fp32 and is_fp16) or input_size != native or has_masks
        data = raw
        if needs_rewrite:
            if importlib.util.find_spec("onnx") is None:
                log.warning(
                    "%s: the 'onnx' package is not installed; running the graph as shipped "
                    "(input %d, no fp32 conversion, mask branch kept), which is slower",
                    path,
                    native,
                )
            else:
                data = rewrite_platedet(raw, input_size, to_fp32, str(path))
        so = cpu_session_options(threads)
        self._session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self.input_size = int(inp.shape[2])
        self.confidence = confidence
        self.iou = iou
        log.info("plate detector %s (%s): input %d, %s", path, origin, self.input_size, self._dtype.__name__)

    @classmethod
    def from_config(cls, cfg: PlatesConfig) -> OnnxPlateDetector:
        path, origin = resolve_platedet(cfg.detector_model)
        return cls(
            path,
            origin,
            input_size=cfg.detector_input_size,
            to_fp32=cfg.detector_fp32,
            confidence=cfg.detector_confidence,
            iou=cfg.detector_iou,
            threads=cfg.threads,
        )

    def detect(self, image_bgr: npt.NDArray[np.uint8]) -> list[PlateBox]:
        """Plates in `image_bgr` (any size), best first, boxes clipped to the image."""
        if image_bgr.ndim != 3 or image_bgr.shape[0] < 8 or image_bgr.shape[1] < 8:
            return []
        h, w = image_bgr.shape[:2]
        boxed, scale, (padx, pady) = letterbox(image_bgr, (self.input_size, self.input_size))
        x = (boxed[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0).astype(self._dtype)
        out = self._session.run(None, {self._input_name: np.ascontiguousarray(x)})[0][0].astype(np.float32)
        scores = out[4]
        keep = scores >= self.confidence
        if not keep.any():
            return []
        cx, cy, bw, bh = out[0, keep], out[1, keep], out[2, keep], out[3, keep]
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        xyxy[:, [0, 2]] = np.clip((xyxy[:, [0, 2]] - padx) / scale, 0, w)
        xyxy[:, [1, 3]] = np.clip((xyxy[:, [1, 3]] - pady) / scale, 0, h)
        conf = scores[keep]
        order = nms(xyxy.astype(np.float32), conf.astype(np.float32), self.iou)
        return [
            PlateBox(tuple(float(v) for v in xyxy[i]), float(conf[i]))  # type: ignore[arg-type]
            for i in order
            if xyxy[i, 2] - xyxy[i, 0] >= 2 and xyxy[i, 3] - xyxy[i, 1] >= 2
        ]

    def close(self) -> None:
        self._session = None


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
