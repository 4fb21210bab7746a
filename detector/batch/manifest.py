"""What a batch replays: a manifest (YAML) of videos with their camera configs, or a folder of videos.

    # batch.yaml
    videos:
      - {video: recordings/cam1-0800.mp4, config: configs/cam1.yaml}
      - {video: recordings/cam2-0800.mp4, config: configs/cam2.yaml, max_frames: 900}
      - {config: configs/sample_scene.yaml, name: sample}     # the config's own source

Relative paths resolve against the manifest's folder. Every entry becomes one `BatchJob` with its
own output folder `<out>/<name>`. The central store keeps one hash chain per camera, and every
replay starts its camera's chain afresh, so two entries may not share a camera id: an entry sets
`camera_id` to tell two recordings of one camera apart (a folder of videos does that by itself,
`<camera_id>-<video stem>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from detector.config import ManifestEntry
from detector.errors import ConfigError

#: Folders of the batch's own under --out (a video may not write its outputs there)
RESERVED_NAMES = frozenset({"keys", "trusted_keys", "store"})
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".ts", ".webm")
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One video's task: everything a worker needs, as plain picklable values."""

    name: str
    config: Path
    video: str | None
    camera_id: str | None
    max_frames: int | None
    out: Path
    key: Path
    cpus: int = 1
    drill_kill_after: int | None = None  # fault drill: the first attempt kills its own worker here


def _safe_name(text: str) -> str:
    return _NAME_OK.sub("_", text).strip("._")[:80] or "video"


def folder_entries(folder: Path, config: Path | None) -> list[ManifestEntry]:
    """Every video in `folder` (sorted), each with `<stem>.yaml` beside it or else `config`."""
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise ConfigError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    entries = []
    for v in videos:
        side = v.with_suffix(".yaml")
        cfg = side if side.is_file() else config
        if cfg is None:
            raise ConfigError(f"{v}: no camera config (no {side.name} beside it and no --config)")
        entries.append(
            ManifestEntry(config=str(cfg.resolve()), video=str(v.resolve()), name=_safe_name(v.stem))
        )
    return entries


def plan_jobs(
    entries: list[ManifestEntry],
    camera_ids: list[str],
    out: Path,
    key: Path,
    *,
    cpus: int = 1,
    max_frames: int | None = None,
    folder_mode: bool = False,
) -> list[BatchJob]:
    """One job per entry; names and camera ids made unique or refused with the entries named.

    `camera_ids` are the configs' own ids (one per entry, read by the caller)."""
    jobs: list[BatchJob] = []
    names: dict[str, int] = {}
    cams: dict[str, int] = {}
    for i, (e, cfg_cam) in enumerate(zip(entries, camera_ids, strict=True)):
        stem = Path(e.video).stem if e.video and "://" not in e.video else Path(e.config).stem
        name = e.name or _safe_name(stem)
        if name in RESERVED_NAMES:
            name = f"{name}-video"  # the batch keeps its key and default store in --out/<name>
        if name in names:
            raise ConfigError(
                f"entries {names[name] + 1} and {i + 1}: both write to {out / name} (set `name`)"
            )
        names[name] = i
        cam = e.camera_id or (f"{cfg_cam}-{name}"[:64] if folder_mode else None)
        eff = cam or cfg_cam
        if eff in cams:
            raise ConfigError(
                f"entries {cams[eff] + 1} and {i + 1}: both replay camera {eff!r}; the store keeps one hash "
                "chain per camera, so give one of them its own `camera_id`"
            )
        cams[eff] = i
        jobs.append(
            BatchJob(
                name=name,
                config=Path(e.config),
                video=e.video,
                camera_id=cam,
                max_frames=e.max_frames or max_frames,
                out=out / name,
                key=key,
                cpus=cpus,
            )
        )
    return jobs
