"""A standalone RTSP camera: serves a pre-encoded H.264 clip in real time with GStreamer's RTSP server.

Run by Debian's /usr/bin/python3 (which has the gi bindings), not the project's venv:

    /usr/bin/python3 tests/cameras/rtsp_serve_gst.py --clip clip.mp4 --fps 25 --port 0 [--loop] [--path /stream]

The clip is demuxed once into memory (H.264 access units; no encoding at serve time), then pushed
into a live `appsrc` at --fps on a monotonic schedule, looping if asked: the RTSP server only
parses and packetises it (h264parse ! rtph264pay), so it costs little CPU next to the engine.
Stream time keeps increasing across loops. Prints `READY <port> <url>` on stdout once listening, and `PLAY` per PLAY request.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def load_access_units(clip: str) -> tuple[list[tuple[bytes, bool]], Gst.Caps]:
    """The clip's H.264 access units in byte-stream form (SPS/PPS before each key frame), and their caps."""
    pipe = Gst.parse_launch(
        "filesrc name=file ! parsebin ! h264parse config-interval=-1 ! "
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    pipe.get_by_name("file").set_property("location", clip)
    sink = pipe.get_by_name("sink")
    bus = pipe.get_bus()
    pipe.set_state(Gst.State.PLAYING)
    units: list[tuple[bytes, bool]] = []
    caps = None
    try:
        while not sink.get_property("eos"):
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                err, debug = msg.parse_error()
                raise SystemExit(f"cannot read {clip}: {err.message} ({debug})")
            sample = sink.emit("try-pull-sample", Gst.SECOND // 10)
            if sample is None:
                continue
            buf = sample.get_buffer()
            caps = caps or sample.get_caps()
            ok, info = buf.map(Gst.MapFlags.READ)
            if ok:
                units.append((bytes(info.data), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
                buf.unmap(info)
    finally:
        pipe.set_state(Gst.State.NULL)
    if not units or caps is None:
        raise SystemExit(f"no H.264 access unit in {clip}")
    first_key = next((i for i, (_, key) in enumerate(units) if key), None)
    if first_key is None:
        raise SystemExit(f"{clip}: no key frame")
    return units[first_key:], caps


class Feeder:
    """Pushes the access units into one media's appsrc at the frame rate, on its own thread."""

    def __init__(self, appsrc: Gst.Element, units: list[tuple[bytes, bool]], fps: float, loop: bool) -> None:
        self.appsrc = appsrc
        self.units = units
        self.period = 1.0 / fps
        self.loop = loop
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        while not self.stopped.is_set():
            i = n % len(self.units)
            if i == 0 and n > 0 and not self.loop:
                self.appsrc.emit("end-of-stream")
                return
            data, _key = self.units[i]
            buf = Gst.Buffer.new_wrapped(data)
            buf.duration = int(self.period * Gst.SECOND)
            if self.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                return  # the media was shut down
            n += 1
            delay = start + n * self.period - time.monotonic()
            if delay > 0:
                self.stopped.wait(delay)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--clip", required=True, help="an H.264 .mp4/.mkv/.mov, encoded at the served size and rate"
    )
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--path", default="/stream")
    ap.add_argument(
        "--loop", action="store_true", help="start the clip again at its end (else end of stream)"
    )
    ap.add_argument(
        "--protocols",
        choices=["tcp", "udp", "both"],
        default="both",
        help="RTP transports offered (a real camera offers both)",
    )
    args = ap.parse_args()

    Gst.init(None)
    units, caps = load_access_units(args.clip)
    s = caps.get_structure(0)
    num, den = int(args.fps * 1000), 1000
    src_caps = (
        f"video/x-h264,stream-format=byte-stream,alignment=au,width={s.get_value('width')},"
        f"height={s.get_value('height')},framerate={num}/{den}"
    )

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( appsrc name=src is-live=true do-timestamp=true format=time caps="{src_caps}" '
        "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(True)  # one camera: every client sees the same live stream
    if args.protocols != "both":
        trans = GstRtsp.RTSPLowerTrans.TCP if args.protocols == "tcp" else GstRtsp.RTSPLowerTrans.UDP
        factory.set_protocols(trans)
    feeders: list[Feeder] = []

    def on_configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder = Feeder(appsrc, units, args.fps, args.loop)
        feeders.append(feeder)
        media.connect("unprepared", lambda _m: feeder.stopped.set())
        feeder.thread.start()

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory(args.path, factory)

    # a line per PLAY request, so a test can wait until the engine is watching before it restarts us
    # (a bare TCP connect, like the helper's readiness probe, is not a client that plays)
    def on_client(_server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient) -> None:
        client.connect("play-request", lambda _c, _ctx: print("PLAY", flush=True))

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    port = server.get_bound_port()
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(
        f"READY {port} rtsp://{args.host}:{port}{args.path} ({len(units)} frames, "
        f"{s.get_value('width')}x{s.get_value('height')} at {args.fps:g} fps{', looped' if args.loop else ''})",
        flush=True,
    )
    try:
        loop.run()
    finally:
        for feeder in feeders:
            feeder.stopped.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
