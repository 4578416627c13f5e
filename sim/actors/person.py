"""A person: the DeepMimic humanoid walking between stops and reaching with its hands.

A ``PersonScript`` says where the person stands and when (``Stop``s, walked between along
smooth ground tracks) and where its hands go (``HandKey``s: a target and a blend weight
at a time). ``plan_person`` turns it into a puppet ``Body``:

- root motion: between stops the walk clip plays at the pace of the steps (clip time
  advances with the distance walked, so feet do not slide), easing from and into a
  standing pose; a standing person faces its stop's heading;
- arms: each hand's target is reached by analytic inverse kinematics (the shoulder is a
  spherical joint, the elbow a revolute one, the elbow swung down and out), blended with
  the clip's (or standing) arm pose by the key's weight; a target beyond the arm's reach
  is brought in by bending at the hips and chest and, standing, by bending the knees;
- the head turns to look at what the hands reach for.

The humanoid is modelled Y up, facing +x, its right side on +z (``sim.humanoid``); in
the world it faces its heading with Z up. Its hands are the ``right_wrist`` and
``left_wrist`` links (spheres): a grasp is an ``Attachment`` from ``<body>/right_wrist``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pybullet as pb
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from simfactory.sim.actors.humanoid import (
    FULL_GAIT_SPEED,
    HUMANOID_URDF,
    KEY_HZ,
    MODEL_SCALE,
    load_clip,
    sample_clip,
    standing_pose,
)
from simfactory.sim.actors.robot import min_jerk
from simfactory.sim.annotate.keypoints import _head_sphere
from simfactory.sim.model.motion import smoothstep
from simfactory.sim.model.spec import Body, JointMotion, Motion

HANDS = {"right": "right_wrist", "left": "left_wrist"}
SIDES = {"right": ("right_shoulder", "right_elbow"), "left": ("left_shoulder", "left_elbow")}
HEIGHT_RANGE = (1.55, 1.9)  # m, standing height of a sampled person
REACH_MARGIN = 0.93  # targets are kept within this fraction of the arm's length
HIP_BEND = np.radians(45.0)  # the most the torso leans forward at the hips ...
CHEST_BEND = np.radians(20.0)  # ... and at the chest
SQUAT = 0.3  # the most a standing person lowers its hips by bending the knees, in the
# URDF's own units (times the body's URDF scale: 7.5 cm for a person of 1.62 m)
LEAN_SHARE = 0.6  # bend values up to this lean the torso; above it the knees bend
RAMP = 0.5  # s: a walk speeds up from and slows down to standing over this time
TURN_RATE = 3.0  # rad/s: the fastest a person turns on leaving or reaching a stop
STEADY_RAMP = 0.3  # s: blend into and out of a steady torso
LOOK_MAX = np.radians(60.0)  # the most the head turns from its clip pose to look
HEAD_CAMERA_PITCH = np.radians(20.0)  # the eyes (and head camera) look below the face

_Y_UP_TO_Z_UP = Rotation.from_euler("x", 90, degrees=True)


@dataclass
class Stop:
    """Where a person stands (``xy``, facing ``heading`` rad from the world's x) from
    ``arrive`` to ``leave`` (s). It walks there from the previous stop through the
    points ``via`` (ground positions); the first stop is where it is at t = 0."""

    xy: np.ndarray
    heading: float
    arrive: float
    leave: float
    via: list[np.ndarray] = field(default_factory=list)


@dataclass
class HandKey:
    """A hand's target at ``time`` (s) and how much the arm follows it (``weight``: 0
    is the clip's or standing arm pose, 1 the hand on the target). ``frame`` "world":
    ``position`` is a world point; "body": x forward and y left of the person's ground
    position and heading at that time, z the height above the floor (a carried object).
    Between keys target and weight follow a minimum-jerk ease; the first and last keys
    hold outside them."""

    time: float
    position: np.ndarray
    weight: float = 1.0
    frame: str = "world"


@dataclass
class PersonScript:
    """A person of standing ``height`` (m): its stops, its hands' keys by hand ("right",
    "left") and time windows (start, end) s in which its torso is held level and steady
    (pushing something that rests on the floor: the hands must not bob with the gait)."""

    height: float
    stops: list[Stop]
    hands: dict[str, list[HandKey]] = field(default_factory=dict)
    steady: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class PersonPlan:
    """A planned person: its puppet ``body`` and what was planned, sampled at ``times``
    (s): ground pose (x, y, heading), gait weight (0 standing .. 1 walking), the hands'
    targets (T, 3) and weights (T,), the hand positions (T, 3) that pybullet's forward
    kinematics gives for the planned joints, and the bend (0 .. 1)."""

    body: Body
    times: np.ndarray
    ground: np.ndarray
    gait: np.ndarray
    targets: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    reached: dict[str, np.ndarray]
    bend: np.ndarray
    height: float


@dataclass(frozen=True)
class Skeleton:
    """Joint offsets (3,) in the parent link's frame, at URDF scale 1, by joint name."""

    offsets: dict[str, np.ndarray]

    def length(self, joint: str) -> float:
        return float(np.linalg.norm(self.offsets[joint]))


@cache
def skeleton() -> Skeleton:
    """The humanoid's joint offsets, read from the URDF by pybullet at its zero pose (every
    link frame is then aligned with the base, so offsets are position differences)."""
    client = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, physicsClientId=client)
        count = pb.getNumJoints(uid, physicsClientId=client)
        infos = [pb.getJointInfo(uid, j, physicsClientId=client) for j in range(count)]
        pos = [np.asarray(pb.getLinkState(uid, j, physicsClientId=client)[4]) for j in range(count)]
    finally:
        pb.disconnect(client)
    offsets = {}
    for j, info in enumerate(infos):
        parent = info[16]
        offsets[info[1].decode()] = pos[j] - (pos[parent] if parent >= 0 else np.zeros(3))
    return Skeleton(offsets)


def person_scale(height: float) -> float:
    """The size relative to the clips' model of a person of standing ``height`` (m)."""
    return height / standing_pose()[1]


def rest_hand(xy, heading: float, height: float, side: str = "right") -> np.ndarray:
    """World position (3,) of a hand of a person of ``height`` standing at ``xy`` facing
    ``heading`` with its arms down (where a script's first hand key can start)."""
    sk = skeleton()
    size = MODEL_SCALE * person_scale(height)
    chain = sk.offsets["chest"] + sk.offsets[SIDES[side][0]]
    chain = chain + sk.offsets[SIDES[side][1]] + sk.offsets[HANDS[side]]
    rot = Rotation.from_euler("z", heading) * _Y_UP_TO_Z_UP
    base = np.array([xy[0], xy[1], standing_pose()[0] * size / MODEL_SCALE])
    return base + rot.apply(size * chain)


# Walking between stops.


def _path(points: list[np.ndarray], rounds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A smooth ground path from the first to the last of ``points`` that rounds the
    corners at the others (Chaikin's corner cutting: it stays inside their convex hull
    and leaves and ends along the first and last legs): dense points (N, 2) and their
    arc lengths (N,)."""
    pts = [np.asarray(points[0], float)]
    for p in points[1:]:
        if np.linalg.norm(np.asarray(p, float) - pts[-1]) > 1e-6:
            pts.append(np.asarray(p, float))
    pts = np.array(pts)
    for _ in range(rounds if len(pts) > 2 else 0):
        a, b = pts[:-1], pts[1:]
        cut = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], axis=1).reshape(-1, 2)
        pts = np.concatenate([pts[:1], cut[1:-1], pts[-1:]])
    if len(pts) == 1:
        return pts, np.zeros(1)
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    dense = np.linspace(0.0, arc[-1], 400)
    return np.stack([np.interp(dense, arc, pts[:, k]) for k in range(2)], axis=1), dense


def _walked(tau: np.ndarray, duration: float, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance and speed at times ``tau`` (s from the start) of a walk of ``length`` m
    over ``duration`` s: speeding up over ``RAMP`` s (smoothstep), cruising, slowing down."""
    ramp = min(RAMP, duration / 3)
    top = length / (duration - ramp)

    def up(x):  # distance covered while speeding up for x s
        u = np.clip(x / ramp, 0.0, 1.0)
        return top * ramp * (u**3 - u**4 / 2) + top * np.maximum(x - ramp, 0.0)

    tau = np.clip(tau, 0.0, duration)
    first = tau <= duration / 2
    distance = np.where(first, up(tau), length - up(duration - tau))
    speed = top * smoothstep(np.minimum(tau, duration - tau) / ramp)
    return distance, speed


def ground_track(stops: list[Stop], t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground position (T, 2), heading (T,) rad and speed (T,) m/s at times ``t``.

    Walking, the person faces along its path, turning from the heading of the stop it
    leaves while it speeds up and into the heading of the stop it reaches while it
    slows down."""
    xy = np.tile(np.asarray(stops[0].xy, float), (len(t), 1))
    heading = np.full(len(t), float(stops[0].heading))
    speed = np.zeros(len(t))
    for a, b in zip(stops[:-1], stops[1:], strict=True):
        dense, arc = _path([a.xy, *b.via, b.xy])
        duration = b.arrive - a.leave
        if duration <= 0:
            raise ValueError(f"a stop is reached ({b.arrive:g} s) before the last is left")
        after = t >= a.leave
        xy[after] = b.xy
        heading[after] = b.heading
        walking = after & (t < b.arrive)
        if arc[-1] < 1e-6 or not walking.any():
            continue
        tau = t[walking] - a.leave
        s, v = _walked(tau, duration, arc[-1])
        xy[walking] = np.stack([np.interp(s, arc, dense[:, k]) for k in range(2)], axis=1)
        tangent = np.gradient(dense, arc, axis=0)
        along = np.unwrap(np.arctan2(tangent[:, 1], tangent[:, 0]))
        direction = np.interp(s, arc, along)
        turns = [abs(_wrap(h - direction[k])) for h, k in ((a.heading, 0), (b.heading, -1))]
        ramps = [min(max(RAMP, 1.5 * turn / TURN_RATE), duration / 2) for turn in turns]
        leaving = 1.0 - smoothstep(tau / ramps[0])
        arriving = 1.0 - smoothstep((duration - tau) / ramps[1])
        direction += leaving * _wrap(a.heading - direction)
        direction += arriving * _wrap(b.heading - direction)
        heading[walking] = direction
        speed[walking] = v
    return xy, np.unwrap(heading), speed


def _wrap(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def _windows(t: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """1 inside the time windows, 0 outside, eased over ``STEADY_RAMP`` s at both ends."""
    out = np.zeros(len(t))
    for start, end in windows:
        rise = smoothstep((t - start + STEADY_RAMP) / STEADY_RAMP)
        fall = smoothstep((end + STEADY_RAMP - t) / STEADY_RAMP)
        out = np.maximum(out, np.minimum(rise, fall))
    return out


# Hand targets.


def _resolve(key: HandKey, xy: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """A key's target (T, 3) world, at every sample (body-frame keys move with the body)."""
    p = np.asarray(key.position, float)
    if key.frame == "world":
        return np.tile(p, (len(xy), 1))
    if key.frame != "body":
        raise ValueError(f"hand key frame must be 'world' or 'body' (got {key.frame!r})")
    c, s = np.cos(heading), np.sin(heading)
    return np.stack([xy[:, 0] + c * p[0] - s * p[1], xy[:, 1] + s * p[0] + c * p[1],
                     np.full(len(xy), p[2])], axis=1)  # fmt: skip


def hand_targets(
    keys: list[HandKey], t: np.ndarray, xy: np.ndarray, heading: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Targets (T, 3) and weights (T,) of one hand at times ``t``."""
    if not keys:
        return np.zeros((len(t), 3)), np.zeros(len(t))
    keys = sorted(keys, key=lambda k: k.time)
    resolved = [_resolve(k, xy, heading) for k in keys]
    times = np.array([k.time for k in keys])
    weights = np.array([k.weight for k in keys], float)
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(keys) - 1)
    k1 = np.minimum(k + 1, len(keys) - 1)
    span = np.maximum(times[k1] - times[k], 1e-9)
    s = np.where(k1 > k, min_jerk((t - times[k]) / span), 0.0)
    s = np.where(t < times[0], 0.0, s)
    rows = np.arange(len(t))
    stacked = np.stack(resolved)  # (K, T, 3)
    target = (1 - s)[:, None] * stacked[k, rows] + s[:, None] * stacked[k1, rows]
    weight = (1 - s) * weights[k] + s * weights[k1]
    return target, np.clip(weight, 0.0, 1.0)


# The body's pose.


def _rz(angle) -> Rotation:
    """Rotation about the model's z axis (its right side): a positive angle turns its
    up (+y) backwards and its down (-y) forwards."""
    return Rotation.from_euler("z", np.reshape(angle, (-1, 1)))


def _powered(rot: Rotation, weight: np.ndarray) -> Rotation:
    """``rot`` scaled towards identity by ``weight`` (per sample)."""
    return Rotation.from_rotvec(weight[:, None] * rot.as_rotvec())


def _bend_angles(bend: np.ndarray, standing: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hip lean, chest lean (rad) and knee squat (URDF units) of bend values (0 .. 1);
    the knees bend only while ``standing`` (0 .. 1)."""
    lean = np.clip(bend / LEAN_SHARE, 0.0, 1.0)
    squat = np.clip((bend - LEAN_SHARE) / (1 - LEAN_SHARE), 0.0, 1.0) * standing
    return lean * HIP_BEND, lean * CHEST_BEND, squat * SQUAT


@dataclass
class _Pose:
    """The base pose (world) and the joints of torso and legs at T samples."""

    base_pos: np.ndarray  # (T, 3)
    base_rot: Rotation
    chest_rel: Rotation
    joints: dict  # joint name -> Rotation or (T,) angles


def _body_pose(
    size: float,
    xy: np.ndarray,
    heading: np.ndarray,
    gait: np.ndarray,
    steady: np.ndarray,
    clip_root: np.ndarray,
    clip_rot: Rotation,
    clip_joints: dict,
    bend: np.ndarray,
) -> _Pose:
    """The base pose and the joints of torso and legs for a bend (T,)."""
    n = len(xy)
    stand_root_z = standing_pose()[0] / MODEL_SCALE  # at model scale 1
    sk = skeleton()
    g = gait * (1.0 - steady)  # how much of the clip's root sway and torso the body keeps
    hip, chest, squat = _bend_angles(bend, 1.0 - gait)
    # Legs: the hips drop by ``squat`` with the feet in place under them, flat.
    thigh, shank = sk.length("right_knee"), sk.length("right_ankle")
    reach = thigh + shank - squat
    a1 = np.arccos(np.clip((thigh**2 + reach**2 - shank**2) / (2 * thigh * reach), -1, 1))
    a2 = np.arccos(np.clip((shank**2 + reach**2 - thigh**2) / (2 * shank * reach), -1, 1))

    upright = Rotation.from_quat(np.tile(_Y_UP_TO_Z_UP.as_quat(), (n, 1)))
    sway = _powered(upright.inv() * clip_rot, g)
    yaw = _rz(heading)
    base_rot = yaw * upright * sway * _rz(-hip)
    root = clip_root / MODEL_SCALE  # the clip's metres at the model's scale 1
    offset = g[:, None] * root
    offset[:, 2] = stand_root_z + g * (root[:, 2] - stand_root_z) - squat
    base_pos = np.c_[xy, np.zeros(n)] + yaw.apply(size * offset)

    joints = {}
    for name, value in clip_joints.items():
        joints[name] = _powered(value, gait) if isinstance(value, Rotation) else gait * value
    joints["chest"] = _rz(-chest) * _powered(clip_joints["chest"], g)
    for side in SIDES:  # free arms hang down however far the torso leans
        joints[f"{side}_shoulder"] = _rz(hip + chest) * joints[f"{side}_shoulder"]
    for side in ("right", "left"):
        joints[f"{side}_hip"] = _rz(hip + a1) * joints[f"{side}_hip"]
        joints[f"{side}_knee"] = joints[f"{side}_knee"] - (a1 + a2)
        joints[f"{side}_ankle"] = joints[f"{side}_ankle"] * _rz(a2)
    return _Pose(base_pos, base_rot, joints["chest"], joints)


def _chest_frame(size: float, pose: _Pose) -> tuple[np.ndarray, Rotation]:
    sk = skeleton()
    pos = pose.base_pos + pose.base_rot.apply(size * sk.offsets["chest"])
    return pos, pose.base_rot * pose.chest_rel


def _shoulder(size: float, pose: _Pose, side: str) -> np.ndarray:
    pos, rot = _chest_frame(size, pose)
    return pos + rot.apply(size * skeleton().offsets[SIDES[side][0]])


def _needed_bend(size, base_args, targets, weights, grid: int = 25) -> np.ndarray:
    """The least bend (T,) that brings every weighted hand target within
    ``REACH_MARGIN`` of its shoulder (1 where none does)."""
    sk = skeleton()
    limit = REACH_MARGIN * size * (sk.length("right_elbow") + sk.length("right_wrist"))
    n = len(base_args[0])
    values = np.linspace(0.0, 1.0, grid)
    fits = np.ones((grid, n), bool)
    for i, b in enumerate(values):
        pose = _body_pose(size, *base_args, np.full(n, b))
        for side, target in targets.items():
            far = np.linalg.norm(_shoulder(size, pose, side) - target, axis=1) > limit
            fits[i] &= ~(far & (weights[side] > 0))
    first = np.where(fits.any(axis=0), np.argmax(fits, axis=0), grid - 1)
    return values[first]


def _arm_ik(
    size: float, pose: _Pose, side: str, target: np.ndarray, heading: np.ndarray
) -> tuple[Rotation, np.ndarray]:
    """Shoulder rotation (in the chest frame) and elbow angle (T,) putting the hand on
    ``target`` (T, 3), or as near as the arm reaches; the elbow points down, out and
    back."""
    sk = skeleton()
    shoulder_joint, elbow_joint = SIDES[side]
    a = size * sk.length(elbow_joint)
    b = size * sk.length(HANDS[side])
    chest_pos, chest_rot = _chest_frame(size, pose)
    s = chest_pos + chest_rot.apply(size * sk.offsets[shoulder_joint])
    v = target - s
    d = np.clip(np.linalg.norm(v, axis=1), abs(a - b) + 1e-3, 0.999 * (a + b))
    v_hat = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    p = v_hat * d[:, None]  # the reachable point nearest the target
    cos_elbow = np.clip((d**2 - a**2 - b**2) / (2 * a * b), -1.0, 1.0)
    flex = np.arccos(cos_elbow)
    cos_alpha = np.clip((a**2 + d**2 - b**2) / (2 * a * d), -1.0, 1.0)
    forward = np.stack([np.cos(heading), np.sin(heading), np.zeros_like(heading)], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), np.zeros_like(heading)], axis=1)
    out = -left if side == "right" else left
    pole = np.array([0.0, 0.0, -1.0]) + 0.6 * out - 0.3 * forward
    pole -= (pole * v_hat).sum(axis=1, keepdims=True) * v_hat
    pole /= np.maximum(np.linalg.norm(pole, axis=1, keepdims=True), 1e-9)
    sin_alpha = np.sqrt(1.0 - cos_alpha**2)
    u1 = cos_alpha[:, None] * v_hat + sin_alpha[:, None] * pole  # shoulder -> elbow
    u2 = (p - a * u1) / b  # elbow -> hand
    x = u2 - cos_elbow[:, None] * u1
    x_norm = np.linalg.norm(x, axis=1, keepdims=True)
    fallback = -pole - (-pole * u1).sum(axis=1, keepdims=True) * u1
    x = np.where(x_norm > 1e-6, x / np.maximum(x_norm, 1e-12), fallback)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = -u1
    z = np.cross(x, y)
    world = Rotation.from_matrix(np.stack([x, y, z], axis=2))
    return chest_rot.inv() * world, flex


def _head_look(size, pose: _Pose, targets, weights, heading: np.ndarray) -> Rotation:
    """The neck's rotation that turns the head so that its eyes (the head camera,
    ``head_mount``) look at the weighted mean of the hands' targets, their right kept
    level with the body's right (no roll), turning at most ``LOOK_MAX`` from the clip's
    head pose and by as much as the largest weight; found by a few fixed-point steps
    (the eyes move as the head turns)."""
    sk = skeleton()
    chest_pos, chest_rot = _chest_frame(size, pose)
    neck_pos = chest_pos + chest_rot.apply(size * sk.offsets["neck"])
    mount = head_mount(size)
    mount_rot = Rotation.from_matrix(mount[:3, :3])
    total = np.sum([weights[side] for side in targets], axis=0)
    look = np.sum([weights[side][:, None] * targets[side] for side in targets], axis=0)
    look = look / np.maximum(total, 1e-9)[:, None]
    neutral = chest_rot * pose.joints["neck"]
    right = np.stack([np.sin(heading), -np.cos(heading), np.zeros_like(heading)], axis=1)
    turn = Rotation.identity(len(look))
    for _ in range(4):
        eye = neck_pos + (neutral * turn).apply(mount[:3, 3])
        z = look - eye
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)
        x = right - (right * z).sum(axis=1, keepdims=True) * z  # the body's right, level
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
        camera = Rotation.from_matrix(np.stack([x, np.cross(z, x), z], axis=2))
        rotvec = (neutral.inv() * camera * mount_rot.inv()).as_rotvec()
        angle = np.linalg.norm(rotvec, axis=1, keepdims=True)
        turn = Rotation.from_rotvec(rotvec * np.minimum(1.0, LOOK_MAX / np.maximum(angle, 1e-9)))
    strength = np.clip(np.max([weights[side] for side in targets], axis=0), 0.0, 1.0)
    return pose.joints["neck"] * _powered(turn, strength)


def plan_person(name: str, script: PersonScript, duration: float, clip: str = "walk") -> PersonPlan:
    """The puppet Body (class "person", colliding) that acts out ``script`` over
    ``duration`` s, with what was planned (see ``PersonPlan``)."""
    motion_clip = load_clip(clip)
    scale = person_scale(script.height)
    size = MODEL_SCALE * scale
    n = max(2, int(np.ceil(duration * KEY_HZ)) + 1)
    t = np.linspace(0.0, duration, n)
    xy, heading, speed = ground_track(script.stops, t)
    speed = gaussian_filter1d(speed, 0.05 * KEY_HZ, mode="nearest")
    gait = smoothstep(speed / FULL_GAIT_SPEED)
    walked = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
    tau = walked / (motion_clip.stride_speed * scale)
    clip_root, clip_rot, clip_joints = sample_clip(motion_clip, tau)
    steady = _windows(t, script.steady)
    base_args = (xy, heading, gait, steady, clip_root, clip_rot, clip_joints)

    targets, weights = {}, {}
    for side, keys in script.hands.items():
        if side not in HANDS:
            raise ValueError(f"hand must be one of {sorted(HANDS)} (got {side!r})")
        targets[side], weights[side] = hand_targets(keys, t, xy, heading)
    bend = np.zeros(n)
    if targets:
        needed = _needed_bend(size, base_args, targets, weights)
        needed *= np.max([weights[side] for side in targets], axis=0)
        bend = gaussian_filter1d(needed, 0.12 * KEY_HZ, mode="nearest")
        bend = np.maximum(bend, gaussian_filter1d(needed, 0.04 * KEY_HZ, mode="nearest"))
    pose = _body_pose(size, *base_args, bend)
    joints = pose.joints
    for side in targets:
        shoulder_joint, elbow_joint = SIDES[side]
        q, flex = _arm_ik(size, pose, side, targets[side], heading)
        w = weights[side]
        rest = joints[shoulder_joint]
        joints[shoulder_joint] = rest * _powered(rest.inv() * q, w)
        joints[elbow_joint] = (1 - w) * joints[elbow_joint] + w * flex
    if targets:
        joints["neck"] = _head_look(size, pose, targets, weights, heading)

    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = pose.base_rot.as_matrix()
    poses[:, :3, 3] = pose.base_pos
    positions = {
        joint: value.as_quat() if isinstance(value, Rotation) else np.asarray(value, float)
        for joint, value in joints.items()
    }
    body = Body(
        name,
        "person",
        pose=poses[0].copy(),
        mass=0.0,
        collision="auto",
        motion=Motion(t, poses, interpolation="linear"),
        urdf_path=HUMANOID_URDF,
        urdf_scale=size,
        joint_motion=JointMotion(t, positions),
    )
    reached = hand_positions(body, t)
    return PersonPlan(
        body=body,
        times=t,
        ground=np.c_[xy, heading],
        gait=gait,
        targets=targets,
        weights=weights,
        reached={side: reached[side] for side in targets},
        bend=bend,
        height=float(script.height),
    )


def hand_positions(body: Body, times: np.ndarray) -> dict[str, np.ndarray]:
    """Hand (wrist link) positions (T, 3) of a humanoid puppet at times that are keys of
    its motion, by pybullet forward kinematics."""
    motion, jm = body.motion, body.joint_motion
    index = np.searchsorted(motion.times, times)
    client = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, globalScaling=body.urdf_scale, physicsClientId=client)
        count = pb.getNumJoints(uid, physicsClientId=client)
        infos = [pb.getJointInfo(uid, j, physicsClientId=client) for j in range(count)]
        joint = {info[1].decode(): info[0] for info in infos}
        link = {info[12].decode(): info[0] for info in infos}
        inertial = pb.getDynamicsInfo(uid, -1, physicsClientId=client)
        out = {side: np.zeros((len(times), 3)) for side in HANDS}
        for row, i in enumerate(index):
            T = motion.poses[i]
            pos, quat = pb.multiplyTransforms(
                T[:3, 3].tolist(),
                Rotation.from_matrix(T[:3, :3]).as_quat().tolist(),
                inertial[3],
                inertial[4],
            )
            pb.resetBasePositionAndOrientation(uid, pos, quat, physicsClientId=client)
            for name, values in jm.positions.items():
                value = np.atleast_1d(values[i]).tolist()
                pb.resetJointStateMultiDof(uid, joint[name], value, physicsClientId=client)
            for side, hand in HANDS.items():
                state = pb.getLinkState(
                    uid, link[hand], computeForwardKinematics=1, physicsClientId=client
                )
                out[side][row] = state[4]
    finally:
        pb.disconnect(client)
    return out


def head_mount(urdf_scale: float, pitch: float = HEAD_CAMERA_PITCH) -> np.ndarray:
    """``T_body_camera`` (OpenCV axes) of an egocentric camera on the head link
    (``neck``: x forward, y up, z right in the model) of a body at ``urdf_scale``: just in
    front of the face, looking ``pitch`` rad below the head's forward direction."""
    centre, radius = _head_sphere()
    forward = np.array([np.cos(pitch), -np.sin(pitch), 0.0])
    right = np.array([0.0, 0.0, 1.0])
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2] = right, np.cross(forward, right), forward
    T[:3, 3] = urdf_scale * (np.asarray(centre) + radius * np.array([1.05, 0.1, 0.0]))
    return T


def sample_height(rng: np.random.Generator) -> float:
    """A standing height (m) from ``HEIGHT_RANGE``."""
    return float(rng.uniform(*HEIGHT_RANGE))
