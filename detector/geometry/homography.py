"""The road-plane homography: fitted from surveyed image/world point pairs, with its reprojection error
and the scale uncertainty it gives measured distances (and so speeds)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPoint, Polygon

from detector.config import CalibrationConfig
from detector.errors import ConfigError
from detector.geometry.zones import F64, as_xy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Homography:
    """Image -> road-plane (metres) transform with its measured error."""

    H: F64
    H_inv: F64
    rms_error_m: float
    max_error_m: float
    rms_error_px: float
    max_error_px: float
    valid_region: Polygon
    extent_m: float
    point_sigma_m: float = 0.15
    extra_scale_rel: float = 0.0

    @property
    def scale_rel_uncertainty(self) -> float:
        """1-sigma relative scale error of distances measured with this calibration: the point
        accuracy (or the RMS error, if larger) over the calibration's extent, and any assumed extra."""
        sigma = max(self.rms_error_m, self.point_sigma_m)
        return float(np.hypot(np.sqrt(2.0) * sigma / max(self.extent_m, 1e-6), self.extra_scale_rel))

    def image_to_world(self, xy: npt.ArrayLike) -> F64:
        pts = as_xy(xy)
        if len(pts) == 0:
            return pts
        return np.asarray(cv2.perspectiveTransform(pts.reshape(-1, 1, 2), self.H), dtype=np.float64).reshape(
            -1, 2
        )

    def world_to_image(self, xy: npt.ArrayLike) -> F64:
        pts = as_xy(xy)
        if len(pts) == 0:
            return pts
        return np.asarray(
            cv2.perspectiveTransform(pts.reshape(-1, 1, 2), self.H_inv), dtype=np.float64
        ).reshape(-1, 2)

    def in_valid_region(self, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        pts = as_xy(xy)
        return np.asarray(shapely.contains_xy(self.valid_region, pts[:, 0], pts[:, 1]), dtype=bool)


def _collinear(points: F64, tol: float) -> bool:
    """True when all points lie near one line (smallest singular value of the centred cloud)."""
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(s[-1] / np.sqrt(len(points)) < tol)


def calibrate(
    image_points: Sequence[Sequence[float]],
    world_points: Sequence[Sequence[float]],
    valid_region: Sequence[Sequence[float]] | None = None,
    max_rms_error_m: float | None = None,
    where: str = "calibration",
    point_sigma_m: float = 0.15,
    extra_scale_rel: float = 0.0,
) -> Homography:
    """Fit the image->world homography from >= 4 correspondences and measure its reprojection error.

    Raises ConfigError on too few points, (near-)collinear points, a degenerate or non-invertible
    homography, or an RMS error above `max_rms_error_m`.
    """
    img = as_xy(image_points)
    wld = as_xy(world_points)
    if len(img) < 4 or len(img) != len(wld):
        raise ConfigError(
            f"{where}: need >= 4 image/world point pairs of equal count, got {len(img)}/{len(wld)}"
        )
    if _collinear(img, tol=2.0):
        raise ConfigError(f"{where}: image_points are (nearly) collinear; pick points spread over the road")
    if _collinear(wld, tol=0.05):
        raise ConfigError(f"{where}: world_points are (nearly) collinear; pick points spread over the road")
    found, _ = cv2.findHomography(img, wld, method=0)
    H = None if found is None else np.asarray(found, dtype=np.float64)
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
        raise ConfigError(f"{where}: the points give a degenerate homography")
    H = H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H
    H_inv = np.linalg.inv(H)
    # every calibration point must project in front of the camera (w > 0 consistently)
    w = (np.c_[img, np.ones(len(img))] @ H.T)[:, 2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise ConfigError(f"{where}: image points lie on both sides of the horizon; check their order")
    proj_w = cv2.perspectiveTransform(img.reshape(-1, 1, 2), H).reshape(-1, 2)
    proj_i = cv2.perspectiveTransform(wld.reshape(-1, 1, 2), H_inv).reshape(-1, 2)
    err_m = np.linalg.norm(proj_w - wld, axis=1)
    err_px = np.linalg.norm(proj_i - img, axis=1)
    region = (
        Polygon(valid_region) if valid_region is not None else MultiPoint([tuple(p) for p in img]).convex_hull
    )
    homo = Homography(
        H=H,
        H_inv=H_inv,
        rms_error_m=float(np.sqrt((err_m**2).mean())),
        max_error_m=float(err_m.max()),
        rms_error_px=float(np.sqrt((err_px**2).mean())),
        max_error_px=float(err_px.max()),
        valid_region=region,
        extent_m=float(max(np.linalg.norm(wld[:, None] - wld[None], axis=2).max(), 1e-6)),
        point_sigma_m=point_sigma_m,
        extra_scale_rel=extra_scale_rel,
    )
    if max_rms_error_m is not None and homo.rms_error_m > max_rms_error_m:
        raise ConfigError(
            f"{where}: RMS reprojection error {homo.rms_error_m:.2f} m exceeds {max_rms_error_m} m; "
            "check the point pairs"
        )
    log.debug("%s: rms %.3f m / %.2f px", where, homo.rms_error_m, homo.rms_error_px)
    return homo


def calibration_from_config(cfg: CalibrationConfig, where: str = "rules.calibration") -> Homography:
    return calibrate(
        cfg.image_points,
        cfg.world_points,
        cfg.valid_region,
        cfg.max_reprojection_error_m,
        where,
        cfg.point_sigma_m,
        cfg.scale_uncertainty_rel,
    )
