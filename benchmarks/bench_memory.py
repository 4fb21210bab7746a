"""Where the lean replay's resident memory goes: each imported package, the models, the run's buffers.

Runs `detector replay CLIP --config CONFIG --out DIR --json --no-evidence --no-store --no-preview` in
this process (the same CLI entry point as the command) with an import hook that reads VmRSS from
/proc/self/status before and after the first import of each top-level package. A package's MB are
what its first import added in the real order of the run (its own dependencies not yet loaded
included), so a package that is imported only through another is counted inside it. Phases after the
imports: the first frame processed (models loaded, first buffers) and the run's peak (VmHWM).

    .venv/bin/python benchmarks/bench_memory.py [CLIP --config CONFIG] [--frames 300]
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import io
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class ImportLedger:
    """VmRSS added by the first import of each top-level package (outermost third-party import)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []
        self._inside: str | None = None
        self._lock = threading.Lock()
        self._orig: Callable[..., Any] = builtins.__import__

    def install(self) -> None:
        builtins.__import__ = self._import

    def uninstall(self) -> None:
        builtins.__import__ = self._orig

    def _import(
        self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        top = name.split(".")[0]
        new = (
            level == 0
            and top != "detector"  # our own modules are transparent: their imports are counted
            and self._inside is None
            and top not in sys.modules
            and threading.current_thread() is threading.main_thread()
        )
        if not new:
            return self._orig(name, globals, locals, fromlist, level)
        self._inside = top
        before = status_mb("VmRSS")
        try:
            return self._orig(name, globals, locals, fromlist, level)
        finally:
            self._inside = None
            with self._lock:
                self.rows.append((top, status_mb("VmRSS") - before))


def watch_first_call(owner: Any, attr: str, label: str, into: dict[str, float]) -> None:
    """Record the VmRSS a function's first call adds (e.g. a model's session, its first inference)."""
    inner = getattr(owner, attr)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if label in into:
            return inner(*args, **kwargs)
        before = status_mb("VmRSS")
        try:
            return inner(*args, **kwargs)
        finally:
            into[label] = status_mb("VmRSS") - before

    setattr(owner, attr, wrapped)


def run_replay(clip: Path, config: Path, frames: int, out: Path) -> dict[str, Any]:
    ledger = ImportLedger()
    phases: dict[str, Any] = {"interpreter": status_mb("VmRSS")}
    ledger.install()
    first: dict[str, float] = {}
    import detector.detect.onnx as onnx_mod  # noqa: PLC0415  (measured: inside the ledger)
    import detector.pipeline as pipeline_mod  # noqa: PLC0415
    import detector.runtime.session as session_mod  # noqa: PLC0415

    watch_first_call(pipeline_mod, "create_detector", "detector model loaded (onnxruntime session)", first)
    watch_first_call(onnx_mod.OnnxYoloDetector, "detect", "first inference", first)
    watch_first_call(session_mod, "open_source", "source opened", first)
    watch_first_call(pipeline_mod.Pipeline, "process", "first frame processed, all stages", first)
    from detector.cli import main  # noqa: PLC0415

    argv = [
        "detector",
        "replay",
        str(clip),
        "--config",
        str(config),
        "--out",
        str(out),
        "--json",
        "--max-frames",
        str(frames),
        "--no-evidence",
        "--no-store",
        "--no-preview",
    ]
    sys.argv = argv
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main()
    ledger.uninstall()
    phases["wall_s"] = time.perf_counter() - t0
    phases["peak"] = status_mb("VmHWM")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    phases["cpu_s"] = usage.ru_utime + usage.ru_stime
    phases["imports"] = sum(mb for _, mb in ledger.rows)
    phases["rows"] = ledger.rows
    phases["first"] = first
    return phases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", default=str(REPO / "sample_videos" / "sample_scene.mp4"))
    ap.add_argument("--config", default=str(REPO / "configs" / "sample_scene.yaml"))
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--min-mb", type=float, default=1.0, help="list packages that added at least this")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        res = run_replay(Path(args.clip), Path(args.config), args.frames, Path(tmp))
    rows: list[tuple[str, float]] = res["rows"]
    merged: dict[str, float] = {}
    for name, mb in rows:
        merged[name] = merged.get(name, 0.0) + mb
    print(f"load average {os.getloadavg()[0]:.1f}; {args.clip} ({args.frames} frames, lean replay)")
    print("| what | MB |")
    print("|---|---|")
    print(f"| interpreter at start | {res['interpreter']:.0f} |")
    small = 0.0
    for name, mb in sorted(merged.items(), key=lambda kv: -kv[1]):
        if mb >= args.min_mb:
            print(f"| import {name} | {mb:.0f} |")
        else:
            small += mb
    print(f"| other imports (each < {args.min_mb:g} MB) | {small:.0f} |")
    print(f"| imports, total | {res['imports']:.0f} |")
    first = dict(res["first"])
    if "first frame processed, all stages" in first:  # it holds the first inference: show the rest
        whole = first.pop("first frame processed, all stages")
        first["first frame, the stages after the inference"] = whole - first.get("first inference", 0.0)
    res["first"] = first
    for label, mb in first.items():
        print(f"| {label} | {mb:.0f} |")
    accounted = res["interpreter"] + res["imports"] + sum(res["first"].values())
    print(
        f"| the rest of the run (queues, frames in flight, threads, allocator) | {res['peak'] - accounted:.0f} |"
    )
    print(f"| **peak RSS (VmHWM)** | **{res['peak']:.0f}** |")
    print(f"CPU {res['cpu_s']:.1f} s, wall {res['wall_s']:.1f} s")


if __name__ == "__main__":
    main()
