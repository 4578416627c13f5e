import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from simfactory.sim.annotate.boxes import (
    amodal_box,
    box_corners,
    box_record,
    oriented_box,
    pixel_counts,
    points_in_box,
    visible_boxes,
)
from simfactory.sim.annotate.flow import (
    backproject,
    flow_from_projections,
    flow_to_rgb,
    optical_flow,
    visible_in_b,
)

H, W = 360, 640
K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 179.5], [0.0, 0.0, 1.0]])
# Camera 1.5 m above the floor looking along world +x (OpenCV axes: x right, y down).
R_LOOK_X = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def pose(rotation=None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = rotation
    T[:3, 3] = translation
    return T


def rot(axis: str, degrees: float) -> np.ndarray:
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


T_WC = pose(R_LOOK_X, (0.0, 0.0, 1.5))


def render(T_wc, part_poses, rects):
    """Ray-cast rectangles: rect = (part, id, T_part_rect, (hx, hy)) in the rect's z=0 plane.

    Returns depth (H, W) float32, ids (H, W) uint16 and part-local hit points (H, W, 3).
    """
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
    depth = np.full((H, W), np.inf)
    ids = np.zeros((H, W), dtype=np.uint16)
    local = np.zeros((H, W, 3))
    for part, rid, T_part_rect, (hx, hy) in rects:
        T_rect_cam = np.linalg.inv(part_poses[part] @ T_part_rect) @ T_wc
        origin = T_rect_cam[:3, 3]
        dirs = rays @ T_rect_cam[:3, :3].T
        with np.errstate(divide="ignore", invalid="ignore"):
            s = -origin[2] / dirs[..., 2]
        hit = origin + s[..., None] * dirs
        inside = (s > 0) & (np.abs(hit[..., 0]) <= hx) & (np.abs(hit[..., 1]) <= hy)
        closer = inside & (s < depth)
        depth[closer] = s[closer]
        ids[closer] = rid
        hit_part = hit @ T_part_rect[:3, :3].T + T_part_rect[:3, 3]
        local[closer] = hit_part[closer]
    depth[~np.isfinite(depth)] = 0.0
    return depth.astype(np.float32), ids, local


def project_local(local, part_of_pixel, part_poses, T_wc):
    """Independent reference: pixel coordinates in a camera of part-local points."""
    T = np.linalg.inv(T_wc) @ part_poses[part_of_pixel]
    cam = np.einsum("nij,nj->ni", T[:, :3, :3], local) + T[:, :3, 3]
    uvw = cam @ K.T
    return uvw[:, :2] / uvw[:, 2:], cam[:, 2]


def assert_flow_equal(flow, expected):
    np.testing.assert_allclose(flow, np.broadcast_to(expected, flow.shape), atol=1e-3)


def in_camera(T_cam_part):
    """A part pose given in the frame of camera T_WC."""
    return T_WC @ T_cam_part


def test_backproject_reprojects_to_pixel_centres():
    depth = np.random.default_rng(0).uniform(0.5, 4.0, (H, W)).astype(np.float32)
    points = backproject(depth, K)
    assert points.shape == (H, W, 3) and points.dtype == np.float64
    uv = points @ K.T
    uv = uv[..., :2] / uv[..., 2:]
    v, u = np.mgrid[0:H, 0:W]
    np.testing.assert_allclose(uv[..., 0], u, atol=1e-9)
    np.testing.assert_allclose(uv[..., 1], v, atol=1e-9)
    np.testing.assert_allclose(points[..., 2], depth, rtol=1e-7)


def test_translation_flow_and_leaving_frame():
    # A fronto-parallel plane 2 m away, 2 m x 1 m, slid 0.4 m right: 100 px at f=500.
    poses_a = np.array([in_camera(pose(translation=(0.0, 0.0, 2.0)))])
    poses_b = np.array([in_camera(pose(translation=(0.4, 0.0, 2.0)))])
    rects = [(0, 1, np.eye(4), (1.0, 0.5))]
    depth_a, ids_a, _ = render(T_WC, poses_a, rects)
    depth_b, ids_b, _ = render(T_WC, poses_b, rects)
    id_to_part = np.array([-1, 0])

    flow, valid = optical_flow(
        depth_a, ids_a, K, T_WC, poses_a, depth_b, ids_b, K, T_WC, poses_b, id_to_part
    )
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    assert valid.shape == (H, W) and valid.dtype == bool
    surface = ids_a > 0
    assert surface.sum() == 500 * 250
    assert_flow_equal(flow[surface], (100.0, 0.0))
    assert not flow[~surface].any()

    col = np.arange(W)[None, :]
    np.testing.assert_array_equal(valid, surface & (col + 100 < W))


@pytest.mark.parametrize("shift_px", [0.4, 0.6, -0.4, -0.6])
def test_subpixel_shift_uses_nearest_pixel(shift_px):
    # A plane filling the frame shifted right by a fraction of a pixel: a point lands on
    # its nearest pixel, so the last column leaves the frame once the shift passes 0.5 px.
    dx = shift_px * 2.0 / 500.0
    poses_a = np.array([in_camera(pose(translation=(0.0, 0.0, 2.0)))])
    poses_b = np.array([in_camera(pose(translation=(dx, 0.0, 2.0)))])
    rects = [(0, 1, np.eye(4), (5.0, 5.0))]
    depth_a, ids_a, _ = render(T_WC, poses_a, rects)
    depth_b, ids_b, _ = render(T_WC, poses_b, rects)
    flow, valid = optical_flow(
        depth_a, ids_a, K, T_WC, poses_a, depth_b, ids_b, K, T_WC, poses_b, np.array([-1, 0])
    )
    assert_flow_equal(flow, (shift_px, 0.0))
    lost = np.zeros(W, dtype=bool)
    if shift_px > 0.5:
        lost[-1] = True
    if shift_px < -0.5:
        lost[0] = True
    np.testing.assert_array_equal(valid, np.broadcast_to(~lost, (H, W)))


def test_occluded_points_are_invalid_but_keep_their_flow():
    # Part 0: wall 2 m away sliding 0.1 m right (25 px). Part 1: a 0.2 m card 1 m away
    # sliding 0.5 m right (250 px), from cols 20..119 to cols 270..369, rows 130..229.
    wall, card = (0, 1, np.eye(4), (1.0, 0.5)), (1, 2, np.eye(4), (0.1, 0.1))
    poses_a = np.array(
        [in_camera(pose(translation=(0.0, 0.0, 2.0))), in_camera(pose(translation=(-0.5, 0, 1)))]
    )
    poses_b = np.array(
        [in_camera(pose(translation=(0.1, 0.0, 2.0))), in_camera(pose(translation=(0.0, 0, 1)))]
    )
    depth_a, ids_a, _ = render(T_WC, poses_a, [wall, card])
    depth_b, ids_b, _ = render(T_WC, poses_b, [wall, card])
    id_to_part = np.array([-1, 0, 1])
    flow, valid = optical_flow(
        depth_a, ids_a, K, T_WC, poses_a, depth_b, ids_b, K, T_WC, poses_b, id_to_part
    )

    row, col = np.mgrid[0:H, 0:W]
    on_wall, on_card = ids_a == 1, ids_a == 2
    assert on_card.sum() == 100 * 100
    assert_flow_equal(flow[on_wall], (25.0, 0.0))
    assert_flow_equal(flow[on_card], (250.0, 0.0))
    hidden = on_wall & (row >= 130) & (row < 230) & (col + 25 >= 270) & (col + 25 < 370)
    assert hidden.sum() == 100 * 100
    np.testing.assert_array_equal(valid[on_wall], ~hidden[on_wall])
    assert valid[on_card].all()

    # The depth test: same id but a surface 10 cm off is rejected, 3 cm off is accepted.
    for offset, expected in ((0.1, False), (0.03, True)):
        shifted = depth_b + np.float32(offset) * (ids_b == 1)
        _, valid_shifted = optical_flow(
            depth_a, ids_a, K, T_WC, poses_a, shifted, ids_b, K, T_WC, poses_b, id_to_part
        )
        assert np.all(valid_shifted[on_wall & valid] == expected)
        assert valid_shifted[on_card].all()
    # The id test: the same depth under another id is rejected.
    relabelled = np.where(ids_b == 1, 3, ids_b).astype(np.uint16)
    _, valid_relabelled = optical_flow(
        depth_a, ids_a, K, T_WC, poses_a, depth_b, relabelled, K, T_WC, poses_b, [-1, 0, 1, 0]
    )
    assert not valid_relabelled[on_wall].any()
    assert valid_relabelled[on_card].all()


def test_rigid_motion_matches_reference_projection():
    # A tilted board (ids 1 and 3 on the same part) turning and moving while the camera
    # moves and turns; a second part (id 2) spins in place.
    board = pose(rot("y", 30) @ rot("x", -20), (0.2, 0.1, 3.0))
    poses_a = np.array([in_camera(board), in_camera(pose(rot("z", 10), (-0.8, -0.3, 4.0)))])
    poses_b = poses_a.copy()
    poses_b[0] = poses_a[0] @ pose(rot("xyz", [5, -8, 12]), (0.05, -0.03, 0.08))
    poses_b[1] = poses_a[1] @ pose(rot("z", 15))
    T_wc_b = T_WC @ pose(rot("yx", [3, -2]), (0.05, 0.02, -0.1))
    rects = [
        (0, 1, pose(translation=(-0.3, 0.0, 0.0)), (0.3, 0.4)),
        (0, 3, pose(translation=(0.3, 0.0, 0.0)), (0.3, 0.4)),
        (1, 2, np.eye(4), (0.3, 0.3)),
    ]
    id_to_part = np.array([-1, 0, 1, 0])
    depth_a, ids_a, local_a = render(T_WC, poses_a, rects)
    depth_b, ids_b, _ = render(T_wc_b, poses_b, rects)
    flow, valid = optical_flow(
        depth_a, ids_a, K, T_WC, poses_a, depth_b, ids_b, K, T_wc_b, poses_b, id_to_part
    )

    surface = ids_a > 0
    assert set(np.unique(ids_a[surface])) == {1, 2, 3}
    uv_b, z_b = project_local(local_a[surface], id_to_part[ids_a[surface]], poses_b, T_wc_b)
    assert np.all(z_b > 0)
    v, u = np.nonzero(surface)
    expected = uv_b - np.stack([u, v], axis=1)
    assert np.abs(expected).max() > 10.0
    np.testing.assert_allclose(flow[surface], expected, atol=1e-3)

    # Valid pixels land inside frame b; points well inside both frame and rectangle are valid.
    inside = (uv_b[:, 0] > -0.5) & (uv_b[:, 0] < W - 0.5)
    inside &= (uv_b[:, 1] > -0.5) & (uv_b[:, 1] < H - 0.5)
    assert not valid[surface][~inside].any()
    half = np.array([[0.3, 0.4], [0.3, 0.3], [0.3, 0.4]])[ids_a[surface] - 1]
    centre_x = np.array([-0.3, 0.0, 0.3])[ids_a[surface] - 1]
    rect_xy = np.abs(local_a[surface][:, :2] - np.stack([centre_x, 0 * centre_x], axis=1))
    core = np.all(rect_xy < half - 0.03, axis=1) & (uv_b[:, 0] > 2) & (uv_b[:, 0] < W - 3)
    core &= (uv_b[:, 1] > 2) & (uv_b[:, 1] < H - 3)
    assert core.sum() > 10000
    assert valid[surface][core].all()


def test_pure_camera_rotation_flow_is_the_same_for_all_parts():
    # Two static parts at different depths; the camera turns about its own centre, so
    # the flow is the homography K R K^-1 whatever the depth or part.
    poses = np.array(
        [
            in_camera(pose(rot("y", 20), (-0.5, 0.0, 1.5))),
            in_camera(pose(rot("x", -15), (0.6, 0.1, 6.0))),
        ]
    )
    rects = [(0, 1, np.eye(4), (0.6, 0.6)), (1, 2, np.eye(4), (2.0, 2.0))]
    id_to_part = np.array([-1, 0, 1])
    R_ab = rot("xyz", [2, -4, 3])
    T_wc_b = T_WC @ pose(R_ab)
    depth_a, ids_a, _ = render(T_WC, poses, rects)
    depth_b, ids_b, _ = render(T_wc_b, poses, rects)
    flow, valid = optical_flow(
        depth_a, ids_a, K, T_WC, poses, depth_b, ids_b, K, T_wc_b, poses, id_to_part
    )

    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ (K @ R_ab.T @ np.linalg.inv(K)).T
    expected = rays[..., :2] / rays[..., 2:] - np.stack([u, v], axis=-1)
    for rid in (1, 2):
        mask = ids_a == rid
        assert mask.sum() > 1000
        np.testing.assert_allclose(flow[mask], expected[mask], atol=1e-3)
        assert valid[mask].mean() > 0.9


def _plain_visible(u_b, v_b, z_b, ids, ids_b, depth_b, depth_tol):
    """visible_in_b's test written plainly: the nearest pixel of frame b by integer
    indices, each comparison a new array."""
    h_b, w_b = depth_b.shape
    j_b, i_b = np.floor(u_b + 0.5), np.floor(v_b + 0.5)
    inside = (z_b > 1e-6) & (j_b >= 0) & (j_b < w_b) & (i_b >= 0) & (i_b < h_b)
    flat_b = np.clip(i_b, 0, h_b - 1).astype(np.intp) * w_b + np.clip(j_b, 0, w_b - 1).astype(
        np.intp
    )
    same = np.take(ids_b.ravel(), flat_b) == ids
    close = np.abs(np.take(depth_b.ravel(), flat_b) - z_b) <= depth_tol * z_b + 0.005
    return inside & same & close


def test_flow_from_projections_is_the_per_pixel_test_bit_for_bit():
    """The float32 path gives the flow and validity of the plain formulation (the flow
    where the pixel has a surface in front of camera b, and visible_in_b's test written
    plainly), bit for bit, for projections inside, on the edges of and outside frame b;
    and so does visible_in_b in float64."""
    rng = np.random.default_rng(5)
    h, w = 48, 64
    ids_a = rng.integers(0, 4, (h, w)).astype(np.uint16)
    ids_b = rng.integers(0, 4, (h, w)).astype(np.uint16)
    depth_a = rng.uniform(-0.1, 3.0, (h, w)).astype(np.float32)
    depth_b = rng.uniform(0.0, 3.0, (h, w)).astype(np.float32)
    uv = rng.uniform(-3.0, w + 3.0, (h, w, 4)).astype(np.float32)
    uv[..., 1] = rng.uniform(-3.0, h + 3.0, (h, w))
    uv[:4, :, 0] = np.float32(-0.5)  # on the first column's edge
    uv[4:8, :, 0] = np.float32(w - 0.5)  # just outside the last one
    z = np.empty((h, w, 2), np.float32)
    z[..., 0] = rng.uniform(-0.5, 3.0, (h, w))
    # the lower half at depths around the tolerance from those frame b shows there
    i_b = np.clip(np.floor(uv[..., 1] + 0.5), 0, h - 1).astype(int)
    j_b = np.clip(np.floor(uv[..., 0] + 0.5), 0, w - 1).astype(int)
    scale = rng.uniform(0.97, 1.03, (h, w)).astype(np.float32)
    z[h // 2 :, :, 0] = (depth_b[i_b, j_b] * scale)[h // 2 :]
    ids_a[h // 2 :] = np.where(rng.random((h, w)) < 0.8, ids_b[i_b, j_b], ids_a)[h // 2 :]
    uv, z = uv[::-1][::-1], z[::-1][::-1]  # row-flipped views, as the renderer reads
    flow, valid = flow_from_projections(ids_a, depth_a, uv[..., :2], z[..., 0], ids_b, depth_b)
    u_a, v_a = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    front = (ids_a > 0) & (depth_a > 0) & (z[..., 0] > 1e-6)
    want = np.stack([uv[..., 0] - u_a, uv[..., 1] - v_a], axis=-1)
    want[~front] = 0.0
    want_valid = front & _plain_visible(
        uv[..., 0], uv[..., 1], z[..., 0], ids_a, ids_b, depth_b, 0.02
    )  # fmt: skip
    assert flow.dtype == np.float32 and np.array_equal(flow.view(np.uint32), want.view(np.uint32))
    assert np.array_equal(valid, want_valid)
    assert 0 < valid.sum() < front.sum()  # both outcomes occur
    wide = [a.astype(np.float64) for a in (uv[..., 0], uv[..., 1], z[..., 0], depth_b)]
    plain = _plain_visible(wide[0], wide[1], wide[2], ids_a, ids_b, wide[3], 0.02)
    got = visible_in_b(wide[0], wide[1], wide[2], ids_a, ids_b, wide[3], 0.02)
    assert np.array_equal(got, plain) and 0 < got.sum()


def test_flow_to_rgb():
    flow = np.zeros((4, 5, 2), dtype=np.float32)
    flow[0, 0] = (3.0, 0.0)
    flow[0, 1] = (0.0, -3.0)
    valid = np.ones((4, 5), dtype=bool)
    valid[3] = False
    rgb = flow_to_rgb(flow, valid, max_mag=3.0)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    assert not rgb[3].any()
    np.testing.assert_array_equal(rgb[1, 1], [255, 255, 255])
    assert not np.array_equal(rgb[0, 1], rgb[0, 0])
    assert flow_to_rgb(flow, np.zeros_like(valid)).sum() == 0


def random_id_image(rng, num_ids):
    ids = rng.integers(0, num_ids + 1, size=(48, 64)).astype(np.uint16)
    ids[rng.random(ids.shape) < 0.5] = 0
    for k in rng.choice(np.arange(1, num_ids + 1), size=num_ids // 2, replace=False):
        y, x = rng.integers(0, 48), rng.integers(0, 64)
        ids[y : y + rng.integers(1, 20), x : x + rng.integers(1, 20)] = k
    ids[ids == 7] = 0
    return ids


def test_visible_boxes_match_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(5):
        num_ids = 40
        ids = random_id_image(rng, num_ids)
        boxes = visible_boxes(ids, num_ids)
        counts = pixel_counts(ids, num_ids)
        assert boxes.shape == (num_ids + 1, 4) and boxes.dtype == np.float64
        assert counts.dtype == np.int64
        for k in range(num_ids + 1):
            rows, cols = np.nonzero(ids == k)
            assert counts[k] == len(rows)
            if len(rows) == 0:
                assert np.isnan(boxes[k]).all()
            else:
                expected = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
                np.testing.assert_array_equal(boxes[k], expected)
        assert np.isnan(boxes[7]).all()


def test_visible_box_uses_pixel_edges():
    ids = np.zeros((10, 12), dtype=np.uint16)
    ids[2:4, 3:6] = 2
    boxes = visible_boxes(ids, 3)
    np.testing.assert_array_equal(boxes[2], [3, 2, 6, 4])
    assert np.isnan(boxes[1]).all() and np.isnan(boxes[3]).all()
    with pytest.raises(ValueError):
        pixel_counts(ids, 1)


def test_amodal_box_of_box_corners():
    T_cam_box = pose(rot("xyz", [10, 35, -5]), (0.3, -0.2, 2.5))
    corners = box_corners(T_cam_box, [0.6, 0.4, 0.8])
    uvw = corners @ K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    expected = np.concatenate([uv.min(axis=0), uv.max(axis=0)]) + 0.5
    np.testing.assert_allclose(amodal_box(corners, K), expected, atol=1e-9)
    # A hull reaching behind the camera is clipped at the near plane: its box grows
    # towards where it crosses the plane, never shrinks.
    behind = np.vstack([corners, [[5.0, 5.0, -1.0], [1.0, 1.0, 0.0]]])
    grown = amodal_box(behind, K)
    assert np.all(grown[:2] <= expected[:2] + 1e-9) and np.all(grown[2:] > expected[2:])
    # A ground plane under the camera, from behind it to far ahead, covers the image's
    # lower edge (the old "ignore points behind" box missed it).
    ground = np.array(
        [[-50.0, 1.5, -20.0], [50.0, 1.5, -20.0], [-50.0, 1.5, 80.0], [50.0, 1.5, 80.0]]
    )
    box = amodal_box(ground, K)
    assert box[0] < 0 and box[2] > 2 * K[0, 2] and box[3] > 2 * K[1, 2]
    assert np.isnan(amodal_box(corners - [0, 0, 10], K)).all()
    far_right = amodal_box(corners + [3.0, 0.0, 0.0], K)
    assert far_right[0] > W


def test_oriented_box_recovers_rotated_box():
    extents = np.array([0.8, 0.3, 0.5])
    T_part_box = pose(rot("xyz", [20, -35, 50]), (0.1, 0.2, -0.3))
    mesh = trimesh.creation.box(extents=extents, transform=T_part_box)
    T, ext = oriented_box(mesh.vertices)
    np.testing.assert_allclose(np.sort(ext), np.sort(extents), atol=1e-6)
    np.testing.assert_allclose(T[:3, 3], T_part_box[:3, 3], atol=1e-6)
    assert np.linalg.det(T[:3, :3]) == pytest.approx(1.0)
    assert points_in_box(mesh.vertices, T, ext, tol=1e-6).all()


def test_oriented_box_keeps_part_axes_when_nearly_tight():
    extents = np.array([0.8, 0.3, 0.5])
    mesh = trimesh.creation.box(extents=extents, transform=pose(translation=(1.0, 0, 0.25)))
    T, ext = oriented_box(mesh.vertices)
    np.testing.assert_allclose(T, pose(translation=(1.0, 0, 0.25)), atol=1e-12)
    np.testing.assert_allclose(ext, extents, atol=1e-12)
    # A round table top: the aligned box is as small as any other.
    top = trimesh.creation.cylinder(radius=0.5, height=0.04, sections=64)
    T, ext = oriented_box(top.vertices)
    np.testing.assert_allclose(T[:3, :3], np.eye(3))
    np.testing.assert_allclose(ext, top.extents)
    # A flat square turned in its plane gets the turned box.
    square = np.array([[x, y, 0.0] for x in (-0.5, 0.5) for y in (-0.5, 0.5)])
    square = square @ rot("z", 30).T
    T, ext = oriented_box(square)
    np.testing.assert_allclose(np.sort(ext), [0.0, 1.0, 1.0], atol=1e-6)


def test_box_corners_and_points_in_box():
    T = pose(rot("z", 90), (1.0, 2.0, 3.0))
    corners = box_corners(T, [2.0, 4.0, 6.0])
    assert corners.shape == (8, 3)
    np.testing.assert_allclose(corners.mean(axis=0), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(np.ptp(corners, axis=0), [4.0, 2.0, 6.0], atol=1e-12)
    assert points_in_box(corners, T, [2.0, 4.0, 6.0], tol=1e-9).all()
    points = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 6.05], [2.9, 2.0, 3.0], [1.0, 2.9, 3.0]])
    np.testing.assert_array_equal(
        points_in_box(points, T, [2.0, 4.0, 6.0], tol=0.0), [True, False, True, True]
    )
    np.testing.assert_array_equal(
        points_in_box(points, T, [2.0, 4.0, 6.0], tol=0.1), [True, True, True, True]
    )


def test_box_record_frames_and_quaternions():
    T_world_box = pose(rot("xyz", [170, -40, 120]), (2.0, -1.0, 0.4))
    T_world_camera = pose(R_LOOK_X @ rot("x", -10), (-1.0, 0.5, 1.6))
    record = box_record(T_world_box, np.array([0.5, 0.25, 0.125]), T_world_camera)
    assert set(record) == {
        "center_world",
        "rotation_world",
        "quat_wxyz_world",
        "center_camera",
        "rotation_camera",
        "quat_wxyz_camera",
        "size",
    }
    expected = np.linalg.inv(T_world_camera) @ np.append(T_world_box[:3, 3], 1.0)
    np.testing.assert_allclose(record["center_camera"], expected[:3], atol=1e-6)
    np.testing.assert_allclose(record["center_world"], [2.0, -1.0, 0.4])
    assert record["size"] == [0.5, 0.25, 0.125]
    for frame, R in (
        ("world", T_world_box[:3, :3]),
        ("camera", T_world_camera[:3, :3].T @ T_world_box[:3, :3]),
    ):
        np.testing.assert_allclose(record[f"rotation_{frame}"], R, atol=1e-6)
        q = record[f"quat_wxyz_{frame}"]
        assert q[0] >= 0 and all(isinstance(x, float) for x in q)
        R_q = Rotation.from_quat(q, scalar_first=True).as_matrix()
        np.testing.assert_allclose(R_q, R, atol=1e-5)
    assert all(len(str(x).split(".")[-1]) <= 6 for x in record["center_camera"])
