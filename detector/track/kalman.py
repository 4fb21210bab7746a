"""A constant-velocity Kalman filter over boxes, batched over the tracks, timed in stream seconds.

State per track: box centre, width and height, and their rates of change, (cx, cy, w, h, vcx, vcy,
vw, vh), in pixels and pixels per second; the measurement is the detected box (cx, cy, w, h).

The noise follows the SORT/ByteTrack convention: standard deviations proportional to the box size (a
near, large vehicle moves and jitters by more pixels than a far one), 1/20 of the size for a position
per frame and 1/160 for a velocity per frame, at the stream's nominal frame rate. A step of `dt`
seconds spans `dt * fps` frames: the process noise variance grows linearly with it (a random walk),
so a detection skipped by the schedule or a dropped camera frame widens the prediction by real time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

POSITION_STD = 1.0 / 20.0  # of the box size, per frame
VELOCITY_STD = 1.0 / 160.0  # of the box size, per frame, per frame
MIN_SIZE = 1.0  # px: a degenerate box still gets a positive noise


def xyxy_to_z(xyxy: npt.ArrayLike) -> F64:
    """(N, 4) corner boxes -> (N, 4) measurements (cx, cy, w, h)."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )


def z_to_xyxy(z: F64) -> F64:
    """(N, >=4) states or measurements -> (N, 4) corner boxes."""
    cx, cy, w, h = z[:, 0], z[:, 1], z[:, 2], z[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


class BoxKalman:
    """The filter's equations; the states live with the caller as (N, 8) means and (N, 8, 8) covariances."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)

    def _sizes(self, mean: F64) -> F64:
        """(N, 4) size of each coordinate's box: w for x-like, h for y-like."""
        w = np.maximum(mean[:, 2], MIN_SIZE)
        h = np.maximum(mean[:, 3], MIN_SIZE)
        return np.stack([w, h, w, h], 1)

    def initiate(self, z: F64) -> tuple[F64, F64]:
        """New states at the measured boxes, standing still, with a wide velocity uncertainty."""
        n = len(z)
        mean = np.zeros((n, 8))
        mean[:, :4] = z
        s = self._sizes(mean)
        std = np.concatenate([2 * POSITION_STD * s, 10 * VELOCITY_STD * s * self.fps], 1)
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(self, mean: F64, cov: F64, dt: float) -> tuple[F64, F64]:
        """States carried `dt` stream seconds ahead."""
        if len(mean) == 0 or dt <= 0:
            return mean, cov
        mean = mean.copy()
        mean[:, :4] += dt * mean[:, 4:]
        frames = dt * self.fps
        s = self._sizes(mean)
        q = frames * np.concatenate([(POSITION_STD * s) ** 2, (VELOCITY_STD * s * self.fps) ** 2], 1)
        f = np.eye(8)
        f[:4, 4:] = dt * np.eye(4)
        cov = f @ cov @ f.T
        idx = np.arange(8)
        cov[:, idx, idx] += q
        return mean, cov

    def update(self, mean: F64, cov: F64, z: F64) -> tuple[F64, F64]:
        """States corrected by their measured boxes (row i of `z` measures state i)."""
        if len(mean) == 0:
            return mean, cov
        s = self._sizes(mean)
        innovation_cov = cov[:, :4, :4].copy()
        idx = np.arange(4)
        innovation_cov[:, idx, idx] += (POSITION_STD * s) ** 2
        # gain K = P H^T S^-1; with P and S symmetric, K^T = S^-1 (H P)
        gain = np.swapaxes(np.linalg.solve(innovation_cov, cov[:, :4, :]), 1, 2)
        residual = z - mean[:, :4]
        mean = mean + np.einsum("nij,nj->ni", gain, residual)
        cov = cov - gain @ cov[:, :4, :]
        cov = (cov + np.swapaxes(cov, 1, 2)) / 2
        return mean, cov
