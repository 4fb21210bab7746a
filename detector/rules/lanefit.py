"""Calibration from lane markings, for cameras nobody surveyed (e.g. public highway clips).

Inputs measured on a frame (or a median of frames, which removes the vehicles):
- the near ends of consecutive dashes of one dashed lane line: they lie on the world line
  X = `dash_x_m`, one dash period apart (Y = 0, P, 2P, ...);
- points anywhere along other painted lines parallel to it (edge lines, other lane lines) at known
  lateral offsets X (lane widths).
A free homography fitted to these degenerates (line points carry no Y), so a pinhole camera
(7 parameters: focal, pitch, yaw, roll, height, position; square pixels, principal point at the
image centre) is fitted instead, and a world grid projected through it becomes the config's
calibration points. The residual of the measured markings is reported. Focal length and dash
period are not separable from one view: the assumed period sets the speed scale (say so, and set
`scale_uncertainty_rel`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LaneFit:
    """A pinhole camera over a flat road, fitted to lane markings.

    params: focal (px), pitch, yaw, roll (rad), height (m), camera X and Y on the road (m);
    rms_px: RMS of the measured markings' residuals (dash ends: point distance; line points:
    distance to the projected line), in pixels.
    """

    params: tuple[float, ...]
    principal_point: tuple[float, float]
    rms_px: float
    n_points: int

    def project(self, world: npt.ArrayLike) -> F64:
        return _project(
            np.asarray(self.params), np.asarray(world, dtype=np.float64).reshape(-1, 2), self.principal_point
        )

    def grid(
        self, xs: Sequence[float], ys: Sequence[float]
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(image_points, world_points) of a world grid, for a config's calibration section."""
        world = np.array([(x, y) for y in ys for x in xs], dtype=np.float64)
        img = self.project(world)
        return [(round(float(u), 1), round(float(v), 1)) for u, v in img], [
            (float(x), float(y)) for x, y in world
        ]


def _rotation(pitch: float, yaw: float, roll: float) -> F64:
    fwd = np.array([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), -np.sin(pitch)])
    right = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    down = np.cross(fwd, right)
    r2 = np.cos(roll) * right + np.sin(roll) * down
    d2 = -np.sin(roll) * right + np.cos(roll) * down
    return np.vstack([r2, d2, fwd])


def _project(p: F64, world: F64, pp: tuple[float, float]) -> F64:
    f, pitch, yaw, roll, h, cx, cy = p
    q = (np.c_[world, np.zeros(len(world))] - np.array([cx, cy, h])) @ _rotation(pitch, yaw, roll).T
    z = np.where(np.abs(q[:, 2]) < 1e-9, 1e-9, q[:, 2])
    return np.c_[f * q[:, 0] / z + pp[0], f * q[:, 1] / z + pp[1]]


def fit_lane_camera(
    dash_ends: Sequence[tuple[float, float]],
    dash_x_m: float,
    dash_period_m: float,
    lines: Sequence[tuple[float, Sequence[tuple[float, float]]]],
    principal_point: tuple[float, float],
    focal_guess_px: float = 500.0,
    height_guess_m: float = 8.0,
) -> LaneFit:
    """Fit a pinhole camera (square pixels, principal point given) to dash ends on the world line
    X = `dash_x_m` at Y = 0, P, 2P, ... and to points on other lines X = const. The dash period sets
    the scale along the road, the lateral offsets the scale across it."""
    from scipy.optimize import least_squares

    dash = np.asarray(dash_ends, dtype=np.float64).reshape(-1, 2)
    if len(dash) < 3:
        raise ValueError("need at least 3 dash ends")
    dash_world = np.c_[np.full(len(dash), dash_x_m), dash_period_m * np.arange(len(dash))]
    line_pts = [(x_m, np.asarray(p, dtype=np.float64).reshape(-1, 2)) for x_m, p in lines]

    def residuals(p: F64) -> F64:
        r = [(_project(p, dash_world, principal_point) - dash).ravel()]
        for x_m, pts in line_pts:
            a, b = _project(p, np.array([[x_m, -50.0], [x_m, 150.0]]), principal_point)
            n = np.array([-(b - a)[1], (b - a)[0]])
            n = n / max(float(np.linalg.norm(n)), 1e-9)
            r.append((pts - a) @ n)
        return np.concatenate(r)

    best = None
    n_res = 2 * len(dash) + sum(len(p) for _, p in line_pts)
    for flip in (0.0, np.pi):
        for yaw0 in np.radians([-40.0, -25.0, -10.0, 10.0, 25.0, 40.0]):
            for pitch0 in np.radians([8.0, 20.0, 35.0]):
                p0 = np.array([focal_guess_px, pitch0, yaw0 + flip, 0.0, height_guess_m, dash_x_m, -20.0])
                sol = least_squares(residuals, p0, method="trf", max_nfev=1500)
                if sol.x[0] > 0 and sol.x[4] > 0 and (best is None or sol.cost < best.cost):
                    best = sol
                if best is not None and np.sqrt(2 * best.cost / n_res) < 1.0:
                    break  # good enough: sub-pixel residual
            else:
                continue
            break
        else:
            continue
        break
    if best is None:
        raise ValueError("no camera fits the markings")
    r = residuals(best.x)
    n_dash = 2 * len(dash)
    per_point = np.concatenate([np.hypot(r[:n_dash:2], r[1:n_dash:2]), np.abs(r[n_dash:])])
    return LaneFit(
        params=tuple(float(v) for v in best.x),
        principal_point=principal_point,
        rms_px=float(np.sqrt((per_point**2).mean())),
        n_points=len(per_point),
    )
