"""Pedestrians: DeepMimic clips in Z up, humanoid puppets in the physics rollout, and
pedestrian plans on sidewalks and crosswalks."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest
import trimesh
from scipy.spatial.transform import Rotation
from shapely.geometry import LineString, Point

from simfactory.scenes.driving.network import Crosswalk, Lane, RoadNetwork
from simfactory.scenes.driving.pedestrians import pedestrian_bodies, plan_pedestrians
from simfactory.sim.actors.humanoid import (
    CLIP_JOINTS,
    HUMANOID_URDF,
    MODEL_SCALE,
    load_clip,
    model_extent_z,
    pedestrian_body,
    standing_pose,
)
from simfactory.sim.model.motion import motion_pose, pose_from_pos_quat_xyzw
from simfactory.sim.model.spec import Body, JointMotion, Light, Material, Motion, SceneSpec, Visual
from simfactory.sim.simulate.physics import rollout

FPS = 24


def _urdf_joints() -> dict[str, int]:
    """URDF joint name -> pybullet joint type."""
    c = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, physicsClientId=c)
        infos = [
            pb.getJointInfo(uid, j, physicsClientId=c)
            for j in range(pb.getNumJoints(uid, physicsClientId=c))
        ]
    finally:
        pb.disconnect(c)
    return {info[1].decode(): info[2] for info in infos}


def test_clips_parse_in_deepmimic_joint_order():
    walk, run = load_clip("walk"), load_clip("run")
    assert len(walk.frame_times) == 39 and len(run.frame_times) == 25
    assert walk.duration == pytest.approx(38 * 0.033332) and walk.loop and run.loop
    types = _urdf_joints()
    assert [name for name, _ in CLIP_JOINTS] == list(walk.joints)
    for name, width in CLIP_JOINTS:
        assert types[name] == (pb.JOINT_SPHERICAL if width == 4 else pb.JOINT_REVOLUTE)
    for clip in (walk, run):
        assert np.allclose(np.linalg.norm(clip.root_quat_xyzw, axis=1), 1.0)
        for values in clip.joints.values():
            if values.ndim == 2:
                assert np.allclose(np.linalg.norm(values, axis=1), 1.0)
            assert np.allclose(values[-1], values[0])  # seamless loop
        # Knees bend backwards only (URDF limits [-pi, 0]), elbows forwards only.
        assert (clip.joints["right_knee"] <= 0.01).all()
        assert (clip.joints["left_knee"] <= 0.01).all()
        assert (clip.joints["right_elbow"] >= -0.01).all()
        assert (clip.joints["left_elbow"] >= -0.01).all()
    # Walking at about 1 m/s, running at about 3.5 m/s, both along +x.
    assert walk.stride_speed == pytest.approx(0.98, abs=0.05)
    assert run.stride_speed == pytest.approx(3.56, abs=0.1)
    assert walk.root_pos[-1, 0] > 1.0 and abs(walk.root_pos[-1, 1]) < 0.05


def test_clip_is_z_up_with_feet_on_the_ground():
    walk = load_clip("walk")
    lowest, highest = model_extent_z(walk.root_pos, walk.root_quat_xyzw, walk.joints, MODEL_SCALE)
    assert lowest.min() > -0.02 and lowest.max() < 0.03  # a foot is always on the ground
    assert (highest > 1.5).all() and (highest < 1.7).all()
    # The model's up (+y) is world +z, its forward (+x) world +x, its right side -y.
    up = Rotation.from_quat(walk.root_quat_xyzw).apply([0.0, 1.0, 0.0])
    forward = Rotation.from_quat(walk.root_quat_xyzw).apply([1.0, 0.0, 0.0])
    assert (up[:, 2] > 0.95).all() and (forward[:, 0] > 0.9).all()
    right_hip = Rotation.from_quat(walk.root_quat_xyzw[0]).apply([0.0, 0.0, 0.339548])
    assert right_hip[1] < 0
    root_z, height = standing_pose()
    assert height == pytest.approx(1.62, abs=0.01) and 0.85 < root_z < 0.9


@pytest.fixture(scope="module")
def walker():
    """A 1.8 m pedestrian walking diagonally at 1.4 m/s on a ground box."""
    t = np.linspace(0.0, 2.0, 61)
    direction = np.array([0.6, 0.8])
    path = np.array([1.0, 2.0]) + np.outer(1.4 * t, direction)
    body = pedestrian_body("ped", path, t, "walk", 1.8, phase=0.3)
    below = trimesh.transformations.translation_matrix((0, 0, -0.1))
    box = trimesh.creation.box((20, 20, 0.2), transform=below)
    ground = Body("ground", "road", [Visual(box, Material("asphalt"))], collision="box")
    spec = SceneSpec("test", [ground, body], [Light("directional")], [])
    return spec, t, path, direction


def _link_shapes(scale: float) -> dict[str, tuple[int, tuple, np.ndarray]]:
    """Link name -> (geometry type, dimensions, T_link_shape) of the humanoid's collision shapes."""
    c = pb.connect(pb.DIRECT)
    shapes = {}
    try:
        uid = pb.loadURDF(HUMANOID_URDF, globalScaling=scale, physicsClientId=c)
        for j in range(pb.getNumJoints(uid, physicsClientId=c)):
            name = pb.getJointInfo(uid, j, physicsClientId=c)[12].decode()
            info = pb.getDynamicsInfo(uid, j, physicsClientId=c)
            (shape,) = pb.getCollisionShapeData(uid, j, physicsClientId=c)
            T_link_inertial = pose_from_pos_quat_xyzw(info[3], info[4])
            T = T_link_inertial @ pose_from_pos_quat_xyzw(shape[5], shape[6])
            shapes[name] = (shape[2], shape[3], T)
    finally:
        pb.disconnect(c)
    return shapes


def test_pedestrian_rollout_follows_its_script(walker):
    spec, t, path, direction = walker
    body = spec.bodies[1]
    traj = rollout(spec, FPS, 10)
    names = traj.part_names
    base = names.index("ped")
    times = traj.times
    # The base follows the planned track (sway of a few cm), facing along it, upright.
    planned = np.stack([np.interp(times, t, path[:, k]) for k in range(2)], axis=1)
    assert np.abs(traj.poses[:, base, :2, 3] - planned).max() < 0.08
    forward, up = traj.poses[:, base, :3, 0], traj.poses[:, base, :3, 1]
    assert (forward[:, :2] @ direction > 0.95).all() and (up[:, 2] > 0.95).all()
    # Exactly the scripted pose: not pushed by gravity nor by the ground.
    for f in range(10):
        assert np.allclose(traj.poses[f, base], motion_pose(body.motion, times[f]), atol=1e-6)
    assert not any("ped" in names[a] or "ped" in names[b] for a, b in traj.contact_parts)
    # Links where the scripted joints put them: feet on the ground, the head on top.
    shapes = _link_shapes(body.urdf_scale)
    heights = {}
    for name, (kind, dims, T_link_shape) in shapes.items():
        T = traj.poses[:, names.index(f"ped/{name}")] @ T_link_shape
        if kind == pb.GEOM_BOX:
            corners = np.stack(np.meshgrid(*[[-d / 2, d / 2] for d in dims]), -1).reshape(-1, 3)
            z = np.einsum("fj,cj->fc", T[:, 2, :3], corners) + T[:, 2, 3:]
            heights[name] = (z.min(axis=1), z.max(axis=1))
        else:
            heights[name] = (T[:, 2, 3], T[:, 2, 3])
    feet = np.minimum(heights["left_ankle"][0], heights["right_ankle"][0])
    assert (feet > -0.05).all() and (feet < 0.15).all()
    head = heights["neck"][1]
    assert all((head > z[1]).all() for name, z in heights.items() if name != "neck")
    assert (head > 1.3).all()
    # Revolute joints are recorded; spherical ones are not.
    assert "ped/right_knee" in traj.joint_names and "ped/right_hip" not in traj.joint_names
    knee = traj.joint_positions[:, traj.joint_names.index("ped/right_knee")]
    keys = body.joint_motion.positions["right_knee"]
    assert np.allclose(knee, np.interp(times, body.joint_motion.times, keys), atol=1e-6)
    # Deterministic.
    again = rollout(spec, FPS, 10)
    assert np.array_equal(traj.poses, again.poses)
    assert np.array_equal(traj.linear_velocity, again.linear_velocity)


def test_pedestrian_link_velocities_match_their_motion(walker):
    """At 120 fps (finite differences of 60 Hz keys are accurate there), recorded link
    velocities match the motion of the recorded link poses."""
    spec = walker[0]
    fps = 120
    traj = rollout(spec, fps, 10)
    parts = [i for i, name in enumerate(traj.part_names) if name.startswith("ped")]
    poses = traj.poses[:, parts]
    positions = poses[:, :, :3, 3]
    linear = (positions[2:] - positions[:-2]) * fps / 2
    recorded = traj.linear_velocity[1:-1, parts]
    speed = np.linalg.norm(recorded, axis=-1)
    assert speed.max() > 2.0  # a swinging foot: joint velocities count
    assert np.linalg.norm(linear - recorded, axis=-1).max() < 0.1 * speed.max()
    R = poses[:, :, :3, :3]
    turn = Rotation.from_matrix((R[2:] @ np.swapaxes(R[:-2], -1, -2)).reshape(-1, 3, 3))
    angular = turn.as_rotvec().reshape(linear.shape) * fps / 2
    spin = traj.angular_velocity[1:-1, parts]
    assert np.linalg.norm(angular - spin, axis=-1).max() < 0.1 * np.linalg.norm(spin, axis=-1).max()


def test_puppet_with_offset_inertia_and_smooth_motion_follows_its_script():
    """The engine side on another URDF: kuka's base inertial frame is off its link frame."""
    import pybullet_data

    start, end = np.eye(4), np.eye(4)
    end[:3, :3] = Rotation.from_euler("z", 1.0).as_matrix()
    end[:3, 3] = [0.5, -0.3, 0.2]
    keys = np.array([0.0, 0.1])
    arm = Body(
        "arm",
        "robot",
        urdf_path=f"{pybullet_data.getDataPath()}/kuka_iiwa/model.urdf",
        motion=Motion(keys, np.stack([start, end])),
        joint_motion=JointMotion(keys, {"lbr_iiwa_joint_2": np.array([0.0, 1.2])}),
    )
    fps = 240
    traj = rollout(SceneSpec("test", [arm], [], []), fps, 16)
    base = traj.part_names.index("arm")
    for f, t in enumerate(traj.times):
        assert np.allclose(traj.poses[f, base], motion_pose(arm.motion, t), atol=1e-6)
    q = traj.joint_positions[:, traj.joint_names.index("arm/lbr_iiwa_joint_2")]
    assert np.allclose(q, np.interp(traj.times, keys, [0.0, 1.2]))
    positions = traj.poses[:, :, :3, 3]
    linear = (positions[2:] - positions[:-2]) * fps / 2
    recorded = traj.linear_velocity[1:-1]
    speed = np.linalg.norm(recorded, axis=-1)
    assert speed.max() > 1.0
    error = np.linalg.norm(linear - recorded, axis=-1)
    assert (error < 0.03 + 0.02 * speed).all()  # central differences are off by O(dt²)


def test_standing_pedestrian_stands_upright():
    t = np.array([0.0, 1.0])
    body = pedestrian_body("idle", np.array([[2.0, 3.0], [2.0, 3.0]]), t, "walk", 1.7)
    assert np.allclose(body.motion.poses[:, :3, 3], body.motion.poses[0, :3, 3])
    root_z, height = standing_pose()
    assert body.motion.poses[0, 2, 3] == pytest.approx(root_z * 1.7 / height)
    for values in body.joint_motion.positions.values():
        rest = [0, 0, 0, 1] if values.ndim == 2 else 0.0
        assert np.allclose(values, rest)


def _network() -> RoadNetwork:
    """A straight two-lane road along x with sidewalks on both sides and two crosswalks."""
    x = np.arange(-40.0, 40.01, 1.0)
    east = Lane(0, np.c_[x, np.full_like(x, -1.75)], 3.5)
    west = Lane(1, np.c_[x[::-1], np.full_like(x, 1.75)], 3.5)
    walks = [np.c_[x, np.full_like(x, -5.0)], np.c_[x[::-1], np.full_like(x, 5.0)]]
    crosswalks = [
        Crosswalk(0, (0.0, -5.0), (0.0, 5.0), 3.0, [(0, 40.0), (1, 40.0)]),
        Crosswalk(1, (20.0, -5.0), (20.0, 5.0), 3.0, [(0, 60.0), (1, 20.0)]),
    ]
    return RoadNetwork([east, west], [], [], crosswalks, walks, [], [], 0, [])


def test_plans_walk_sidewalks_and_cross_on_crosswalks():
    network = _network()
    duration = 12.0
    plans = plan_pedestrians(np.random.default_rng(5), network, 10, duration, crossing_fraction=0.4)
    assert [p.name for p in plans] == [f"pedestrian_{k}" for k in range(10)]
    assert sum(len(p.crossings) for p in plans) == 4
    sidewalks = [LineString(w) for w in network.sidewalks]
    zebras = {
        cw.id: LineString([cw.a, cw.b]).buffer(cw.width / 2, cap_style="flat")
        for cw in network.crosswalks
    }
    for plan in plans:
        assert plan.times[0] == 0.0 and plan.times[-1] == duration
        assert plan.gait in ("walk", "run") and 1.55 <= plan.height <= 1.95
        speed = np.linalg.norm(np.diff(plan.xy, axis=0), axis=1) / np.diff(plan.times)
        lo, hi = (2.5, 3.5) if plan.gait == "run" else (1.1, 1.6)
        assert lo - 1e-6 <= np.median(speed) <= hi + 1e-6
        assert speed.min() > 0.5 * lo  # never waits
        points = [Point(p) for p in plan.xy]
        on_walk = np.array([min(w.distance(q) for w in sidewalks) <= 1.5 for q in points])
        on_zebra = np.array([any(z.distance(q) < 1e-6 for z in zebras.values()) for q in points])
        assert (on_walk | on_zebra).all()
        for cw, t_enter, t_exit in plan.crossings:
            assert 0.0 <= t_enter < t_exit <= duration
            inside = (plan.times >= t_enter) & (plan.times <= t_exit)
            assert all(zebras[cw].distance(points[i]) < 1e-6 for i in np.flatnonzero(inside))
            # On the road between the kerbs (|y| < 3.5) exactly while crossing.
            on_road = np.abs(plan.xy[:, 1]) < 3.5
            assert np.array_equal(on_road, inside)
            assert np.allclose(plan.ground_z[on_road], 0.0)
        if not plan.crossings:
            assert (np.abs(plan.xy[:, 1]) > 3.5).all()
            assert np.allclose(plan.ground_z, network.kerb_height)
    X = np.stack([p.xy for p in plans])
    gaps = np.linalg.norm(X[:, None] - X[None], axis=-1) + np.eye(len(plans))[..., None] * 1e9
    assert gaps.min() >= 1.0
    again = plan_pedestrians(np.random.default_rng(5), network, 10, duration, crossing_fraction=0.4)
    for a, b in zip(plans, again, strict=True):
        assert np.array_equal(a.xy, b.xy) and a.crossings == b.crossings
    bodies = pedestrian_bodies(plans[:2])
    assert [b.name for b in bodies] == ["pedestrian_0", "pedestrian_1"]
    assert all(b.semantic_class == "person" and b.collision == "none" for b in bodies)


def test_walks_carry_on_to_the_next_sidewalk():
    """Two sidewalks meeting at a corner (ends 0.7 m apart): walkers turn the corner."""
    network = _network()
    network.sidewalks = [np.array([[0.0, 0.0], [20.0, 0.0]]), np.array([[20.5, 0.5], [20.5, 20.0]])]
    network.crosswalks = []
    plans = plan_pedestrians(np.random.default_rng(1), network, 6, 20.0)
    assert all(not p.crossings for p in plans)
    legs = [LineString(w) for w in network.sidewalks]
    turned = 0
    for plan in plans:
        near = np.array([[leg.distance(Point(p)) <= 1.5 for leg in legs] for p in plan.xy])
        assert near.any(axis=1).all()
        x, y = plan.xy.T
        turned += (x < 15).any() and (y > 5).any()  # well along both sidewalks
    assert turned >= 2
