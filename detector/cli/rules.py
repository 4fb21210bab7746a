"""`detector calibrate`: draw a camera's zones, lamp boxes and calibration grid over one of its frames."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import cv2

from detector.config import CameraConfig
from detector.configcheck import load_checked_camera_config
from detector.errors import ConfigError, SourceError
from detector.geometry import Scene
from detector.rules.draw import draw_calibration_view
from detector.signals import signal_source_from_config
from detector.sources import open_source
from detector.types import Frame

log = logging.getLogger(__name__)


def read_frame(cfg_path: Path, frame_index: int) -> tuple[Frame, CameraConfig]:
    cfg = load_checked_camera_config(cfg_path)
    source = open_source(cfg.source, cfg.camera_id)
    try:
        for frame in source:
            if frame.index >= frame_index:
                return frame, cfg
    finally:
        source.close()
    raise SourceError(f"{cfg.source.uri}: the source ended before frame {frame_index}")


@click.command("calibrate")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Camera config (YAML/JSON).",
)
@click.option(
    "--frame",
    "frame_index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Frame to draw on.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PNG to write [calibrate_<camera_id>.png].",
)
def calibrate(config: Path, frame_index: int, out: Path | None) -> None:
    """Draw the configured zones, signal lamp boxes and the calibration grid (every 5 m) with its
    reprojection error over a frame of the camera, to check a config by eye."""
    frame, cfg = read_frame(config, frame_index)
    rules = cfg.rules
    size = (frame.width, frame.height)
    scene = Scene.from_config(rules, size)  # checks every zone fits this camera's image
    state = None
    if rules.signal.source in ("vision", "controller_plan"):
        src = signal_source_from_config(rules.signal, config.parent)
        for _ in range(rules.signal.hysteresis_frames):  # vision: one frame, read past the hysteresis
            state = src.update(frame)
    image = draw_calibration_view(frame.image, rules, state, [(z.id, z.polygon) for z in cfg.ignore])
    out = out or Path(f"calibrate_{cfg.camera_id}.png")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ConfigError(f"--out {out}: expected a .png or .jpg file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        raise ConfigError(f"--out {out}: could not write the image")
    z = rules.zones
    click.echo(
        f"{cfg.camera_id} frame {frame.index} ({frame.width}x{frame.height}): {len(z.stop_lines)} stop lines, "
        f"{len(z.lanes)} lanes, {len(z.solid_lines)} solid lines, {len(z.no_stopping_zones)} no-stopping zones, "
        f"signal {rules.signal.source}"
        + (f" ({state.phase.value})" if state else "")
        + (
            f" arrows lit: {','.join(sorted(state.arrows)) or 'none'}"
            if state and rules.signal.arrows
            else ""
        )
        + (f", {len(cfg.ignore)} ignore areas" if cfg.ignore else "")
    )
    if scene.homography is not None and rules.calibration is not None:
        h = scene.homography
        click.echo(
            f"calibration: {len(rules.calibration.image_points)} points, reprojection RMS {h.rms_error_m:.3f} m "
            f"(max {h.max_error_m:.3f} m), {h.rms_error_px:.2f} px (max {h.max_error_px:.2f} px); "
            f"speed scale uncertainty {100 * h.scale_rel_uncertainty:.1f}% (1 sigma)"
        )
    else:
        click.echo("calibration: none (speeds cannot be measured)")
    click.echo(f"wrote {out}")
