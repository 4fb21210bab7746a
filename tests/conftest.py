"""Shared fixtures: where the real data lives, and one detector per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A file or folder in ../shared/data; the test skips with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (../shared/data is absent on this machine)")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def yolo_detector():
    """The real YOLO11n detector through onnxruntime, loaded once."""
    from detector.config import DetectorConfig
    from detector.detect.onnx import OnnxYoloDetector

    det = OnnxYoloDetector(DetectorConfig())
    yield det
    det.close()
