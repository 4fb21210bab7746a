"""A real RTSP camera on the loopback address, for tests and benchmarks.

    with RtspServer(clip, fps=25, size=(1920, 1080), loop=True) as cam:
        cap = cv2.VideoCapture(cam.url)
        ...
        cam.restart(gap_s=1.0)   # the camera reboots: same port, after a gap

The clip (any video OpenCV/FFmpeg reads) is re-encoded once by ffmpeg to H.264 at the asked size and
frame rate (1 s GOP, no B-frames, as IP cameras send), then served by GStreamer's RTSP server
(tests/cameras/rtsp_serve_gst.py) in real time: the server only packetises, it never encodes, so it takes
little of the CPU the engine shares. GStreamer's Python bindings live in Debian's /usr/bin/python3,
not in the project's venv, so the server runs as a subprocess of that interpreter.

`rtsp_unavailable()` names what is missing (scripts/setup.sh installs it as root); `require_rtsp()`
skips the calling test with that reason.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

GST_PYTHON = os.environ.get("RTSP_GST_PYTHON", "/usr/bin/python3")
SERVE_SCRIPT = Path(__file__).resolve().with_name("rtsp_serve_gst.py")
REPO = Path(__file__).resolve().parents[2]
SAMPLE_CLIP = REPO / "sample_videos" / "sample_scene.mp4"
DEBIAN_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad ffmpeg"
)

_PROBE = """
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("filesrc", "parsebin", "qtdemux", "h264parse", "rtph264pay", "appsrc", "appsink")
           if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""


@functools.cache
def rtsp_unavailable() -> str | None:
    """Why the RTSP server cannot run here (None when it can)."""
    hint = f"(Debian: apt-get install {DEBIAN_PACKAGES}; scripts/setup.sh does it as root)"
    if shutil.which("ffmpeg") is None:
        return f"ffmpeg is not installed {hint}"
    if not Path(GST_PYTHON).exists():
        return f"{GST_PYTHON} (the system python with GStreamer's bindings) is absent {hint}"
    try:
        r = subprocess.run([GST_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot probe GStreamer with {GST_PYTHON}: {exc}"
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer's RTSP server bindings are missing in {GST_PYTHON}: {last} {hint}"
    if r.stdout.strip():
        return f"GStreamer elements missing: {r.stdout.strip()} {hint}"
    return None


def require_rtsp() -> None:
    """Skip the calling test (pytest.skip) when the RTSP server cannot run here."""
    reason = rtsp_unavailable()
    if reason:
        import pytest

        pytest.skip(f"RTSP test server unavailable: {reason}")


def encode_h264(
    src: str | Path,
    dst: str | Path,
    fps: float = 25.0,
    size: tuple[int, int] | None = None,
    seconds: float | None = None,
    crf: int = 23,
    preset: str = "veryfast",
) -> Path:
    """Re-encode and re-time `src` as an H.264 .mp4 at `fps` (frames repeated/dropped) and `size`.

    1 s GOP, no B-frames, yuv420p: what an IP camera sends. Raises RuntimeError with ffmpeg's message.
    """
    dst = Path(dst)
    vf = [f"fps={fps:g}"]
    if size:
        vf.insert(0, f"scale={size[0]}:{size[1]}:flags=bilinear")
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
    if seconds:
        cmd += ["-t", f"{seconds:g}"]
    cmd += [
        "-vf",
        ",".join(vf),
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-g",
        str(max(1, round(fps))),
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        str(dst),
    ]
    part = dst.with_name(f".{dst.stem}.part{dst.suffix}")  # no half-written clip under the real name
    r = subprocess.run(cmd[:-1] + [str(part)], capture_output=True, text=True, timeout=3600)
    if r.returncode != 0 or not part.exists():
        part.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg could not encode {src}: {r.stderr.strip()[-2000:]}")
    part.replace(dst)
    return dst


def wait_accepting(host: str, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepts connections on {host}:{port}") from None
            time.sleep(0.05)


class RtspServer:
    """An RTSP camera serving `clip` as H.264 at `fps` and `size` in real time, looped or not.

    encode: re-encode the clip first (True), serve it as it is (False: an H.264 file already at the
    size and rate), or decide by probing it (None). `protocols`: "both" (a real camera), "tcp" or
    "udp". The server prints a line per PLAY request; `wait_for_client()` waits for the n-th.
    """

    def __init__(
        self,
        clip: str | Path,
        fps: float = 25.0,
        size: tuple[int, int] | None = (1920, 1080),
        loop: bool = True,
        port: int = 0,
        host: str = "127.0.0.1",
        path: str = "/stream",
        protocols: str = "both",
        encode: bool | None = None,
        seconds: float | None = None,
        workdir: str | Path | None = None,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.source_clip = Path(clip)
        self.fps, self.size, self.loop = fps, size, loop
        self.host, self.port, self.path, self.protocols = host, port, path, protocols
        self.ready_timeout_s = ready_timeout_s
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="rtsp-server-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        if encode is None:
            encode = not _is_h264_at(self.source_clip, fps, size) or seconds is not None
        if encode:
            w, h = size or (0, 0)
            name = f"{self.source_clip.stem}_{w}x{h}_{fps:g}fps{f'_{seconds:g}s' if seconds else ''}.mp4"
            dst = self.workdir / name
            # a workdir kept between runs caches the encoded clip (newer than its source)
            fresh = dst.exists() and dst.stat().st_mtime >= self.source_clip.stat().st_mtime
            self.clip = dst if fresh else encode_h264(self.source_clip, dst, fps, size, seconds)
        else:
            self.clip = self.source_clip
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log = self.workdir / "rtsp_server.log"
        self._out = self.workdir / "rtsp_server.out"

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{self.path}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> RtspServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        cmd = [
            GST_PYTHON,
            str(SERVE_SCRIPT),
            "--clip",
            str(self.clip),
            "--fps",
            f"{self.fps:g}",
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--path",
            self.path,
            "--protocols",
            self.protocols,
        ]
        if self.loop:
            cmd.append("--loop")
        with self._out.open("wb") as out, self._log.open("ab") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            ready = [ln for ln in self._stdout_lines() if ln.startswith("READY ")]
            if ready:
                self.port = int(ready[0].split()[1])
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the RTSP server did not start: {self._log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.05)
        wait_accepting(self.host, self.port, timeout_s=max(1.0, deadline - time.monotonic()))
        self.starts += 1
        return self

    def _stdout_lines(self) -> list[str]:
        try:
            return self._out.read_text(errors="replace").splitlines()
        except OSError:
            return []

    @property
    def plays(self) -> int:
        """PLAY requests the current server process has answered (clients watching)."""
        return sum(ln == "PLAY" for ln in self._stdout_lines())

    def wait_for_client(self, n: int = 1, timeout_s: float = 60.0) -> None:
        """Wait until the n-th client of the current server process plays the stream."""
        deadline = time.monotonic() + timeout_s
        while self.plays < n:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"the RTSP server at {self.url} is not running")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no client #{n} played {self.url} within {timeout_s:g} s")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """End the server process (SIGTERM, or SIGKILL: a camera losing power); its clients see the drop."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self, gap_s: float = 1.0, kill: bool = False) -> None:
        """Stop the server, wait `gap_s`, start it again on the same port (a camera reboot)."""
        self.stop(kill=kill)
        time.sleep(gap_s)
        self.start()

    def cpu_seconds(self) -> float:
        """User + system CPU time the current server process has used so far."""
        if self.proc is None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_h264_at(clip: Path, fps: float, size: tuple[int, int] | None) -> bool:
    """Whether `clip` is already H.264 at `size` and `fps` (so it can be served without re-encoding)."""
    if shutil.which("ffprobe") is None:
        return False
    r = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,avg_frame_rate,has_b_frames",
            "-of",
            "json",
            str(clip),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        st = json.loads(r.stdout)["streams"][0]
        num, den = (int(x) for x in st["avg_frame_rate"].split("/"))
        same_size = size is None or (int(st["width"]), int(st["height"])) == tuple(size)
        return (
            st["codec_name"] == "h264"
            and same_size
            and den > 0
            and abs(num / den - fps) < 0.01
            and int(st.get("has_b_frames", 0)) == 0
        )
    except (ValueError, KeyError, IndexError):
        return False
