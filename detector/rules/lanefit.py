"""Calibration from lane markings, for cameras nobody surveyed (e.g. public highway clips).

Inputs measured on a frame (or a median of frames, which removes the vehicles):
- the near ends of consecutive dashes of one dashed lane line: they lie on the world line
  X = `dash_x_m`, one dash period apart (Y = 0, P, 2P, ...);
- points anywhere along other painted lines parallel to it (edge lines, other lane lines) at known
  lateral offsets X (lane widths).
The image->road homography is fitted by least squares on all of them (metres): dash ends must land
on their (X, Y), line points on their X. The fit's residuals are reported; the calibration points
written to a config are the measured dash ends and line points, with the line points' Y taken from
the fit (only their X is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LaneFit:
    H: F64  # image -> world (metres)
    image_points: list[tuple[float, float]]
    world_points: list[tuple[float, float]]
    dash_rms_m: float
    line_rms_m: float


def _apply(H: F64, pts: F64) -> F64:
    p = np.c_[pts, np.ones(len(pts))] @ H.T
    return p[:, :2] / p[:, 2:3]


def fit_lane_homography(
    dash_ends: Sequence[tuple[float, float]],
    dash_x_m: float,
    dash_period_m: float,
    lines: Sequence[tuple[float, Sequence[tuple[float, float]]]],
) -> LaneFit:
    """Fit image->world from dash ends (X = dash_x_m, Y = k * period) and line points (X known)."""
    from scipy.optimize import least_squares

    dash = np.asarray(dash_ends, dtype=np.float64).reshape(-1, 2)
    if len(dash) < 3:
        raise ValueError("need at least 3 dash ends")
    dash_world = np.c_[np.full(len(dash), dash_x_m), dash_period_m * np.arange(len(dash))]
    line_pts = [(x_m, np.asarray(p, dtype=np.float64).reshape(-1, 2)) for x_m, p in lines]
    # initial guess: pair each dash end with the other lines' points at the same image row
    init_img, init_world = [*dash], [*dash_world]
    for x_m, pts in line_pts:
        for k, (_, row) in enumerate(dash):
            j = int(np.argmin(np.abs(pts[:, 1] - row)))
            init_img.append(pts[j])
            init_world.append((x_m, dash_world[k, 1]))
    H0, _ = cv2.findHomography(np.asarray(init_img), np.asarray(init_world), 0)
    if H0 is None:
        raise ValueError("could not find an initial homography")
    H0 = H0 / H0[2, 2]

    def residuals(h: F64) -> F64:
        H = np.append(h, 1.0).reshape(3, 3)
        r = [(_apply(H, dash) - dash_world).ravel()]
        for x_m, pts in line_pts:
            r.append(_apply(H, pts)[:, 0] - x_m)
        return np.concatenate(r)

    sol = least_squares(residuals, H0.ravel()[:8], method="lm")
    H = np.append(sol.x, 1.0).reshape(3, 3)
    dash_res = _apply(H, dash) - dash_world
    line_res = np.concatenate([_apply(H, pts)[:, 0] - x_m for x_m, pts in line_pts]) if line_pts else np.zeros(0)
    image_points = [tuple(map(float, p)) for p in dash]
    world_points = [tuple(map(float, w)) for w in dash_world]
    for x_m, pts in line_pts:
        w = _apply(H, pts)
        for p, (_, y) in zip(pts, w, strict=True):
            image_points.append((float(p[0]), float(p[1])))
            world_points.append((float(x_m), round(float(y), 2)))
    return LaneFit(
        H=H,
        image_points=image_points,  # type: ignore[arg-type]
        world_points=world_points,  # type: ignore[arg-type]
        dash_rms_m=float(np.sqrt((dash_res**2).sum(axis=1).mean())),
        line_rms_m=float(np.sqrt((line_res**2).mean())) if len(line_res) else 0.0,
    )


def trace_line(
    gray: npt.NDArray[np.uint8], p_near: tuple[float, float], p_far: tuple[float, float], rows: Sequence[int], half_px: int = 5
) -> list[tuple[float, float]]:
    """Brightest pixel (sub-pixel, by a parabola) within `half_px` of the straight guess p_near->p_far
    on each image row: points on a painted line."""
    (x0, y0), (x1, y1) = p_near, p_far
    out = []
    g = gray.astype(np.float64)
    for y in rows:
        xe = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        xs = np.arange(int(round(xe)) - half_px, int(round(xe)) + half_px + 1)
        xs = xs[(xs >= 1) & (xs < g.shape[1] - 1)]
        if not len(xs):
            continue
        k = int(xs[np.argmax(g[y, xs])])
        a, b, c = g[y, k - 1], g[y, k], g[y, k + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if abs(den) > 1e-9 else 0.0
        out.append((k + float(np.clip(off, -0.5, 0.5)), float(y)))
    return out
