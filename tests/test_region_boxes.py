"""A body region's labels: amodal boxes from all its vertices equal those of its hull, and
boxes found once per clip equal those found frame by frame."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from simfactory.sim.annotate.boxes import amodal_box, upright_box
from simfactory.sim.annotate.labels import _region_points, camera_labels, deformable_boxes
from simfactory.sim.model.parts import PartGeometry

H, W = 48, 64
K = np.array([[40.0, 0.0, 31.5], [0.0, 40.0, 23.5], [0.0, 0.0, 1.0]])


def _blob(rng, centre, n=200) -> np.ndarray:
    """Points of a lumpy body region around ``centre`` (camera frame)."""
    return np.asarray(centre) + rng.normal(size=(n, 3)) * [0.2, 0.5, 0.15]


@pytest.mark.parametrize("depth", [3.0, 0.2, -0.1, -3.0])  # in front, straddling, behind
def test_region_amodal_box_equals_its_hulls(depth):
    rng = np.random.default_rng(0)
    T_cw = np.eye(4)
    T_cw[:3, :3] = Rotation.from_euler("xyz", [5, -10, 3], degrees=True).as_matrix()
    T_cw[:3, 3] = [0.1, -0.2, 0.0]
    for _ in range(5):
        vertices = _blob(rng, [0.3, 0.1, depth])
        hull = vertices[ConvexHull(vertices).vertices]
        expected = amodal_box(hull @ T_cw[:3, :3].T + T_cw[:3, 3], K)
        got = amodal_box(_region_points(vertices, T_cw), K)
        np.testing.assert_array_equal(got, expected)
        pts = vertices @ T_cw[:3, :3].T + T_cw[:3, 3]
        if (pts[:, 2] > 1e-3).any() and not (pts[:, 2] > 1e-3).all():
            assert len(_region_points(vertices, T_cw)) < len(vertices)  # clipped: the hull


def _no_parts() -> PartGeometry:
    return PartGeometry(
        hull_points=[],
        class_ids=np.zeros(0, dtype=int),
        T_part_box=np.zeros((0, 4, 4)),
        box_size=np.zeros((0, 3)),
    )


def test_boxes_found_once_give_the_same_records():
    rng = np.random.default_rng(1)
    F = 3
    T_wc = np.repeat(np.eye(4)[None], F, axis=0)
    regions = [
        np.stack([_blob(rng, [0.0, 0.0, 3.0 + 0.1 * t]) for t in range(F)]),
        np.stack([_blob(rng, [0.5, 0.2, 4.0 - 0.1 * t], n=30) for t in range(F)]),
    ]
    instance = np.zeros((F, H, W), dtype=np.int32)
    instance[:, 10:30, 20:40] = 1
    instance[:, 30:40, 40:50] = 2
    unoccluded = np.stack([np.bincount(frame.ravel(), minlength=3) for frame in instance])
    args = (instance, unoccluded, K, T_wc, np.zeros((F, 0, 4, 4)), _no_parts(), None)
    upright = [True, True]
    boxes = deformable_boxes(regions, upright)
    _, frame_by_frame = camera_labels(*args, regions, [1, 1], upright)
    _, once = camera_labels(*args, regions, [1, 1], upright, boxes)
    assert once == frame_by_frame
    assert [len(r) for r in once] == [2] * F
    T, size = upright_box(regions[1][2])
    np.testing.assert_array_equal(boxes[1][0][2], T)
    np.testing.assert_array_equal(boxes[1][1][2], size)
    assert once[2][1]["box3d"]["size"] == np.round(size, 6).tolist()
