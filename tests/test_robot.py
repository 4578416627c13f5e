"""Robot arms: IK plans through end-effector keys, their kinematic replay in the
rollout, pushing, and grasps held by attachments."""

from __future__ import annotations

import copy

import numpy as np
import pybullet as pb
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from simfactory.sim.actors.robot import (
    ROBOTS,
    EeKey,
    ee_path,
    finger_positions,
    forward_kinematics,
    home_ee_pose,
    plan_arm,
    robot_body,
    robot_model,
    top_down_quat,
)
from simfactory.sim.model.motion import invert
from simfactory.sim.model.spec import Attachment, Body, Material, SceneSpec, Visual
from simfactory.sim.simulate.physics import rollout

FPS, HZ = 24, 30.0
TABLE_TOP = 0.4
BOX = 0.04  # m, edge of the cube the arms handle


def _pose(x: float, y: float, z: float, yaw: float = 0.0) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", yaw).as_matrix()
    T[:3, 3] = x, y, z
    return T


def _limits(model) -> dict[str, tuple[float, float]]:
    c = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(model.urdf_path, useFixedBase=True, physicsClientId=c)
        infos = [
            pb.getJointInfo(uid, j, physicsClientId=c)
            for j in range(pb.getNumJoints(uid, physicsClientId=c))
        ]
    finally:
        pb.disconnect(c)
    return {i[1].decode(): (i[8], i[9]) for i in infos if i[2] != pb.JOINT_FIXED}


def _misses(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    position = np.linalg.norm(a[:, :3, 3] - b[:, :3, 3], axis=1)
    turn = Rotation.from_matrix(np.einsum("nij,nkj->nik", a[:, :3, :3], b[:, :3, :3])).magnitude()
    return position, turn


def _table_and_box(box_xyz) -> list[Body]:
    table = Body(
        "table",
        "table",
        [Visual(trimesh.creation.box((1.6, 1.6, 0.1)), Material("wood"))],
        pose=_pose(0.3, 0.0, TABLE_TOP - 0.05),
        collision="box",
    )
    box = Body(
        "box",
        "box",
        [Visual(trimesh.creation.box((BOX, BOX, BOX)), Material("red"))],
        pose=_pose(*box_xyz),
        mass=0.1,
        collision="box",
    )
    return [table, box]


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_ik_reaches_keys_inside_joint_limits(name):
    model = robot_model(name)
    T_world_base = _pose(0.3, -0.2, 0.75, yaw=0.7)
    home = home_ee_pose(model, T_world_base)
    at = lambda x, y, z: (T_world_base @ [x, y, z, 1.0])[:3]  # noqa: E731
    keys = [
        EeKey(0.0, home[:3, 3], Rotation.from_matrix(home[:3, :3]).as_quat(), 1.0),
        EeKey(0.8, at(0.5, 0.2, 0.05), top_down_quat(1.2), 1.0),
        EeKey(1.2, at(0.5, 0.2, 0.02), top_down_quat(1.2), 0.0),
        EeKey(2.0, at(0.3, -0.4, 0.3), top_down_quat(-0.1), 0.25),
    ]
    times, joints, ee = plan_arm(model, T_world_base, keys, hz=HZ)

    assert set(joints) == set(model.arm_joints + model.finger_joints)
    assert all(v.shape == times.shape for v in joints.values()) and ee.shape == (len(times), 4, 4)
    assert np.isin([k.time for k in keys], times).all() and (np.diff(times) <= 1 / HZ + 1e-9).all()
    position, turn = _misses(forward_kinematics(model, T_world_base, joints), ee)
    assert position.max() < 0.005 and turn.max() < np.radians(1.0)
    keyed = np.searchsorted(times, [k.time for k in keys])
    assert np.allclose(ee[keyed, :3, 3], [k.position for k in keys])
    assert position[keyed].max() < 1e-3
    for joint, (lower, upper) in _limits(model).items():
        if joint in joints:
            assert lower - 1e-9 <= joints[joint].min() and joints[joint].max() <= upper + 1e-9
    arm = np.array([joints[j] for j in model.arm_joints])
    assert np.abs(np.diff(arm, axis=1)).max() < 0.2  # a continuous path, no flips
    for joint in model.finger_joints:  # gripper 1 -> 0 -> 0.25 maps linearly
        assert joints[joint][keyed] == pytest.approx(finger_positions(model, [1, 1, 0, 0.25]))


def test_ee_path_stops_at_keys_and_eases_between():
    down = top_down_quat()
    keys = [EeKey(0.0, np.zeros(3), down, 1.0), EeKey(1.0, np.array([1.0, 0, 0]), down, 0.0)]
    times, poses, gripper, key_index = ee_path(keys, hz=10.0)
    assert np.allclose(times, np.arange(11) / 10) and key_index.tolist() == [0, 10]
    x = poses[:, 0, 3]
    assert (np.diff(x) >= 0).all() and x[5] == pytest.approx(0.5)
    assert x[1] < 0.02 and x[9] > 0.98  # slow at both stops
    assert np.allclose(gripper, 1.0 - x) and np.allclose(poses[:, :3, :3], poses[0, :3, :3])


def test_out_of_reach_key_raises_naming_it():
    model = robot_model("panda")
    home = home_ee_pose(model, np.eye(4))
    keys = [
        EeKey(0.0, home[:3, 3], top_down_quat(), 1.0),
        EeKey(1.0, np.array([0.5, 0.0, 0.3]), top_down_quat(), 1.0),
        EeKey(2.0, np.array([1.6, 0.0, 0.3]), top_down_quat(), 1.0),
    ]
    with pytest.raises(ValueError, match=r"key 2 \(t=2 s"):
        plan_arm(model, np.eye(4), keys, hz=5.0)
    with pytest.raises(ValueError, match="unknown robot 'ur5'"):
        robot_model("ur5")
    with pytest.raises(ValueError, match="increase"):
        plan_arm(model, np.eye(4), keys[::-1], hz=5.0)


BOX_AT = np.array([0.5, 0.1, TABLE_TOP + BOX / 2])
TARGET = np.array([0.35, -0.3, TABLE_TOP + BOX / 2])
GRASP, RELEASE, SWEEP = 2.0, 4.4, (5.8, 6.8)


@pytest.fixture(scope="module", params=sorted(ROBOTS))
def pick(request):
    """An arm on the table picks the box up (the Panda between its fingers, the bare
    iiwa by its flange on the box's top), carries it to TARGET turning it, lets it go,
    then sweeps its hand through it along +y."""
    model = robot_model(request.param)
    T_world_base = _pose(0.0, 0.0, TABLE_TOP)
    home = home_ee_pose(model, T_world_base)[:3, 3]
    down, turned = top_down_quat(0.0), top_down_quat(1.2)
    fingers = bool(model.finger_joints)
    lift = np.array([0.0, 0.0, 0.0 if fingers else BOX / 2 + 0.001])  # EE above the centre
    held = (BOX + 0.002) / (2 * model.finger_open) if fingers else 0.0  # fingers clear its sides
    keys = [
        EeKey(0.0, home, down, 1.0),
        EeKey(1.0, BOX_AT + lift + [0, 0, 0.15], down, 1.0),
        EeKey(1.6, BOX_AT + lift, down, 1.0),
        EeKey(GRASP, BOX_AT + lift, down, held),
        EeKey(2.8, BOX_AT + lift + [0, 0, 0.2], down, held),
        EeKey(3.8, TARGET + lift + [0, 0, 0.2], turned, held),
        EeKey(RELEASE, TARGET + lift + [0, 0, 0.003], turned, held),
        EeKey(4.8, TARGET + lift + [0, 0, 0.003], turned, 1.0),
        EeKey(5.0, TARGET + lift + [0, 0, 0.12], turned, 1.0),
        EeKey(5.4, TARGET + [0, -0.12, 0.1], down, 1.0),
        EeKey(SWEEP[0], TARGET + [0, -0.12, 0.0], down, 1.0),
        EeKey(SWEEP[1], TARGET + [0, 0.12, 0.0], down, 1.0),
    ]
    times, joints, _ = plan_arm(model, T_world_base, keys, hz=HZ)
    robot = robot_body("robot", model, T_world_base, times, joints)
    holder = "robot/panda_hand" if fingers else f"robot/{model.ee_link}"
    grasp = Attachment(holder, "box", GRASP, RELEASE)
    spec = SceneSpec("test", [*_table_and_box(BOX_AT), robot], [], [], attachments=[grasp])
    return model, T_world_base, spec, rollout(spec, FPS, int(7.2 * FPS))


def _part(traj, name: str) -> np.ndarray:
    return traj.poses[:, traj.part_names.index(name)]


def test_rollout_replays_the_planned_joints(pick):
    model, T_world_base, spec, traj = pick
    motion = spec.bodies[-1].joint_motion
    assert traj.joint_names == [f"robot/{j}" for j in motion.positions]
    for k, joint in enumerate(motion.positions):
        expected = np.interp(traj.times, motion.times, motion.positions[joint])
        assert np.allclose(traj.joint_positions[:, k], expected, atol=1e-9)
    recorded = {n.split("/")[1]: traj.joint_positions[:, k] for k, n in enumerate(traj.joint_names)}
    fk = forward_kinematics(model, T_world_base, recorded)
    ee = _part(traj, f"robot/{model.ee_link}") @ model.T_link_ee
    assert np.abs(ee - fk).max() < 1e-6
    assert np.allclose(_part(traj, "robot"), T_world_base)


def test_pick_carries_the_box_rigidly_and_places_it(pick):
    _, _, spec, traj = pick
    t = traj.times
    box, hand = _part(traj, "box"), _part(traj, spec.attachments[0].parent)
    before = t <= GRASP
    assert np.abs(box[before, :3, 3] - BOX_AT).max() < 0.002  # the fingers close without a nudge
    held = (t >= GRASP + 1 / FPS) & (t <= RELEASE)
    T_hand_box = np.einsum("nij,njk->nik", invert(hand[held]), box[held])
    position, turn = _misses(T_hand_box, np.broadcast_to(T_hand_box[0], T_hand_box.shape))
    assert position.max() < 0.002 and turn.max() < np.radians(1.0)
    assert box[held, 2, 3].max() > BOX_AT[2] + 0.15  # really lifted ...
    yaw = Rotation.from_matrix(box[held][[0, -1], :3, :3]).as_euler("xyz")[:, 2]
    assert np.diff(yaw)[0] == pytest.approx(1.2, abs=0.02)  # ... and turned
    box_index = traj.part_names.index("box")
    robot_parts = [i for i, n in enumerate(traj.part_names) if n.startswith("robot")]
    touching = np.isin(traj.contact_parts, robot_parts).any(1) & (
        traj.contact_parts == box_index
    ).any(1)
    held_frames = np.nonzero(held)[0]
    assert not np.isin(traj.contact_frame[touching], held_frames).any()  # no fight with fingers
    placed = np.nonzero(t < SWEEP[0])[0][-1]
    assert np.linalg.norm(box[placed, :3, 3] - TARGET) < 0.01
    assert np.linalg.norm(traj.linear_velocity[placed, box_index]) < 0.01  # resting
    assert abs(box[placed, 2, 3] - TARGET[2]) < 0.002  # on the table


def test_fingers_collide_with_the_box_again_after_release(pick):
    _, _, _, traj = pick
    box = _part(traj, "box")
    placed = np.nonzero(traj.times < SWEEP[0])[0][-1]
    assert box[-1, 1, 3] - box[placed, 1, 3] > 0.05  # swept along +y


def test_a_holder_that_collides_with_nothing_carries_and_never_touches(pick):
    _, _, spec, traj = pick
    ghost = copy.deepcopy(spec)
    ghost.bodies[-1].collision = "none"  # as a pedestrian's hand
    again = rollout(ghost, FPS, traj.num_frames)
    placed = np.nonzero(traj.times < SWEEP[0])[0][-1]
    box = _part(again, "box")
    assert np.linalg.norm(box[placed, :3, 3] - TARGET) < 0.01
    assert np.abs(box[-1, :3, 3] - box[placed, :3, 3]).max() < 1e-3  # the sweep passes through
    hand = spec.attachments[0].parent
    assert np.abs(_part(again, hand) - _part(traj, hand)).max() < 1e-9


def test_arm_pushes_a_box_in_its_way():
    model = robot_model("kuka")
    T_world_base = _pose(0.0, 0.0, TABLE_TOP)
    box_at = np.array([0.55, 0.0, TABLE_TOP + BOX / 2])
    home = home_ee_pose(model, T_world_base)[:3, 3]
    low = TABLE_TOP + 0.01
    keys = [
        EeKey(0.0, home, top_down_quat(), 0.0),
        EeKey(0.8, np.array([0.55, -0.2, low]), top_down_quat(), 0.0),
        EeKey(1.8, np.array([0.55, 0.2, low]), top_down_quat(), 0.0),
    ]
    times, joints, _ = plan_arm(model, T_world_base, keys, hz=HZ)
    spec = SceneSpec(
        "test",
        [*_table_and_box(box_at), robot_body("arm", model, T_world_base, times, joints)],
        [],
        [],
    )
    traj = rollout(spec, FPS, int(2.2 * FPS))
    box = _part(traj, "box")
    assert box[-1, 1, 3] - box_at[1] > 0.05  # pushed along the sweep
    assert np.all(box[:, 2, 3] > TABLE_TOP)  # not through the table
    assert any(
        n.startswith("arm/") for i in np.unique(traj.contact_parts) for n in [traj.part_names[i]]
    )


def test_pick_is_deterministic(pick):
    _, _, spec, traj = pick
    again = rollout(spec, FPS, traj.num_frames)
    assert np.array_equal(again.poses, traj.poses)
    assert np.array_equal(again.contact_parts, traj.contact_parts)


def test_attachment_to_an_unknown_part_raises_naming_it():
    bodies = _table_and_box(BOX_AT)
    spec = SceneSpec(
        "test", bodies, [], [], attachments=[Attachment("robot/panda_hand", "box", 0.5)]
    )
    with pytest.raises(ValueError, match="robot/panda_hand"):
        rollout(spec, FPS, 3)
