"""The ego vehicle's sensor rig: cameras (front, stereo pair, surround ring) and a
roof LiDAR, mounted rigidly on the ego body (x forward, y left, z up)."""

from __future__ import annotations

import numpy as np

from simfactory.sim.model.spec import CameraPath, CameraSpec, LidarSpec

RIGS = ("front", "stereo", "surround", "stereo_surround")
STEREO_BASELINE = 0.54  # metres, as KITTI's colour pair
SURROUND = (
    ("cam_front_left", 60.0),
    ("cam_back_left", 120.0),
    ("cam_back", 180.0),
    ("cam_back_right", -120.0),
    ("cam_front_right", -60.0),
)


def camera_mount(x: float, y: float, z: float, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """``T_body_camera`` with OpenCV axes for a camera at (x, y, z) in the body frame,
    looking along ``yaw_deg`` (0 = forward, 90 = left), tilted down by ``pitch_deg``."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    z_axis = np.cos(pitch) * forward + np.sin(pitch) * down
    y_axis = np.cos(pitch) * down - np.sin(pitch) * forward
    x_axis = np.cross(y_axis, z_axis)
    T = np.eye(4)
    T[:3, :3] = np.stack([x_axis, y_axis, z_axis], axis=1)
    T[:3, 3] = (x, y, z)
    return T


def make_rig(
    rig: str, ego: str, ego_height: float, width: int, height: int, fov_deg: float
) -> list[CameraSpec]:
    """Cameras of the rig. The first is ``cam0``, looking forward (the left camera of
    the stereo pair when there is one); ``cam1`` is the stereo pair's right camera."""
    z = ego_height + 0.3  # on a roof bar, clear of the ego's own body

    def camera(name: str, y: float, yaw: float) -> CameraSpec:
        # Forward cameras are level, as KITTI's (its boxes turn about the camera's y axis
        # only); side and rear cameras look 8 degrees down at the road around the ego.
        mount = camera_mount(0.0, y, z, yaw, 0.0 if yaw == 0.0 else 8.0)
        path = CameraPath(kind="mounted", body=ego, T_body_camera=mount)
        return CameraSpec(name=name, width=width, height=height, fov_y_deg=fov_deg, path=path)

    stereo = rig in ("stereo", "stereo_surround")
    cams = [camera("cam0", STEREO_BASELINE / 2 if stereo else 0.0, 0.0)]
    if stereo:
        cams.append(camera("cam1", -STEREO_BASELINE / 2, 0.0))
    if rig in ("surround", "stereo_surround"):
        cams += [camera(name, 0.0, yaw) for name, yaw in SURROUND]
    return cams


def make_lidar(cfg: dict | None, ego: str, ego_height: float) -> list[LidarSpec]:
    """The roof LiDAR from the ``lidar`` config (None: no LiDAR)."""
    if not cfg:
        return []
    T = np.eye(4)
    T[2, 3] = ego_height + 0.55  # above the camera bar
    rotation = cfg.get("rotation_hz")
    return [
        LidarSpec(
            name="lidar",
            body=ego,
            T_body_lidar=T,
            channels=int(cfg["channels"]),
            vertical_fov_deg=tuple(float(v) for v in cfg["vertical_fov_deg"]),
            horizontal_resolution_deg=float(cfg["horizontal_resolution_deg"]),
            range_m=float(cfg["range_m"]),
            rotation_hz=None if rotation is None else float(rotation),
        )
    ]
