"""A spinning LiDAR, cast against the render geometry of a simulated clip.

Rays are cast with pybullet's ``rayTestBatch`` in a private DIRECT world whose bodies
are the visual meshes of the parts (mass-0 concave triangle meshes, one body per
material of a part), so a LiDAR sees exactly the surfaces the cameras see, not the
simplified collision shapes of the physics rollout. The parts of the body that
carries the LiDAR are left out of that world: the sensor never sees its own vehicle.

Lidar frame: x forward, y left, z up (a Velodyne's). Beam ``ring`` r (0 = lowest) has
elevation ``lower + r * (upper - lower) / (channels - 1)``; azimuth is measured from
+x towards +y (counter-clockwise seen from above), and a ray's direction is
``(cos e cos a, cos e sin a, sin e)``. Azimuths are multiples of the horizontal
resolution of the total angle turned since the clip's start, so consecutive frames of
a slow LiDAR tile the revolution without gaps or overlaps. All points of frame f are
measured with the part poses of frame f (no motion during a sweep).

Intensity is a Lambertian return: the albedo of the surface hit (the mean of its
material's linear base colour RGB, times the mean of its texture converted from sRGB
to linear when it has one) times |cos| of the angle between the ray and the surface
normal, clipped to [0, 1]. There is no range fall-off, no noise and no beam
divergence; rays that hit nothing within ``range_m`` are dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as pb
import trimesh

from simfactory.sim.model.motion import pos_quat_xyzw
from simfactory.sim.model.spec import LidarSpec, Visual

MAX_RAYS_PER_CALL = 16383  # pybullet's limit for one rayTestBatch call


@dataclass
class LidarScan:
    """Every frame's points concatenated; frame f is rows ``offsets[f]:offsets[f + 1]``."""

    xyz: np.ndarray  # (N, 3) float32, lidar frame at the frame's instant, metres
    intensity: np.ndarray  # (N,) float32 in [0, 1]
    instance: np.ndarray  # (N,) uint16, part index + 1 (as the camera instance masks)
    semantic: np.ndarray  # (N,) uint8 class id
    ring: np.ndarray  # (N,) uint8 beam index, 0 = lowest beam
    offsets: np.ndarray  # (F + 1,) int64
    T_world_lidar: np.ndarray  # (F, 4, 4)

    def frame(self, f: int) -> slice:
        return slice(int(self.offsets[f]), int(self.offsets[f + 1]))


def beam_elevations(lidar: LidarSpec) -> np.ndarray:
    """Elevation (channels,) in degrees of each beam, lowest first."""
    lower, upper = lidar.vertical_fov_deg
    return np.linspace(lower, upper, lidar.channels)


def frame_azimuths(lidar: LidarSpec, fps: float, frame: int) -> np.ndarray:
    """Azimuths (A,) in degrees, in [0, 360), fired during ``frame``, in firing order."""
    res = float(lidar.horizontal_resolution_deg)
    if lidar.rotation_hz is None:  # one full revolution per frame, starting at 0
        start, sweep = 0.0, 360.0
    else:
        turn = 360.0 * float(lidar.rotation_hz) / fps  # degrees turned per frame
        start, sweep = frame * turn, min(turn, 360.0)
    eps = 1e-9
    first = int(np.ceil(start / res - eps))
    stop = int(np.ceil((start + sweep) / res - eps))
    return np.mod(np.arange(first, stop) * res, 360.0)


def lidar_rays(lidar: LidarSpec, fps: float, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit ray directions (R, 3) in the lidar frame and their ring (R,) for ``frame``:
    azimuth-major (every beam of one firing, lowest first, then the next firing)."""
    if not 1 <= lidar.channels <= 256:
        raise ValueError(f"lidar {lidar.name!r}: channels must be 1..256, not {lidar.channels}")
    azimuth = np.radians(frame_azimuths(lidar, fps, frame))[:, None]
    elevation = np.radians(beam_elevations(lidar))[None, :]
    directions = np.stack(
        np.broadcast_arrays(
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
        ),
        axis=-1,
    ).reshape(-1, 3)
    ring = np.tile(np.arange(lidar.channels, dtype=np.uint8), len(azimuth))
    return directions, ring


def _srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    c = np.asarray(srgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def visual_albedo(visual: Visual) -> float:
    """Mean linear albedo of a visual: base colour RGB times its texture's mean."""
    material = visual.material
    albedo = float(np.mean(material.base_color[:3]))
    if material.texture is not None:
        albedo *= float(_srgb_to_linear(material.texture[..., :3]).mean())
    return albedo


@dataclass
class _RayWorld:
    """A pybullet world of the parts' visual meshes; body uid k belongs to ``part[k]``."""

    client: int
    part: np.ndarray  # (B,) part index of each body uid
    albedo: np.ndarray  # (B,) albedo of each body uid
    bodies: dict[int, list[int]]  # part index -> its body uids


def _ray_world(visuals: list[list[Visual]], poses: np.ndarray, skip: set[int]) -> _RayWorld:
    """One mass-0 triangle-mesh body per (part, material), placed at ``poses`` (P, 4, 4)."""
    client = pb.connect(pb.DIRECT)
    part, albedo, bodies = [], [], {}
    for p, part_visuals in enumerate(visuals):
        if p in skip:
            continue
        groups: dict[int, list[Visual]] = {}
        for visual in part_visuals:
            if len(visual.mesh.faces):
                groups.setdefault(id(visual.material), []).append(visual)
        for group in groups.values():
            mesh = trimesh.util.concatenate([v.mesh for v in group])
            shape = pb.createCollisionShape(
                pb.GEOM_MESH,
                vertices=np.asarray(mesh.vertices, dtype=np.float64).tolist(),
                indices=np.asarray(mesh.faces, dtype=np.int64).reshape(-1).tolist(),
                flags=pb.GEOM_FORCE_CONCAVE_TRIMESH,
                physicsClientId=client,
            )
            position, quat = pos_quat_xyzw(poses[p])
            uid = pb.createMultiBody(
                0.0, shape, basePosition=position, baseOrientation=quat, physicsClientId=client
            )
            if uid != len(part):
                raise RuntimeError("pybullet body ids are not consecutive")
            part.append(p)
            albedo.append(visual_albedo(group[0]))
            bodies.setdefault(p, []).append(uid)
    return _RayWorld(client, np.array(part, dtype=np.int64), np.array(albedo), bodies)


def _cast(world: _RayWorld, origin: np.ndarray, targets: np.ndarray):
    """First hit of every ray from ``origin`` to ``targets`` (R, 3): body uid (-1 for a
    miss), hit fraction and world normal, in chunks of pybullet's per-call limit."""
    uids, fractions, normals = [], [], []
    for start in range(0, len(targets), MAX_RAYS_PER_CALL):
        to = targets[start : start + MAX_RAYS_PER_CALL]
        frm = np.ascontiguousarray(np.broadcast_to(origin, to.shape))
        # One thread: rays are independent, so any count gives the same hits, and two
        # threads were only ~10% faster on a 2-core machine where clips already run in
        # parallel processes (most of the time goes into building the result tuples).
        results = pb.rayTestBatch(
            frm, np.ascontiguousarray(to), numThreads=1, physicsClientId=world.client
        )
        uid, _, fraction, _, normal = zip(*results, strict=True)
        uids.append(np.array(uid, dtype=np.int64))
        fractions.append(np.array(fraction, dtype=np.float64))
        flat = itertools.chain.from_iterable(normal)  # faster than np.array of tuples
        normals.append(np.fromiter(flat, np.float64, 3 * len(normal)).reshape(-1, 3))
    if not uids:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 3))
    return np.concatenate(uids), np.concatenate(fractions), np.concatenate(normals)


def carried_parts(body: str, part_names: Sequence[str]) -> set[int]:
    """Indices of the parts (base and links) of ``body``."""
    return {p for p, n in enumerate(part_names) if n == body or n.startswith(body + "/")}


@dataclass
class Sheet:
    """A mesh whose vertices change every frame (a cloth, a region of a skinned person):
    vertices (F, V, 3) world, triangles (M, 3), semantic id and albedo. Its points get
    instance id P + c + 1 for the c-th sheet, as in the camera masks."""

    vertices: np.ndarray
    faces: np.ndarray
    class_id: int
    albedo: float


def _place_sheets(world: _RayWorld, sheets: list[Sheet], frame: int, P: int, old: list) -> list:
    """Replace the sheets' ray bodies by their meshes at ``frame``; returns the new uids.
    Their part index (P + c) and albedo are recorded in ``world``."""
    for uid in old:
        pb.removeBody(uid, physicsClientId=world.client)
    uids = []
    for c, sheet in enumerate(sheets):
        shape = pb.createCollisionShape(
            pb.GEOM_MESH,
            vertices=np.asarray(sheet.vertices[frame], dtype=np.float64).tolist(),
            indices=np.asarray(sheet.faces, dtype=np.int64).reshape(-1).tolist(),
            flags=pb.GEOM_FORCE_CONCAVE_TRIMESH,
            physicsClientId=world.client,
        )
        uid = pb.createMultiBody(0.0, shape, physicsClientId=world.client)
        if uid >= len(world.part):
            grow = uid + 1 - len(world.part)
            world.part = np.concatenate([world.part, np.full(grow, -1, np.int64)])
            world.albedo = np.concatenate([world.albedo, np.zeros(grow)])
        world.part[uid], world.albedo[uid] = P + c, sheet.albedo
        uids.append(uid)
    return uids


def scan(
    lidar: LidarSpec,
    visuals: list[list[Visual]],
    poses: np.ndarray,
    T_world_lidar: np.ndarray,
    class_ids: np.ndarray,
    fps: float,
    part_names: Sequence[str],
    present: np.ndarray | None = None,
    sheets: list[Sheet] | None = None,
) -> LidarScan:
    """Scan every frame of a clip.

    ``visuals`` are the parts' visuals in their part frames, ``poses`` (F, P, 4, 4) the
    parts' ``T_world_part``, ``T_world_lidar`` (F, 4, 4) the sensor's pose per frame,
    ``class_ids`` (P,) the parts' semantic ids and ``part_names`` (P,) their names (the
    parts of ``lidar.body`` are not cast against, nor parts absent from a frame by
    ``present`` (F, P)). ``sheets`` (cloths, skinned people's regions) are cast against
    as their meshes of each frame.
    """
    sheets = list(sheets or [])
    class_ids = np.concatenate([np.asarray(class_ids), [s.class_id for s in sheets]])
    poses = np.asarray(poses, dtype=np.float64)
    T_world_lidar = np.asarray(T_world_lidar, dtype=np.float64)
    class_ids = np.asarray(class_ids).astype(np.int64)
    num_frames = len(poses)
    sheet_uids: list[int] = []
    if present is None:
        present = np.ones(poses.shape[:2], dtype=bool)
    world = _ray_world(visuals, poses[0], carried_parts(lidar.body, part_names))
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("xyz", "intensity", "uid", "ring")}
    counts = []
    try:
        for f in range(num_frames):
            if f == 0:
                changed = ~present[0]
            else:
                changed = np.any(poses[f] != poses[f - 1], axis=(1, 2))
                changed |= present[f] != present[f - 1]
            for p in np.flatnonzero(changed):
                position, quat = pos_quat_xyzw(poses[f, p])
                # Rays meet only bodies in a collision group (a static body's default).
                group, mask = (2, -3) if present[f, p] else (0, 0)
                for uid in world.bodies.get(int(p), ()):
                    pb.resetBasePositionAndOrientation(
                        uid, position, quat, physicsClientId=world.client
                    )
                    pb.setCollisionFilterGroupMask(
                        uid, -1, group, mask, physicsClientId=world.client
                    )
            if sheets:
                sheet_uids = _place_sheets(world, sheets, f, poses.shape[1], sheet_uids)
            directions, ring = lidar_rays(lidar, fps, f)
            R, origin = T_world_lidar[f, :3, :3], T_world_lidar[f, :3, 3]
            world_dirs = directions @ R.T
            uid, fraction, normal = _cast(world, origin, origin + lidar.range_m * world_dirs)
            hit = uid >= 0
            distance = fraction[hit] * lidar.range_m
            cosine = np.abs(np.einsum("ij,ij->i", world_dirs[hit], normal[hit]))
            out["xyz"].append(directions[hit] * distance[:, None])
            out["intensity"].append(np.clip(world.albedo[uid[hit]] * cosine, 0.0, 1.0))
            out["uid"].append(world.part[uid[hit]])  # ids are reused as sheets change
            out["ring"].append(ring[hit])
            counts.append(int(hit.sum()))
    finally:
        pb.disconnect(world.client)

    part = np.concatenate(out["uid"]).astype(np.int64)
    return LidarScan(
        xyz=np.concatenate(out["xyz"]).astype(np.float32).reshape(-1, 3),
        intensity=np.concatenate(out["intensity"]).astype(np.float32),
        instance=(part + 1).astype(np.uint16),
        semantic=class_ids[part].astype(np.uint8),
        ring=np.concatenate(out["ring"]).astype(np.uint8),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        T_world_lidar=T_world_lidar,
    )
