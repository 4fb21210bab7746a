"""A tiny MJPEG-over-HTTP camera for tests: serves a fixed number of frames per connection, then hangs up.

It plays the part of an IP camera on the loopback address, so a stream drop and a reconnect can be
exercised for real through OpenCV's FFmpeg backend.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frameboundary"


def make_jpegs(n: int, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    w, h = size
    out = []
    for i in range(n):
        img = np.full((h, w, 3), 40, np.uint8)
        cv2.rectangle(img, (5 + 3 * i % (w - 30), 40), (25 + 3 * i % (w - 30), 70), (0, 200, 255), -1)
        ok, buf = cv2.imencode(".jpg", img)
        assert ok
        out.append(buf.tobytes())
    return out


class MjpegCamera:
    def __init__(self, frames_per_connection: int = 20, max_connections: int | None = None) -> None:
        self.jpegs = make_jpegs(frames_per_connection)
        self.connections = 0
        #: connections after this many are answered 503 (a camera that went away), without a race
        #: against the test stopping the server
        self.max_connections = max_connections
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                camera.connections += 1
                if camera.max_connections is not None and camera.connections > camera.max_connections:
                    self.send_error(503, "camera gone")
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    for jpg in camera.jpegs:
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpg)}\r\n\r\n".encode()
                        )
                        self.wfile.write(jpg)
                        self.wfile.write(b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MjpegCamera:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
