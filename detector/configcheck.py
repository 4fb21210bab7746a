"""Every check of a camera config, those the schemas make (`detector.config`: fields, ids, references,
image bounds) and those that need a stage's own knowledge: the zones' shapes and the homography fit
(`detector.geometry`, when the scene is built), the ignore polygons (`detector.ignore`), the plate
formats of a region (`detector.plates.formats`). Each stage checks its part again when it is built;
the CLI runs them all when it loads a config, so a bad file fails before any work, naming the file."""

from __future__ import annotations

from pathlib import Path

from detector.config import CameraConfig, PlatesConfig, load_camera_config
from detector.errors import ConfigError, naming
from detector.geometry import Scene
from detector.ignore import IgnoreMask
from detector.plates.formats import formats_for


def check_plates(cfg: PlatesConfig) -> None:
    """ConfigError when `region` is not a region of `country` whose plate formats are known."""
    if cfg.region is None:
        return
    try:
        formats_for(cfg.country, cfg.region)
    except ValueError as exc:
        raise ConfigError(f"plates.region: {exc}") from None


def check_camera(cfg: CameraConfig) -> None:
    """The checks of `cfg` that need shapely, the homography fit or the plate formats (ConfigError)."""
    Scene.from_config(cfg.rules)
    IgnoreMask.from_config(cfg.ignore)
    check_plates(cfg.plates)


def load_checked_camera_config(path: str | Path) -> CameraConfig:
    """`load_camera_config` and `check_camera`: ConfigError naming the file, then the field and value."""
    cfg = load_camera_config(path)
    with naming(path):
        check_camera(cfg)
    return cfg
