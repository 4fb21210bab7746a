"""`detector replay-batch`: many recorded videos replayed on a Dask cluster, stored centrally."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable

    from detector.batch.runner import VideoOutcome


def _key_dirs(out: Path, key: Path | None) -> tuple[Path, Path]:
    """The signing key folder (a development key in `out/keys` when none is given) and a folder
    holding only its public key (what the default store trusts)."""
    from detector.evidence.keys import PRIVATE_NAME, PUBLIC_NAME, load_private_key, write_key_pair

    key_dir = key if key is not None else out / "keys"
    if key is None and not (key_dir / PRIVATE_NAME).exists():
        write_key_pair(key_dir)
    signer = load_private_key(key_dir)  # ConfigError/KeyError naming the file when unusable
    trusted = out / "trusted_keys"
    trusted.mkdir(parents=True, exist_ok=True)
    if (key_dir / PUBLIC_NAME).is_file():
        shutil.copyfile(key_dir / PUBLIC_NAME, trusted / f"{signer.key_id}.pub")
    return key_dir, trusted


def _report_table(outcomes: list) -> Table:  # noqa: ANN001
    table = Table(title="replay-batch")
    for col in ("video", "camera", "frames", "fps", "violations", "stored", "attempts", "failures"):
        table.add_column(col, justify="right" if col not in ("video", "camera", "failures") else "left")
    for o in outcomes:
        r, c = o.report, o.ingest
        failures = r.error or "; ".join((*r.failures, *c.rejected)) or ""
        table.add_row(
            r.name,
            r.camera_id,
            str(r.frames),
            f"{r.fps:.1f}",
            str(r.violations),
            f"{c.accepted}+{c.duplicate} dup",
            str(r.attempts),
            failures[:80],
        )
    return table


def _batch_progress(videos: int) -> tuple[Progress, Callable[[VideoOutcome], None]]:
    """One bar over the batch, and the hook that advances it as each video comes back."""
    progress = Progress(
        TextColumn("[bold]videos"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames {task.fields[frames]}"),
        TextColumn("violations {task.fields[violations]}"),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task("batch", total=videos, frames=0, violations=0, failed=0)
    totals = {"frames": 0, "violations": 0, "failed": 0}

    def on_done(o: VideoOutcome) -> None:
        totals["frames"] += o.report.frames
        totals["violations"] += o.report.violations
        totals["failed"] += o.report.error is not None
        progress.update(
            task, advance=1, frames=totals["frames"], violations=totals["violations"], failed=totals["failed"]
        )

    return progress, on_done


def _outcome_record(o: VideoOutcome) -> dict[str, object]:
    """A video's line of batch.json: its report and what the central store said of its bundles."""
    stored = {
        "accepted": o.ingest.accepted,
        "duplicate": o.ingest.duplicate,
        "rejected": list(o.ingest.rejected),
    }
    return {**o.report.to_json(), "stored": stored}


@click.command("replay-batch")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Camera config for every video of a SOURCE folder without its own <stem>.yaml beside it.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out/batch"),
    show_default=True,
    help="One output folder per video under here, plus batch.json (the report).",
)
@click.option(
    "--store-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Central store (e.g. PostgreSQL) to ingest into; it must trust the signing key. "
    "Default: SQLite in --out/store.",
)
@click.option(
    "--key",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Signing key folder (default: a development key made in --out/keys).",
)
@click.option(
    "--address",
    default=None,
    help="Scheduler of an existing Dask cluster (tcp://host:8786); default: a local cluster.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Worker processes of the local cluster.",
)
@click.option(
    "--cpus",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPUs each video's task declares (and its detector's threads).",
)
@click.option(
    "--max-frames", type=click.IntRange(min=1), default=None, help="At most this many frames per video."
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Re-runs of a video whose task failed or whose worker died.",
)
@click.option(
    "--fault-drill",
    type=click.IntRange(min=1),
    default=None,
    metavar="FRAMES",
    help="Drill: each video's first attempt kills its own worker (SIGKILL) after FRAMES frames.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def replay_batch(
    source: Path,
    config: Path | None,
    out: Path,
    store_config: Path | None,
    key: Path | None,
    address: str | None,
    workers: int,
    cpus: int,
    max_frames: int | None,
    retries: int,
    fault_drill: int | None,
    as_json: bool,
) -> None:
    """Replay a folder of videos, or a manifest (YAML) of videos with their camera configs, one task
    per video on a Dask cluster; ingest every video's bundles into one store.

    A worker killed mid-video is retried; the store ends with each violation once. Run again over
    the same --out to resume (finished videos are not replayed again). Example:

      detector replay-batch recordings/ --config configs/cam1.yaml --workers 2
    """
    from dataclasses import replace

    from detector.batch.manifest import folder_entries, plan_jobs
    from detector.batch.runner import BatchOptions, run_batch, store_ingester
    from detector.config import load_batch_manifest
    from detector.configcheck import load_checked_camera_config

    folder_mode = source.is_dir()
    entries = folder_entries(source, config) if folder_mode else load_batch_manifest(source)
    # bad configs fail before any work
    cams = [load_checked_camera_config(Path(e.config)).camera_id for e in entries]
    out.mkdir(parents=True, exist_ok=True)
    key_dir, trusted = _key_dirs(out, key)
    jobs = plan_jobs(entries, cams, out, key_dir, cpus=cpus, max_frames=max_frames, folder_mode=folder_mode)
    if fault_drill is not None:
        jobs = [replace(j, drill_kill_after=fault_drill) for j in jobs]
    services = _open_store(store_config, out, trusted)
    progress, on_done = _batch_progress(len(jobs))
    opts = BatchOptions(workers=workers, cpus_per_task=cpus, address=address, retries=retries)
    try:
        with progress:
            outcomes = run_batch(jobs, opts, store_ingester(services), on_done)
    finally:
        services.close()
    record = [_outcome_record(o) for o in outcomes]
    from detector.fsutil import atomic_write_text

    atomic_write_text(out / "batch.json", json.dumps(record, indent=2))
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        Console().print(_report_table(outcomes))
    failed = [o.report.name for o in outcomes if o.report.error or o.report.failures or o.ingest.rejected]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(outcomes)} videos failed: {', '.join(failed)}")


def _open_store(store_config: Path | None, out: Path, trusted: Path):  # noqa: ANN202
    from detector.store.services import open_embedded_store

    if store_config is None:
        return open_embedded_store(out / "store", trusted)
    from detector.cli.store import _services

    return _services(store_config)
