"""The full pipeline on a real RTSP camera in real time: keeps up? loses frames? memory flat?

A 1080p 25 fps H.264 stream of the sample scene (scaled 2x, re-timed to 25 fps by repeating frames,
looped) is served by a real RTSP server (tests/cameras/rtsp_server.py: GStreamer, real-time pacing), and
`detector run` watches it with the sample's rules scaled to 1920x1080: detection, tracking, signal,
rules, plates of the violators, signed evidence and the embedded store, all on. The run's RSS is
sampled from outside every `--sample-s` seconds; its summary gives frames, drops, the detection
schedule and the latency from capture to decision.

    python benchmarks/bench_stream.py --minutes 10 --write            # the 10-minute stream
    python benchmarks/bench_stream.py --minutes 30 --soak --write     # the 30-minute soak (RSS plot)
    python benchmarks/bench_stream.py --seconds 20 --restart-after 8  # a short run with a camera restart

Writes benchmarks/results/stream.md (or soak.md, with soak_rss.png and soak_rss.csv) with --write.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from machine import machine_line  # benchmarks/machine.py (scripts run by path)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from detector.evidence.keys import PRIVATE_NAME, write_key_pair  # noqa: E402
from tests.cameras.rtsp_server import RtspServer, rtsp_unavailable  # noqa: E402

PIXEL_KEYS = {
    "points",
    "forward_point",
    "polygon",
    "direction",
    "image_points",
    "valid_region",
    "box",
    "image_size",
    "crosswalk",
}


def scale_pixels(node: Any, factor: float, key: str | None = None) -> Any:
    """The config's image coordinates (zones, lamps, calibration points) scaled by `factor`."""
    if isinstance(node, dict):
        return {k: scale_pixels(v, factor, k) for k, v in node.items()}
    if isinstance(node, list):
        return [scale_pixels(v, factor, key) for v in node]
    if key in PIXEL_KEYS and isinstance(node, int | float) and not isinstance(node, bool):
        return round(node * factor, 2) if key != "image_size" else int(round(node * factor))
    return node


def camera_config(work: Path, factor: float) -> Path:
    """The sample camera with its rules scaled to the stream, a provisioned key and absolute paths."""
    if not (work / "keys" / PRIVATE_NAME).exists():
        write_key_pair(work / "keys")
    raw = yaml.safe_load((REPO / "configs" / "sample_scene.yaml").read_text(encoding="utf-8"))
    raw["rules"] = scale_pixels(raw["rules"], factor)
    raw["rules"]["rules"]["red_light"]["min_past_line_px"] *= factor
    raw["rules"]["rules"]["stop_line"]["max_past_line_px"] *= factor
    raw["rules"]["rules"]["wrong_way"]["min_distance_px"] *= factor
    raw["source"] = {"uri": "rtsp://placeholder", "reconnect_attempts": 20, "reconnect_delay_s": 1.0}
    raw["evidence"] = {"key_path": str((work / "keys" / PRIVATE_NAME).resolve())}
    path = work / "camera.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


class RssSampler(threading.Thread):
    """RSS of a process (and its children) every `every_s` seconds, from /proc."""

    def __init__(self, pid: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._halt = threading.Event()

    @staticmethod
    def rss_mb(pid: int) -> float:
        total = 0
        pids = [pid]
        with contextlib.suppress(OSError):
            pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        for p in pids:
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._halt.wait(self.every_s):
            mb = self.rss_mb(self.pid)
            if mb:
                self.samples.append((time.monotonic() - t0, mb))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_stream(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    seconds = args.seconds if args.seconds else args.minutes * 60
    clip = REPO / "sample_videos" / "sample_scene.mp4"
    with RtspServer(clip, fps=25, size=(1920, 1080), loop=True, workdir=work / "rtsp") as cam:
        cfg = camera_config(work, 2.0)
        out = work / "run"
        cmd = [
            sys.executable,
            "-m",
            "detector",
            "run",
            "--config",
            str(cfg),
            "--source",
            cam.url,
            "--out",
            str(out),
            "--duration",
            str(seconds),
        ]
        log = (work / "run.log").open("w")
        load_before = os.getloadavg()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        sampler = RssSampler(proc.pid, args.sample_s)
        sampler.start()
        restarted = False
        t0 = time.monotonic()
        while proc.poll() is None:
            if args.restart_after and not restarted and time.monotonic() - t0 > args.restart_after:
                cam.restart(gap_s=1.0)
                restarted = True
            time.sleep(0.5)
        sampler.stop()
        log.close()
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return {
        "rc": proc.returncode,
        "seconds": seconds,
        "summary": summary,
        "rss": sampler.samples,
        "load": (load_before, os.getloadavg()),
        "log": (work / "run.log").read_text()[-3000:],
        "restarted": restarted,
    }


def _commit() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def report(res: dict[str, Any], soak: bool) -> str:
    s = res["summary"]
    rt = s.get("runtime", {})
    cap = rt.get("capture_queue", {})
    sched = rt.get("schedule", {})
    lat = rt.get("latency_ms", {})
    rss = [mb for _, mb in res["rss"]]
    store = s.get("store", {})
    half = rss[len(rss) // 2 :] or [0.0]
    cpu = rt.get("cpu_s", {})
    ring = rt.get("packet_ring", {})
    wall = rt["frames"] / rt["fps"] if rt.get("fps") else 0.0  # the frame loop's run time
    cores = f"{cpu['process'] / wall:.2f}" if wall and "process" in cpu else "?"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} at commit {_commit()} on {machine_line()}; load average "
        f"{res['load'][0][0]:.1f} before, {res['load'][1][0]:.1f} after.",
        "",
        "| what | value |",
        "|---|---|",
        f"| stream | 1920x1080 H.264, 25 fps, real time over RTSP, {res['seconds'] / 60:.1f} min"
        f"{', camera restarted once' if res['restarted'] else ''} |",
        f"| exit code | {res['rc']} |",
        f"| frames captured / processed / dropped | {cap.get('put', '?')} / {s.get('frames', '?')} / "
        f"{s.get('dropped_frames', '?')} |",
        f"| detected / predicted (forced) | {sched.get('detected', '?')} / {sched.get('predicted', '?')} "
        f"({sched.get('forced', '?')}) |",
        f"| latency capture to decision p50 / p95 / max | {lat.get('p50', '?')} / {lat.get('p95', '?')} / "
        f"{lat.get('max', '?')} ms |",
        f"| furthest behind the camera (frames waiting in the connection, not dropped below "
        f"`runtime.max_lag_s`) | {rt.get('max_lag_s', '?')} s |",
        f"| throughput | {rt.get('steady_fps', '?')} fps |",
        f"| violations / bundles / stored | {len(s.get('violations', []))} / {len(s.get('bundles', []))} / "
        f"{store.get('accepted', '?')} |",
        f"| RSS first sample / peak / median of the second half | {rss[0] if rss else 0:.0f} / "
        f"{max(rss) if rss else 0:.0f} / {sorted(half)[len(half) // 2]:.0f} MB |",
        f"| CPU per processed frame: frame loop thread / capture (decode) / evidence worker / whole process | "
        f"{cpu.get('loop_ms_per_frame', '?')} / {cpu.get('capture_ms_per_frame', '?')} / "
        f"{cpu.get('evidence_worker_ms_per_frame', '?')} / {cpu.get('process_ms_per_frame', '?')} ms |",
        f"| CPU of the whole process over the run | {cores} cores (the stream needs 25 frames in each second) |",
        f"| evidence packet ring: packets / slices / misses | {ring.get('packets', '?')} / "
        f"{ring.get('slices', '?')} / {ring.get('misses', '?')} |",
    ]
    return "\n".join(lines) + "\n"


def plot(samples: list[tuple[float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=110)
    ax.plot([t / 60 for t, _ in samples], [mb for _, mb in samples], lw=1.2)
    ax.set_xlabel("minutes of stream")
    ax.set_ylabel("RSS (MB)")
    ax.set_ylim(0, max(mb for _, mb in samples) * 1.2)
    ax.set_title("detector run on a 1080p 25 fps RTSP camera: resident memory")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def replace_section(path: Path, title: str, section: str, name: str | None = None) -> None:
    """Put `section` in place of the `## {title}` section of RESULTS.md (added when absent), as
    benchmarks/collect.py does: the notes below its `<!-- notes -->` line are kept. `name`: the
    results file it comes from (benchmarks/results/NAME.md), named under the heading."""
    from collect import merge, stamped  # benchmarks/collect.py (scripts run by path)

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    body = section.strip()
    if name is not None:
        body = stamped(body, name)
    merged, _ = merge(text, [body], replace_edited=True)
    path.write_text(merged, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=None, help="overrides --minutes (short runs)")
    ap.add_argument("--restart-after", type=float, default=None, help="restart the camera after this many s")
    ap.add_argument("--soak", action="store_true", help="name the results soak and plot the RSS")
    ap.add_argument("--sample-s", type=float, default=5.0)
    ap.add_argument("--work", type=Path, default=None, help="keep the run's files here")
    ap.add_argument("--write", action="store_true")
    ap.add_argument(
        "--results",
        type=Path,
        default=REPO / "benchmarks" / "results",
        help="where --write puts the report, the RSS samples and the plot",
    )
    args = ap.parse_args()
    reason = rtsp_unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        res = run_stream(args, work)
        text = report(res, args.soak)
        print(text)
        if res["rc"] != 0:
            print(res["log"])
        if args.write:
            name = "soak" if args.soak else "stream"
            results = args.results
            results.mkdir(parents=True, exist_ok=True)
            title = "30-minute soak" if args.soak else "Real-time RTSP stream"
            cmd = " ".join(["python benchmarks/bench_stream.py", *sys.argv[1:]])
            plot_line = f"\n![RSS over the run](results/{name}_rss.png) (samples: `results/{name}_rss.csv`)\n"
            section = f"## {title}\n\n`{cmd}`\n\n{text}{plot_line}"
            (results / f"{name}.md").write_text(section, encoding="utf-8")
            if results.resolve() == (REPO / "benchmarks" / "results").resolve():
                replace_section(REPO / "benchmarks" / "RESULTS.md", title, section, name)
            if res["rss"]:
                (results / f"{name}_rss.csv").write_text(
                    "seconds,rss_mb\n" + "".join(f"{t:.1f},{mb:.1f}\n" for t, mb in res["rss"]),
                    encoding="utf-8",
                )
                plot(res["rss"], results / f"{name}_rss.png")
    return 0 if res["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
