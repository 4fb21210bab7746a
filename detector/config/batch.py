"""A batch manifest (YAML): the videos `detector replay-batch` replays, each with its camera config.

    videos:
      - {video: recordings/cam1-0800.mp4, config: configs/cam1.yaml}
      - {config: configs/sample_scene.yaml, name: sample, max_frames: 300}   # the config's own source

Relative paths resolve against the manifest's folder (see `detector.batch.manifest` for the jobs).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from detector.base import FrozenModel
from detector.config.fields import Id
from detector.config.load import load_model


class ManifestEntry(FrozenModel):
    """One video of the batch and the camera config it is replayed with."""

    config: str = Field(description="Camera config (YAML), relative to the manifest's folder")
    video: str | None = Field(default=None, description="Video file; default: the config's source")
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,80}$",
        description="Output folder name (default: video stem)",
    )
    camera_id: Id | None = Field(default=None, description="Override the config's camera id")
    max_frames: int | None = Field(default=None, ge=1, description="Replay at most this many frames")


class BatchManifest(FrozenModel):
    """A list of videos to replay, each with its camera config."""

    videos: list[ManifestEntry] = Field(min_length=1, description="The videos, one task each")


def load_batch_manifest(path: Path) -> list[ManifestEntry]:
    """The manifest's entries, their config and video paths resolved against the manifest's folder."""
    manifest = load_model(path, BatchManifest, "batch manifest")
    base = path.parent
    out: list[ManifestEntry] = []
    for e in manifest.videos:
        video = e.video if e.video is None or "://" in e.video else str((base / e.video).resolve())
        out.append(e.model_copy(update={"config": str((base / e.config).resolve()), "video": video}))
    return out
