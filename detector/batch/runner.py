"""Run a batch of replays on Dask distributed and ingest their bundles into one central store.

Each video is one task declaring the CPUs it needs (`resources={"CPU": n}`; the local cluster's
workers each offer `n`), so a worker runs one replay at a time. A local cluster of worker processes
(each under a nanny that restarts it when it dies) is started by default; `address` joins an
existing scheduler instead (`dask scheduler` + `dask worker ADDRESS --resources CPU=2`).

A worker killed in the middle of a video (OOM killer, kill -9, a lost node) loses that attempt
only: the scheduler re-runs the task on a live worker (`allowed_failures` times, counted per task;
an exception in the task is retried `retries` times) and the new attempt starts from an empty output
folder. Bundles reach the central store only from a task that returned, in chain order, and the
store's ingest is idempotent on the event id, so the store ends with every violation once.

Why Dask rather than Ray on this project: see benchmarks/RESULTS.md ("Batch replay"): on a 2-core
box Dask's local cluster starts in about a second and holds a few hundred MB, Ray's in several
seconds and about twice the memory, and per-task overhead (milliseconds) is noise against a
replay's minutes either way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from detector.batch.manifest import BatchJob
from detector.batch.task import VideoReport, replay_video
from detector.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    workers: int = 2  # local cluster: worker processes
    cpus_per_task: int = 1  # declared per task; also the replay's onnxruntime threads
    address: str | None = None  # an existing scheduler instead of a local cluster
    retries: int = 2  # re-runs of a task that raised
    allowed_failures: int = 3  # re-runs of a task whose worker died under it
    memory_limit: str | int = 0  # per local worker (0: no limit; Dask's nanny restarts a worker above it)


@dataclass(frozen=True, slots=True)
class IngestCounts:
    accepted: int = 0
    duplicate: int = 0
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VideoOutcome:
    """A video's report with the central store's answer for its bundles."""

    report: VideoReport
    ingest: IngestCounts = field(default_factory=IngestCounts)


def _failed(job: BatchJob, exc: BaseException) -> VideoReport:
    return VideoReport(
        name=job.name,
        camera_id=job.camera_id or "",
        video=job.video or "",
        out=str(job.out),
        error=f"{type(exc).__name__}: {exc}",
    )


def _open_client(opts: BatchOptions):  # noqa: ANN202  (distributed is an optional extra)
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("detector replay-batch needs Dask distributed: pip install -e '.[batch]'") from exc
    dask.config.set({"distributed.scheduler.allowed-failures": opts.allowed_failures})
    if not log.isEnabledFor(logging.INFO):  # the scheduler's chatter only with -v
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if opts.address:
        return Client(opts.address, timeout="30s"), None
    cluster = LocalCluster(
        n_workers=opts.workers,
        threads_per_worker=opts.cpus_per_task,
        processes=True,
        resources={"CPU": opts.cpus_per_task},
        dashboard_address=None,
        memory_limit=opts.memory_limit,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run_batch(
    jobs: Sequence[BatchJob],
    opts: BatchOptions,
    ingest: Callable[[VideoReport], IngestCounts] | None,
    on_done: Callable[[VideoOutcome], None] = lambda _o: None,
) -> list[VideoOutcome]:
    """Replay every job on the cluster; ingest each finished video's bundles as it comes back.

    Returns the outcomes in the jobs' order. A video that failed every attempt has `error` set; the
    others still run and are stored."""
    from distributed import as_completed

    client, cluster = _open_client(opts)
    outcomes: dict[str, VideoOutcome] = {}
    try:
        batch = uuid.uuid4().hex[:8]
        futures = {}
        for job in jobs:
            job = replace(job, cpus=opts.cpus_per_task)
            fut = client.submit(
                replay_video,
                job,
                key=f"replay-{batch}-{job.name}",
                pure=False,
                resources={"CPU": opts.cpus_per_task},
                retries=opts.retries,
            )
            futures[fut.key] = (fut, job)
        for fut in as_completed([f for f, _ in futures.values()]):
            job = futures[fut.key][1]
            try:
                report = fut.result()
            except Exception as exc:  # every attempt failed (KilledWorker, or the task's own error)
                log.error("%s failed: %s", job.name, exc)
                report = _failed(job, exc)
            counts = IngestCounts()
            if ingest is not None and report.error is None:
                counts = ingest(report)
            outcome = VideoOutcome(report, counts)
            outcomes[job.name] = outcome
            on_done(outcome)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [outcomes[j.name] for j in jobs]


def store_ingester(services) -> Callable[[VideoReport], IngestCounts]:  # noqa: ANN001
    """Ingest a report's bundles in chain order (their folder names start with the sequence)."""

    def ingest(report: VideoReport) -> IngestCounts:
        results = [
            services.ingest.ingest_path(Path(b), actor=f"replay-batch:{report.name}")
            for b in sorted(report.bundles, key=lambda p: Path(p).name)
        ]
        return IngestCounts(
            accepted=sum(r.status == "accepted" for r in results),
            duplicate=sum(r.status == "duplicate" for r in results),
            rejected=tuple(r.reason for r in results if r.status == "rejected"),
        )

    return ingest
