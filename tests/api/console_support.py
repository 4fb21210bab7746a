"""What the console's browser tests share: the served console (`Console`), free ports, the broker
check, polling a page, screenshots and plain requests to the API with a role's token."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from detector.store.services import StoreServices

BROKER = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=2).close()
        return True
    except OSError:
        return False


@dataclass
class Console:
    base: str
    services: StoreServices
    tokens: dict[str, str]
    bundles: list[Path]
    prefix: str
    shots: Path
    store_config: Path
    tracks: Path


def until(page: object, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates its
    predicate as a string in the page, which the console's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {expression}")
        time.sleep(0.1)


def shot(page: object, console: Console, name: str, full: bool = False) -> None:
    page.mouse.move(1279, 799)  # type: ignore[attr-defined]  # no hover left where a button was clicked
    page.screenshot(path=str(console.shots / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln[:1] != "#"}


def api_json(console: Console, path: str) -> object:
    req = urllib.request.Request(
        f"{console.base}{path}", headers={"Authorization": f"Bearer {console.tokens['viewer']}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def api_status(console: Console, path: str) -> int:
    req = urllib.request.Request(
        f"{console.base}{path}", headers={"Authorization": f"Bearer {console.tokens['viewer']}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
