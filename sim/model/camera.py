"""Cameras: intrinsics from field of view, camera paths, and the OpenGL matrices.

Extrinsics are ``T_world_camera`` in the OpenCV convention (x right, y down,
z forward). Pixel (row i, col j) has its centre at image coordinates (u, v) = (j, i).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import make_interp_spline

from simfactory.sim.model.spec import CameraPath, CameraSpec, SceneSpec
from simfactory.sim.model.trajectory import Trajectory

# OpenCV camera axes -> OpenGL camera axes (y up, looking down -z).
CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def intrinsics(width: int, height: int, fov_y_deg: float) -> np.ndarray:
    """Pinhole K with square pixels and the principal point at the image centre."""
    f = (height / 2.0) / np.tan(np.radians(fov_y_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """``T_world_camera`` (OpenCV axes) of a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking straight up or down
        x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T


def gl_projection(K: np.ndarray, width: int, height: int, near: float, far: float) -> np.ndarray:
    """OpenGL projection that maps camera points exactly onto K's pixels.

    Image row 0 is the top row once the framebuffer is read back and flipped.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    P = np.zeros((4, 4))
    P[0, 0] = 2.0 * fx / width
    P[0, 2] = 1.0 - 2.0 * (cx + 0.5) / width
    P[1, 1] = 2.0 * fy / height
    P[1, 2] = 2.0 * (cy + 0.5) / height - 1.0
    P[2, 2] = -(far + near) / (far - near)
    P[2, 3] = -2.0 * far * near / (far - near)
    P[3, 2] = -1.0
    return P


def gl_view(T_world_camera: np.ndarray) -> np.ndarray:
    """OpenGL view matrix (world -> GL camera) of an OpenCV-convention pose."""
    return CV_TO_GL @ np.linalg.inv(T_world_camera)


def _spline(points: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points interpolated at arc-length fractions ``s`` through the given points."""
    if len(points) == 1:
        return np.repeat(points, len(s), axis=0)
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    knots = np.concatenate([[0.0], np.cumsum(np.maximum(seg, 1e-6))])
    knots /= knots[-1]
    spline = make_interp_spline(knots, points, k=min(3, len(points) - 1))
    # Re-sample so the camera moves at (nearly) constant speed along the curve.
    dense = np.linspace(0.0, 1.0, 512)
    curve = spline(dense)
    length = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    return spline(np.interp(s * length[-1], length, dense))


def _keyed(path: CameraPath, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eye and target positions (T, 3) of a "keyed" path at ``times``: cubic splines in
    time through the keys (fewer keys: lower degree), held before and after them."""
    key_times = np.asarray(path.times, dtype=float)
    if (
        len(key_times) == 0
        or len(path.points) != len(key_times)
        or (len(path.targets) != len(key_times))
    ):
        raise ValueError("a keyed camera path needs as many points and targets as times")
    t = np.clip(np.asarray(times, dtype=float), key_times[0], key_times[-1])
    out = []
    for values in (path.points, path.targets):
        values = np.asarray(values, dtype=float)
        if len(key_times) == 1:
            out.append(np.repeat(values, len(t), axis=0))
            continue
        spline = make_interp_spline(key_times, values, k=min(3, len(key_times) - 1))
        out.append(spline(t))
    return out[0], out[1]


def body_poses(body: str, trajectory: Trajectory) -> np.ndarray:
    """``T_world_body`` (F, 4, 4) of a body's base part, for sensors mounted on it."""
    if body not in trajectory.part_names:
        raise ValueError(f"sensor mounted on unknown body {body!r}")
    return trajectory.poses[:, trajectory.part_names.index(body)]


def camera_poses(
    camera: CameraSpec, times: np.ndarray, spec: SceneSpec, trajectory: Trajectory
) -> np.ndarray:
    """``T_world_camera`` for every frame time, following ``camera.path``."""
    path: CameraPath = camera.path
    duration = max(float(times[-1]), 1e-9)
    s = np.asarray(times, dtype=float) / duration
    if path.kind == "static":
        return np.stack([look_at(path.eye, path.target)] * len(times))
    if path.kind == "orbit":
        angle = path.start_angle + path.sweep * s
        target = np.asarray(path.target, dtype=float)
        eyes = np.stack(
            [
                target[0] + path.radius * np.cos(angle),
                target[1] + path.radius * np.sin(angle),
                np.full_like(angle, path.height),
            ],
            axis=1,
        )
        return np.stack([look_at(e, target) for e in eyes])
    if path.kind == "waypoints":
        eyes = _spline(np.asarray(path.points, dtype=float), s)
        targets = _spline(np.asarray(path.targets or [path.target], dtype=float), s)
        return np.stack([look_at(e, t) for e, t in zip(eyes, targets, strict=True)])
    if path.kind == "follow":
        names = [b.name for b in spec.bodies]
        if path.body not in names:
            raise ValueError(f"camera path follows unknown body {path.body!r}")
        part = trajectory.part_names.index(path.body)
        positions = trajectory.poses[:, part, :3, 3]
        offset = np.asarray(path.offset, dtype=float)
        aim = np.asarray(path.target, dtype=float)
        return np.stack([look_at(p + offset, p + aim) for p in positions])
    if path.kind == "keyed":
        eyes, targets = _keyed(path, times)
        return np.stack([look_at(e, t) for e, t in zip(eyes, targets, strict=True)])
    if path.kind == "mounted":
        return body_poses(path.body, trajectory) @ np.asarray(path.T_body_camera, dtype=float)
    raise ValueError(f"unknown camera path kind {path.kind!r}")
