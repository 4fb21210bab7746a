"""Serve a clip as a real-time RTSP camera for the live benchmarks (tests/cameras/rtsp_server.py's server).

    python benchmarks/stream_rtsp.py --clip sample_videos/sample_scene.mp4 --fps 25 --size 1920x1080 \\
        --loop --port 8554 [--restart-after S [--restart-gap 2]] [--seconds S] [--check 10]

The clip is re-encoded once to H.264 at --size and --fps (cached in --workdir, so a second run starts
at once), then served by GStreamer's RTSP server without encoding, so the server takes little of the
CPU it shares with the engine. Prints the URL, then runs until killed (Ctrl-C, SIGTERM) or for
--seconds; --restart-after reboots the camera once (same port, --restart-gap seconds off). --check S
first watches the stream itself with cv2.VideoCapture for S seconds and prints the frame rate that
arrives. At the end it prints the server's CPU use (percent of one core).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cameras.rtsp_server import SAMPLE_CLIP, RtspServer, rtsp_unavailable  # noqa: E402


def size_arg(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    try:
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size wants WIDTHxHEIGHT, got {text!r}") from None


def check_stream(url: str, seconds: float) -> None:
    """Watch the stream with OpenCV and print the rate frames arrive at, after FFmpeg's probe burst."""
    import cv2

    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        print(f"check: cannot open {url}", flush=True)
        return
    arrivals: list[float] = []
    shape = None
    while not arrivals or arrivals[-1] - arrivals[0] < seconds:
        ok, image = cap.read()
        if not ok:
            print("check: read failed", flush=True)
            break
        arrivals.append(time.monotonic())
        shape = image.shape
    cap.release()
    steady = [t for t in arrivals if t - arrivals[0] >= 2.0]  # the first ~1 s comes in a burst
    if len(steady) > 1 and shape is not None:
        gaps = [b - a for a, b in pairwise(steady)]
        fps = (len(steady) - 1) / (steady[-1] - steady[0])
        print(
            f"check: {fps:.2f} fps arriving over {steady[-1] - steady[0]:.1f} s (after a 2 s warm-up), "
            f"frames {shape[1]}x{shape[0]}, largest gap {max(gaps) * 1000:.0f} ms",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, default=SAMPLE_CLIP, help="any video OpenCV/FFmpeg reads")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", type=size_arg, default=(1920, 1080), help="WIDTHxHEIGHT (default 1920x1080)")
    ap.add_argument("--loop", action="store_true", help="loop the clip (else the stream ends with it)")
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--path", default="/stream")
    ap.add_argument("--protocols", choices=["both", "tcp", "udp"], default="both")
    ap.add_argument(
        "--restart-after", type=float, default=None, metavar="S", help="reboot the camera once after S s"
    )
    ap.add_argument("--restart-gap", type=float, default=2.0, metavar="S", help="how long the camera is off")
    ap.add_argument(
        "--seconds", type=float, default=None, help="stop after this many seconds (default: when killed)"
    )
    ap.add_argument(
        "--check", type=float, default=0.0, metavar="S", help="measure the arriving fps for S s first"
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "detector-stream-rtsp",
        help="where the encoded clip is cached",
    )
    args = ap.parse_args()

    reason = rtsp_unavailable()
    if reason:
        print(f"cannot serve RTSP: {reason}", file=sys.stderr)
        return 2
    stop = {"now": False}

    def on_signal(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started_encode = time.monotonic()
    server = RtspServer(
        args.clip,
        fps=args.fps,
        size=args.size,
        loop=args.loop,
        port=args.port,
        host=args.host,
        path=args.path,
        protocols=args.protocols,
        workdir=args.workdir,
    )
    how = "served as is" if server.clip == args.clip else "encoded or cached"
    print(f"clip {server.clip} ({how}, ready in {time.monotonic() - started_encode:.1f} s)", flush=True)
    cpu_before = 0.0  # of earlier server processes (before a restart)
    try:
        server.start()
        started = time.monotonic()
        print(
            f"serving {server.url} ({args.size[0]}x{args.size[1]} at {args.fps:g} fps"
            f"{', looped' if args.loop else ''}; server pid {server.pid})",
            flush=True,
        )
        if args.check:
            check_stream(server.url, args.check)
        restarted = args.restart_after is None
        while not stop["now"]:
            now = time.monotonic() - started
            if args.seconds is not None and now >= args.seconds:
                break
            if not restarted and now >= args.restart_after:
                cpu_before += server.cpu_seconds()
                print(f"restarting the camera at {now:.1f} s ({args.restart_gap:g} s off)", flush=True)
                server.restart(gap_s=args.restart_gap)
                print(f"serving again {server.url} (pid {server.pid})", flush=True)
                restarted = True
            if server.proc is not None and server.proc.poll() is not None:
                print(f"the server ended (exit {server.proc.returncode})", flush=True)
                break
            time.sleep(0.2)
        wall = time.monotonic() - started
        cpu = cpu_before + server.cpu_seconds()
        print(
            f"served {wall:.1f} s; server CPU {cpu:.1f} s = {100 * cpu / wall:.1f}% of one core", flush=True
        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
