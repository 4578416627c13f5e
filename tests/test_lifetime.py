"""Bodies with a lifetime: absent (no physics, not drawn, no labels) outside it, present
and simulated from the moment they appear."""

import json

import numpy as np
import pytest
import trimesh

from simfactory.sim.actors.humanoid import pedestrian_body
from simfactory.sim.model.spec import (
    Body,
    CameraPath,
    CameraSpec,
    LidarSpec,
    Light,
    Material,
    SceneSpec,
    Visual,
)
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.simulate.physics import rollout
from tests.conftest import tiny_config

FPS, FRAMES = 20, 16
G = 9.81
APPEAR, VANISH = 0.25, 0.6  # the cube's lifetime (frames 5 to 11)
STAND_GONE = 0.3  # the stand vanishes under the rider (frame 6)
WALKER = 0.4  # a pedestrian appears (frame 8)


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _box(name, cls, size, pose, colour, **kw) -> Body:
    visual = Visual(trimesh.creation.box(size), Material(name, (*colour, 1.0)))
    return Body(name, cls, [visual], pose=pose, **kw)


def _spec() -> SceneSpec:
    bodies = [
        _box("floor", "floor", (4, 4, 0.1), _translation(0, 0, -0.05), (0.5, 0.5, 0.5)),
        # Appears at 0.25 s half a metre up, moving along +x, and vanishes at 0.6 s.
        _box(
            "cube",
            "box",
            (0.2, 0.2, 0.2),
            _translation(-0.5, 0.0, 0.8),
            (0.8, 0.1, 0.1),
            mass=1.0,
            linear_velocity=(1.0, 0.0, 0.0),
            lifetime=(APPEAR, VANISH),
        ),
        # A static stand that vanishes under a box resting on it: the box then falls.
        _box(
            "stand",
            "table",
            (0.3, 0.3, 0.4),
            _translation(0.6, 0.6, 0.2),
            (0.1, 0.6, 0.1),
            lifetime=(0.0, STAND_GONE),
        ),
        _box(
            "rider",
            "box",
            (0.2, 0.2, 0.2),
            _translation(0.6, 0.6, 0.501),
            (0.1, 0.1, 0.8),
            mass=1.0,
        ),
    ]
    t = np.array([0.0, 1.0])
    walker = pedestrian_body("walker", np.array([[-1.2, 1.2], [-0.4, 1.2]]), t, "walk", 1.2)
    walker.lifetime = (WALKER, None)
    bodies.append(walker)
    camera = CameraSpec(
        "cam0", 64, 48, 70.0, path=CameraPath("static", eye=(0.0, -3.0, 1.5), target=(0, 0, 0.5))
    )
    lidar = LidarSpec(
        "lidar",
        "floor",
        _translation(0.0, -2.0, 0.5),
        channels=16,
        vertical_fov_deg=(-20.0, 20.0),
        horizontal_resolution_deg=2.0,
        range_m=10.0,
    )
    light = Light("directional", direction=(0.3, 0.4, -1.0), cast_shadows=True)
    return SceneSpec("test", bodies, [light], [camera], lidars=[lidar])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    spec = _spec()
    cfg = tiny_config(frames=FRAMES, fps=FPS, **{"export.preview": False})
    out = tmp_path_factory.mktemp("lifetime")
    generate_clip(cfg, 0, out, spec=spec)
    folder = out / "clips" / "clip_000000"
    ann = json.loads((folder / "annotations.json").read_text())
    traj = Trajectory.load(folder / "trajectory.npz")
    instance = np.load(folder / "cam0" / "instance.npz")["instance"]
    points = dict(np.load(folder / "lidar" / "points.npz"))
    return spec, ann, traj, instance, points, folder


def _expected_present(times):
    eps = 1e-9
    return (times >= APPEAR - eps) & (times < VANISH - eps)


def test_present_follows_the_lifetime(clip):
    _, ann, traj, *_ = clip
    cube = traj.part_names.index("cube")
    stand = traj.part_names.index("stand")
    np.testing.assert_array_equal(traj.present[:, cube], _expected_present(traj.times))
    np.testing.assert_array_equal(traj.present[:, stand], traj.times < STAND_GONE - 1e-9)
    assert traj.present[:, traj.part_names.index("rider")].all()
    objects = {o["name"]: o for o in ann["objects"]}
    assert objects["cube"]["present"] == traj.present[:, cube].tolist()


def test_absent_parts_are_not_drawn_nor_labelled(clip):
    _, ann, traj, instance, points, _ = clip
    offsets = points["offsets"]
    for name in ("cube", "stand"):
        p = traj.part_names.index(name)
        present = traj.present[:, p]
        pixels = (instance == p + 1).sum(axis=(1, 2))
        assert (pixels[~present] == 0).all(), name
        assert (pixels[present] > 0).all(), name  # the camera sees it while it exists
        for f, frame in enumerate(ann["cameras"]["cam0"]["frames"]):
            listed = any(o["id"] == p + 1 for o in frame["objects"])
            assert listed == present[f], (name, f)
        ids = [points["instance"][offsets[f] : offsets[f + 1]] for f in range(FRAMES)]
        hits = np.array([(i == p + 1).sum() for i in ids])
        assert (hits[~present] == 0).all(), name
        assert (hits[present] > 0).all(), name
        for c in ann["contacts"]:
            if p + 1 in (c["a"], c["b"]):
                assert present[c["frame"]], (name, c)


def test_physics_starts_when_the_body_appears(clip):
    spec, _, traj, *_ = clip
    cube = traj.part_names.index("cube")
    start = spec.bodies[1].pose[:3, 3]
    present = traj.present[:, cube]
    # While absent it waits where it will appear, at rest.
    before = traj.times < APPEAR
    np.testing.assert_allclose(traj.poses[before, cube, :3, 3], np.tile(start, (before.sum(), 1)))
    assert not traj.linear_velocity[before, cube].any()
    # Then it flies from there with its velocity, falling with g from rest in z.
    t = traj.times[present] - APPEAR
    p = traj.poses[present, cube, :3, 3]
    np.testing.assert_allclose(p[:, 0], start[0] + 1.0 * t, atol=1e-3)
    np.testing.assert_allclose(p[:, 2], start[2] - 0.5 * G * t**2, atol=G * t.max() / 240 + 1e-6)
    # After it vanishes it waits, at rest, where it was then (still flying on).
    after = traj.times >= VANISH - 1e-9
    waiting = traj.poses[after, cube]
    np.testing.assert_array_equal(waiting, np.broadcast_to(waiting[0], waiting.shape))
    assert waiting[0, 0, 3] == pytest.approx(start[0] + 1.0 * (VANISH - APPEAR), abs=1e-3)
    assert not traj.linear_velocity[after, cube].any()


def test_a_vanished_body_holds_nothing_up(clip):
    _, _, traj, *_ = clip
    rider = traj.part_names.index("rider")
    z = traj.poses[:, rider, 2, 3]
    resting = traj.times < STAND_GONE
    np.testing.assert_allclose(z[resting], 0.5, atol=3e-3)
    assert z[-1] < 0.15  # fell to the floor once the stand was gone


def test_old_trajectory_without_present_loads(clip, tmp_path):
    *_, folder = clip
    with np.load(folder / "trajectory.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "present"}
    np.savez(tmp_path / "old.npz", **arrays)
    old = Trajectory.load(tmp_path / "old.npz")
    assert old.present.shape == old.poses.shape[:2] and old.present.all()


def test_lifetime_rollout_is_deterministic(clip):
    spec, _, traj, *_ = clip
    again = rollout(spec, FPS, FRAMES)
    np.testing.assert_array_equal(again.poses, traj.poses)
    np.testing.assert_array_equal(again.present, traj.present)


def test_bad_lifetime_is_refused():
    spec = _spec()
    spec.bodies[1].lifetime = (0.5, 0.2)
    with pytest.raises(ValueError, match="cube: lifetime ends before it starts"):
        rollout(spec, FPS, 2)


def test_an_absent_person_has_no_keypoints(clip):
    _, ann, traj, instance, *_ = clip
    parts = [i for i, n in enumerate(traj.part_names) if n.split("/")[0] == "walker"]
    present = traj.times >= WALKER - 1e-9
    for p in parts:
        np.testing.assert_array_equal(traj.present[:, p], present)
    pixels = np.isin(instance, np.array(parts) + 1).sum(axis=(1, 2))
    assert (pixels[~present] == 0).all() and (pixels[present] > 0).all()
    assert ann["keypoints"]["people"]["walker"]["present"] == present.tolist()
    visibility = np.array(ann["cameras"]["cam0"]["keypoints"]["walker"]["visibility"])
    assert (visibility[~present] == 0).all() and (visibility[present] > 0).any(axis=1).all()
