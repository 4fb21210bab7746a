"""SystemdNotifier against real unix datagram sockets (path and abstract), a fake clock, and failures."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.runtime.notify import SystemdNotifier

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2.0)
    return sock


def _recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def _nothing_waiting(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(2.0)
    return False


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # sun_path is 108 bytes; deep tmp dirs fall back to a short one
        path = Path(tempfile.mkdtemp(prefix="sdn")) / "n.sock"
    sock = _receiver(str(path))
    yield str(path), sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("abstract unix sockets are Linux-only")
    name = f"detector-test-{os.getpid()}-{uuid.uuid4().hex}"
    sock = _receiver(b"\0" + name.encode())
    yield "@" + name, sock
    sock.close()


def test_path_socket_receives_ready_status_watchdog_stopping(path_socket) -> None:
    address, sock = path_socket
    n = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000"}, clock=FakeClock())
    assert n.enabled
    assert n.watchdog_interval == 30.0

    assert n.ready("watching cam1")
    assert _recv(sock) == "READY=1\nSTATUS=watching cam1"
    assert n.status("frames=120 fps=14.9\ndropped=0")
    assert (
        _recv(sock) == "STATUS=frames=120 fps=14.9 dropped=0"
    )  # one line: a newline would start a new field
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    assert n.stopping()
    assert _recv(sock) == "STOPPING=1"
    n.close()


def test_ready_without_status(path_socket) -> None:
    address, sock = path_socket
    n = SystemdNotifier({"NOTIFY_SOCKET": address})
    assert n.ready()
    assert _recv(sock) == "READY=1"


def test_abstract_socket(abstract_socket) -> None:
    address, sock = abstract_socket
    n = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}, clock=FakeClock())
    assert n.ready("up")
    assert _recv(sock) == "READY=1\nSTATUS=up"
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    assert n.stopping()
    assert _recv(sock) == "STOPPING=1"


def test_watchdog_is_rate_limited_to_half_the_interval(path_socket) -> None:
    address, sock = path_socket
    clock = FakeClock()
    n = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000"}, clock=clock)  # 10 s

    assert n.watchdog()  # the first call always pings
    assert _recv(sock) == "WATCHDOG=1"
    for dt in (0.0, 1.0, 4.99):
        clock.t = 1000.0 + dt
        assert not n.watchdog()
    assert _nothing_waiting(sock)

    clock.t = 1005.0  # half the interval
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    clock.t = 1009.0
    assert not n.watchdog()
    clock.t = 1010.0
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    assert _nothing_waiting(sock)


def test_watchdog_off_without_watchdog_usec_or_for_another_pid(path_socket) -> None:
    address, sock = path_socket
    no_wd = SystemdNotifier({"NOTIFY_SOCKET": address}, clock=FakeClock())
    assert no_wd.enabled and no_wd.watchdog_interval is None
    assert not no_wd.watchdog()

    other = SystemdNotifier(
        {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=4242
    )
    assert other.watchdog_interval is None
    assert not other.watchdog()
    mine = SystemdNotifier(
        {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, pid=4242
    )
    assert mine.watchdog_interval == 30.0

    bad = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "soon"})
    assert bad.watchdog_interval is None
    assert _nothing_waiting(sock)


def test_no_socket_is_a_no_op() -> None:
    n = SystemdNotifier({}, clock=FakeClock())
    assert not n.enabled
    assert n.watchdog_interval is None
    assert not n.ready("x")
    assert not n.status("x")
    assert not n.watchdog()
    assert not n.stopping()
    n.close()
    # WATCHDOG_USEC without a socket does nothing either
    assert SystemdNotifier({"WATCHDOG_USEC": "1000000"}).watchdog_interval is None


def test_default_environ_is_os_environ(monkeypatch, path_socket) -> None:
    address, sock = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    n = SystemdNotifier()
    assert n.ready()
    assert _recv(sock) == "READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not SystemdNotifier().enabled


def test_unsupported_address_disables(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="detector.runtime.notify"):
        n = SystemdNotifier({"NOTIFY_SOCKET": "relative/notify.sock"})
    assert not n.enabled
    assert not n.ready()
    assert "NOTIFY_SOCKET" in caplog.text


def test_dead_socket_is_logged_once_not_raised(tmp_path: Path, caplog) -> None:
    dead = tmp_path / "gone.sock"
    if len(str(dead)) > 100:
        dead = Path(tempfile.mkdtemp(prefix="sdn")) / "gone.sock"
    bound = _receiver(str(dead))
    bound.close()  # the file stays, nobody listens: ECONNREFUSED
    missing = tmp_path / "never.sock"  # no file at all: ENOENT

    for address in (str(dead), str(missing)):
        caplog.clear()
        clock = FakeClock()
        n = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"}, clock=clock)
        with caplog.at_level(logging.DEBUG, logger="detector.runtime.notify"):
            assert not n.ready("up")
            assert not n.status("still here")
            assert not n.watchdog()
            clock.t += 1.0
            assert not n.watchdog()
            assert not n.stopping()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, caplog.text
        assert address in warnings[0].getMessage()
        assert any(r.levelno == logging.DEBUG for r in caplog.records)
        n.close()
