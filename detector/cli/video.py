"""`detector replay` (analysts: a recorded video) and `detector run` (a live camera)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detector.assemble import EvidenceOptions, build_pipeline
from detector.config import CameraConfig, load_camera_config
from detector.errors import ConfigError
from detector.evidence.keys import PRIVATE_NAME, Ed25519Signer, load_private_key, write_key_pair
from detector.live import BoundedFrameQueue, CaptureThread
from detector.outputs import atomic_write_text, summary_record, violation_record
from detector.pipeline import RunSummary
from detector.sources import open_source
from detector.store.ingest import IngestResult
from detector.store.services import open_embedded_store
from detector.types import Violation

log = logging.getLogger(__name__)


def _load(config: Path, video: str | None) -> CameraConfig:
    cfg = load_camera_config(config)
    if video:
        uri = video if "://" in video else str(Path(video).resolve())
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"uri": uri})})
    return cfg


def _prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the output folder: {exc}") from exc
    return out


def _signer_for_replay(cfg: CameraConfig, key: Path | None, out: Path, console: Console) -> Ed25519Signer:
    """The signing key: --key, else the config's evidence.key_path, else a development key in --out."""
    if key is not None:
        return load_private_key(key)
    if cfg.evidence.key_path:
        return load_private_key(Path(cfg.evidence.key_path))
    dev = out / "keys"
    if not (dev / PRIVATE_NAME).exists():
        write_key_pair(dev)
        console.print(f"[yellow]no signing key configured: made a development key in {dev}[/yellow] "
                      "(provision a real one with `detector keys new` and set evidence.key_path)")
    return load_private_key(dev)


def _public_key_dir(signer: Ed25519Signer, out: Path) -> Path:
    """A folder holding just the signer's public key: what the embedded store trusts."""
    folder = out / "store" / "trusted_keys"
    folder.mkdir(parents=True, exist_ok=True)
    pem = signer.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write_text(folder / f"{signer.key_id}.pub", pem.decode("ascii"))
    return folder


def _plates_by_event(record: dict[str, object]) -> dict[str, str]:
    """Plate text of each written bundle, read back from its manifest, by event key."""
    plates: dict[str, str] = {}
    bundles = record.get("bundles")
    for bundle in bundles if isinstance(bundles, list) else []:
        try:
            m = json.loads((Path(str(bundle)) / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        plate = m.get("plate") or {}
        key = m.get("event_key")
        if key:
            flag = " (review)" if plate.get("needs_review") else ""
            plates[key] = f"{plate['text']}{flag}" if plate.get("text") else "no plate read"
    return plates


def _summary_table(summary: RunSummary, out: Path, record: dict[str, object] | None = None) -> Table:
    t = summary.times
    table = Table(title=f"{summary.camera_id}: {summary.frames} frames, {summary.stream_seconds:.1f} s of video")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("tracks", str(summary.tracks))
    for cls, n in summary.tracks_by_class.items():
        table.add_row(f"  {cls}", str(n))
    table.add_row("violations", str(len(summary.violations)))
    plates = _plates_by_event(record or {})
    for v in summary.violations:
        plate = plates.get(v.event_key)
        text = f"track {v.track_id} at {v.timestamp:.2f}s ({v.vehicle_class})" + (f" {plate}" if plate else "")
        table.add_row(f"  {v.violation_type.value}", text)
    bundles = record.get("bundles") if record else None
    if isinstance(bundles, list):
        table.add_row("evidence bundles", f"{len(bundles)} signed")
    store = record.get("store") if record else None
    if isinstance(store, dict):
        table.add_row("stored", f"{store['accepted']} accepted, {len(store['rejected'])} rejected")
    for stage in ("decode", "detect", "track", "rules", "output"):
        if getattr(t, stage) > 0:
            table.add_row(f"{stage} fps", f"{t.fps(stage):.1f}")
    if summary.dropped_frames:
        table.add_row("dropped frames", str(summary.dropped_frames))
    table.add_row("output", str(out))
    return table


@click.command()
@click.argument("video", required=False)
@click.option("-c", "--config", "config", type=click.Path(path_type=Path), required=True,
              help="Camera config (YAML). Its source is used when VIDEO is not given.")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out/replay"), show_default=True,
              help="Folder for tracks.jsonl, violations.jsonl, preview.mp4, snapshots and summary.json.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--no-preview", is_flag=True, help="Skip the annotated preview video and snapshots.")
@click.option("--evidence/--no-evidence", default=True, show_default=True,
              help="Write a signed evidence bundle per violation (under --out/evidence unless the config says).")
@click.option("--key", type=click.Path(path_type=Path), default=None,
              help="Private signing key (default: the config's evidence.key_path, else a development key in --out).")
@click.option("--store/--no-store", "use_store", default=True, show_default=True,
              help="Ingest the bundles into the embedded SQLite store in --out/store (verified, as an edge box does).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout (progress on stderr).")
def replay(video: str | None, config: Path, out: Path, max_frames: int | None, no_preview: bool,
           evidence: bool, key: Path | None, use_store: bool, as_json: bool) -> None:
    """Replay a recorded VIDEO through the camera's pipeline.

    Writes per-frame track records (JSON Lines), the violations found, an annotated preview and
    a summary to --out. Example:

      detector replay sample_videos/sample_scene.mp4 --config configs/sample_scene.yaml
    """
    cfg = _load(config, video)
    out = _prepare_out(out)
    source = open_source(cfg.source, cfg.camera_id)
    console = Console(stderr=True)
    ev_opts = None
    store = None
    ingested: list[IngestResult] = []
    if evidence and cfg.evidence.enabled:
        root = Path(cfg.evidence.root) if cfg.evidence.root else out / "evidence"
        signer = _signer_for_replay(cfg, key, out, console)
        on_bundle = None
        if use_store:
            store = open_embedded_store(out / "store", _public_key_dir(signer, out))

            def on_bundle(violation: Violation, path: Path) -> None:
                assert store is not None
                ingested.append(store.ingest.ingest_path(path, actor="replay"))

        ev_opts = EvidenceOptions(root=root, signer=signer, on_bundle=on_bundle)
    built = build_pipeline(cfg, source.info.fps, out, config_path=config, preview=not no_preview,
                           evidence=ev_opts, image_size=(source.info.width, source.info.height))
    pipeline = built.pipeline
    total = source.info.frame_count
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:>6.1f} fps"), TextColumn("tracks {task.fields[tracks]}"),
        TextColumn("violations {task.fields[violations]}"), TimeElapsedColumn(),
        console=console, disable=not console.is_terminal and as_json,
    )
    started = time.perf_counter()
    try:
        with progress:
            task = progress.add_task(cfg.camera_id, total=total, fps=0.0, tracks=0, violations=0)
            for n, result in enumerate(pipeline.run(source), start=1):
                for v in result.violations:
                    progress.console.print(f"[red]violation[/red] {v.violation_type.value} track {v.track_id} "
                                           f"({v.vehicle_class}) at {v.timestamp:.2f}s frame {v.frame_index}")
                elapsed = time.perf_counter() - started
                progress.update(task, advance=1, fps=n / elapsed if elapsed else 0.0,
                                tracks=len(pipeline._seen_tracks), violations=len(pipeline.summary.violations))
                if max_frames and n >= max_frames:
                    pipeline.finish()
                    break
    finally:
        built.close()
        source.close()
        if store is not None:
            store.close()
    summary = pipeline.summary
    record = summary_record(summary, cfg.source.uri)
    record.update(built.extra_summary())
    if store is not None:
        record["store"] = {
            "url": store.config.url,
            "accepted": sum(r.status == "accepted" for r in ingested),
            "duplicate": sum(r.status == "duplicate" for r in ingested),
            "rejected": [r.reason for r in ingested if r.status == "rejected"],
        }
    atomic_write_text(out / "summary.json", json.dumps(record, indent=2))
    atomic_write_text(out / "violations.jsonl",
                      "".join(json.dumps(violation_record(v)) + "\n" for v in summary.violations))
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        Console().print(_summary_table(summary, out, record))


@click.command()
@click.option("-c", "--config", "config", type=click.Path(path_type=Path), required=True,
              help="Camera config (YAML) naming the live source.")
@click.option("--source", "source_uri", default=None, help="Override the config's source (rtsp://..., file, folder).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out/live"), show_default=True,
              help="Folder for track records, violations and evidence.")
@click.option("--queue-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Frames waiting between capture and processing; older ones are dropped and counted.")
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--preview/--no-preview", default=False, show_default=True, help="Also write an annotated preview.")
def run(config: Path, source_uri: str | None, out: Path, queue_size: int, duration: float | None,
        max_frames: int | None, preview: bool) -> None:
    """Watch a live camera: capture on its own thread, process what keeps up, report as it goes.

    Violations are logged as they happen and written with their evidence to --out; Ctrl-C stops
    cleanly and writes the summary.
    """
    cfg = _load(config, source_uri)
    out = _prepare_out(out)
    ev_opts = None
    if cfg.evidence.enabled:  # check the key before touching the camera
        if not cfg.evidence.key_path:
            raise ConfigError(f"{config}: evidence.key_path is not set; a live camera signs its evidence with a "
                              "provisioned key (`detector keys new --out DIR`)")
        root = Path(cfg.evidence.root) if cfg.evidence.root else out / "evidence"
        ev_opts = EvidenceOptions(root=root, signer=load_private_key(Path(cfg.evidence.key_path)), background=True)
    source = open_source(cfg.source, cfg.camera_id, clock=time.time)
    try:
        built = build_pipeline(cfg, source.info.fps, out, config_path=config, preview=preview, evidence=ev_opts,
                               image_size=(source.info.width, source.info.height))
    except BaseException:
        source.close()
        raise
    queue = BoundedFrameQueue(queue_size)
    capture = CaptureThread(source, queue).start()
    pipeline = built.pipeline
    console = Console(stderr=True)
    started = time.monotonic()
    console.print(f"watching {cfg.camera_id} ({cfg.name}); Ctrl-C to stop")
    try:
        for n, result in enumerate(pipeline.run(capture.frames()), start=1):
            for v in result.violations:
                console.print(f"[red]violation[/red] {v.violation_type.value} track {v.track_id} "
                              f"({v.vehicle_class}) t={v.timestamp:.2f}s")
            if (max_frames and n >= max_frames) or (duration and time.monotonic() - started >= duration):
                pipeline.finish()
                break
    except KeyboardInterrupt:
        console.print("stopping")
        pipeline.finish()
    finally:
        capture.close()
        built.close()
    pipeline.summary.dropped_frames = queue.stats.dropped
    record = summary_record(pipeline.summary, cfg.source.uri)
    record.update(built.extra_summary())
    atomic_write_text(out / "summary.json", json.dumps(record, indent=2))
    Console().print(_summary_table(pipeline.summary, out, record))
    if queue.stats.dropped:
        print(f"dropped {queue.stats.dropped} of {queue.stats.put} frames (processing slower than the camera)",
              file=sys.stderr)
