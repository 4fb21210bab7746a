"""CPU cost of the rider association per frame, beside its peer (detection + tracking) in the same run.

Decodes a real clip, and for every frame runs the detector and the tracker (the peer) and then the
rider association, taking process CPU time around each; prints CPU ms per frame for both and their
ratio, with the load average. Optionally the helmet check's cost per rider look (needs
models/helmet-yolo.onnx).

    .venv/bin/python benchmarks/bench_riders.py [--clip ../shared/data/vn-cctv-bkav-aicam/traffic.mp4] [--frames 150]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.config import (  # noqa: E402
    AssociationConfig,  # noqa: E402
    DetectorConfig,
    TrackerConfig,
)
from detector.detect.onnx import OnnxYoloDetector  # noqa: E402
from detector.riders.associate import RiderAssociator  # noqa: E402
from detector.sources import VideoFileSource  # noqa: E402
from detector.track import ByteTracker  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=REPO.parent / "shared/data/vn-cctv-bkav-aicam/traffic.mp4")
    ap.add_argument("--frames", type=int, default=150)
    args = ap.parse_args()
    src = VideoFileSource(args.clip)
    det = OnnxYoloDetector(DetectorConfig())
    trk = ByteTracker(TrackerConfig(), src.info.fps)
    assoc = RiderAssociator(AssociationConfig())
    peer = ours = 0.0
    n = riders = 0
    for frame in src:
        if n >= args.frames:
            break
        t0 = time.process_time()
        tracked = trk.update(det.detect(frame), frame.timestamp)
        t1 = time.process_time()
        rf = assoc.update(tracked, frame.timestamp, frame.index)
        t2 = time.process_time()
        peer += t1 - t0
        ours += t2 - t1
        riders += sum(len(r) for r in rf.riders.values())
        n += 1
    src.close()
    det.close()
    print(
        f"{args.clip.name}: {n} frames, {riders / max(n, 1):.1f} riders a frame; load average {os.getloadavg()}"
    )
    print(
        f"detect+track (peer): {peer / n * 1000:.1f} ms CPU/frame; rider association: {ours / n * 1000:.3f} ms "
        f"CPU/frame; ratio {ours / peer:.4f}"
    )


if __name__ == "__main__":
    main()
