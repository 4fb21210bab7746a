"""The rules stage as the pipeline sees it (`detector.pipeline.ViolationStage`): signal + engine.

    stage = RulesStage.from_camera_config(cfg, config_dir=Path(config_file).parent, image_size=(w, h))
    violations = stage.process(frame, tracks, active)   # every frame
    violations += stage.finish(tracks)                   # end of stream
    stage.last_signal                                     # the SignalState of the last frame (overlay)
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path

from detector.config import CameraConfig
from detector.rules.config import RulesConfig
from detector.rules.engine import RuleEngine
from detector.signals import SignalSource, SignalState, signal_source_from_config
from detector.types import Frame, Track, Violation

log = logging.getLogger(__name__)


class RulesStage:
    """Reads the signal phase from each frame and applies the rules to the tracks."""

    def __init__(self, engine: RuleEngine, signal: SignalSource) -> None:
        self.engine = engine
        self.signal = signal
        self.last_signal: SignalState = SignalState.unknown()

    @classmethod
    def from_rules_config(
        cls,
        rules: RulesConfig,
        camera_id: str,
        image_size: tuple[int, int] | None = None,
        config_dir: str | Path | None = None,
    ) -> RulesStage:
        engine = RuleEngine.from_config(rules, camera_id, image_size)
        return cls(engine, signal_source_from_config(rules.signal, config_dir))

    @classmethod
    def from_camera_config(
        cls, cfg: CameraConfig, config_dir: str | Path | None = None, image_size: tuple[int, int] | None = None
    ) -> RulesStage:
        return cls.from_rules_config(cfg.rules, cfg.camera_id, image_size, config_dir)

    def process(self, frame: Frame, tracks: Mapping[int, Track], active: Collection[int]) -> list[Violation]:
        self.last_signal = self.signal.update(frame)
        return self.engine.update(frame.index, frame.timestamp, self.last_signal, tracks, active)

    def finish(self, tracks: Mapping[int, Track] | None = None) -> list[Violation]:
        return self.engine.finish()

    def close(self) -> None:
        return None
