"""`detector calibrate`: draw a camera's zones, lamp boxes and calibration grid over one of its frames."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click
import cv2
import numpy as np

from detector.annotate.scene import calibration_view
from detector.config import CameraConfig
from detector.configcheck import load_checked_camera_config
from detector.errors import ConfigError, SourceError
from detector.geometry import Scene
from detector.signals import signal_source_from_config
from detector.sources import open_source
from detector.types import Frame

if TYPE_CHECKING:
    from detector.rules.stopline_find import StopLineCandidate

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
@click.option(
    "--suggest-stop-line",
    "suggest",
    is_flag=True,
    help="Also find painted stop lines in the frame (outside the ignore areas) and draw the best three "
    "(S1 the best), printing their points and their distance to each configured stop line.",
)
def calibrate(config: Path, frame_index: int, out: Path | None, suggest: bool) -> None:
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
    suggestions = suggest_stop_lines(frame, cfg) if suggest else []
    image = calibration_view(
        frame.image,
        rules,
        state,
        [(z.id, z.polygon) for z in cfg.ignore],
        [(f"S{rank}", c.p1, c.p2) for rank, c in enumerate(suggestions, 1)],
    )
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
    for line in describe_suggestions(suggestions, cfg):
        click.echo(line)
    click.echo(f"wrote {out}")


def suggest_stop_lines(frame: Frame, cfg: CameraConfig) -> list[StopLineCandidate]:
    """The finder's three best bands on the frame, ignore areas left out (drawn by calibration_view)."""
    from detector.rules.stopline_find import find_stop_lines

    region = np.ones(frame.image.shape[:2], np.uint8)
    for z in cfg.ignore:
        cv2.fillPoly(region, [np.asarray(z.polygon, np.int32)], 0)
    return find_stop_lines(frame.image, region.astype(bool))[:3]


def describe_suggestions(found: list[StopLineCandidate], cfg: CameraConfig) -> list[str]:
    """One line per suggestion: its points and how far each configured stop line lies from it."""
    from detector.rules.stopline_find import vertical_offset

    if not found:
        return ["stop-line suggestion: no painted band found"]
    out = []
    for rank, c in enumerate(found, 1):
        pts = [[round(c.p1[0]), round(c.p1[1])], [round(c.p2[0]), round(c.p2[1])]]
        offs = []
        for sl in cfg.rules.zones.stop_lines:
            d = vertical_offset(c, sl.points)
            offs.append(f"{sl.id}: " + ("no overlap" if d is None else f"{-d:+.1f} px"))
        out.append(
            f"stop-line suggestion S{rank}: points {pts}, painted {c.length_px:.0f} px, {c.thickness_px:.0f} px "
            f"thick, tilt {c.tilt_deg:+.0f} deg, contrast {c.contrast:.0f}"
            + (
                f"; configured line vs S{rank} (positive: configured lower): " + ", ".join(offs)
                if offs
                else ""
            )
        )
    return out
