"""Assembles a Pipeline from a camera config: the stages and the outputs a run writes.

The CLI's `replay` and `run` and the tests call this one function, so they run the same engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from detector.config import CameraConfig
from detector.outputs import PreviewWriter, TrackRecordWriter
from detector.pipeline import FrameSink, Pipeline

log = logging.getLogger(__name__)


@dataclass
class BuiltPipeline:
    pipeline: Pipeline
    out_dir: Path
    track_writer: TrackRecordWriter
    preview: PreviewWriter | None = None
    notes: dict[str, object] = field(default_factory=dict)

    def extra_summary(self) -> dict[str, object]:
        extra: dict[str, object] = {"track_records": self.track_writer.records}
        if self.preview is not None:
            extra["preview"] = str(self.preview.path)
        extra.update(self.notes)
        return extra


def build_pipeline(
    cfg: CameraConfig, fps: float, out_dir: Path, config_path: Path | None = None, preview: bool = True
) -> BuiltPipeline:
    """Detector, tracker and violation stage from `cfg`; outputs into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    track_writer = TrackRecordWriter(out_dir / "tracks.jsonl")
    sinks: list[FrameSink] = [track_writer]
    preview_writer = None
    if preview:
        preview_writer = PreviewWriter(out_dir, fps, cfg.name)
        sinks.append(preview_writer)
    pipeline = Pipeline(cfg, fps, sinks=sinks)
    return BuiltPipeline(pipeline=pipeline, out_dir=out_dir, track_writer=track_writer, preview=preview_writer)
