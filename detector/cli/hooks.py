"""The stages `replay` and `run` put on the frame loop's result hook: hotlist alerts, a section
camera's signed passages and live traffic statistics (each from its file; None when not asked)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from detector.config import CameraConfig
from detector.errors import ConfigError
from detector.pipeline import FrameResult

if TYPE_CHECKING:
    from detector.network.hotlist_stage import HotlistStage
    from detector.network.live_stats import LiveTrafficStats
    from detector.network.passage_stage import PassageStage
    from detector.runtime.session import RunSession


#: `--network FILE` of replay and run: the stages `passage_stage` and `live_stats` take from it.
network_option = click.option(
    "--network",
    "network",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Network file: where a section gives this camera a timing line, write a signed passage "
    "bundle for every vehicle crossing it (section speed); where it lists the camera under "
    "statistics, store traffic statistics per interval as the run goes.",
)
#: `--hotlist FILE` of replay and run: the stage `hotlist_stage` reads it.
hotlist_option = click.option(
    "--hotlist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Hotlist file (detector hotlist export): read passing vehicles' plates and raise alerts.",
)


def both(a: Callable[[FrameResult], None], b: Callable[[FrameResult], None]) -> Callable[[FrameResult], None]:
    def call(result: FrameResult) -> None:
        a(result)
        b(result)

    return call


def hotlist_stage(
    path: Path | None, cfg: CameraConfig, out: Path, session: RunSession
) -> HotlistStage | None:
    """The hotlist stage on the loop's result hook (detector/network/hotlist_stage.py), or None."""
    if path is None:
        return None
    from detector.network.hotlist_stage import open_hotlist_stage

    start = cfg.source.start_time or datetime.now(
        UTC
    )  # a replay without a start time: now, as the run's start
    return open_hotlist_stage(path, cfg, out, session.store, start)


def passage_stage(path: Path | None, cfg: CameraConfig, session: object) -> PassageStage | None:
    """The section camera's passage stage on the loop's result hook (detector/network/passage_stage.py):
    a signed passage bundle for every vehicle crossing its timing line, or None."""
    if path is None:
        return None
    from detector.network.passage_stage import open_passage_stage

    built = session.built  # type: ignore[attr-defined]
    if built.evidence is None:
        raise ConfigError(f"--network {path}: passages are signed bundles; evidence must be on")
    start = cfg.source.start_time or datetime.now(UTC)  # a replay without a start time: now
    fps = session.source.info.fps  # type: ignore[attr-defined]
    stage = open_passage_stage(path, cfg, built.evidence.add_violations, start, fps)
    if stage is not None:
        stage.run_id = getattr(built.pipeline.violation_stage, "run_id", "")
    return stage


def live_stats(
    path: Path | None, cfg: CameraConfig, out: Path, session: object, live: bool
) -> LiveTrafficStats | None:
    """Traffic statistics per interval as the run goes (detector/network/live_stats.py), into the run's
    store (served by its API), else `out/traffic_stats.jsonl`; None without a `statistics` entry."""
    if path is None:
        return None
    from detector.network.live_stats import JsonlStatsSink, open_live_stats

    store = getattr(session, "store", None)
    sink = store.traffic.save if store is not None else JsonlStatsSink(out / "traffic_stats.jsonl")
    # a live camera's stream time 0 is its first frame's wall time; a replay's the configured start
    start = None if live else (cfg.source.start_time or datetime.now(UTC))
    return open_live_stats(path, cfg, sink, start)


def hooks(on_result: Callable[[FrameResult], None], *stages: object) -> Callable[[FrameResult], None]:
    """The loop's result hook: the command's own, then each stage's `submit` (None stages skipped)."""
    hook = on_result
    for st in stages:
        if st is not None:
            hook = both(hook, st.submit)  # type: ignore[attr-defined]
    return hook
