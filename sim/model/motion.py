"""Evaluate scripted kinematic paths (``spec.Motion``) and rigid-transform helpers."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from scipy.spatial.transform import Rotation

from simfactory.sim.model.spec import Motion

_IDENTITY = np.eye(3)


def pose_from_pos_quat_xyzw(position, quat_xyzw) -> np.ndarray:
    """4x4 pose from a position and a pybullet quaternion (x, y, z, w)."""
    T = np.eye(4)
    T[:3, :3] = np.reshape(pb.getMatrixFromQuaternion(quat_xyzw), (3, 3))  # fast, in C
    T[:3, 3] = position
    return T


def pos_quat_xyzw(T: np.ndarray) -> tuple[list[float], list[float]]:
    """Position and pybullet quaternion (x, y, z, w) of a 4x4 pose."""
    R = T[:3, :3]
    if (R == _IDENTITY).all():
        return T[:3, 3].tolist(), [0.0, 0.0, 0.0, 1.0]  # skips scipy's per-call overhead
    return T[:3, 3].tolist(), Rotation.from_matrix(R).as_quat().tolist()


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform (or a stack of them)."""
    R = np.swapaxes(T[..., :3, :3], -1, -2)
    out = np.zeros_like(T)
    out[..., :3, :3] = R
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", R, T[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    """Ease in and out: zero velocity at both ends of a segment."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def motion_pose(motion: Motion, t: float) -> np.ndarray:
    """The pose of a scripted path at time ``t`` (s)."""
    times = np.asarray(motion.times, dtype=float)
    poses = np.asarray(motion.poses, dtype=float)
    if t <= times[0] or len(times) == 1:
        return poses[0].copy()
    if t >= times[-1]:
        return poses[-1].copy()
    k = int(np.searchsorted(times, t, side="right")) - 1
    span = times[k + 1] - times[k]
    u = float(np.clip((t - times[k]) / span, 0.0, 1.0)) if span > 0 else 1.0
    s = u if motion.interpolation == "linear" else float(smoothstep(u))
    T = np.eye(4)
    T[:3, 3] = (1 - s) * poses[k, :3, 3] + s * poses[k + 1, :3, 3]
    T[:3, :3] = _slerp(poses[k, :3, :3], poses[k + 1, :3, :3], s)
    return T


def _slerp(Ra: np.ndarray, Rb: np.ndarray, s: float) -> np.ndarray:
    """Rotation a fraction ``s`` of the way from ``Ra`` to ``Rb`` (shortest arc)."""
    if s <= 0.0 or (Ra == Rb).all():
        return Ra.copy()
    if s >= 1.0:
        return Rb.copy()
    rotvec = Rotation.from_matrix(Rb @ Ra.T).as_rotvec()
    return Rotation.from_rotvec(s * rotvec).as_matrix() @ Ra


def motion_velocity(motion: Motion, t: float, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Linear and angular velocity (world frame) of a scripted path at ``t``, by
    central differences of the exact path."""
    a, b = motion_pose(motion, t - h), motion_pose(motion, t + h)
    linear = (b[:3, 3] - a[:3, 3]) / (2 * h)
    angular = Rotation.from_matrix(b[:3, :3] @ a[:3, :3].T).as_rotvec() / (2 * h)
    return linear, angular
