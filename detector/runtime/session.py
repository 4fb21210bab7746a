"""One run of the engine, a recorded file or a live camera: everything the CLI used to wire by hand.

    session = RunSession.open(RunRequest(cfg, config_path, out, live=False))
    try:
        summary = session.run()
    finally:
        session.close()          # drains the outputs and the evidence worker, closes the store
    session.write_results()      # summary.json, violations.jsonl

`replay` and `run` differ only in their request: a live run takes frames as the camera gives them
(dropping the oldest when the loop falls behind), stamps wall time from the capture clock, needs a
provisioned signing key, and marks its violations with the run's id so a restart never reuses an
event key. Both sign their evidence and ingest every bundle into the embedded store (`--no-store`
turns that off).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.assemble import BuiltPipeline, EvidenceOptions, build_pipeline
from detector.config import CameraConfig
from detector.detect import Detector
from detector.errors import ConfigError
from detector.fsutil import atomic_write_text
from detector.outputs import summary_record, violation_record
from detector.pipeline import Pipeline, RunSummary
from detector.runtime.loop import FrameLoop, LoopOptions
from detector.sources import FrameSource, open_source
from detector.types import Frame, Violation

if TYPE_CHECKING:  # the signing key and the store are imported only by a run that signs or stores
    from detector.evidence.keys import Ed25519Signer
    from detector.store.ingest import IngestResult
    from detector.store.services import StoreServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    cfg: CameraConfig
    config_path: Path
    out: Path
    live: bool = False
    preview: bool = True
    evidence: bool = True
    key: Path | None = None  # signing key; else the config's evidence.key_path; a replay makes a dev key
    store: bool = True
    loop: LoopOptions = field(default_factory=LoopOptions)
    detector: Detector | None = None  # shared with the box's other cameras (runtime/box.py); else its own


def warm_up(pipeline: Pipeline, width: int, height: int, source_id: str) -> None:
    """One detection on a blank frame of the camera's size before its frames are read.

    onnxruntime's first run of a session allocates and prepacks (several times a normal inference);
    on a live camera that first frame is late while the camera keeps sending, and the frames that
    pile up meanwhile are dropped. The blank frame goes to the detector only: no track, no record."""
    blank = Frame(image=np.zeros((height, width, 3), np.uint8), index=0, timestamp=0.0, source_id=source_id)
    pipeline.detector.detect(blank)


def _detector_defaults(cfg: CameraConfig, live: bool, shared: bool) -> CameraConfig:
    """The vehicle detector's session as the frame loop will use it.

    `detector.spin` unset: its threads spin in a replay, not on a live camera. With detection ahead of
    the tracker (`runtime.detect_ahead`), `detector.threads` are shared by the inferences running at once
    (`runtime.detect_workers`; a box's shared session keeps its own threads: its cameras take turns)."""
    update: dict[str, object] = {}
    if cfg.detector.spin is None:
        update["spin"] = not live
    rt = cfg.runtime
    if not shared and rt.detect_ahead > 0 and rt.detect_workers > 1:
        update["threads"] = max(1, cfg.detector.threads // rt.detect_workers)
    if not update:
        return cfg
    return cfg.model_copy(update={"detector": cfg.detector.model_copy(update=update)})


def run_id_at(wall: float) -> str:
    """A live run's id: its start in UTC, to the second (`20261204T201503Z`)."""
    return datetime.fromtimestamp(wall, UTC).strftime("%Y%m%dT%H%M%SZ")


def _prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the output folder: {exc}") from exc
    return out


def _signer(req: RunRequest) -> tuple[Ed25519Signer, str | None]:
    """The signing key and, when a development key was made, a note saying where."""
    from detector.evidence.keys import PRIVATE_NAME, dev_key_dir, load_private_key, write_key_pair

    if req.key is not None:
        return load_private_key(req.key), None
    if req.cfg.evidence.key_path:
        return load_private_key(Path(req.cfg.evidence.key_path)), None
    if req.live:
        raise ConfigError(
            f"{req.config_path}: evidence.key_path is not set; a live camera signs its evidence "
            "with a provisioned key (`detector keys new --out DIR`)"
        )
    dev = dev_key_dir()  # never inside --out: copying a run folder must not copy a private key
    note = None
    if not (dev / PRIVATE_NAME).exists():
        write_key_pair(dev)
        note = (
            f"no signing key configured: made a development key in {dev} "
            "(provision a real one with `detector keys new` and set evidence.key_path)"
        )
    return load_private_key(dev), note


def _public_key_dir(signer: Ed25519Signer, out: Path) -> Path:
    """A folder holding just the signer's public key: what the embedded store trusts."""
    from cryptography.hazmat.primitives import serialization

    folder = out / "store" / "trusted_keys"
    folder.mkdir(parents=True, exist_ok=True)
    pem = signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    atomic_write_text(folder / f"{signer.key_id}.pub", pem.decode("ascii"))
    return folder


class RunSession:
    """A source, the built pipeline, the embedded store and the frame loop of one run."""

    def __init__(
        self,
        req: RunRequest,
        source: FrameSource,
        built: BuiltPipeline,
        store: StoreServices | None,
        notes: list[str],
        ingested: list[IngestResult],
    ) -> None:
        self.req = req
        self.source = source
        self.built = built
        self.store = store
        self.notes = notes
        self.ingested = ingested  # the store's answer per bundle, appended by the evidence worker
        self.loop = FrameLoop(built, source, req.cfg.runtime, req.loop)
        self.summary: RunSummary = built.pipeline.summary
        self._closed = False

    @classmethod
    def open(cls, req: RunRequest) -> RunSession:
        cfg, out = _detector_defaults(req.cfg, req.live, req.detector is not None), _prepare_out(req.out)
        notes: list[str] = []
        signer = None
        if req.evidence and cfg.evidence.enabled:  # check the key before touching the camera
            signer, note = _signer(req)
            if note:
                notes.append(note)
        source = open_source(cfg.source, cfg.camera_id, clock=time.time if req.live else None)
        store: StoreServices | None = None
        try:
            ev_opts = None
            ingested: list[IngestResult] = []
            if signer is not None:
                root = Path(cfg.evidence.root) if cfg.evidence.root else out / "evidence"
                on_bundle = None
                if req.store:
                    from detector.store.services import open_embedded_store

                    store = open_embedded_store(out / "store", _public_key_dir(signer, out))

                    def on_bundle(violation: Violation, path: Path) -> None:
                        assert store is not None
                        ingested.append(store.ingest.ingest_path(path, actor=cfg.camera_id))

                ev_opts = EvidenceOptions(root=root, signer=signer, on_bundle=on_bundle, background=True)
            built = build_pipeline(
                cfg,
                source.info.fps,
                out,
                config_path=req.config_path,
                preview=req.preview,
                evidence=ev_opts,
                image_size=(source.info.width, source.info.height),
                run_id=run_id_at(time.time()) if req.live else "",
                detector=req.detector,
            )
            packets = getattr(source, "packets", None)
            if packets is not None and built.evidence is not None:
                built.evidence.use_packets(packets)  # the camera's packets, not a ring of JPEGs
            if req.live:
                warm_up(built.pipeline, source.info.width, source.info.height, source.info.source_id)
        except BaseException:
            source.close()
            if store is not None:
                store.close()
            raise
        return cls(req, source, built, store, notes, ingested)

    def run(self) -> RunSummary:
        return self.loop.run()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.loop.close()
        finally:
            self.source.close()
            if self.store is not None:
                self.store.close()

    def record(self) -> dict[str, object]:
        """What summary.json says: the run's summary, its outputs, the store's answer per bundle."""
        record = summary_record(self.summary, self.req.cfg.source.uri)
        record.update(self.built.extra_summary())
        record["runtime"] = self.summary.runtime
        decode = getattr(self.source, "decode_report", None)  # file sources: decoded vs announced
        if decode is not None:
            record["decode"] = decode.to_dict()
        if self.store is not None:
            record["store"] = {
                "url": self.store.config.url,
                "accepted": sum(r.status == "accepted" for r in self.ingested),
                "duplicate": sum(r.status == "duplicate" for r in self.ingested),
                "rejected": [r.reason for r in self.ingested if r.status == "rejected"],
            }
        return record

    def write_results(self) -> dict[str, object]:
        record = self.record()
        out = self.req.out
        atomic_write_text(out / "summary.json", json.dumps(record, indent=2))
        atomic_write_text(
            out / "violations.jsonl",
            "".join(json.dumps(violation_record(v)) + "\n" for v in self.summary.violations),
        )
        return record
