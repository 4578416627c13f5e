"""Cloths in the engine: a soft body that rests on a table, follows the part anchoring
it and falls when let go, is deterministic, and is labelled (mask, depth, flow, boxes)
from its own vertices."""

import json

import numpy as np
import pytest
import trimesh

from simfactory.sim.annotate.flow import backproject
from simfactory.sim.model.spec import (
    Body,
    CameraPath,
    CameraSpec,
    Cloth,
    ClothAnchor,
    Light,
    Material,
    Motion,
    SceneSpec,
    Visual,
)
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.cloth import corner_vertex, footprint_area, grid, vertex_normals
from simfactory.sim.simulate.physics import rollout
from simfactory.sim.write.encodings import load_labels

TOP = 0.5  # m: the table top's height
FPS, FRAMES = 24, 30
HOLD = (0.3, 0.8)  # s: the anchor's window
MARGIN = 0.003  # m: how far a vertex may sink into the table


def _spec() -> SceneSpec:
    """A table (top and a leg, an exact mesh), a 24 cm cloth on it and a small
    kinematic holder that lifts one corner, carries it over the cloth and lets go."""
    wood = Material("wood", (0.4, 0.25, 0.1, 1.0))
    top = trimesh.creation.box((0.8, 0.6, 0.04))
    top.apply_translation((0.0, 0.0, TOP - 0.02))
    leg = trimesh.creation.box((0.05, 0.05, TOP - 0.04))
    leg.apply_translation((0.3, 0.2, (TOP - 0.04) / 2))
    table = Body("table", "table", [Visual(top, wood), Visual(leg, wood)], collision="exact")
    mesh = grid(0.24, 0.24, 0.03)
    pose = np.eye(4)
    pose[:3, 3] = (0.0, 0.0, TOP + 0.002)
    corner = corner_vertex(mesh, (-1.0, -1.0))
    start = mesh.vertices[corner] + pose[:3, 3] + (0.0, 0.0, 0.005)
    keys = [(0.0, start), (HOLD[0], start), (0.55, (-0.02, -0.02, TOP + 0.12))]
    keys += [(HOLD[1], (0.06, 0.06, TOP + 0.04)), (1.2, (0.06, 0.06, TOP + 0.2))]
    poses = np.tile(np.eye(4), (len(keys), 1, 1))
    poses[:, :3, 3] = [p for _, p in keys]
    holder = Body(
        "holder",
        "robot",
        [Visual(trimesh.creation.box((0.02, 0.02, 0.02)), wood)],
        pose=poses[0],
        collision="none",
        motion=Motion(np.array([t for t, _ in keys]), poses),
    )
    cloth = Cloth(
        "napkin",
        "cloth",
        mesh,
        Material("fabric", (0.05, 0.1, 0.6, 1.0), roughness=0.9),
        pose,
        mass=0.03,
        stretch_stiffness=100.0,
        bend_stiffness=0.1,
        collision_margin=0.002,
        self_collision=False,
        anchors=[ClothAnchor(corner, "holder", *HOLD)],
    )
    camera = CameraSpec(
        "cam0",
        64,
        48,
        50.0,
        path=CameraPath("static", eye=(0.0, -0.45, TOP + 0.35), target=(0, 0, TOP)),
    )
    return SceneSpec(
        "test",
        [table, holder],
        [Light("directional", direction=(0.3, 0.5, -1.0), cast_shadows=True)],
        [camera],
        cloths=[cloth],
    )


@pytest.fixture(scope="module")
def rolled():
    spec = _spec()
    return spec, rollout(spec, FPS, FRAMES)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, rolled):
    spec, _ = rolled
    cfg = load_config(
        [f"frames={FRAMES}", f"fps={FPS}", "resolution=[64,48]", "export.preview=false"]
    )
    out = tmp_path_factory.mktemp("cloth")
    generate_clip(cfg, 0, out, spec=spec)
    folder = out / "clips" / "clip_000000"
    ann = json.loads((folder / "annotations.json").read_text())
    arrays = {k: load_labels(folder / "cam0" / f"{k}.npz") for k in ("depth", "instance", "flow")}
    return spec, Trajectory.load(folder / "trajectory.npz"), ann, arrays


def test_cloth_stays_finite_and_on_the_table(rolled):
    spec, traj = rolled
    vertices = traj.cloth_vertices[0]
    assert traj.cloth_names == ["napkin"]
    assert vertices.shape == (FRAMES, len(spec.cloths[0].mesh.vertices), 3)
    assert np.isfinite(vertices).all()
    assert vertices[..., 2].min() > TOP - MARGIN
    # It lay still before the holder took it, and the fold moved it.
    np.testing.assert_allclose(vertices[1, :, :2], vertices[0, :, :2], atol=1e-3)
    assert np.abs(vertices[-1] - vertices[0]).max() > 0.1


def test_anchored_vertex_follows_its_part_and_falls_when_released(rolled):
    spec, traj = rolled
    anchor = spec.cloths[0].anchors[0]
    holder = traj.part_names.index("holder")
    corner = traj.cloth_vertices[0][:, anchor.vertex]
    held = np.flatnonzero((traj.times >= HOLD[0] + 1 / FPS) & (traj.times < HOLD[1]))
    offset = corner[held] - traj.poses[held, holder, :3, 3]
    assert np.abs(offset - offset[0]).max() < 0.002
    assert corner[held, 2].max() > TOP + 0.1  # it was lifted
    after = traj.times > HOLD[1] + 0.2
    holder_z = traj.poses[after, holder, 2, 3]
    assert (holder_z - corner[after, 2]).min() > 0.03  # let go: it stays down, the holder rises
    assert corner[-1, 2] < TOP + 0.03


def test_same_spec_gives_the_same_vertices(rolled):
    spec, traj = rolled
    again = rollout(_spec(), FPS, FRAMES)
    np.testing.assert_array_equal(again.cloth_vertices[0], traj.cloth_vertices[0])
    np.testing.assert_array_equal(again.poses, traj.poses)


def test_trajectories_save_and_load_cloths(tmp_path, rolled):
    _, traj = rolled
    traj.save(tmp_path / "t.npz")
    back = Trajectory.load(tmp_path / "t.npz")
    assert back.cloth_names == traj.cloth_names
    np.testing.assert_array_equal(back.cloth_vertices[0], traj.cloth_vertices[0])
    # A clip without cloths stores no cloth keys, and loads with none (as old files do).
    rigid = Trajectory(**{**traj.__dict__, "cloth_names": [], "cloth_vertices": []})
    rigid.save(tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as data:
        assert not [k for k in data.files if k.startswith("cloth")]
    assert Trajectory.load(tmp_path / "r.npz").cloth_vertices == []


def test_footprint_and_normals_of_a_grid():
    mesh = grid(0.3, 0.2, 0.05)
    assert len(mesh.vertices) == 7 * 5
    assert footprint_area(mesh.vertices, mesh.faces) == pytest.approx(0.06)
    folded = mesh.vertices.copy()
    right = folded[:, 0] > 0
    folded[right, 0] *= -1.0
    folded[right, 2] = 0.004
    assert footprint_area(folded, mesh.faces) == pytest.approx(0.03)
    np.testing.assert_allclose(vertex_normals(mesh.vertices, mesh.faces), [[0, 0, 1]] * 35)


def _closest(vertices, faces, points):
    """Closest points on a mesh (N, 3), their distances and triangles, by brute force."""
    triangles = vertices[faces]
    n, t = len(points), len(triangles)
    candidates = trimesh.triangles.closest_point(
        np.tile(triangles, (n, 1, 1)), np.repeat(points, t, axis=0)
    ).reshape(n, t, 3)
    distances = np.linalg.norm(candidates - points[:, None], axis=2)
    best = distances.argmin(axis=1)
    return candidates[np.arange(n), best], distances[np.arange(n), best], best


def _cloth_pixels(ann, arrays, frame):
    cam = ann["cameras"]["cam0"]
    cloth = next(o for o in ann["objects"] if o.get("deformable"))
    mask = arrays["instance"]["instance"][frame] == cloth["id"]
    K = np.array(cam["K"])
    points = backproject(arrays["depth"]["depth"][frame], K)[mask]
    T = np.array(cam["T_world_camera"][frame])
    return cloth, mask, points @ T[:3, :3].T + T[:3, 3]


def test_mask_pixels_lie_on_the_cloth_surface(clip):
    spec, traj, ann, arrays = clip
    faces = spec.cloths[0].mesh.faces
    checked = 0
    for frame in (0, 12, FRAMES - 1):
        cloth, mask, world = _cloth_pixels(ann, arrays, frame)
        assert cloth["class"] == "cloth" and mask.sum() > 20
        _, distance, _ = _closest(traj.cloth_vertices[0][frame], faces, world)
        assert distance.max() < 0.003, frame
        record = next(
            o for o in ann["cameras"]["cam0"]["frames"][frame]["objects"] if o["id"] == cloth["id"]
        )
        assert record["visible_pixels"] == mask.sum()
        box = record["box3d"]
        local = (world - box["center_world"]) @ np.array(box["rotation_world"])
        assert np.all(np.abs(local) <= np.array(box["size"]) / 2 + 2e-3)
        checked += 1
    assert checked == 3


def test_flow_follows_the_cloths_own_vertices(clip):
    spec, traj, ann, arrays = clip
    faces = spec.cloths[0].mesh.faces
    cam = ann["cameras"]["cam0"]
    K = np.array(cam["K"])
    errors, motion = [], []
    for frame in range(8, 20):  # the corner is being carried: the cloth deforms
        cloth, mask, world = _cloth_pixels(ann, arrays, frame)
        valid = arrays["flow"]["forward_valid"][frame][mask]
        flow = arrays["flow"]["forward"][frame][mask]
        now = traj.cloth_vertices[0][frame]
        points, _, triangle = _closest(now, faces, world)
        bary = trimesh.triangles.points_to_barycentric(now[faces[triangle]], points)
        nxt = traj.cloth_vertices[0][frame + 1][faces[triangle]]
        moved = np.einsum("nk,nkj->nj", bary, nxt)  # the same surface points a frame later
        T_cw = np.linalg.inv(np.array(cam["T_world_camera"][frame + 1]))
        uvw = (moved @ T_cw[:3, :3].T + T_cw[:3, 3]) @ K.T
        v, u = np.nonzero(mask)
        expected = uvw[:, :2] / uvw[:, 2:] - np.column_stack([u, v])
        errors.append(np.abs(flow - expected)[valid])
        motion.append(np.abs(expected)[valid])
    errors = np.concatenate(errors)
    assert len(errors) > 50
    assert np.concatenate(motion).max() > 1.0  # pixels: the cloth moves in the image
    assert errors.max() < 0.05  # pixels
