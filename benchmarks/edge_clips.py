"""The clips of the edge benchmark (bench_edge.py): which are here, cached 1080p copies, temp configs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CACHE = REPO / "benchmarks" / ".cache"


@dataclass(frozen=True)
class Clip:
    name: str
    video: Path
    config: Path
    fps: float
    note: str = ""


def video_fps(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    cap.release()
    return fps or 25.0


def upscale_video(src: Path, dst: Path, size: tuple[int, int] = (1920, 1080), fps: int = 25) -> Path:
    """A cached H.264 copy of `src` scaled to `size` (bicubic, as ffmpeg's scale filter), made once."""
    if dst.exists():
        return dst
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp.mp4")
    print(f"making {dst.relative_to(REPO)} ({size[0]}x{size[1]}, {fps} fps, H.264) from {src.name} ...")
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "fast"}
        for frame in inp.decode(video=0):
            scaled = frame.reformat(width=size[0], height=size[1], format="yuv420p", interpolation="BICUBIC")
            scaled.pts = None
            for packet in stream.encode(scaled):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    os.replace(tmp, dst)
    return dst


def config_copy(
    src: Path,
    dst: Path,
    uri: Path,
    drop: tuple[str, ...] = ("rules",),
    detector: dict[str, object] | None = None,
) -> Path:
    """A temp copy of a camera config with `drop` sections removed, its source pointed at `uri` and
    `detector` fields set."""
    raw = yaml.safe_load(src.read_text(encoding="utf-8"))
    for key in drop:
        raw.pop(key, None)
    if detector:
        raw["detector"] = {**(raw.get("detector") or {}), **detector}
    raw["source"] = {**raw.get("source", {}), "uri": str(uri)}
    dst.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dst


def minimal_config(dst: Path, camera_id: str, name: str, uri: Path) -> Path:
    """A camera config with only the required fields (no rules: every zone is unknown for the clip)."""
    raw = {"camera_id": camera_id, "name": name, "source": {"uri": str(uri)}}
    dst.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return dst


def prepare_clips(tmp: Path) -> list[Clip]:
    """The clips that are here; a clip that is not is skipped with the reason printed."""
    clips: list[Clip] = []
    sample = REPO / "sample_videos" / "sample_scene.mp4"
    detrac = SHARED / "ua-detrac-evadb-sample" / "clips" / "intersection_252f.mp4"
    bgs = SHARED / "bgslibrary-videos" / "video02.avi"
    vn = SHARED / "vn-cctv-bkav-aicam" / "traffic.mp4"
    for path, name in (
        (sample, "sample scene"),
        (detrac, "UA-DETRAC intersection"),
        (bgs, "bgs video02 upscaled"),
        (vn, "VN BKAV traffic"),
    ):
        if not path.exists():
            print(f"{name}: skipped (no {path})")
    if sample.exists():
        clips.append(Clip("sample scene", sample, REPO / "configs" / "sample_scene.yaml", 15.0))
    if detrac.exists():
        clips.append(
            Clip(
                "UA-DETRAC intersection",
                detrac,
                REPO / "configs" / "ua_detrac_intersection.yaml",
                video_fps(detrac),
            )
        )
    if bgs.exists():
        big = upscale_video(bgs, CACHE / "video02_1920x1080_25fps.mp4")
        cfg = config_copy(REPO / "configs" / "bgs_video02.yaml", tmp / "bgs_video02_1080p.yaml", big)
        clips.append(
            Clip(
                "bgs video02 @1920x1080",
                big,
                cfg,
                25.0,
                "bgs_video02.yaml without its rules (zones drawn for 320x240)",
            )
        )
    if vn.exists():
        cfg = minimal_config(
            tmp / "vn_bkav_traffic.yaml", "vn-bkav-traffic", "BKAV AI camera, Hanoi (test clip)", vn
        )
        clips.append(Clip("VN BKAV traffic 1080p", vn, cfg, video_fps(vn), "minimal config, no rules"))
    return clips


def frame_size(video: Path) -> tuple[int, int]:
    """(width, height) of a clip's frames, or of the first image of a folder."""
    import cv2

    if video.is_dir():
        first = cv2.imread(str(min(p for p in video.iterdir() if p.suffix.lower() in {".jpg", ".png"})))
        if first is None:
            raise OSError(f"cannot read the first image of {video}")
        return int(first.shape[1]), int(first.shape[0])
    cap = cv2.VideoCapture(str(video))
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return size


def our_input_size(clip: Clip) -> str:
    """The network input ours letterboxes to: the config's input_size, else the fitted rectangle."""
    det = yaml.safe_load(clip.config.read_text(encoding="utf-8")).get("detector") or {}
    if det.get("input_size"):
        return "x".join(str(v) for v in det["input_size"])
    long_side = int(det.get("input_long_side", 640))
    try:
        from detector.detect.onnx import fitted_input_size
    except ImportError:  # an older tree: a square input
        return f"{long_side}x{long_side}"
    return "x".join(str(v) for v in fitted_input_size(*frame_size(clip.video), long_side))
