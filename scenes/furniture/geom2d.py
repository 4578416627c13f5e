"""2D floor-plan geometry: rotated rectangles, separating-axis overlap, polygon tests.

Convex shapes are (N, 2) vertex arrays in counter-clockwise order; the floor polygon
is any simple polygon (K, 2), also counter-clockwise.
"""

from __future__ import annotations

import numpy as np


def rect_corners(x: float, y: float, w: float, d: float, yaw: float) -> np.ndarray:
    """Corners (4, 2), counter-clockwise, of a w x d rectangle centred at (x, y) and
    turned by ``yaw`` (w along the local x axis)."""
    local = np.array([[-w, -d], [w, -d], [w, d], [-w, d]]) / 2
    c, s = np.cos(yaw), np.sin(yaw)
    return local @ np.array([[c, s], [-s, c]]) + (x, y)


def _axes(poly: np.ndarray) -> np.ndarray:
    edges = np.diff(np.vstack([poly, poly[:1]]), axis=0)
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    lengths = np.hypot(normals[:, 0], normals[:, 1])
    keep = lengths > 1e-12
    return normals[keep] / lengths[keep, None]


def convex_overlap(a: np.ndarray, b: np.ndarray, margin: float = 1e-6) -> bool:
    """Separating-axis test for two convex polygons (a segment counts as one).

    True when the interiors overlap by more than ``margin`` along every axis;
    touching shapes do not overlap.
    """
    lo_a, hi_a, lo_b, hi_b = a.min(axis=0), a.max(axis=0), b.min(axis=0), b.max(axis=0)
    if (hi_a <= lo_b + margin).any() or (hi_b <= lo_a + margin).any():
        return False
    axes = np.vstack([_axes(a), _axes(b)]).T
    pa, pb = a @ axes, b @ axes
    separated = (pa.max(axis=0) <= pb.min(axis=0) + margin) | (
        pb.max(axis=0) <= pa.min(axis=0) + margin
    )
    return not separated.any()


def points_in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule: (N,) bool, True for points strictly inside ``poly``."""
    pts = np.atleast_2d(points)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(crosses & (x < xi), axis=1) % 2 == 1


def convex_inside(shape: np.ndarray, poly: np.ndarray, margin: float = 1e-6) -> bool:
    """True when the convex ``shape`` lies inside the simple polygon ``poly``: every
    vertex inside and no polygon edge cutting into the shape."""
    if not points_in_polygon(shape, poly).all():
        return False
    nxt = np.roll(poly, -1, axis=0)
    return not any(
        convex_overlap(np.array([p, q]), shape, margin) for p, q in zip(poly, nxt, strict=True)
    )


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (M, 2) of 2D points (monotone chain)."""
    pts = np.unique(np.round(np.asarray(points, dtype=float), 9), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2:
                a, b = out[-2], out[-1]
                if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) > 1e-12:
                    break
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def convex_distance(points: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(N,) largest signed distance of each point to the edge lines of a convex CCW
    ``shape``: negative inside, and never more than the true distance outside."""
    pts = np.atleast_2d(points)
    edges = np.roll(shape, -1, axis=0) - shape
    outward = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    outward /= np.linalg.norm(outward, axis=1, keepdims=True)
    return ((pts[:, None, :] - shape[None]) * outward[None]).sum(-1).max(axis=1)


def boundary_distance(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(N,) distance from each point to the nearest edge of ``poly``."""
    pts = np.atleast_2d(points)[:, None, :]
    a, b = poly[None], np.roll(poly, -1, axis=0)[None]
    ab = b - a
    t = ((pts - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)
    closest = a + np.clip(t, 0, 1)[..., None] * ab
    return np.linalg.norm(pts - closest, axis=-1).min(axis=1)


def polygon_area(poly: np.ndarray) -> float:
    """Signed area (positive for counter-clockwise)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * (x * np.roll(y, -1) - np.roll(x, -1) * y).sum())
