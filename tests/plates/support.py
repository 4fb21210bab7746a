"""Shared helpers of the plates tests (the `models_reader` fixture is in tests/plates/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
VN = DATA / "vn-plates-vitocolerole" / "standard" / "images"
OPENALPR = DATA / "openalpr-benchmarks"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data not found: {path} (the shared data folder sits beside the repo)")
    return path


def image(path: Path) -> np.ndarray:
    img = cv2.imread(str(need(path)))
    assert img is not None, f"unreadable image {path}"
    return img
