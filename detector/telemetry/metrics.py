"""Prometheus metrics of `detector run` (`--metrics-port`), on a registry of its own.

Per frame (`observe`, called with each frame result on the loop's thread): frames processed, the
time each stage took for that frame (detect, track, rules, output: the growth of the pipeline's
stage times, as histograms) and violations by type. At scrape time (`RunCollector`, from the run's
own counters): frames captured and dropped by the capture queue, queue depths, bundles written,
bundles the embedded store rejected (detector_edge_*), its outbox backlog, and the loop's capture-to-decision and
processing latencies (its 1 ms histograms, re-binned to the exported buckets).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from detector.types import ViolationType

if TYPE_CHECKING:
    from detector.pipeline import FrameResult
    from detector.runtime.loop import LatencyHistogram
    from detector.runtime.session import RunSession

log = logging.getLogger(__name__)

STAGES = ("detect", "track", "rules", "output")
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
LATENCY_BUCKETS_MS = (10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400)


def latency_family(name: str, doc: str, hist: LatencyHistogram, camera_id: str) -> HistogramMetricFamily:
    """The loop's 1 ms-bin histogram as a Prometheus histogram in seconds (bin i holds [i, i+1) ms)."""
    counts = hist.counts.copy()
    cum = np.cumsum(counts)
    total = int(cum[-1]) if len(cum) else 0
    # an observation of x ms lies in bin floor(x): it is <= b ms for sure when its bin is below b
    buckets = [
        (str(b / 1000.0), float(cum[b - 1]) if b - 1 < len(cum) else float(total)) for b in LATENCY_BUCKETS_MS
    ]
    buckets.append(("+Inf", float(total)))
    approx_sum = float(np.dot(counts, np.arange(len(counts)) + 0.5)) / 1000.0
    fam = HistogramMetricFamily(name, doc, labels=["camera_id"])
    fam.add_metric([camera_id], buckets, approx_sum)
    return fam


class RunCollector(Collector):
    def __init__(self, session: RunSession) -> None:
        self.session = session
        self.camera_id = session.req.cfg.camera_id

    def collect(self) -> Iterator[Metric]:
        s, cam = self.session, [self.camera_id]
        q = s.loop.queue.stats

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            fam = CounterMetricFamily(name, doc, labels=["camera_id"])
            fam.add_metric(cam, value)
            return fam

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            fam = GaugeMetricFamily(name, doc, labels=["camera_id"])
            fam.add_metric(cam, value)
            return fam

        yield counter("detector_frames_in", "Frames captured into the capture queue", q.put)
        yield counter(
            "detector_frames_dropped", "Frames the capture queue dropped (loop too slow)", q.dropped
        )
        yield gauge("detector_capture_queue_depth", "Frames waiting for the loop", len(s.loop.queue))
        evidence = s.built.evidence
        yield gauge(
            "detector_evidence_pending",
            "Violations waiting for their bundle",
            evidence.pending if evidence is not None else 0,
        )
        yield counter(
            "detector_bundles_written",
            "Signed evidence bundles written",
            len(evidence.written) if evidence is not None else 0,
        )
        ingested = list(s.ingested)
        yield counter(
            "detector_edge_ingest_rejections",
            "Bundles the box's embedded store rejected",
            sum(r.status == "rejected" for r in ingested),
        )
        if s.store is not None:
            from detector.store.outbox import pending_messages

            yield gauge(
                "detector_edge_outbox_backlog",
                "Stored violations not yet published over MQTT",
                pending_messages(s.store.db),
            )
        yield latency_family(
            "detector_frame_latency_seconds", "Capture to decision per frame", s.loop.latency, self.camera_id
        )
        yield latency_family(
            "detector_frame_processing_seconds",
            "Taken from the queue to decision per frame",
            s.loop.processing,
            self.camera_id,
        )


class RunMetrics:
    """The run's registry: per-frame observations plus the scrape-time collector."""

    def __init__(self, session: RunSession) -> None:
        self.session = session
        self.registry = CollectorRegistry(auto_describe=False)
        cam = session.req.cfg.camera_id
        self.processed = Counter(
            "detector_frames_processed",
            "Frames through detect/track/rules",
            ["camera_id"],
            registry=self.registry,
        ).labels(cam)
        stage = Histogram(
            "detector_stage_seconds",
            "Time one frame spent in a stage",
            ["camera_id", "stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.stages = {name: stage.labels(cam, name) for name in STAGES}
        self._violations = Counter(
            "detector_violations_decided",
            "Violations decided",
            ["camera_id", "violation_type"],
            registry=self.registry,
        )
        self._cam = cam
        for vt in ViolationType:  # every type reads 0 from the start, not "no data"
            if vt is not ViolationType.PASSAGE:  # a section camera's passage is not a violation
                self._violations.labels(cam, vt.value)
        self._last = {name: 0.0 for name in STAGES}
        self._detected = 0
        self.registry.register(RunCollector(session))
        self._server: object | None = None

    def observe(self, result: FrameResult) -> None:
        """One frame's figures (on the loop's thread, after the frame was processed)."""
        times = self.session.summary.times
        detected = times.detected_frames > self._detected
        self._detected = times.detected_frames
        for name, hist in self.stages.items():
            total = float(getattr(times, name))
            if name != "detect" or detected:  # a predicted frame's detect time is the prediction's
                hist.observe(max(total - self._last[name], 0.0))
            self._last[name] = total
        self.processed.inc()
        for v in result.violations:
            self._violations.labels(self._cam, v.violation_type.value).inc()

    def serve(self, port: int, host: str = "127.0.0.1") -> RunMetrics:
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        log.info("Prometheus metrics at http://%s:%d/metrics", host, port)
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
