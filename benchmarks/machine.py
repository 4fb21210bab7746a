"""What machine a benchmark ran on, printed and recorded with its figures."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for pkg in ("onnxruntime", "opencv-python-headless", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{pkg} {metadata.version(pkg)}")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(versions),
    }


def machine_line() -> str:
    m = machine_info()
    return f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['packages']}"
