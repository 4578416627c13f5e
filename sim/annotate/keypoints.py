"""Person keypoints in the world and per camera with visibility: COCO-WholeBody's 133
points of a skinned person (``sim.actors.body`` places them on its mesh and bones), and
COCO-17 of a bare humanoid.

The DeepMimic humanoid (``humanoid.HUMANOID_URDF``) is modelled Y up, facing +x, with
its right side on +z, and a URDF link frame's origin is the joint that moves the link:
shoulders, elbows, wrists, hips, knees and ankles are the origins of the links of the
same names. The face (nose, eyes, ears) is placed on the head sphere of the ``neck``
link, facing forward. 2D keypoints carry COCO's visibility flags, decided from the
rendered depth and instance images.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pybullet as pb

from simfactory.sim.actors.humanoid import HUMANOID_URDF
from simfactory.sim.model.motion import pose_from_pos_quat_xyzw

COCO_KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# COCO-WholeBody's 133 points (Jin et al. 2020, names as in mmpose): the 17 COCO body
# points, 6 foot points, 68 face points (the iBUG 300-W layout), 21 per hand (the wrist,
# then four per finger from the palm to the tip: thumb, fore, middle, ring, pinky).
FOOT_KEYPOINTS = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip
FACE_KEYPOINTS = tuple(f"face-{i}" for i in range(68))
HAND_FINGER_NAMES = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(
        f"{side}_{finger}{k}" for finger in HAND_FINGER_NAMES for k in range(1, 5)
    )


WHOLEBODY_KEYPOINTS = (
    COCO_KEYPOINTS + FOOT_KEYPOINTS + FACE_KEYPOINTS + _hand("left") + _hand("right")
)
WHOLEBODY_SLICES = {"body": (0, 17), "foot": (17, 23), "face": (23, 91),
                    "left_hand": (91, 112), "right_hand": (112, 133)}  # fmt: skip

# COCO's person skeleton: limbs as 1-based keypoint index pairs.
COCO_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
# COCO-WholeBody's skeleton (1-based pairs): COCO's, the feet, and each hand's fingers.
WHOLEBODY_SKELETON = COCO_SKELETON + [
    [16, 18], [16, 19], [16, 20], [17, 21], [17, 22], [17, 23],
] + [
    [start + a, start + b]
    for start in (92, 113)
    for finger in range(5)
    for a, b in ((0, 4 * finger + 1), (4 * finger + 1, 4 * finger + 2),
                 (4 * finger + 2, 4 * finger + 3), (4 * finger + 3, 4 * finger + 4))
]  # fmt: skip

HEAD_LINK = "neck"
# Face points on the head sphere: (elevation, azimuth) in degrees in the head frame
# (x forward, y up, z to the model's right); a positive azimuth turns to its left.
FACE_DIRECTIONS_DEG = {
    "nose": (-10.0, 0.0),
    "left_eye": (10.0, 20.0),
    "right_eye": (10.0, -20.0),
    "left_ear": (0.0, 100.0),
    "right_ear": (0.0, -100.0),
}
# A keypoint is occluded when another object's surface is nearer than it by more than
# this (metres): a joint pressed against a surface (a wrist on a table) stays visible.
OCCLUSION_TOLERANCE = 0.05


@cache
def _head_sphere() -> tuple[tuple[float, float, float], float]:
    """Centre (in the head link's frame) and radius of the head's collision sphere, at
    URDF scale 1."""
    client = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, physicsClientId=client)
        count = pb.getNumJoints(uid, physicsClientId=client)
        names = [pb.getJointInfo(uid, j, physicsClientId=client)[12].decode() for j in range(count)]
        link = names.index(HEAD_LINK)
        (shape,) = pb.getCollisionShapeData(uid, link, physicsClientId=client)
        inertial = pb.getDynamicsInfo(uid, link, physicsClientId=client)
    finally:
        pb.disconnect(client)
    if shape[2] != pb.GEOM_SPHERE:
        raise ValueError(f"the humanoid's {HEAD_LINK!r} link is not a sphere")
    # Collision shapes are given in the link's inertial frame.
    T_link_inertial = pose_from_pos_quat_xyzw(inertial[3], inertial[4])
    T_link_shape = T_link_inertial @ pose_from_pos_quat_xyzw(shape[5], shape[6])
    return tuple(T_link_shape[:3, 3].tolist()), float(shape[3][0])


def humanoid_keypoint_offsets(scale: float) -> dict[str, tuple[str, np.ndarray]]:
    """Keypoint name -> (link name, point in that link's frame in metres), in COCO order,
    for the humanoid loaded at URDF scale ``scale``."""
    centre, radius = _head_sphere()
    offsets = {}
    for name in COCO_KEYPOINTS:
        if name in FACE_DIRECTIONS_DEG:
            elevation, azimuth = np.radians(FACE_DIRECTIONS_DEG[name])
            direction = np.array(
                [
                    np.cos(elevation) * np.cos(azimuth),
                    np.sin(elevation),
                    -np.cos(elevation) * np.sin(azimuth),
                ]
            )
            offsets[name] = (HEAD_LINK, scale * (np.asarray(centre) + radius * direction))
        else:
            offsets[name] = (name, np.zeros(3))
    return offsets


def keypoints_3d(
    body_name: str, part_names: list[str], poses: np.ndarray, scale: float
) -> np.ndarray:
    """World keypoints (F, 17, 3) of the humanoid body ``body_name`` from the
    Trajectory's part names and poses (F, P, 4, 4); ``scale`` is its ``urdf_scale``."""
    offsets = humanoid_keypoint_offsets(scale)
    parts = []
    for link, _ in offsets.values():
        part = f"{body_name}/{link}"
        if part not in part_names:
            raise ValueError(f"body {body_name!r} has no part {part!r}: not the humanoid?")
        parts.append(part_names.index(part))
    local = np.array([point for _, point in offsets.values()])
    T = np.asarray(poses)[:, parts]  # (F, 17, 4, 4)
    return np.einsum("fkij,kj->fki", T[..., :3, :3], local) + T[..., :3, 3]


def keypoints_2d(
    points_world: np.ndarray,
    K: np.ndarray,
    T_world_camera: np.ndarray,
    depth: np.ndarray,
    instance: np.ndarray,
    person_ids: set[int],
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Image positions (F, N, 2) and COCO visibility flags (F, N) of world points
    (F, N, 3) seen by a camera (K, ``T_world_camera`` (F, 4, 4), OpenCV axes).

    Positions are image coordinates with pixel centres at integers (as K). Flags:
    0 = not labelled (behind the camera or outside the image; position (0, 0)),
    1 = occluded (at the point's pixel the depth buffer is nearer than the point by
    more than ``OCCLUSION_TOLERANCE`` and shows another object than the person's
    parts ``person_ids``), 2 = visible. The person's own body never occludes its
    keypoints, so joints inside its limbs are visible.
    """
    T = np.asarray(T_world_camera, dtype=float)
    rel = np.asarray(points_world, dtype=float) - T[:, None, :3, 3]
    cam = np.einsum("fji,fkj->fki", T[:, :3, :3], rel)  # R^T (p - t)
    z = cam[..., 2]
    in_front = z > 1e-9
    safe_z = np.where(in_front, z, 1.0)
    uv = np.stack(
        [K[0, 0] * cam[..., 0] / safe_z + K[0, 2], K[1, 1] * cam[..., 1] / safe_z + K[1, 2]],
        axis=-1,
    )
    col, row = np.floor(uv[..., 0] + 0.5), np.floor(uv[..., 1] + 0.5)
    inside = in_front & (col >= 0) & (col < width) & (row >= 0) & (row < height)
    col = np.clip(col, 0, width - 1).astype(np.int64)
    row = np.clip(row, 0, height - 1).astype(np.int64)
    frame = np.arange(len(T))[:, None]
    surface = depth[frame, row, col]
    foreign = ~np.isin(instance[frame, row, col], list(person_ids))
    occluded = (surface > 0) & (surface < z - OCCLUSION_TOLERANCE) & foreign
    visibility = np.where(inside, np.where(occluded, 1, 2), 0)
    xy = np.where(inside[..., None], uv, 0.0)
    return xy, visibility
