"""2D and 3D bounding boxes of instances and parts.

2D boxes are [x_min, y_min, x_max, y_max] in pixel-edge coordinates: pixel column j spans
x in [j, j + 1] and row i spans y in [i, i + 1], so a pixel centre (u, v) sits at
(u + 0.5, v + 0.5). Cameras follow the OpenCV convention (x right, y down, z forward).
"""

from __future__ import annotations

import itertools

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.transform import Rotation

# Corner signs of a box, x varying slowest: corner k is at (sx, sy, sz) * extents / 2.
CORNER_SIGNS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))
# Depth (m) of the plane at which amodal boxes clip what crosses behind the camera.
NEAR = 1e-3


def pixel_counts(ids: np.ndarray, num_ids: int) -> np.ndarray:
    """Number of pixels (num_ids + 1,) int64 of each id in an instance image."""
    counts = np.bincount(np.asarray(ids).ravel(), minlength=num_ids + 1)
    if len(counts) > num_ids + 1:
        raise ValueError(f"ids image holds id {len(counts) - 1} > num_ids={num_ids}")
    return counts.astype(np.int64, copy=False)


def visible_boxes(ids: np.ndarray, num_ids: int) -> np.ndarray:
    """Box (num_ids + 1, 4) float64 of each id's pixels; NaN rows for ids with no pixels.

    A stable sort groups each id's pixels in scan order: the first and last of a group give
    its top and bottom rows, and a min/max reduction over the group its columns.
    """
    ids = np.asarray(ids)
    width = ids.shape[1]
    counts = pixel_counts(ids, num_ids)
    present = np.flatnonzero(counts)
    ends = np.cumsum(counts)[present]
    starts = ends - counts[present]

    order = np.argsort(ids.ravel(), kind="stable")
    cols = order % width
    boxes = np.full((num_ids + 1, 4), np.nan)
    boxes[present, 0] = np.minimum.reduceat(cols, starts)
    boxes[present, 1] = order[starts] // width
    boxes[present, 2] = np.maximum.reduceat(cols, starts) + 1
    boxes[present, 3] = order[ends - 1] // width + 1
    return boxes


def amodal_box(points_camera: np.ndarray, K: np.ndarray, near: float = NEAR) -> np.ndarray:
    """Box (4,) of the projection of camera-frame points, not clipped to the image.

    The points are a convex hull's vertices. An object crossing the plane z = near is
    clipped there: the hull's part in front is bounded by its vertices in front and the
    points where segments between front and back vertices cross the plane. All NaN when
    no point is in front.
    """
    points = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
    in_front = points[:, 2] > near
    if in_front.all():  # nothing to clip (most parts in most frames)
        front, back = points, points[:0]
    else:
        front, back = points[in_front], points[points[:, 2] <= near]
    if len(front) == 0:
        return np.full(4, np.nan)
    if len(back):
        a, b = front[:, None, :], back[None, :, :]
        u = (a[..., 2] - near) / (a[..., 2] - b[..., 2])
        crossings = (a + u[..., None] * (b - a)).reshape(-1, 3)
        crossings[:, 2] = near
        front = np.concatenate([front, crossings])
    points = front
    uvw = points @ np.asarray(K, dtype=np.float64).T
    xy = uvw[:, :2] / uvw[:, 2:] + 0.5
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def oriented_box(
    vertices: np.ndarray, hull_volume: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Tight box (T_part_box (4, 4), extents (3,)) of a part's vertices in its local frame.

    The box keeps the part's own axes when their box is within 5% of the volume of trimesh's
    minimum-volume oriented box, otherwise it is that oriented box. Volumes are compared with
    every extent padded by 0.1% of the largest, so flat parts compare by area. Given the
    volume of the vertices' convex hull (a lower bound of any box's), a part whose own box
    is within 5% of it keeps its axes without the search for the oriented box: the same
    answer, found sooner.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    T_aligned = np.eye(4)
    T_aligned[:3, 3] = (lo + hi) / 2.0
    extents_aligned = hi - lo
    if len(vertices) < 4:
        return T_aligned, extents_aligned
    pad = 1e-3 * extents_aligned.max()
    if hull_volume is not None and np.prod(extents_aligned + pad) <= 1.05 * hull_volume:
        return T_aligned, extents_aligned

    with np.errstate(divide="ignore", invalid="ignore"):
        to_origin, extents_oriented = trimesh.bounds.oriented_bounds(vertices)
    if np.prod(extents_aligned + pad) <= 1.05 * np.prod(extents_oriented + pad):
        return T_aligned, extents_aligned
    T_oriented = np.linalg.inv(to_origin)
    if np.linalg.det(T_oriented[:3, :3]) < 0:
        T_oriented[:3, 2] *= -1.0
    return T_oriented, np.asarray(extents_oriented, dtype=np.float64)


def upright_box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest box with a vertical axis around world points (N, 3) (a standing
    person's box): the least-area rectangle around their xy convex hull (one of its sides
    lies along a hull edge), from their lowest to their highest z. Returns
    (T_world_box (4, 4), extents (3,))."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    xy = points[:, :2]
    try:
        ring = xy[ConvexHull(xy).vertices]
    except QhullError:  # degenerate (all on a line or a point): world-aligned
        ring = xy
    edges = np.roll(ring, -1, axis=0) - ring
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], axis=1)  # (E, 2, 2): world -> box
    local = np.einsum("eij,nj->eni", rot, ring)
    lo, hi = local.min(axis=1), local.max(axis=1)
    best = int(np.argmin(np.prod(hi - lo, axis=1)))
    centre_local = (lo[best] + hi[best]) / 2
    T = np.eye(4)
    T[:2, :2] = rot[best].T
    T[:2, 3] = rot[best].T @ centre_local
    z0, z1 = points[:, 2].min(), points[:, 2].max()
    T[2, 3] = (z0 + z1) / 2
    return T, np.array([*(hi[best] - lo[best]), z1 - z0])


def box_corners(T_world_box: np.ndarray, extents: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of a box in the world frame, in ``CORNER_SIGNS`` order."""
    local = CORNER_SIGNS * (np.asarray(extents, dtype=np.float64) / 2.0)
    return local @ T_world_box[:3, :3].T + T_world_box[:3, 3]


def points_in_box(
    points_world: np.ndarray, T_world_box: np.ndarray, extents: np.ndarray, tol: float = 0.0
) -> np.ndarray:
    """Whether each point (N, 3) lies in the box grown by ``tol`` metres on every side."""
    local = (np.asarray(points_world, dtype=np.float64) - T_world_box[:3, 3]) @ T_world_box[:3, :3]
    return np.all(np.abs(local) <= np.asarray(extents) / 2.0 + tol, axis=-1)


def _quat_wxyz(rotation: np.ndarray) -> np.ndarray:
    """Quaternions (w, x, y, z) with w >= 0 of one (3, 3) or many (N, 3, 3) rotations."""
    quat = Rotation.from_matrix(rotation).as_quat(scalar_first=True)
    return np.where(quat[..., :1] < 0, -quat, quat)


def _rounded(values: np.ndarray) -> list:
    return (np.round(np.asarray(values, dtype=np.float64), 6) + 0.0).tolist()


def box_record(
    T_world_box: np.ndarray, extents: np.ndarray, T_world_camera: np.ndarray
) -> dict[str, list]:
    """JSON-ready pose and size of a box in the world and camera frames (6 decimals)."""
    return box_records(np.asarray(T_world_box)[None], np.asarray(extents)[None], T_world_camera)[0]


def box_records(
    T_world_boxes: np.ndarray, extents: np.ndarray, T_world_camera: np.ndarray
) -> list[dict[str, list]]:
    """``box_record`` of many boxes (N, 4, 4) and (N, 3) at once (one rotation call)."""
    T_world_boxes = np.asarray(T_world_boxes, dtype=np.float64)
    T_camera_boxes = np.linalg.inv(T_world_camera) @ T_world_boxes
    if not len(T_world_boxes):
        return []
    fields = {
        "center_world": T_world_boxes[:, :3, 3],
        "rotation_world": T_world_boxes[:, :3, :3],
        "quat_wxyz_world": _quat_wxyz(T_world_boxes[:, :3, :3]),
        "center_camera": T_camera_boxes[:, :3, 3],
        "rotation_camera": T_camera_boxes[:, :3, :3],
        "quat_wxyz_camera": _quat_wxyz(T_camera_boxes[:, :3, :3]),
        "size": extents,
    }
    rows = {key: _rounded(values) for key, values in fields.items()}  # one call per field
    return [{key: rows[key][i] for key in fields} for i in range(len(T_world_boxes))]
