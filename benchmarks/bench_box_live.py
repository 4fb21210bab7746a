"""Several live 1080p 25 fps RTSP cameras on one edge box: does one `detector run` keep up with them all?

N real RTSP servers (tests/cameras/rtsp_server.py: GStreamer, real-time pacing) each serve the sample
scene at 1920x1080 and 25 fps, looped; one `detector run --config c1 ... --config cN` watches them all
with the full pipeline (detection on one shared detector session, tracking, rules, plates of the
violators, signed evidence, each camera's own store). Each camera's summary gives its frames,
drops, latency and violations; the process's CPU comes from /proc.

    python benchmarks/bench_box_live.py --cameras 2 --seconds 180
    python benchmarks/bench_box_live.py --cameras 1,2 --seconds 120 --write   # a table per count
    python benchmarks/bench_box_live.py --cameras 1 --hotlist 4 --seconds 120  # + hotlist alert latency

With `--hotlist K` the box also watches for K of the sample's plates (a hotlist file as the store
exports it): every alert's latency is the store's time of the alert minus the capture time of the frame
that raised it (both wall clock on this machine).

Writes benchmarks/results/box_live.md (and its section of RESULTS.md) with --write.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from bench_stream import REPO, replace_section, scale_pixels  # benchmarks/ (scripts run by path)
from machine import machine_line

sys.path.insert(0, str(REPO))
from detector.evidence.keys import PRIVATE_NAME, write_key_pair  # noqa: E402
from tests.cameras.rtsp_server import RtspServer, rtsp_unavailable  # noqa: E402

TITLE = "Several live 1080p cameras on one box"


def camera_config(work: Path, index: int, url: str) -> Path:
    """The sample camera scaled to 1080p under its own id, source and signing key."""
    keys = work / f"keys-{index}"
    if not (keys / PRIVATE_NAME).exists():
        write_key_pair(keys)
    raw = yaml.safe_load((REPO / "configs" / "sample_scene.yaml").read_text(encoding="utf-8"))
    raw["camera_id"] = f"box-cam-{index}"
    raw["rules"] = scale_pixels(raw["rules"], 2.0)
    raw["rules"]["rules"]["red_light"]["min_past_line_px"] *= 2.0
    raw["rules"]["rules"]["stop_line"]["max_past_line_px"] *= 2.0
    raw["rules"]["rules"]["wrong_way"]["min_distance_px"] *= 2.0
    raw["source"] = {"uri": url, "reconnect_attempts": 20, "reconnect_delay_s": 1.0}
    raw["evidence"] = {"key_path": str((keys / PRIVATE_NAME).resolve())}
    path = work / f"camera-{index}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def hotlist_file(work: Path, k: int) -> Path:
    """K of the sample's plates, wanted, as the file `detector hotlist export` writes."""
    truth = json.loads((REPO / "sample_videos" / "ground_truth.json").read_text(encoding="utf-8"))
    plates = [v for v in truth["vehicles"] if v.get("plate")][:k]
    doc = {
        "version": len(plates),
        "entries": [
            {
                "id": i + 1,
                "plate": v["plate_normalized"],
                "plate_text": v["plate"],
                "reason": "stolen",
                "unit": "bench",
            }
            for i, v in enumerate(plates)
        ],
    }
    path = work / "hotlist.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def alert_latencies(store_db: Path) -> list[float]:
    """Seconds from the frame that raised each alert (its capture wall time) to the alert stored."""
    import sqlite3

    if not store_db.exists():
        return []
    with contextlib.closing(sqlite3.connect(store_db)) as db:
        rows = db.execute("SELECT seen_at, created_at FROM hotlist_alerts").fetchall()
    from datetime import datetime

    return [
        (datetime.fromisoformat(str(c)) - datetime.fromisoformat(str(a))).total_seconds() for a, c in rows
    ]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_box(n: int, seconds: float, work: Path, hotlist: int = 0) -> dict[str, Any]:
    clip = REPO / "sample_videos" / "sample_scene.mp4"
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(
            RtspServer(clip, fps=25, size=(1920, 1080), loop=True, workdir=work / "rtsp-0")
        )
        cams = [first] + [
            stack.enter_context(
                RtspServer(
                    first.clip, fps=25, size=(1920, 1080), loop=True, encode=False, workdir=work / f"rtsp-{i}"
                )
            )
            for i in range(1, n)
        ]
        configs = [camera_config(work, i, cam.url) for i, cam in enumerate(cams)]
        out = work / f"run-{n}"
        cmd = [sys.executable, "-m", "detector", "run", "--out", str(out), "--duration", str(seconds)]
        for c in configs:
            cmd += ["--config", str(c)]
        if hotlist:
            cmd += ["--hotlist", str(hotlist_file(work, hotlist))]
        load_before = os.getloadavg()
        with (work / f"run-{n}.log").open("w") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            t0, cpu = time.monotonic(), 0.0
            while proc.poll() is None:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    cpu = _cpu_s(proc.pid)  # the last reading before it exits
                time.sleep(1.0)
            wall = time.monotonic() - t0
    ids = [f"box-cam-{i}" for i in range(n)]
    summaries, alerts = {}, {}
    for cam_id in ids:  # one camera writes straight into --out, several each under --out/<camera_id>
        cam_out = out / cam_id if n > 1 else out
        p = cam_out / "summary.json"
        summaries[cam_id] = json.loads(p.read_text()) if p.exists() else {}
        alerts[cam_id] = alert_latencies(cam_out / "store" / "violations.db")
    return {
        "n": n,
        "rc": proc.returncode,
        "seconds": seconds,
        "wall": wall,
        "cpu_s": cpu,
        "summaries": summaries,
        "alerts": alerts,
        "load": (load_before, os.getloadavg()),
        "log": (work / f"run-{n}.log").read_text()[-3000:],
    }


def rows(res: dict[str, Any]) -> list[str]:
    out = []
    for cam_id, s in res["summaries"].items():
        rt = s.get("runtime", {})
        cap, lat, store = rt.get("capture_queue", {}), rt.get("latency_ms", {}), s.get("store", {})
        out.append(
            f"| {res['n']} | {cam_id} | {cap.get('put', '?')} / {s.get('frames', '?')} / "
            f"{s.get('dropped_frames', '?')} | {lat.get('p50', '?')} / {lat.get('p95', '?')} ms | "
            f"{rt.get('max_lag_s', '?')} s | {len(s.get('violations', []))} / {len(s.get('bundles', []))} / "
            f"{store.get('accepted', '?')} | {res['cpu_s'] / res['wall']:.2f} | "
            f"{res['load'][0][0]:.1f} -> {res['load'][1][0]:.1f} | {res['rc']} | {_alerts(res['alerts'][cam_id])} |"
        )
    return out


def _alerts(lat: list[float]) -> str:
    if not lat:
        return "-"
    lat = sorted(lat)
    return f"{len(lat)}: median {lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s"


def report(results: list[dict[str, Any]], cmd: str) -> str:
    head = [
        f"## {TITLE}",
        "",
        f"`{cmd}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine_line()}. Each camera: the sample scene at "
        "1920x1080, 25 fps, real time over its own RTSP server; one `detector run` with every camera's "
        "config (one shared detector session), the full pipeline on.",
        "",
        "| cameras | camera | frames captured / processed / dropped | latency p50 / p95 | furthest behind "
        "| violations / bundles / stored | process CPU (cores) | load before -> after | exit "
        "| hotlist alerts: frame to stored |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    body = [r for res in results for r in rows(res)]
    return "\n".join(head + body) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", default="2", help="comma-separated camera counts, run one after another")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument(
        "--hotlist", type=int, default=0, metavar="K", help="also watch for K of the sample's plates"
    )
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    reason = rtsp_unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    counts = [int(x) for x in args.cameras.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-box-live-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = [run_box(n, args.seconds, work, args.hotlist) for n in counts]
    cmd = " ".join(["python benchmarks/bench_box_live.py", *sys.argv[1:]])
    text = report(results, cmd)
    print(text)
    for res in results:
        if res["rc"] != 0:
            print(res["log"])
    if args.write:
        (REPO / "benchmarks" / "results" / "box_live.md").write_text(text, encoding="utf-8")
        replace_section(REPO / "benchmarks" / "RESULTS.md", TITLE, text)
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
