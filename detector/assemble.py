"""Assembles a Pipeline from a camera config: the stages and the outputs a run writes.

The CLI's `replay` and `run` and the tests call this one function, so they run the same engine:
detect -> track -> (signal + rules) -> outputs (track records, preview) -> evidence bundles, whose
plate is read when the bundle's frames are complete, each bundle handed to `on_bundle` (the store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.annotate.labels import Label, Style
from detector.annotate.scene import ZoneAnnotator
from detector.config import CameraConfig, config_sha256
from detector.detect import Detector
from detector.diskguard import DiskGuard, SheddingSink
from detector.errors import ConfigError
from detector.modelinfo import ModelInfo
from detector.outputs import Overlay, PreviewWriter, TrackRecordWriter
from detector.pipeline import FrameResult, FrameSink, Pipeline
from detector.signals import SignalState
from detector.stages import RulesStage, TrackPlateLookup, rules_configured
from detector.types import Frame, Violation

if TYPE_CHECKING:  # evidence (and its signing library) is imported only by a run that writes bundles
    from detector.evidence.images import Annotate
    from detector.evidence.keys import Signer
    from detector.evidence.stage import EvidenceSink

log = logging.getLogger(__name__)


class EvidenceAdapter:
    """The evidence sink as a pipeline FrameSink (late violations become bundles too)."""

    def __init__(self, sink: EvidenceSink) -> None:
        self.sink = sink

    def write(self, result: FrameResult) -> None:
        self.sink.write(result)

    def finish(self, late: Sequence[Violation]) -> None:
        self.sink.add_violations(late)

    def close(self) -> None:
        self.sink.close()


@dataclass(frozen=True, slots=True)
class EvidenceOptions:
    """Where bundles go and how they are signed; `on_bundle` receives each written bundle."""

    root: Path
    signer: Signer | None = None
    on_bundle: Callable[[Violation, Path], None] | None = None
    background: bool = False


@dataclass
class BuiltPipeline:
    pipeline: Pipeline
    out_dir: Path
    track_writer: TrackRecordWriter
    output_sinks: list[FrameSink] = field(default_factory=list)  # may run off the hot path (records, preview)
    inline_sinks: list[FrameSink] = field(default_factory=list)  # must see each frame in the loop (evidence)
    preview: PreviewWriter | None = None
    disk: DiskGuard | None = None
    evidence: EvidenceSink | None = None
    plates: TrackPlateLookup | None = None
    notes: dict[str, object] = field(default_factory=dict)

    def extra_summary(self) -> dict[str, object]:
        extra: dict[str, object] = {"track_records": self.track_writer.records}
        if self.disk is not None:
            extra["disk"] = self.disk.metrics()
        if self.preview is not None:
            extra["preview"] = str(self.preview.path)
        if self.evidence is not None:
            extra["bundles"] = [str(p) for _, p in self.evidence.written]
            extra["bundle_failures"] = [{"event_key": k, "reason": r} for k, r in self.evidence.failures]
        extra.update(self.notes)
        return extra

    def close(self) -> None:
        """Close the pipeline (which writes the waiting bundles), then the plate reader."""
        self.pipeline.close()
        if self.plates is not None:
            self.plates.close()


def _zones_overlay(zones: ZoneAnnotator) -> Overlay:
    """The preview's zones, stop lines in the signal's phase colour."""

    def overlay(image: np.ndarray, result: FrameResult, style: Style) -> list[Label]:
        signal = result.overlay if isinstance(result.overlay, SignalState) else None
        zones.annotate(image, signal, style)
        return zones.labels(image.shape, signal)

    return overlay


def _zones_annotate(zones: ZoneAnnotator) -> Annotate:
    """The evidence overview's zones."""

    def annotate(image: np.ndarray, frame: Frame, style: Style) -> list[Label]:
        zones.annotate(image, None, style)
        return zones.labels(image.shape, None)

    return annotate


def build_pipeline(
    cfg: CameraConfig,
    fps: float,
    out_dir: Path,
    config_path: Path | None = None,
    preview: bool = True,
    evidence: EvidenceOptions | None = None,
    image_size: tuple[int, int] | None = None,
    run_id: str = "",
    detector: Detector | None = None,
) -> BuiltPipeline:
    """Detector, tracker, rules and outputs from `cfg`; evidence bundles when `evidence` is given.

    `detector`: one made elsewhere (an edge box's cameras share one session), else the config's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    guard = DiskGuard(out_dir, cfg.runtime.disk)  # a full disk sheds these first, then stops bundles
    track_writer = TrackRecordWriter(out_dir / "tracks.jsonl")
    sinks: list[FrameSink] = [SheddingSink(track_writer, guard, "track_records")]
    has_rules = rules_configured(cfg.rules)
    preview_writer = None
    if preview:
        overlays = [_zones_overlay(ZoneAnnotator(cfg.rules))] if has_rules else []
        preview_writer = PreviewWriter(out_dir, fps, cfg.name, overlays=overlays)
        sinks.append(SheddingSink(preview_writer, guard, "preview"))
    stage = None
    drawn = cfg.rules.image_size
    if has_rules and drawn is not None and image_size is not None and tuple(drawn) != tuple(image_size):
        where = config_path or cfg.camera_id
        raise ConfigError(
            f"{where}: rules.image_size is {drawn[0]}x{drawn[1]} but the source gives {image_size[0]}x{image_size[1]}"
            " frames: the zones were drawn on frames of another size (redraw them with `detector calibrate`)"
        )
    if has_rules:
        stage = RulesStage(
            cfg.rules,
            cfg.camera_id,
            image_size or cfg.rules.image_size,
            config_dir=config_path.parent if config_path else None,
            run_id=run_id,
        )
    pipeline = Pipeline(cfg, fps, detector=detector, violation_stage=stage, sinks=sinks)
    built = BuiltPipeline(
        pipeline=pipeline,
        out_dir=out_dir,
        track_writer=track_writer,
        output_sinks=list(sinks),
        preview=preview_writer,
        disk=guard,
    )
    if evidence is not None and cfg.evidence.enabled:
        _add_evidence(built, cfg, evidence, config_path, has_rules, guard)
    return built


def _add_evidence(
    built: BuiltPipeline,
    cfg: CameraConfig,
    evidence: EvidenceOptions,
    config_path: Path | None,
    has_rules: bool,
    guard: DiskGuard,
) -> None:
    """The evidence sink (and the plate reader it asks for a violator's plate) on the pipeline."""
    from detector.evidence.stage import open_evidence_sink

    pipeline = built.pipeline
    models: list[ModelInfo] = [pipeline.detector.model]
    lookup = None
    if cfg.plates.enabled:
        from detector.plates.reader import PlateReader
        from detector.plates.textdet import TextLineDetector

        reader = PlateReader.from_config(cfg.plates)
        fallback = TextLineDetector(threads=cfg.plates.threads)
        lookup = built.plates = TrackPlateLookup(reader, fallback=fallback)
        if reader.detector is not None:
            models.append(reader.detector.model)
        models.extend([reader.ocr.model, fallback.model])
    sink = open_evidence_sink(
        cfg,
        evidence.root,
        config_sha256=config_sha256(config_path) if config_path else "",
        models=models,
        signer=evidence.signer,
        plate_lookup=lookup,
        annotate=_zones_annotate(ZoneAnnotator(cfg.rules)) if has_rules else None,
        on_bundle=evidence.on_bundle,
        background=evidence.background,
        guard=guard,
    )
    built.evidence = sink
    adapter = EvidenceAdapter(sink)
    built.inline_sinks.append(adapter)
    pipeline.sinks.append(adapter)
