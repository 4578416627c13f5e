"""Robot arms of ``pybullet_data`` (Franka Panda, KUKA iiwa) moved by inverse kinematics.

An arm is scripted by end-effector keys (a pose and a gripper opening at a time); the
path between keys is eased in and out, sampled at a fixed rate and solved by pybullet's
inverse kinematics on a private client. The solution is a ``JointMotion`` that the
physics rollout replays kinematically on a fixed-base, colliding URDF body, so the arm
pushes what it touches; objects are grasped by ``SceneSpec.attachments``.

The end-effector (EE) frame of every robot has z along the approach direction (out of
the flange, between the fingertips) and, for the Panda, y along which the fingers close;
``top_down_quat`` points it straight down. At ``home`` it points down, x along the
base's x.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pybullet as pb
import pybullet_data
from scipy.spatial.transform import Rotation, Slerp

from simfactory.sim.model.motion import invert, pos_quat_xyzw, pose_from_pos_quat_xyzw
from simfactory.sim.model.spec import Body, JointMotion

DATA_DIR = Path(pybullet_data.getDataPath())
REACH_TOLERANCE = 0.02  # m: a key the EE misses by more is out of reach
TURN_TOLERANCE = np.radians(5.0)  # rad: the same for the EE's orientation
SOLVED = 1e-4  # m: the IK refines a sample until its EE is this close ...
SOLVED_TURN = 1e-3  # rad: ... and turned this little from its target
IK_ROUNDS = 20  # seeded IK calls per sample at most


@dataclass
class RobotModel:
    """A fixed-base arm: its URDF, the joints IK moves, the fingers a gripper value
    opens (each finger joint's position, m, at gripper 1 and at gripper 0), its EE
    frame (``T_link_ee`` in the frame of link ``ee_link``) and its ``home`` arm
    joint positions (rad)."""

    name: str
    urdf_path: str
    arm_joints: list[str]
    finger_joints: list[str]
    ee_link: str
    finger_open: float
    finger_closed: float
    home: np.ndarray
    T_link_ee: np.ndarray = field(default_factory=lambda: np.eye(4))


def _translate_turn(z: float, yaw: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", yaw).as_matrix()
    T[2, 3] = z
    return T


ROBOTS = {
    # EE: the URDF's own panda_grasptarget link, 0.105 m along the hand's z, between
    # the fingertips.
    "panda": RobotModel(
        name="panda",
        urdf_path=str(DATA_DIR / "franka_panda" / "panda.urdf"),
        arm_joints=[f"panda_joint{i}" for i in range(1, 8)],
        finger_joints=["panda_finger_joint1", "panda_finger_joint2"],
        ee_link="panda_grasptarget",
        finger_open=0.04,
        finger_closed=0.0,
        home=np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]),
    ),
    # The bare iiwa (no gripper in its URDF): the EE is the centre of the flange face,
    # 0.045 m along link 7's z, turned half a turn so that x is the base's x at home.
    # It grasps by attachment only; its gripper value moves nothing.
    "kuka": RobotModel(
        name="kuka",
        urdf_path=str(DATA_DIR / "kuka_iiwa" / "model.urdf"),
        arm_joints=[f"lbr_iiwa_joint_{i}" for i in range(1, 8)],
        finger_joints=[],
        ee_link="lbr_iiwa_link_7",
        finger_open=0.0,
        finger_closed=0.0,
        home=np.array([0.0, 0.5, 0.0, -1.5, 0.0, 1.14, 0.0]),
        T_link_ee=_translate_turn(0.045, np.pi),
    ),
}


def robot_model(name: str) -> RobotModel:
    """A copy of ``ROBOTS[name]``; raises ValueError naming the known robots."""
    if name not in ROBOTS:
        raise ValueError(f"unknown robot {name!r}; known: {sorted(ROBOTS)}")
    model = ROBOTS[name]
    return replace(model, home=model.home.copy(), T_link_ee=model.T_link_ee.copy())


@dataclass
class EeKey:
    """The EE pose (world) and gripper opening (0 closed .. 1 open) at ``time`` (s).
    The arm stops at every key. With a ``pivot`` (a world point) the EE comes to this
    key along an arc: it turns about the axis through ``pivot`` by the turn between the
    two keys' orientations, as a door turns about its hinge."""

    time: float
    position: np.ndarray
    quat_xyzw: np.ndarray
    gripper: float = 1.0
    pivot: np.ndarray | None = None


def top_down_quat(yaw: float = 0.0) -> np.ndarray:
    """EE orientation (x, y, z, w) pointing straight down, its x axis at ``yaw`` (rad)
    from the world's x (the Panda's fingers then close along the world's
    (-sin yaw, cos yaw))."""
    return (Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi)).as_quat()


def finger_positions(model: RobotModel, gripper: np.ndarray | float) -> np.ndarray:
    """Finger joint position (m) for gripper values (0 closed .. 1 open)."""
    g = np.clip(np.asarray(gripper, dtype=float), 0.0, 1.0)
    return model.finger_closed + g * (model.finger_open - model.finger_closed)


def min_jerk(u: np.ndarray | float) -> np.ndarray | float:
    """Minimum-jerk ease from 0 to 1: zero velocity and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u * u)


def ee_path(keys: list[EeKey], hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The EE path through ``keys``: sample times (T,), EE poses (T, 4, 4), gripper
    values (T,) and the sample index of every key.

    Each segment is sampled at ``hz`` or a little faster, so that every key is a
    sample; position and gripper follow a minimum-jerk profile, orientation a slerp
    along the same profile. Towards a key with a ``pivot`` the position turns with the
    orientation about the pivot (what is left of the offset to the key is covered
    along a straight line).
    """
    if not keys:
        raise ValueError("plan_arm needs at least one key")
    key_times = np.array([k.time for k in keys], dtype=float)
    if (np.diff(key_times) <= 0).any():
        raise ValueError(f"key times must increase: {key_times.tolist()}")
    positions = np.array([np.asarray(k.position, dtype=float) for k in keys])
    rotations = Rotation.from_quat([np.asarray(k.quat_xyzw, dtype=float) for k in keys])
    grippers = np.array([k.gripper for k in keys], dtype=float)
    times, poses, grip, key_index = [], [], [], []
    for k in range(len(keys) - 1):
        n = max(1, int(np.ceil((key_times[k + 1] - key_times[k]) * hz - 1e-9)))
        u = np.arange(n) / n
        s = min_jerk(u)
        key_index.append(sum(len(t) for t in times))
        times.append(key_times[k] + u * (key_times[k + 1] - key_times[k]))
        T = np.tile(np.eye(4), (n, 1, 1))
        T[:, :3, 3] = positions[k] + s[:, None] * (positions[k + 1] - positions[k])
        T[:, :3, :3] = Slerp([0.0, 1.0], rotations[k : k + 2])(s).as_matrix()
        if keys[k + 1].pivot is not None:
            T[:, :3, 3] = _arc(
                positions[k], positions[k + 1], rotations[k : k + 2], keys[k + 1].pivot, s
            )
        poses.append(T)
        grip.append(grippers[k] + s * (grippers[k + 1] - grippers[k]))
    key_index.append(sum(len(t) for t in times))
    last = np.eye(4)
    last[:3, :3], last[:3, 3] = rotations[-1].as_matrix(), positions[-1]
    times.append(key_times[-1:])
    poses.append(last[None])
    grip.append(grippers[-1:])
    return np.concatenate(times), np.concatenate(poses), np.concatenate(grip), np.array(key_index)


def _arc(a: np.ndarray, b: np.ndarray, turns: Rotation, pivot, s: np.ndarray) -> np.ndarray:
    """Positions (len(s), 3) from ``a`` towards ``b`` turning about ``pivot`` with the
    orientations ``turns`` (2 rotations), a fraction ``s`` of the way."""
    pivot = np.asarray(pivot, dtype=float)
    turn = (turns[1] * turns[0].inv()).as_rotvec()
    partial = Rotation.from_rotvec(s[:, None] * turn[None])
    on_arc = pivot + partial.apply(a - pivot)
    rest = b - (pivot + Rotation.from_rotvec(turn).apply(a - pivot))
    return on_arc + s[:, None] * rest


@dataclass
class _Arm:
    client: int
    uid: int
    ee: int  # link index of ``ee_link``
    movable: list[int]  # joint indices of every non-fixed joint (pybullet's IK order)
    names: list[str]  # their names
    lower: np.ndarray
    upper: np.ndarray


@contextmanager
def _arm(model: RobotModel, T_world_base: np.ndarray) -> Iterator[_Arm]:
    """The robot on a private DIRECT client with its base at ``T_world_base``."""
    client = pb.connect(pb.DIRECT)
    try:
        pos, quat = pos_quat_xyzw(np.asarray(T_world_base, dtype=float))
        uid = pb.loadURDF(model.urdf_path, pos, quat, useFixedBase=True, physicsClientId=client)
        infos = [
            pb.getJointInfo(uid, j, physicsClientId=client)
            for j in range(pb.getNumJoints(uid, physicsClientId=client))
        ]
        links = {info[12].decode(): info[0] for info in infos}
        movable = [info for info in infos if info[2] != pb.JOINT_FIXED]
        yield _Arm(
            client=client,
            uid=uid,
            ee=links[model.ee_link],
            movable=[info[0] for info in movable],
            names=[info[1].decode() for info in movable],
            lower=np.array([info[8] for info in movable]),
            upper=np.array([info[9] for info in movable]),
        )
    finally:
        pb.disconnect(client)


def _set_joints(arm: _Arm, q: np.ndarray) -> None:
    for j, value in zip(arm.movable, q, strict=True):
        pb.resetJointState(arm.uid, j, float(value), physicsClientId=arm.client)


def _link_pose(arm: _Arm) -> np.ndarray:
    s = pb.getLinkState(arm.uid, arm.ee, computeForwardKinematics=1, physicsClientId=arm.client)
    return pose_from_pos_quat_xyzw(s[4], s[5])


def _miss(T_a: np.ndarray, T_b: np.ndarray) -> tuple[float, float]:
    """Position (m) and rotation (rad) between two poses."""
    turn = Rotation.from_matrix(T_a[:3, :3] @ T_b[:3, :3].T).magnitude()
    return float(np.linalg.norm(T_a[:3, 3] - T_b[:3, 3])), float(turn)


def _solve(
    arm: _Arm, target: np.ndarray, seed: np.ndarray, rest: np.ndarray, held: list[int]
) -> np.ndarray:
    """Joint positions that put ``ee_link`` at ``target``, starting from ``seed``: one
    null-space step towards ``rest`` (which keeps the elbow near home and the joints
    inside their limits), then plain seeded IK until the link is within ``SOLVED``.
    Joints ``held`` (the fingers) keep their seed values."""
    pos, quat = pos_quat_xyzw(target)
    q = seed.copy()
    _set_joints(arm, q)
    for round_ in range(IK_ROUNDS):
        extra = {}
        if round_ == 0:
            extra = dict(
                lowerLimits=arm.lower.tolist(),
                upperLimits=arm.upper.tolist(),
                jointRanges=(arm.upper - arm.lower).tolist(),
                restPoses=rest.tolist(),
            )
        solution = pb.calculateInverseKinematics(
            arm.uid,
            arm.ee,
            pos,
            quat,
            maxNumIterations=100,
            residualThreshold=1e-5,
            physicsClientId=arm.client,
            **extra,
        )
        q = np.clip(np.asarray(solution), arm.lower, arm.upper)
        q[held] = seed[held]
        _set_joints(arm, q)
        miss, turn = _miss(_link_pose(arm), target)
        if round_ > 0 and miss < SOLVED and turn < SOLVED_TURN:
            break
    return q


def plan_arm(
    model: RobotModel, T_world_base: np.ndarray, keys: list[EeKey], hz: float = 60.0
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Joint positions that move the EE through ``keys`` with the base at ``T_world_base``.

    Returns the sample times (T,) s, {joint name: (T,) positions} for the arm joints
    (rad) and the finger joints (m), and the commanded EE poses (T, 4, 4) world. Every
    sample is solved by IK seeded with the previous one (the first with ``home``) and
    checked by forward kinematics: raises ValueError naming the key when a key is
    missed by more than ``REACH_TOLERANCE`` or ``TURN_TOLERANCE``, or the segment when
    the path between two keys is. Joint positions stay inside the URDF's limits.
    """
    times, ee_poses, gripper, key_index = ee_path(keys, hz)
    fingers = finger_positions(model, gripper)
    with _arm(model, T_world_base) as arm:
        unknown = set(model.arm_joints + model.finger_joints) - set(arm.names)
        if unknown:
            raise ValueError(f"{model.name}: no joints {sorted(unknown)} in {model.urdf_path}")
        col = {name: i for i, name in enumerate(arm.names)}
        arm_cols = [col[n] for n in model.arm_joints]
        finger_cols = [col[n] for n in model.finger_joints]
        q = np.zeros(len(arm.names))
        q[arm_cols] = model.home
        rest = q.copy()
        T_link_target = invert(model.T_link_ee)
        solved = np.zeros((len(times), len(arm.names)))
        reached = np.zeros_like(ee_poses)
        for i, T_world_ee in enumerate(ee_poses):
            q[finger_cols] = fingers[i]
            rest[finger_cols] = fingers[i]
            q = _solve(arm, T_world_ee @ T_link_target, q, rest, finger_cols)
            solved[i] = q
            reached[i] = _link_pose(arm) @ model.T_link_ee
    misses = np.array([_miss(a, b) for a, b in zip(reached, ee_poses, strict=True)])
    too_far = (misses[:, 0] > REACH_TOLERANCE) | (misses[:, 1] > TURN_TOLERANCE)
    for k, i in enumerate(key_index):
        if too_far[i]:
            key = keys[k]
            raise ValueError(
                f"{model.name}: key {k} (t={key.time:g} s, position "
                f"{np.round(key.position, 3).tolist()}) is out of reach: IK misses it by "
                f"{misses[i, 0]:.3f} m and {np.degrees(misses[i, 1]):.1f} deg"
            )
    if too_far.any():
        i = int(np.argmax(too_far))
        k = int(np.searchsorted(key_index, i)) - 1
        raise ValueError(
            f"{model.name}: the path from key {k} to key {k + 1} leaves the arm's reach "
            f"near t={times[i]:g} s (IK misses by {misses[i, 0]:.3f} m)"
        )
    joints = {name: solved[:, col[name]].copy() for name in model.arm_joints + model.finger_joints}
    return times, joints, ee_poses


def forward_kinematics(
    model: RobotModel, T_world_base: np.ndarray, joints: dict[str, np.ndarray]
) -> np.ndarray:
    """EE poses (T, 4, 4) world for joint positions {name: (T,)} (missing joints at 0)."""
    values = {name: np.atleast_1d(np.asarray(v, dtype=float)) for name, v in joints.items()}
    count = max((len(v) for v in values.values()), default=1)
    with _arm(model, T_world_base) as arm:
        poses = np.zeros((count, 4, 4))
        for i in range(count):
            q = [values[n][i] if n in values else 0.0 for n in arm.names]
            _set_joints(arm, np.asarray(q))
            poses[i] = _link_pose(arm) @ model.T_link_ee
    return poses


def home_ee_pose(model: RobotModel, T_world_base: np.ndarray) -> np.ndarray:
    """The EE pose (4, 4) world with the arm at ``home`` (a natural first key)."""
    home = dict(zip(model.arm_joints, model.home, strict=True))
    return forward_kinematics(model, T_world_base, home)[0]


def robot_body(
    name: str,
    model: RobotModel,
    T_world_base: np.ndarray,
    times: np.ndarray,
    joints: dict[str, np.ndarray],
) -> Body:
    """The arm as a fixed-base URDF body of class "robot" replaying ``joints`` at
    ``times`` (``plan_arm``'s output) kinematically; its links collide with other
    bodies, so it pushes what is in its way."""
    return Body(
        name,
        "robot",
        pose=np.asarray(T_world_base, dtype=float).copy(),
        mass=0.0,
        collision="auto",
        urdf_path=model.urdf_path,
        joint_motion=JointMotion(
            np.asarray(times, dtype=float).copy(),
            {n: np.asarray(v, dtype=float).copy() for n, v in joints.items()},
        ),
    )
