"""Exact optical flow from depth, instance ids and rigid part poses.

Cameras follow the OpenCV convention (x right, y down, z forward); pixel (row i, col j)
has its centre at image coordinates (u, v) = (j, i).
"""

from __future__ import annotations

from functools import cache

import numpy as np

NEAR = 1e-6
# Pixels per vectorized block: small enough for its temporaries to stay in cache.
CHUNK = 8192


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates (u, v) of every pixel centre, each (H, W) float64."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return u, v


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (H, W, 3) float64 of a planar z-depth image."""
    depth = np.asarray(depth, dtype=np.float64)
    u, v = pixel_grid(*depth.shape)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
    return rays * depth[..., None]


def relative_transforms(
    T_wc_a: np.ndarray, poses_a: np.ndarray, T_wc_b: np.ndarray, poses_b: np.ndarray
) -> np.ndarray:
    """Per-part transforms (P, 4, 4) taking camera-a points on part p to camera b."""
    return np.linalg.inv(T_wc_b) @ poses_b @ np.linalg.inv(poses_a) @ T_wc_a


def optical_flow(
    depth_a: np.ndarray,
    ids_a: np.ndarray,
    K_a: np.ndarray,
    T_wc_a: np.ndarray,
    poses_a: np.ndarray,
    depth_b: np.ndarray,
    ids_b: np.ndarray,
    K_b: np.ndarray,
    T_wc_b: np.ndarray,
    poses_b: np.ndarray,
    id_to_part: np.ndarray,
    depth_tol: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow (H, W, 2) float32 from frame a to frame b and its valid mask (H, W) bool.

    Flow is the geometric displacement (du, dv) of the surface point seen at each pixel of
    frame a, carried by its rigid part. It is set wherever frame a has a surface and the point
    lies in front of camera b, even if it is occluded or outside frame b; elsewhere it is 0.
    A pixel is valid when, in addition, the point lands inside frame b and the nearest pixel
    there shows the same id at a depth within ``depth_tol * z_b + 0.005`` metres.
    """
    height, width = depth_a.shape
    M = relative_transforms(T_wc_a, np.asarray(poses_a), T_wc_b, np.asarray(poses_b))
    K_b = np.asarray(K_b, dtype=np.float64)

    # Fold the intrinsics into each part's transform: q = A @ (u z, v z, z) + b = K_b @ X_b,
    # so q[2] is the depth in camera b. Rows 0-8 hold A row-major, rows 9-11 b; one column
    # per id, all zeros for the background.
    num_parts = len(M)
    coef = np.zeros((12, num_parts + 1))
    coef[:9, :num_parts] = (K_b @ M[:, :3, :3] @ np.linalg.inv(K_a)).reshape(num_parts, 9).T
    coef[9:, :num_parts] = (M[:, :3, 3] @ K_b.T).T
    part = np.asarray(id_to_part, dtype=np.intp)
    coef = coef[:, np.where(part < 0, num_parts, part)]

    num_pixels = height * width
    flow = np.empty((num_pixels, 2), dtype=np.float32)
    valid = np.empty(num_pixels, dtype=bool)
    ids_a, depth_a = ids_a.ravel(), depth_a.ravel()
    for start in range(0, num_pixels, CHUNK):
        stop = min(start + CHUNK, num_pixels)
        flow[start:stop], valid[start:stop] = _flow_pixels(
            np.arange(start, stop), width, ids_a[start:stop], depth_a[start:stop], coef,
            ids_b, depth_b, depth_tol,
        )  # fmt: skip
    return flow.reshape(height, width, 2), valid.reshape(height, width)


def _flow_pixels(flat, width, ids, depth, coef, ids_b, depth_b, depth_tol):
    """Flow (N, 2) and validity (N,) of the pixels with flat indices ``flat`` of frame a."""
    G = np.take(coef, ids, axis=1)
    u_a = (flat % width).astype(np.float64)
    v_a = (flat // width).astype(np.float64)
    z_a = depth.astype(np.float64)
    x = u_a * z_a
    y = v_a * z_a
    u_b, v_b, z_b = (
        G[3 * r] * x + G[3 * r + 1] * y + G[3 * r + 2] * z_a + G[9 + r] for r in range(3)
    )
    front = (ids > 0) & (z_a > 0) & (z_b > NEAR)
    inv_z = 1.0 / np.maximum(z_b, NEAR)
    u_b *= inv_z
    v_b *= inv_z
    flow = np.stack([(u_b - u_a) * front, (v_b - v_a) * front], axis=1)

    valid = front & visible_in_b(u_b, v_b, z_b, ids, ids_b, depth_b, depth_tol)
    return flow, valid


def visible_in_b(u_b, v_b, z_b, ids, ids_b, depth_b, depth_tol, within=None) -> np.ndarray:
    """Whether points projected to (u_b, v_b) at depth z_b land inside frame b on a pixel
    showing the same id at that depth (within ``depth_tol * z_b + 0.005`` m). ``within``:
    the points already known to lie in front of camera b (``z_b > NEAR``), a mask taken
    over and narrowed in place. Each step runs in place, in the inputs' precision; the
    nearest pixel's flat index is formed in it where it is exact there."""
    h_b, w_b = depth_b.shape
    # Nearest pixel in frame b (pixel j covers u in [j - 0.5, j + 0.5)).
    j_b = u_b + 0.5
    np.floor(j_b, out=j_b)
    i_b = v_b + 0.5
    np.floor(i_b, out=i_b)
    valid = z_b > NEAR if within is None else within
    valid &= j_b >= 0
    valid &= j_b < w_b
    valid &= i_b >= 0
    valid &= i_b < h_b
    np.clip(j_b, 0, w_b - 1, out=j_b)
    np.clip(i_b, 0, h_b - 1, out=i_b)
    if h_b * w_b <= 2 ** (np.finfo(i_b.dtype).nmant + 1):  # every flat index exact
        i_b *= w_b
        i_b += j_b
        flat_b = i_b.astype(np.intp)
    else:
        flat_b = i_b.astype(np.intp) * w_b + j_b.astype(np.intp)
    valid &= np.take(ids_b.ravel(), flat_b) == ids
    gap = np.take(depth_b.ravel(), flat_b) - z_b
    np.abs(gap, out=gap)
    tolerance = depth_tol * z_b
    tolerance += 0.005
    valid &= gap <= tolerance
    return valid


def flow_from_projections(
    ids_a: np.ndarray,
    depth_a: np.ndarray,
    uv_b: np.ndarray,
    z_b: np.ndarray,
    ids_b: np.ndarray,
    depth_b: np.ndarray,
    depth_tol: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow and validity from per-pixel projections into frame b computed by the renderer.

    ``uv_b`` (H, W, 2) and ``z_b`` (H, W) hold, for the surface point seen at each pixel of
    frame a, its image coordinates and depth in frame b, carried by its rigid part: the
    quantity ``optical_flow`` derives from depth and poses, evaluated per fragment.
    """
    height, width = ids_a.shape
    u_a, v_a = _grid32(height, width)
    u_b, v_b = uv_b[..., 0], uv_b[..., 1]
    front = ids_a > 0
    front &= depth_a > 0
    front &= z_b > NEAR
    flow = np.empty((height, width, 2), np.float32)
    np.subtract(u_b, u_a, out=flow[..., 0])
    np.subtract(v_b, v_a, out=flow[..., 1])
    flow.reshape(-1, 2)[np.flatnonzero(~front)] = 0.0  # few pixels: faster than a mask
    return flow, visible_in_b(u_b, v_b, z_b, ids_a, ids_b, depth_b, depth_tol, within=front)


@cache
def _grid32(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = pixel_grid(height, width)
    return u.astype(np.float32), v.astype(np.float32)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorized HSV to RGB; inputs in [0, 1] (hue wraps), output (..., 3) float in [0, 1]."""
    h6 = (np.asarray(h, dtype=np.float64) % 1.0) * 6.0
    s = np.asarray(s, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h6) % 6.0
        channels.append(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(channels, axis=-1)


def flow_to_rgb(flow: np.ndarray, valid: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """Colour-wheel image (H, W, 3) uint8 of a flow field.

    Hue is the direction, saturation the magnitude over ``max_mag`` (default: the 99th
    percentile of valid magnitudes), so zero flow is white; invalid pixels are black.
    """
    du = flow[..., 0].astype(np.float64)
    dv = flow[..., 1].astype(np.float64)
    mag = np.hypot(du, dv)
    if max_mag is None:
        max_mag = float(np.percentile(mag[valid], 99)) if np.any(valid) else 1.0
    if not max_mag > 0:
        max_mag = 1.0
    hue = np.arctan2(dv, du) / (2.0 * np.pi)
    sat = np.clip(mag / max_mag, 0.0, 1.0)
    rgb = hsv_to_rgb(hue, sat, np.ones_like(sat))
    rgb[~valid] = 0.0
    return np.round(rgb * 255.0).astype(np.uint8)
