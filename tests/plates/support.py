"""Shared helpers and fixtures of the plates tests (imported by the other test_plates_*.py modules; no tests)."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def models_reader() -> Iterator[object]:
    """One PlateReader (detector at 640 for whole photos + rapidocr OCR), loaded once per session."""
    from detector.plates.config import PlatesConfig
    from detector.plates.reader import PlateReader

    reader = PlateReader.from_config(PlatesConfig(detector_input_size=640))
    yield reader
    reader.close()
