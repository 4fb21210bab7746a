"""The short CI version of the 10-minute stream and 30-minute soak benchmarks (benchmarks/bench_stream.py):
the same script, the same real RTSP camera and full pipeline, for seconds instead of minutes."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cameras.rtsp_server import rtsp_unavailable
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(rtsp_unavailable() is not None, reason=str(rtsp_unavailable()))


def test_short_soak_on_a_live_rtsp_camera_writes_its_report_samples_and_plot(tmp_path: Path):
    results = tmp_path / "results"
    r = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_stream.py",
            "--seconds",
            "12",
            "--soak",
            "--sample-s",
            "1",
            "--restart-after",
            "6",
            "--write",
            "--results",
            str(results),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = (results / "soak.md").read_text(encoding="utf-8")
    assert "| exit code | 0 |" in report and "camera restarted once" in report
    row = next(line for line in report.splitlines() if line.startswith("| frames captured"))
    captured, processed, dropped = (int(v) for v in row.split("|")[2].split("/"))
    assert processed > 0 and captured >= processed and dropped >= 0
    with (results / "soak_rss.csv").open() as fh:
        samples = list(csv.DictReader(fh))
    rss = [float(s["rss_mb"]) for s in samples]
    assert len(rss) >= 5 and min(rss) > 0 and max(rss) > 150  # the engine with its models loaded
    assert (results / "soak_rss.png").stat().st_size > 5000
