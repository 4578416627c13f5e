"""Evaluate scripted kinematic paths (``spec.Motion``) and rigid-transform helpers."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb

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
        return T[:3, 3].tolist(), [0.0, 0.0, 0.0, 1.0]
    return T[:3, 3].tolist(), quat_xyzw(R)


def quat_xyzw(R: np.ndarray) -> list[float]:
    """Unit quaternion (x, y, z, w), w >= 0, of a rotation matrix (3, 3): Shepperd's
    method on the largest of the four squared components, in Python floats (a scipy
    ``Rotation`` costs tens of microseconds a call, and physics calls this per step)."""
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = np.asarray(R, dtype=float).tolist()
    trace = m00 + m11 + m22
    if trace >= max(m00, m11, m22):
        s = 2.0 * math.sqrt(max(1.0 + trace, 0.0))
        q = [(m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s]
    elif m00 >= m11 and m00 >= m22:
        s = 2.0 * math.sqrt(max(1.0 + m00 - m11 - m22, 0.0))
        q = [0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s]
    elif m11 >= m22:
        s = 2.0 * math.sqrt(max(1.0 + m11 - m00 - m22, 0.0))
        q = [(m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s]
    else:
        s = 2.0 * math.sqrt(max(1.0 + m22 - m00 - m11, 0.0))
        q = [(m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s]
    norm = math.sqrt(sum(c * c for c in q))
    sign = -1.0 if q[3] < 0 else 1.0
    return [sign * c / norm for c in q]


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


def rotation_vector(R: np.ndarray) -> np.ndarray:
    """Axis times angle (3,), angle in [0, pi], of a rotation matrix (3, 3)."""
    x, y, z, w = quat_xyzw(R)
    sine = math.sqrt(x * x + y * y + z * z)
    if sine == 0.0:
        return np.zeros(3)
    return np.array([x, y, z]) * (2.0 * math.atan2(sine, w) / sine)


def _slerp(Ra: np.ndarray, Rb: np.ndarray, s: float) -> np.ndarray:
    """Rotation a fraction ``s`` of the way from ``Ra`` to ``Rb`` (shortest arc)."""
    if s <= 0.0 or (Ra == Rb).all():
        return Ra.copy()
    if s >= 1.0:
        return Rb.copy()
    x, y, z, w = quat_xyzw(Rb @ Ra.T)  # w >= 0: the shortest arc
    half = math.atan2(math.sqrt(x * x + y * y + z * z), w)
    if half == 0.0:
        return Ra.copy()
    scale = math.sin(s * half) / math.sin(half)
    q = (x * scale, y * scale, z * scale, math.cos(s * half))
    return np.reshape(pb.getMatrixFromQuaternion(q), (3, 3)) @ Ra


def motion_velocity(motion: Motion, t: float, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Linear and angular velocity (world frame) of a scripted path at ``t``, by
    central differences of the exact path."""
    a, b = motion_pose(motion, t - h), motion_pose(motion, t + h)
    linear = (b[:3, 3] - a[:3, 3]) / (2 * h)
    angular = rotation_vector(b[:3, :3] @ a[:3, :3].T) / (2 * h)
    return linear, angular
