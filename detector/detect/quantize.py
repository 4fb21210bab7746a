"""int8 static quantization of a YOLO (Ultralytics detect export) ONNX model, calibrated on real frames.

An explicit, offline step (`detector models quantize`): it reads the fp32 model and a few frames spread
evenly over each calibration video (or image folder), and writes the int8 file atomically. Nothing here
runs when the engine starts.

Calibration frames go through the same letterbox and blob as `OnnxYoloDetector` at the chosen input size.
The detection head's decode (the reshapes, the DFL softmax, the anchor/box arithmetic, the class sigmoid
and the final concat of boxes in pixels with scores in 0..1) stays fp32 by default: quantized, boxes and
scores share one uint8 scale in that concat and YOLO11n gives no detection at all (measured).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from detector.detect.base import sha256_file
from detector.detect.onnx import letterbox
from detector.errors import ConfigError, ModelError
from detector.fsutil import atomic_path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: Real clips (relative to ../shared/data beside the repo) the default calibration uses, those present.
DEFAULT_CALIBRATION = (
    "ua-detrac-evadb-sample/clips/intersection_252f.mp4",
    "vn-cctv-bkav-aicam/traffic.mp4",
    "vn-redlight-cctv-davidbeckiet/test2.mp4",
    "bgslibrary-videos/video02.avi",
    "id-makassar-cctv-night/traffic.mp4",
)
DEFAULT_FRAMES_PER_SOURCE = 24
Format = Literal["qdq", "qoperator"]
Method = Literal["minmax", "percentile", "entropy"]
Exclude = Literal["none", "decode", "decode+final-convs", "head"]


@dataclass(frozen=True, slots=True)
class QuantizeResult:
    out: Path
    sha256: str
    frames: int  # calibration frames used, over all sources
    method: str  # one line: format, calibration, what stays fp32
    sources: tuple[tuple[str, int], ...]  # (source name, frames taken from it)
    seconds: float


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    blobs: tuple[npt.NDArray[np.float32], ...]
    sources: tuple[tuple[str, int], ...]


def default_calibration(shared: Path) -> list[Path]:
    """The default calibration clips present under `shared` (../shared/data); ConfigError naming it if none."""
    found = [shared / rel for rel in DEFAULT_CALIBRATION if (shared / rel).is_file()]
    if not found:
        raise ConfigError(
            f"no calibration data: none of the default clips is under {shared} "
            f"({', '.join(DEFAULT_CALIBRATION)}); pass --calibrate PATH"
        )
    return found


def spread(count: int, k: int, phase: float = 0.5) -> list[int]:
    """k indices spread evenly over 0..count-1 (at `phase` within k equal parts), distinct and sorted."""
    if count <= 0 or k <= 0:
        return []
    k = min(k, count)
    return sorted({min(count - 1, int((i + phase) * count / k)) for i in range(k)})


def _video_frames(path: Path, k: int) -> list[npt.NDArray[np.uint8]]:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ConfigError(f"{path}: not a readable video (OpenCV cannot open it)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:  # some containers do not say; count by decoding
            count = 0
            while cap.grab():
                count += 1
            cap.release()
            cap = cv2.VideoCapture(str(path))
        wanted = spread(count, k)
        out: list[npt.NDArray[np.uint8]] = []
        i = 0
        for want in wanted:  # sequential decode (seeking is not frame-exact in every container)
            while i < want and cap.grab():
                i += 1
            ok, frame = cap.read()
            if not ok:
                break
            i += 1
            out.append(np.ascontiguousarray(frame, dtype=np.uint8))
    finally:
        cap.release()
    if not out:
        raise ConfigError(f"{path}: not a readable video (no frame could be decoded)")
    return out


def _folder_frames(path: Path, k: int) -> list[npt.NDArray[np.uint8]]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"{path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
    out: list[npt.NDArray[np.uint8]] = []
    for idx in spread(len(files), k):
        img = cv2.imread(str(files[idx]), cv2.IMREAD_COLOR)
        if img is None:
            raise ConfigError(f"{files[idx]}: not a readable image")
        out.append(np.asarray(img, dtype=np.uint8))
    return out


def calibration_set(
    sources: Sequence[Path], input_size: tuple[int, int], frames_per_source: int
) -> CalibrationSet:
    """Blobs (1, 3, h, w) of `frames_per_source` frames spread over each video or image folder.

    ConfigError (naming the path) for a missing path, a file that is not a video, a folder without images.
    """
    if not sources:
        raise ConfigError("no calibration sources given")
    if frames_per_source < 1:
        raise ConfigError(f"frames_per_source must be at least 1, got {frames_per_source}")
    blobs: list[npt.NDArray[np.float32]] = []
    used: list[tuple[str, int]] = []
    # sources are named relative to their common folder, so the file's metadata does not depend on paths
    base = Path(os.path.commonpath([Path(s).resolve().parent for s in sources]))
    for src in sources:
        path = Path(src)
        if not path.exists():
            raise ConfigError(f"{path}: calibration source not found")
        if path.is_dir():
            images = _folder_frames(path, frames_per_source)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise ConfigError(f"{path}: not a readable image")
            images = [np.asarray(img, dtype=np.uint8)]
        else:
            images = _video_frames(path, frames_per_source)
        for img in images:
            boxed, _, _ = letterbox(img, input_size)
            blob = cv2.dnn.blobFromImage(boxed, scalefactor=1 / 255.0, swapRB=True)
            blobs.append(np.asarray(blob, dtype=np.float32))
        used.append((str(path.resolve().relative_to(base)) if len(sources) > 1 else path.name, len(images)))
    return CalibrationSet(tuple(blobs), tuple(used))


class _Reader:
    """onnxruntime CalibrationDataReader over prepared blobs (supports the strided collection)."""

    def __init__(self, input_name: str, blobs: Sequence[npt.NDArray[np.float32]]) -> None:
        self._name = input_name
        self._blobs = list(blobs)
        self._pos, self._end = 0, len(self._blobs)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        if self._pos >= self._end:
            return None
        self._pos += 1
        return {self._name: self._blobs[self._pos - 1]}

    def __len__(self) -> int:
        return len(self._blobs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._pos, self._end = start_index, min(end_index, len(self._blobs))


def head_nodes(model_path: Path, exclude: Exclude) -> list[str]:
    """Names of the detection-head nodes to keep in fp32, for an Ultralytics export ("/model.N/..." names).

    decode: every node of the last module except its conv branches cv2.* (boxes) and cv3.* (classes);
    decode+final-convs: also the last 1x1 conv of each branch (the logits); head: the whole last module.
    """
    if exclude == "none":
        return []
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    out_name = graph.output[0].name
    producer = next((n for n in graph.node if out_name in n.output), None)
    if producer is None or not producer.name.startswith("/model."):
        raise ModelError(
            f"{model_path}: cannot find the detection head (expected Ultralytics node names /model.N/...); "
            "exclude='none' skips this, but quantizing the decode was measured to break YOLO11n"
        )
    prefix = "/".join(producer.name.split("/")[:2]) + "/"  # "/model.23/"
    names = []
    for n in graph.node:
        if not n.name.startswith(prefix):
            continue
        rest = n.name[len(prefix) :]
        parts = rest.split("/")
        branch = rest.startswith(("cv2.", "cv3."))
        final_conv = branch and len(parts) == 3 and parts[1] == parts[0] + ".2" and n.op_type == "Conv"
        if exclude == "head" or not branch or (exclude == "decode+final-convs" and final_conv):
            names.append(n.name)
    return names


def quantize_yolo(
    src: Path,
    out: Path,
    calibration_sources: Sequence[Path],
    input_size: tuple[int, int] = (640, 384),
    frames_per_source: int = DEFAULT_FRAMES_PER_SOURCE,
    quant_format: Format = "qdq",
    method: Method = "percentile",
    per_channel: bool = True,
    exclude: Exclude = "decode",
    percentile: float = 99.99,
    stride: int = 8,
    calib_options: dict[str, object] | None = None,
    reduce_range: bool = True,
) -> QuantizeResult:
    """Quantize `src` to int8 (uint8 activations, int8 weights) into `out`, written atomically.

    Calibration: `frames_per_source` frames spread evenly over each of `calibration_sources` (videos or
    image folders), letterboxed to `input_size` (w, h). `stride` frames are collected at a time (the
    histogram calibrators keep every activation of a batch in memory, about 2 GB at 8 frames of
    640x384). `calib_options`: more onnxruntime `extra_options`.

    The defaults are the measured choice (benchmarks/bench_int8.py, benchmarks/results/int8.md): QDQ,
    weights per channel (per tensor lost 11 points of recall), the head's decode kept fp32 (quantized,
    it gives no detection at all: boxes in pixels and scores share one uint8 scale in the last Concat),
    percentile 99.99 calibration (closest to fp32 on the held-out clips; MinMax and Entropy close behind).

    `reduce_range`: weights in 7 bits. An x86 CPU without VNNI (AVX2 only: most edge boxes) multiplies
    uint8 activations by int8 weights in pairs summed into 16 bits, which saturate with full-range
    weights; the model then finds fewer vehicles on such a CPU than on one with VNNI. 7-bit weights
    cannot saturate, on any CPU (measured on an AVX2-only EPYC: fp32's confident vehicles found 98.1%
    full-range, 99.1% reduced; benchmarks/RESULTS.md).
    """
    from onnxruntime import __version__ as ort_version

    t0 = time.perf_counter()
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise ConfigError(f"{src}: source model not found")
    w, h = input_size
    if w % 32 or h % 32 or w <= 0 or h <= 0:
        raise ConfigError(f"input size must be positive multiples of 32, got {w}x{h}")
    calib = calibration_set(calibration_sources, input_size, frames_per_source)
    extra = {**({"CalibPercentile": percentile} if method == "percentile" else {}), **(calib_options or {})}
    try:
        with atomic_path(out, suffix=".part") as tmp:
            _quantize_static(
                src, tmp, calib, quant_format, method, per_channel, exclude, stride, extra, reduce_range
            )
            _stamp(
                tmp, src, f"onnxruntime {ort_version} quantize_static", calib, method, quant_format, exclude
            )
    except ConfigError:
        raise
    except Exception as exc:  # onnx / onnxruntime raise their own types
        raise ModelError(f"cannot quantize {src}: {exc}") from exc
    n = len(calib.blobs)
    desc = (
        f"onnxruntime {ort_version} static int8 ({quant_format.upper()}, uint8 activations, int8 weights"
        f"{' per channel' if per_channel else ''}{' in 7 bits (reduce_range)' if reduce_range else ''}), "
        f"{f'percentile {percentile:g}' if method == 'percentile' else method} calibration on {n} frames at {w}x{h}, "
        f"head kept fp32: {exclude}"
    )
    return QuantizeResult(out, sha256_file(out), n, desc, calib.sources, time.perf_counter() - t0)


def _quantize_static(
    src: Path,
    dest: Path,
    calib: CalibrationSet,
    quant_format: Format,
    method: Method,
    per_channel: bool,
    exclude: Exclude,
    stride: int,
    extra_options: dict[str, object],
    reduce_range: bool = True,
) -> None:
    """onnxruntime's pre-processing and `quantize_static` of `src` into `dest`, calibrated on `calib`
    `stride` frames at a time, the `exclude`d part of the head left fp32."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calib_method = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[method]
    with tempfile.TemporaryDirectory(prefix="quantize.") as work:
        pre = Path(work) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        excluded = head_nodes(pre, exclude)
        input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
        n = len(calib.blobs)
        # the strided collection needs a whole number of strides: the largest divisor of n <= stride
        step = max(d for d in range(1, max(1, min(stride, n)) + 1) if n % d == 0)
        with contextlib.redirect_stdout(sys.stderr):  # onnxruntime prints its progress
            quantize_static(
                str(pre),
                str(dest),
                _Reader(input_name, calib.blobs),
                quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                reduce_range=reduce_range,
                calibrate_method=calib_method,
                nodes_to_exclude=excluded,
                extra_options={"CalibStridedMinMax": step, **extra_options},
            )


def _stamp(
    path: Path, src: Path, tool: str, calib: CalibrationSet, method: str, fmt: str, exclude: str
) -> None:
    """Record how the file was made in its metadata (file names only, so the bytes do not depend on paths)."""
    import onnx

    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta["quantization"] = (
        f"int8 static from {src.name} by `detector models quantize` ({tool}, {fmt}, {method}, "
        f"head fp32: {exclude}); calibration: "
        + ", ".join(f"{name} ({k} frames)" for name, k in calib.sources)
    )
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
