"""systemd service notifications (sd_notify protocol) without libsystemd.

Under a `Type=notify` unit systemd passes `NOTIFY_SOCKET` (a unix datagram socket: a path, or an
abstract name written `@name`) and, with `WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`). The
notifier sends `READY=1`, `STATUS=...`, `STOPPING=1` and rate-limited `WATCHDOG=1` datagrams there.

Outside systemd (no `NOTIFY_SOCKET`) every call is a no-op. A failure to send is logged once and
never raised: the frame loop must not die because the service manager is unreachable.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _parse_address(value: str) -> str | bytes | None:
    """`@name` -> abstract address (leading NUL), `/path` -> path; anything else is unsupported."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


class SystemdNotifier:
    """Sends sd_notify messages to the socket named by `NOTIFY_SOCKET` in `environ`.

    `clock` (monotonic seconds) paces `watchdog()`; `pid` is compared with `WATCHDOG_PID` (the
    watchdog is for the process systemd named, not for a child that inherited the environment).
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        pid: int | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._clock = clock
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # status() may come from another thread than watchdog()
        self._error_logged = False
        self._last_ping: float | None = None

        raw = env.get("NOTIFY_SOCKET", "")
        self._name = raw
        self._address = _parse_address(raw) if raw else None
        if raw and self._address is None:
            log.warning(
                "NOTIFY_SOCKET=%r is not a unix socket path or @abstract name; notifications off", raw
            )

        self._watchdog_s: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        if self._address is not None and usec:
            try:
                value = int(usec)
            except ValueError:
                value = 0
            wd_pid = env.get("WATCHDOG_PID", "")
            own_pid = os.getpid() if pid is None else pid
            if value <= 0:
                log.warning("WATCHDOG_USEC=%r is not a positive integer; watchdog pings off", usec)
            elif wd_pid and wd_pid != str(own_pid):
                log.debug("WATCHDOG_PID=%s is not this process (%d); watchdog pings off", wd_pid, own_pid)
            else:
                self._watchdog_s = value / 1_000_000

    @property
    def enabled(self) -> bool:
        """True when a notification socket is configured (i.e. running under systemd Type=notify)."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """The watchdog timeout in seconds systemd expects pings within, or None when off."""
        return self._watchdog_s

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (models loaded, camera open): `READY=1`, with an optional status line."""
        return self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def status(self, text: str) -> bool:
        """A free-form status line shown by `systemctl status`."""
        return self._send(f"STATUS={_one_line(text)}")

    def stopping(self) -> bool:
        """The service is shutting down (draining): `STOPPING=1`."""
        return self._send("STOPPING=1")

    def watchdog(self) -> bool:
        """Keep-alive ping; call it from every frame. Sends `WATCHDOG=1` at most every half interval.

        Returns True when a ping was sent. A no-op without a socket or without `WATCHDOG_USEC`.
        """
        if self._watchdog_s is None:
            return False
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self._watchdog_s / 2:
            return False
        self._last_ping = now  # paced even when sending fails: no retry storm from the frame loop
        return self._send("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _send(self, message: str) -> bool:
        if self._address is None:
            return False
        with self._lock:
            return self._send_locked(message, self._address)

    def _send_locked(self, message: str, address: str | bytes) -> bool:
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)  # never stall the frame loop on a full receive queue
                self._sock = sock
            self._sock.sendto(message.encode("utf-8", "replace"), address)
        except OSError as exc:
            if not self._error_logged:
                self._error_logged = True
                log.warning(
                    "cannot notify systemd at %s (%s); further failures are logged at debug level",
                    self._name,
                    exc,
                )
            else:
                log.debug("cannot notify systemd at %s: %s", self._name, exc)
            return False
        return True


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
