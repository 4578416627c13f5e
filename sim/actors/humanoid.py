"""Pedestrians: the DeepMimic humanoid of ``pybullet_data`` played from its motion clips.

The humanoid (``humanoid/humanoid.urdf``) is modelled Y up, facing +x, with its
right side on +z; DeepMimic loads it with ``globalScaling`` 0.25, and its clips
(``data/motions/humanoid3d_<name>.txt``) give root positions in metres for that
size. Clips are converted here to the world convention (Z up, walking along +x,
feet on z = 0), and a pedestrian is the URDF body whose root follows a ground track
while its joints play the clip at the pace of its steps. ``dress`` colours any
family's humanoid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pybullet as pb
import pybullet_data
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation, Slerp

from simfactory.sim.model.motion import smoothstep
from simfactory.sim.model.spec import Body, JointMotion, Material, Motion

HUMANOID_URDF = str(Path(pybullet_data.getDataPath()) / "humanoid" / "humanoid.urdf")
MOTIONS_DIR = Path(pybullet_data.getDataPath()) / "data" / "motions"
MODEL_SCALE = 0.25  # the URDF scale at which clip root positions are in metres

# A clip frame after its duration, root position (3) and root rotation (4, wxyz):
# joint rotations in DeepMimic's order (humanoid_pose_interpolator.py), quaternions wxyz
# for spherical joints and one angle (rad) for knees and elbows.
CLIP_JOINTS = (
    ("chest", 4),
    ("neck", 4),
    ("right_hip", 4),
    ("right_knee", 1),
    ("right_ankle", 4),
    ("right_shoulder", 4),
    ("right_elbow", 1),
    ("left_hip", 4),
    ("left_knee", 1),
    ("left_ankle", 4),
    ("left_shoulder", 4),
    ("left_elbow", 1),
)
FULL_GAIT_SPEED = 0.6  # m/s; slower pedestrians blend from the clip towards standing
KEY_HZ = 60.0  # keys per second of a pedestrian's Motion and JointMotion
SMOOTH_FRAMES = 1.0  # Gaussian sigma, in clip frames

_Y_UP_TO_Z_UP = Rotation.from_euler("x", 90, degrees=True)


@dataclass
class MotionClip:
    """A DeepMimic clip in the world convention, for the model at ``MODEL_SCALE``.

    ``root_pos`` is the URDF base (the pelvis) in metres, Z up, starting above the
    origin and travelling along +x, with the body's lowest point on z = 0 (its lower
    quartile over the clip: mocap stances dip or float by a few centimetres);
    ``root_quat_xyzw`` its rotation. ``joints`` maps URDF joint names to (T, 4)
    quaternions (x, y, z, w) or (T,) angles. A looping clip is made seamless: its
    last frame equals its first one, moved forward by one cycle. Every channel is
    lightly smoothed over time (mocap clips have a few one-frame jerks).
    """

    name: str
    frame_times: np.ndarray  # (T,) s
    root_pos: np.ndarray  # (T, 3)
    root_quat_xyzw: np.ndarray  # (T, 4)
    joints: dict[str, np.ndarray]
    loop: bool

    @property
    def duration(self) -> float:
        return float(self.frame_times[-1])

    @property
    def stride_speed(self) -> float:
        """Horizontal speed (m/s) of the root over the whole clip."""
        travel = self.root_pos[-1, :2] - self.root_pos[0, :2]
        return float(np.linalg.norm(travel) / self.duration)


def clip_path(name: str) -> Path:
    return MOTIONS_DIR / f"humanoid3d_{name}.txt"


@cache
def load_clip(name: str) -> MotionClip:
    """Read, convert and loop-close ``humanoid3d_<name>.txt`` ("walk", "run", ...)."""
    data = json.loads(clip_path(name).read_text())
    frames = np.asarray(data["Frames"], dtype=float)
    frame_times = np.r_[0.0, np.cumsum(frames[:-1, 0])]
    root_pos = _Y_UP_TO_Z_UP.apply(frames[:, 1:4])
    root_rot = _Y_UP_TO_Z_UP * Rotation.from_quat(_xyzw(frames[:, 4:8]))
    joints, col = {}, 8
    for joint, width in CLIP_JOINTS:
        values = frames[:, col : col + width]
        joints[joint] = _xyzw(values) if width == 4 else values[:, 0].copy()
        col += width
    loop = data.get("Loop", "none") == "wrap"
    if loop:  # spread the seam's mismatch evenly: half before it, half after it
        u = frame_times / frame_times[-1] - 0.5
        root_pos[:, 2] -= u * (root_pos[-1, 2] - root_pos[0, 2])  # keeps the forward travel
        root_rot = _close_loop(root_rot, u)
        for joint, values in joints.items():
            if values.ndim == 2:
                joints[joint] = _close_loop(Rotation.from_quat(values), u).as_quat()
            else:
                joints[joint] = values - u * (values[-1] - values[0])
    trend = np.outer(frame_times / frame_times[-1], root_pos[-1] - root_pos[0])
    root_pos = trend + _smooth(root_pos - trend, loop)
    root_rot = Rotation.from_quat(_smooth_rotations(root_rot.as_quat(), loop))
    joints = {
        joint: _smooth_rotations(values, loop) if values.ndim == 2 else _smooth(values, loop)
        for joint, values in joints.items()
    }
    travel = root_pos[-1, :2] - root_pos[0, :2]
    if np.linalg.norm(travel) > 0.1:  # turn the clip to travel along +x
        turn = Rotation.from_euler("z", -np.arctan2(travel[1], travel[0]))
        root_pos, root_rot = turn.apply(root_pos), turn * root_rot
    root_pos[:, :2] -= root_pos[0, :2]
    root_quat = root_rot.as_quat()
    lowest, _ = model_extent_z(root_pos, root_quat, joints, MODEL_SCALE)
    root_pos[:, 2] -= np.percentile(lowest, 25)  # stances dip or float by a few cm
    return MotionClip(name, frame_times, root_pos, root_quat, joints, loop)


def _smooth(values: np.ndarray, loop: bool) -> np.ndarray:
    """Gaussian smoothing over frames, circular for a closed loop (whose last frame
    repeats its first): mocap clips have a few one-frame jerks."""
    if not loop:
        return gaussian_filter1d(values, SMOOTH_FRAMES, axis=0, mode="nearest")
    cycle = gaussian_filter1d(values[:-1], SMOOTH_FRAMES, axis=0, mode="wrap")
    return np.concatenate([cycle, cycle[:1]])


def _smooth_rotations(quats: np.ndarray, loop: bool) -> np.ndarray:
    """``_smooth`` for quaternions (T, 4), as rotation vectors about their mean."""
    rot = Rotation.from_quat(quats)
    mean = rot.mean()
    return (mean * Rotation.from_rotvec(_smooth((mean.inv() * rot).as_rotvec(), loop))).as_quat()


def _xyzw(wxyz: np.ndarray) -> np.ndarray:
    q = np.roll(wxyz, -1, axis=-1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _close_loop(rot: Rotation, u: np.ndarray) -> Rotation:
    """Rotations bent progressively (fraction ``u``) so that the last equals the first."""
    mismatch = (rot[-1].inv() * rot[0]).as_rotvec()
    return rot * Rotation.from_rotvec(np.outer(u, mismatch))


@cache
def standing_pose() -> tuple[float, float]:
    """(root height, standing height) in metres of the model at ``MODEL_SCALE`` with
    every joint at rest (upright, legs straight, arms down) and its feet on z = 0."""
    quat = _Y_UP_TO_Z_UP.as_quat()[None]
    lowest, highest = model_extent_z(np.zeros((1, 3)), quat, {}, MODEL_SCALE)
    return float(-lowest[0]), float(highest[0] - lowest[0])


def model_extent_z(
    root_pos: np.ndarray, root_quat_xyzw: np.ndarray, joints: dict[str, np.ndarray], scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest z (T,) of the humanoid's collision shapes in each pose,
    by pybullet forward kinematics."""
    c = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, globalScaling=scale, physicsClientId=c)
        count = pb.getNumJoints(uid, physicsClientId=c)
        index = {pb.getJointInfo(uid, j, physicsClientId=c)[1].decode(): j for j in range(count)}
        lowest, highest = np.zeros(len(root_pos)), np.zeros(len(root_pos))
        for i, (pos, quat) in enumerate(zip(root_pos, root_quat_xyzw, strict=True)):
            pb.resetBasePositionAndOrientation(uid, pos.tolist(), quat.tolist(), physicsClientId=c)
            for joint, values in joints.items():
                value = np.atleast_1d(values[i]).tolist()
                pb.resetJointStateMultiDof(uid, index[joint], value, physicsClientId=c)
            boxes = np.array([pb.getAABB(uid, j, physicsClientId=c) for j in range(-1, count)])
            lowest[i], highest[i] = boxes[:, 0, 2].min(), boxes[:, 1, 2].max()
    finally:
        pb.disconnect(c)
    return lowest, highest


def sample_clip(clip: MotionClip, tau: np.ndarray) -> tuple[np.ndarray, Rotation, dict]:
    """The clip at clip times ``tau`` (N,), wrapped for a looping clip, clamped
    otherwise: root position with the clip's forward travel removed (N, 3), root
    rotation, and joint values (Rotation or (N,) angles) by joint name."""
    tau = np.mod(tau, clip.duration) if clip.loop else np.clip(tau, 0.0, clip.duration)
    times = clip.frame_times
    travel = np.r_[clip.root_pos[-1, :2] - clip.root_pos[0, :2], 0.0]
    in_place = clip.root_pos - np.outer(times / clip.duration, travel)
    in_place[:, :2] -= in_place[:-1, :2].mean(axis=0)  # sways about the ground track
    root_pos = np.stack([np.interp(tau, times, in_place[:, k]) for k in range(3)], axis=1)
    root_rot = Slerp(times, Rotation.from_quat(clip.root_quat_xyzw))(tau)
    joints = {
        joint: Slerp(times, Rotation.from_quat(v))(tau) if v.ndim == 2 else np.interp(tau, times, v)
        for joint, v in clip.joints.items()
    }
    return root_pos, root_rot, joints


def pedestrian_body(
    name: str,
    path_xy: np.ndarray,
    times: np.ndarray,
    clip: str,
    height: float,
    phase: float = 0.0,
    ground_z: np.ndarray | float = 0.0,
) -> Body:
    """A humanoid of standing height ``height`` (m) walking the ground track
    ``path_xy`` (T, 2) reached at ``times`` (T,).

    It faces its direction of travel (turning smoothly), its root swaying about the
    track as in the clip, and plays ``clip`` at the pace of its steps: clip time
    advances by the distance walked over the clip's stride speed (scaled to this
    pedestrian's size), so feet do not slide. Below ``FULL_GAIT_SPEED`` the gait
    blends into a standing pose (upright, legs straight, arms down), so a pedestrian
    that stands still stands. ``phase`` (fraction of a cycle) offsets the gait;
    ``ground_z`` (scalar or (T,)) is the ground height under the track (a raised
    sidewalk). The body is a kinematic puppet (``joint_motion``) without collisions.
    """
    motion_clip = load_clip(clip)
    stand_root_z, stand_height = standing_pose()
    scale = height / stand_height
    times = np.asarray(times, dtype=float)
    path_xy = np.asarray(path_xy, dtype=float)
    n = max(2, int(np.ceil((times[-1] - times[0]) * KEY_HZ)) + 1)
    t = np.linspace(times[0], times[-1], n)
    xy = np.stack([np.interp(t, times, path_xy[:, k]) for k in range(2)], axis=1)
    ground = np.interp(t, times, np.broadcast_to(np.asarray(ground_z, dtype=float), times.shape))
    walked = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
    velocity = np.gradient(xy, t, axis=0)
    speed = gaussian_filter1d(np.linalg.norm(velocity, axis=1), 0.1 * KEY_HZ, mode="nearest")
    heading = _heading(velocity)
    gait = smoothstep(speed / FULL_GAIT_SPEED)
    tau = phase * motion_clip.duration + walked / (motion_clip.stride_speed * scale)
    root_pos, root_rot, joints = sample_clip(motion_clip, tau)

    upright = Rotation.from_quat(np.tile(_Y_UP_TO_Z_UP.as_quat(), (n, 1)))
    sway = Rotation.from_rotvec(gait[:, None] * (upright.inv() * root_rot).as_rotvec())
    yaw = Rotation.from_euler("z", heading[:, None])
    offset = gait[:, None] * root_pos
    offset[:, 2] = stand_root_z + gait * (root_pos[:, 2] - stand_root_z)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = (yaw * upright * sway).as_matrix()
    poses[:, :2, 3] = xy
    poses[:, :3, 3] += yaw.apply(scale * offset) + np.c_[np.zeros((n, 2)), ground]
    positions = {
        joint: (
            Rotation.from_rotvec(gait[:, None] * v.as_rotvec()).as_quat()
            if isinstance(v, Rotation)
            else gait * v
        )
        for joint, v in joints.items()
    }
    return Body(
        name,
        "person",
        pose=poses[0].copy(),
        mass=0.0,
        collision="none",
        motion=Motion(t, poses, interpolation="linear"),
        urdf_path=HUMANOID_URDF,
        urdf_scale=MODEL_SCALE * scale,
        joint_motion=JointMotion(t, positions),
    )


def _heading(velocity: np.ndarray, sigma_keys: float = 0.25 * KEY_HZ) -> np.ndarray:
    """Direction of travel (rad) of a path, smoothed over about half a second and held
    through stops; 0 for a path that never moves."""
    smooth = gaussian_filter1d(velocity, sigma_keys, axis=0, mode="nearest")
    moving = np.linalg.norm(smooth, axis=1) > 0.05
    if not moving.any():
        return np.zeros(len(velocity))
    last = np.maximum.accumulate(np.where(moving, np.arange(len(velocity)), -1))
    last[last < 0] = np.argmax(moving)
    return np.unwrap(np.arctan2(smooth[last, 1], smooth[last, 0]))


# Looks: the same palette for every family's humanoids.

SKIN = [
    (0.80, 0.57, 0.45),
    (0.62, 0.42, 0.30),
    (0.43, 0.28, 0.19),
    (0.27, 0.17, 0.11),
    (0.87, 0.68, 0.58),
]
CLOTHES = [
    (0.05, 0.05, 0.06),
    (0.75, 0.75, 0.74),
    (0.08, 0.12, 0.30),
    (0.35, 0.05, 0.06),
    (0.15, 0.25, 0.12),
    (0.40, 0.32, 0.20),
    (0.30, 0.30, 0.32),
    (0.60, 0.45, 0.10),
    (0.10, 0.30, 0.45),
    (0.45, 0.12, 0.30),
]
OUTFIT = {
    "skin": ("neck", "right_wrist", "left_wrist"),
    "top": ("base", "root", "chest", "right_shoulder", "left_shoulder"),
    "sleeves": ("right_elbow", "left_elbow"),
    "bottom": ("right_hip", "right_knee", "left_hip", "left_knee"),
    "shoes": ("right_ankle", "left_ankle"),
}


def dress(body: Body, rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    """Skin, top (short or long sleeves), trousers and shoe colours on a humanoid body
    (``Body.urdf_materials``); returns the colours (linear RGB) by part."""
    top = CLOTHES[int(rng.integers(len(CLOTHES)))]
    skin = SKIN[int(rng.integers(len(SKIN)))]
    colours = {
        "skin": skin,
        "top": top,
        "sleeves": top if rng.random() < 0.6 else skin,
        "bottom": CLOTHES[int(rng.integers(len(CLOTHES)))],
        "shoes": ((0.03, 0.03, 0.03), (0.6, 0.6, 0.6), (0.25, 0.12, 0.05))[int(rng.integers(3))],
    }
    roughness = {"skin": 0.5, "top": 0.85, "sleeves": 0.85, "bottom": 0.8, "shoes": 0.5}
    for part, links in OUTFIT.items():
        material = Material(f"{body.name}_{part}", (*colours[part], 1.0), roughness[part])
        for link in links:
            body.urdf_materials[link] = material
    return colours
