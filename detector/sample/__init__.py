"""The generated sample scene: a seeded, reproducible fixed-camera road clip with exact ground truth.

`detector.sample.generate.generate(out_dir, seed)` renders `sample_scene.mp4` and `ground_truth.json`;
`detector.sample.groundtruth.load_ground_truth(path)` reads the ground truth back for tests and
benchmarks. Nothing here runs at import time.
"""

from __future__ import annotations

DEFAULT_SEED = 20241
