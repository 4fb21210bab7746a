"""Measuring a process from outside for the edge benchmark: wall and CPU time, peak RSS of its tree, load."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE_EVERY_S = 0.05


@dataclass
class Run:
    clip: str
    mode: str
    round: int
    ok: bool = False
    error: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    frames: int = 0
    frames_detected: int | None = None
    steady_fps: float | None = None
    fps_kind: str = ""
    p95_ms: float | None = None  # latency: frame read -> result
    processing_p95_ms: float | None = None  # processing of one frame
    tracks: int = 0
    input_size: str = ""
    model: str = ""  # the detector model file the run loaded
    code: str = ""  # the tree's commit at the start of the run, "+" when detector/ had uncommitted edits
    accuracy: dict[str, Any] = field(default_factory=dict)


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/PID/task/TID/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak of the summed VmRSS of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = sum(status_kb(p, "VmRSS") for p in process_tree(self.pid))
            self.peak_kb = max(self.peak_kb, total, status_kb(self.pid, "VmHWM"))
            self.stop.wait(SAMPLE_EVERY_S)


@dataclass
class Measured:
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    load_before: float
    load_after: float
    timed_out: bool = False


@dataclass(frozen=True)
class Policy:
    """How a run is supervised: retries of a failed run of ours, and a time limit for any run."""

    retries: int = 3
    retry_wait_s: float = 180.0
    timeout_s: float = 900.0


def wait_or_kill(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, Any, bool]:
    """wait4 the child; past `timeout_s` (a run that hangs) SIGTERM its process group, then SIGKILL."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage, False
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    for _ in range(100):
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage, True
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    return status, usage, True


def run_measured(cmd: list[str], env: dict[str, str], log_dir: Path, timeout_s: float) -> Measured:
    """Run `cmd`, sampling its tree's RSS; wall time, CPU time and maxrss from wait4."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    load_before = os.getloadavg()[0]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO, start_new_session=True)
        sampler = RssSampler(proc.pid)
        sampler.start()
        status, usage, timed_out = wait_or_kill(proc, timeout_s)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        sampler.join()
    # the sampler's VmHWM of the exec'd program, not wait4's ru_maxrss: that counts the child from fork,
    # when it still maps this (benchmark) process's pages, so it floors every run at our own RSS
    peak_kb = sampler.peak_kb
    return Measured(
        proc.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        wall,
        usage.ru_utime + usage.ru_stime,
        peak_kb / 1024,
        load_before,
        os.getloadavg()[0],
        timed_out,
    )


def code_version() -> str:
    """Short HEAD of the checkout, "+" when detector/ has uncommitted changes (it is edited as we run)."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "detector"], capture_output=True, text=True, check=False
    )
    return (head.stdout.strip() or "?") + ("+" if dirty.stdout.strip() else "")


def fill(run: Run, m: Measured) -> Run:
    run.wall_s, run.cpu_s, run.peak_rss_mb = m.wall_s, m.cpu_s, m.peak_rss_mb
    run.load_before, run.load_after = m.load_before, m.load_after
    return run
