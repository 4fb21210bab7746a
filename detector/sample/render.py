"""Frame renderer of the sample scene: background, signal head and perspective-scaled vehicle sprites.

`SceneRenderer(seed)` is deterministic: the same seed gives byte-identical frames. Each rendered
frame also returns, per vehicle on screen, the pasted box (the ground truth), its plate box and
world state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detector.sample.plates import PLATE_W_MM, random_plate_text, render_plate_px
from detector.sample.scene import FPS, HEIGHT, WIDTH, Camera, SignalPlan, draw_signal, render_background
from detector.sample.sprites import Sprite, extract_sprites, feather_mask
from detector.sample.traffic import VehicleScript, scenario

log = logging.getLogger(__name__)

#: Plates are drawn this many times their legal 520 mm width so the OCR stage gets >= 90 px near
#: the camera; the sample is a test scene and says so in its README.
PLATE_SCALE = 1.7
#: vehicles farther than this (world y, metres) are not drawn
FAR_LIMIT_M = 78.0
MIN_DRAW_PX = 6


@dataclass(frozen=True, slots=True)
class VehicleOnFrame:
    vehicle_id: int
    box: tuple[int, int, int, int]  # clipped to the frame
    visible: float
    occluded: float
    world_x: float
    world_y: float
    speed_ms: float
    plate_box: tuple[int, int, int, int] | None


@dataclass(frozen=True, slots=True)
class _Look:
    sprite: Sprite
    plate: str
    gain: float  # brightness jitter of the sprite


class SceneRenderer:
    """Renders frame `i` of the sample scene for a seed."""

    def __init__(self, seed: int, sprites: list[Sprite] | None = None, camera: Camera | None = None) -> None:
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.camera = camera if camera is not None else Camera()
        self.plan = SignalPlan()
        self.background = render_background(self.camera, rng)
        self.cast: tuple[VehicleScript, ...] = scenario()
        by_key = {s.key: s for s in (sprites if sprites is not None else extract_sprites())}
        taken: set[str] = set()
        self.looks: dict[int, _Look] = {}
        for v in self.cast:
            plate = random_plate_text(rng, taken)
            gain = float(rng.uniform(0.92, 1.08))
            self.looks[v.vehicle_id] = _Look(by_key[v.sprite], plate, gain)
        self._resized: dict[tuple[int, int, int], npt.NDArray[np.uint8]] = {}

    @property
    def fps(self) -> float:
        return FPS

    def _sprite_image(self, vid: int, w: int, h: int) -> npt.NDArray[np.uint8]:
        key = (vid, w, h)
        img = self._resized.get(key)
        if img is None:
            look = self.looks[vid]
            src = look.sprite.image
            interp = cv2.INTER_AREA if w < src.shape[1] else cv2.INTER_CUBIC
            scaled = cv2.resize(src, (w, h), interpolation=interp).astype(np.float32)
            img = np.clip(scaled * look.gain, 0, 255).astype(np.uint8)
            if len(self._resized) > 4000:
                self._resized.clear()
            self._resized[key] = img
        return img

    def render(self, index: int) -> tuple[npt.NDArray[np.uint8], list[VehicleOnFrame]]:
        t = index / FPS
        img = self.background.copy()
        draw_signal(img, self.plan.phase_at(t))
        placed: list[
            tuple[
                float,
                int,
                tuple[int, int, int, int],
                tuple[int, int, int, int] | None,
                float,
                tuple[float, float, float],
            ]
        ] = []
        for v in self.cast:
            st = v.state(t)
            if st is None:
                continue
            x, y, speed = st
            if y - self.camera.y_m > FAR_LIMIT_M or y - self.camera.y_m < 1.0:
                continue
            ((u, vv),) = self.camera.project([(x, y)])
            ppm = self.camera.px_per_m(y)
            look = self.looks[v.vehicle_id]
            w = int(round(look.sprite.world_width_m * ppm))
            h = int(round(w * look.sprite.aspect))
            if w < MIN_DRAW_PX or h < MIN_DRAW_PX:
                continue
            x1 = int(round(u - w / 2))
            y2 = int(round(vv))
            full = (x1, y2 - h, x1 + w, y2)
            pw = int(round(PLATE_W_MM / 1000 * PLATE_SCALE * ppm))
            ph = int(round(pw * 110 / 520))
            pc_u, pc_v = look.sprite.plate_center
            px1 = int(round(x1 + pc_u * w - pw / 2))
            py1 = int(round(y2 - h + pc_v * h - ph / 2))
            plate_rect = (px1, py1, px1 + pw, py1 + ph) if pw >= 4 else None
            placed.append((y, v.vehicle_id, full, plate_rect, speed, (x, y, speed)))
        # painter's order: far first, near last
        placed.sort(key=lambda p: -p[0])
        out: list[VehicleOnFrame] = []
        for _, vid, full, plate_rect, _, _ in placed:
            self._paste(img, vid, full, plate_rect)
        occupancy = np.zeros((HEIGHT, WIDTH), np.uint8)
        for _, vid, full, plate_rect, speed, (x, y, _) in reversed(placed):  # near first for occlusion
            clipped = _clip(full)
            if clipped is None:
                continue
            cx1, cy1, cx2, cy2 = clipped
            area_full = (full[2] - full[0]) * (full[3] - full[1])
            area = (cx2 - cx1) * (cy2 - cy1)
            occluded = float(occupancy[cy1:cy2, cx1:cx2].mean()) if area else 0.0
            occupancy[cy1:cy2, cx1:cx2] = 1
            pclip = _clip(plate_rect) if plate_rect is not None else None
            if pclip is not None and pclip[2] - pclip[0] < 8:
                pclip = None
            out.append(VehicleOnFrame(vid, clipped, area / area_full, occluded, x, y, speed, pclip))
        out.sort(key=lambda r: r.vehicle_id)
        return img, out

    def _paste(
        self,
        img: npt.NDArray[np.uint8],
        vid: int,
        full: tuple[int, int, int, int],
        plate_rect: tuple[int, int, int, int] | None,
    ) -> None:
        x1, y1, x2, y2 = full
        w, h = x2 - x1, y2 - y1
        sprite = self._sprite_image(vid, w, h).copy()
        if plate_rect is not None:
            px1, py1, px2, py2 = plate_rect
            plate = render_plate_px(self.looks[vid].plate, px2 - px1)
            ph = min(plate.shape[0], h)
            ox, oy = px1 - x1, py1 - y1
            _blit(sprite, plate[:ph], ox, oy)
        alpha = feather_mask(h, w)
        clipped = _clip(full)
        if clipped is None:
            return
        cx1, cy1, cx2, cy2 = clipped
        sx1, sy1 = cx1 - x1, cy1 - y1
        sub = sprite[sy1 : sy1 + (cy2 - cy1), sx1 : sx1 + (cx2 - cx1)].astype(np.float32)
        a = alpha[sy1 : sy1 + (cy2 - cy1), sx1 : sx1 + (cx2 - cx1), None]
        dst = img[cy1:cy2, cx1:cx2].astype(np.float32)
        img[cy1:cy2, cx1:cx2] = np.clip(dst * (1 - a) + sub * a + 0.5, 0, 255).astype(np.uint8)


def _clip(box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    x1, y1, x2, y2 = max(0, box[0]), max(0, box[1]), min(WIDTH, box[2]), min(HEIGHT, box[3])
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


def _blit(dst: npt.NDArray[np.uint8], src: npt.NDArray[np.uint8], ox: int, oy: int) -> None:
    h, w = src.shape[:2]
    x1, y1 = max(0, ox), max(0, oy)
    x2, y2 = min(dst.shape[1], ox + w), min(dst.shape[0], oy + h)
    if x2 > x1 and y2 > y1:
        dst[y1:y2, x1:x2] = src[y1 - oy : y2 - oy, x1 - ox : x2 - ox]


def write_scene_clip(path: Path, seed: int, frames: int) -> None:
    """`frames` frames of the scene generated from `seed`, as an mp4v video at the scene's rate (a
    second camera's clip for tests and benchmarks; no ground truth written)."""
    renderer = SceneRenderer(seed)
    first = renderer.render(0)[0]
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (w, h))
    try:
        for i in range(frames):
            writer.write(renderer.render(i)[0])
    finally:
        writer.release()
