"""Per-object labels of one camera's frames, all derived from simulator truth.

Inputs are the rendered instance ids and unoccluded pixel counts, the camera, and the
per-part poses of the Trajectory (and the per-frame vertices of its cloths, which
come after the parts: cloth c has id P + c + 1); outputs are semantic masks and, per
frame and object, 2D boxes (visible and amodal), the 3D box, visibility and truncation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from simfactory.sim.annotate.boxes import (
    NEAR,
    amodal_box,
    box_records,
    pixel_counts,
    upright_box,
    visible_boxes,
)
from simfactory.sim.model.motion import invert
from simfactory.sim.model.parts import PartGeometry
from simfactory.sim.simulate.cloth import cloth_box, hull_points


def _round(values, digits: int = 6) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def semantic_from_instance(instance: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """Semantic class ids of an instance-id image (id k is part k-1, 0 stays 0); a
    clip's (F, H, W) frame by frame (indexing converts the ids to int64: a whole clip's
    would be four times the size of the ids)."""
    lut = np.concatenate([[0], class_ids]).astype(np.uint8)
    instance = np.asarray(instance)
    if instance.ndim < 3:
        return lut[instance]
    semantic = np.empty(instance.shape, np.uint8)
    for f in range(len(instance)):
        semantic[f] = lut[instance[f]]
    return semantic


def camera_labels(
    instance: np.ndarray,
    unoccluded: np.ndarray,
    K: np.ndarray,
    T_world_camera: np.ndarray,
    poses: np.ndarray,
    geometry: PartGeometry,
    present: np.ndarray | None = None,
    cloth_vertices: list[np.ndarray] | None = None,
    cloth_class_ids: list[int] | None = None,
    cloth_upright: list[bool] | None = None,
    cloth_boxes: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, list[list[dict]]]:
    """Semantic masks and per-object records for frames (F, H, W) of one camera with
    part ``poses`` (F, P, 4, 4) and cloths' vertices (each (F, V, 3) world) of classes
    ``cloth_class_ids``; parts not ``present`` (F, P) in a frame get no record. A cloth
    marked in ``cloth_upright`` (a region of a person's body) gets an upright 3D box.
    ``cloth_boxes`` are the cloths' 3D boxes when already known (``deformable_boxes``
    of the same vertices); without them a frame's boxes are found as it needs them."""
    F, H, W = instance.shape
    if present is None:
        present = np.ones(poses.shape[:2], dtype=bool)
    cloth_vertices = list(cloth_vertices or [])
    upright = list(cloth_upright or [False] * len(cloth_vertices))
    class_ids = np.concatenate([geometry.class_ids, np.asarray(cloth_class_ids or [], int)])
    semantic = semantic_from_instance(instance, class_ids)
    objects = []
    for t in range(F):
        cloths = [v[t] for v in cloth_vertices]
        known = [(T[t], size[t]) for T, size in cloth_boxes] if cloth_boxes is not None else None
        objects.append(
            _frame_objects(
                instance[t],
                unoccluded[t],
                K,
                T_world_camera[t],
                poses[t],
                geometry,
                W,
                H,
                present[t],
                cloths,
                upright,
                known,
            )  # fmt: skip
        )
    return semantic, objects


def _record(id_, pts, K, W, H, boxes, counts, unoccluded) -> dict | None:
    """The 2D labels of object ``id_`` with hull points ``pts`` in the camera frame, or
    None when it is behind the camera or outside the image."""
    amodal = amodal_box(pts, K)
    if np.isnan(amodal).any():
        return None
    x0, y0 = max(amodal[0], 0.0), max(amodal[1], 0.0)
    x1, y1 = min(amodal[2], W), min(amodal[3], H)
    if x1 <= x0 or y1 <= y0:
        return None  # entirely outside the image
    area = (amodal[2] - amodal[0]) * (amodal[3] - amodal[1])
    visible = int(counts[id_])
    full = int(unoccluded[id_])
    return {
        "id": id_,
        "visible_pixels": visible,
        "unoccluded_pixels": full,
        "visibility": round(visible / full, 6) if full else 0.0,
        "truncation": round(1.0 - (x1 - x0) * (y1 - y0) / area, 6) if area > 0 else 0.0,
        "bbox_visible": _round(boxes[id_]) if visible else None,
        "bbox_amodal": _round(amodal),
    }


def deformable_boxes(
    vertices: list[np.ndarray], upright: list[bool]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each cloth's 3D box in every frame, (T_world_box (F, 4, 4), extents (F, 3)), from
    its vertices (F, V, 3) world: upright for a region of a person's body, else
    ``cloth_box``. Found once per clip, for the annotations and every camera's labels."""
    boxes = []
    for v, body in zip(vertices, upright, strict=True):
        box = upright_box if body else cloth_box
        frames = [box(frame) for frame in v]
        boxes.append(
            (
                np.array([T for T, _ in frames]).reshape(-1, 4, 4),
                np.array([size for _, size in frames]).reshape(-1, 3),
            )
        )
    return boxes


def _hull(vertices: np.ndarray) -> np.ndarray:
    """The convex hull's corners (N, 3) of a body region's vertices (amodal boxes need
    only those, and clipping every vertex at the near plane would be slow)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    try:
        return vertices[ConvexHull(vertices).vertices]
    except QhullError:  # flat or degenerate
        return vertices


def _region_points(vertices: np.ndarray, T_cw: np.ndarray) -> np.ndarray:
    """Camera-frame points whose amodal box is a body region's: all its vertices when
    they are all in front of the near plane (the extremes of a projection over a convex
    hull are at its corners, which are among the vertices) or all behind it (no box),
    else its hull's corners (clipping needs the hull's edges)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    pts = vertices @ T_cw[:3, :3].T + T_cw[:3, 3]
    front = pts[:, 2] > NEAR
    if front.all() or not front.any():
        return pts
    return _hull(vertices) @ T_cw[:3, :3].T + T_cw[:3, 3]


def _frame_objects(
    ids, unoccluded, K, T_wc, poses, geometry: PartGeometry, W, H, present, cloths=(), upright=(),
    known=None,
) -> list[dict]:  # fmt: skip
    P = poses.shape[0]
    boxes = visible_boxes(ids, P + len(cloths))
    counts = pixel_counts(ids, P + len(cloths))
    T_cw = invert(T_wc)
    records = []
    for p in range(P):
        if not len(geometry.hull_points[p]) or not present[p]:
            continue
        T_cam_part = T_cw @ poses[p]
        pts = geometry.hull_points[p] @ T_cam_part[:3, :3].T + T_cam_part[:3, 3]
        record = _record(p + 1, pts, K, W, H, boxes, counts, unoccluded)
        if record is not None:
            records.append(record)
    parts = [r["id"] - 1 for r in records]
    T_boxes = list(poses[parts] @ geometry.T_part_box[parts])
    sizes = list(geometry.box_size[parts])
    for c, vertices in enumerate(cloths):
        body = bool(upright[c]) if len(upright) else False
        if body:
            pts = _region_points(vertices, T_cw)
        else:
            pts = hull_points(vertices) @ T_cw[:3, :3].T + T_cw[:3, 3]
        record = _record(P + c + 1, pts, K, W, H, boxes, counts, unoccluded)
        if record is not None:
            if known is not None:
                T_world_box, size = known[c]
            else:
                T_world_box, size = upright_box(vertices) if body else cloth_box(vertices)
            T_boxes.append(T_world_box)
            sizes.append(size)
            records.append(record)
    if records:
        boxes3d = box_records(np.array(T_boxes), np.array(sizes), T_wc)
        for record, box in zip(records, boxes3d, strict=True):
            record["box3d"] = box
    return records
