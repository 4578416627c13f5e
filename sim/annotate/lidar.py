"""A spinning LiDAR, cast against the render geometry of a simulated clip.

Rays are cast against the visual meshes of the parts (one triangle mesh per material
of a part), so a LiDAR sees exactly the surfaces the cameras see, not the simplified
collision shapes of the physics rollout. The parts of the body that carries the LiDAR
are left out: the sensor never sees its own vehicle.

Two ray engines give the same points (to float32 rounding): Intel Embree through
``embreex`` (the default where it is installed: parts that never move are put into one
BVH built once per clip, the moving ones into a second BVH rebuilt for each frame in
which one of them moved, and each ray keeps the nearer hit of the two), and pybullet's
``rayTestBatch`` in a private DIRECT world of mass-0 concave triangle-mesh bodies
(``SIMFACTORY_LIDAR_ENGINE=pybullet`` forces it; about 30 times slower).

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
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from simfactory.sim.model.motion import pos_quat_xyzw
from simfactory.sim.model.spec import LidarSpec, Visual

MAX_RAYS_PER_CALL = 16383  # pybullet's limit for one rayTestBatch call
ENGINES = ("embree", "pybullet")


def ray_engine() -> str:
    """The ray engine scans use: ``SIMFACTORY_LIDAR_ENGINE`` if set, else Embree where
    ``embreex`` imports, else pybullet."""
    wanted = os.environ.get("SIMFACTORY_LIDAR_ENGINE")
    if wanted is not None and wanted not in ENGINES:
        raise ValueError(f"SIMFACTORY_LIDAR_ENGINE must be one of {ENGINES}, not {wanted!r}")
    if wanted == "pybullet":
        return "pybullet"
    try:
        import embreex.rtcore_scene  # noqa: F401
    except ImportError as error:
        if wanted == "embree":
            raise ImportError(
                "SIMFACTORY_LIDAR_ENGINE=embree needs: pip install embreex"
            ) from error
        return "pybullet"
    return "embree"


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
class _Group:
    """The triangles of one material of one part, in the part's frame."""

    part: int
    albedo: float
    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (T, 3) int64


def _groups(visuals: list[list[Visual]], skip: set[int]) -> list[_Group]:
    """One group per (part, material) of the parts not in ``skip``, in part order."""
    out, albedos = [], {}
    for p, part_visuals in enumerate(visuals):
        if p in skip:
            continue
        groups: dict[int, list[Visual]] = {}
        for visual in part_visuals:
            if len(visual.mesh.faces):
                groups.setdefault(id(visual.material), []).append(visual)
        for group in groups.values():
            vertices = [np.asarray(v.mesh.vertices, dtype=np.float64) for v in group]
            offsets = np.cumsum([0] + [len(v) for v in vertices])
            faces = [
                np.asarray(v.mesh.faces, dtype=np.int64) + o
                for v, o in zip(group, offsets, strict=False)
            ]
            key = id(group[0].material)
            if key not in albedos:
                albedos[key] = visual_albedo(group[0])
            out.append(_Group(p, albedos[key], np.concatenate(vertices), np.concatenate(faces)))
    return out


class _BulletCaster:
    """The groups as mass-0 triangle-mesh bodies of a pybullet DIRECT world (body uid k
    is group k), moved to each frame's poses."""

    def __init__(self, groups: list[_Group], poses: np.ndarray, present: np.ndarray):
        self.client = pb.connect(pb.DIRECT)
        self.groups, self.poses, self.present = groups, poses, present
        for k, group in enumerate(groups):
            shape = pb.createCollisionShape(
                pb.GEOM_MESH,
                vertices=group.vertices.tolist(),
                indices=group.faces.reshape(-1).tolist(),
                flags=pb.GEOM_FORCE_CONCAVE_TRIMESH,
                physicsClientId=self.client,
            )
            position, quat = pos_quat_xyzw(poses[0, group.part])
            uid = pb.createMultiBody(
                0.0, shape, basePosition=position, baseOrientation=quat,
                physicsClientId=self.client,
            )  # fmt: skip
            if uid != k:
                raise RuntimeError("pybullet body ids are not consecutive")

    def frame(self, f: int, origin=None, range_m=None) -> None:
        """Move the bodies to frame ``f`` (only those whose pose or presence changed)."""
        poses, present = self.poses, self.present
        if f == 0:
            changed = ~present[0]
        else:
            changed = np.any(poses[f] != poses[f - 1], axis=(1, 2))
            changed |= present[f] != present[f - 1]
        for k, group in enumerate(self.groups):
            p = group.part
            if not changed[p]:
                continue
            position, quat = pos_quat_xyzw(poses[f, p])
            # Rays meet only bodies in a collision group (a static body's default).
            mask_group, mask = (2, -3) if present[f, p] else (0, 0)
            pb.resetBasePositionAndOrientation(k, position, quat, physicsClientId=self.client)
            pb.setCollisionFilterGroupMask(k, -1, mask_group, mask, physicsClientId=self.client)

    def cast(self, origin: np.ndarray, directions: np.ndarray, range_m: float):
        """First hit of every ray (unit ``directions`` (R, 3) from ``origin``) within
        ``range_m``: group index (-1 for a miss), distance and world normal, in chunks
        of pybullet's per-call limit."""
        targets = origin + range_m * directions
        uids, fractions, normals = [], [], []
        for start in range(0, len(targets), MAX_RAYS_PER_CALL):
            to = targets[start : start + MAX_RAYS_PER_CALL]
            frm = np.ascontiguousarray(np.broadcast_to(origin, to.shape))
            results = pb.rayTestBatch(
                frm, np.ascontiguousarray(to), numThreads=1, physicsClientId=self.client
            )
            uid, _, fraction, _, normal = zip(*results, strict=True)
            uids.append(np.array(uid, dtype=np.int64))
            fractions.append(np.array(fraction, dtype=np.float64))
            flat = itertools.chain.from_iterable(normal)  # faster than np.array of tuples
            normals.append(np.fromiter(flat, np.float64, 3 * len(normal)).reshape(-1, 3))
        if not uids:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 3))
        return np.concatenate(uids), np.concatenate(fractions) * range_m, np.concatenate(normals)

    def close(self) -> None:
        pb.disconnect(self.client)


class _EmbreeCaster:
    """The groups in two Embree scenes of one triangle mesh each: the parts that never
    move nor vanish, posed once, and the others, rebuilt for each frame in which one of
    them moved, without the parts too far from the sensor to be hit within its range.
    Coordinates are taken relative to ``centre`` so that float32 keeps sub-millimetre
    precision far from the world origin."""

    def __init__(self, groups: list[_Group], poses: np.ndarray, present: np.ndarray, centre):
        self.poses, self.present = poses, present
        self.centre = np.asarray(centre, dtype=np.float64)
        still = np.all(poses == poses[:1], axis=(0, 2, 3)) & present.all(axis=0)
        self.static = self._stack([(k, g) for k, g in enumerate(groups) if still[g.part]])
        self.moving = self._stack([(k, g) for k, g in enumerate(groups) if not still[g.part]])
        self.static_scene = self._scene(self.static, 0)
        self.moving_scene, self.moving_near = None, None
        # Each moving part's bounding sphere in its own frame (centre (P, 3), radius (P,)).
        self.sphere_centre = np.zeros((poses.shape[1], 3))
        self.sphere_radius = np.zeros(poses.shape[1])
        for g in groups:
            if not still[g.part]:
                lo, hi = g.vertices.min(axis=0), g.vertices.max(axis=0)
                self.sphere_centre[g.part] = (lo + hi) / 2.0
                self.sphere_radius[g.part] = np.linalg.norm(hi - lo) / 2.0

    @staticmethod
    def _stack(groups: list[tuple[int, _Group]]) -> dict[str, np.ndarray]:
        """The groups' triangles as one mesh: vertices (part frames) with their part,
        faces with their group index."""
        if not groups:
            return {}
        offsets = np.cumsum([0] + [len(g.vertices) for _, g in groups])
        return {
            "vertices": np.concatenate([g.vertices for _, g in groups]),
            "vertex_part": np.concatenate([np.full(len(g.vertices), g.part) for _, g in groups]),
            "faces": np.concatenate(
                [g.faces + o for (_, g), o in zip(groups, offsets, strict=False)]
            ),
            "face_group": np.concatenate([np.full(len(g.faces), k) for k, g in groups]),
            "face_part": np.concatenate([np.full(len(g.faces), g.part) for _, g in groups]),
        }

    def _scene(self, mesh: dict[str, np.ndarray], f: int, near: np.ndarray | None = None):
        """An Embree scene of ``mesh`` posed at frame ``f`` (parts absent then, or not
        ``near`` (P,) when given, left out), and the group index of each of its
        triangles; None without triangles."""
        from embreex.mesh_construction import TriangleMesh
        from embreex.rtcore_scene import EmbreeScene

        if not mesh:
            return None
        keep = self.present[f, mesh["face_part"]]
        if near is not None:
            keep &= near[mesh["face_part"]]
        if not keep.any():
            return None
        faces = mesh["faces"][keep]
        used, faces = np.unique(faces, return_inverse=True)  # only the kept vertices
        faces = faces.reshape(-1, 3)
        T = self.poses[f, mesh["vertex_part"][used]]  # (V, 4, 4)
        world = np.einsum("vij,vj->vi", T[:, :3, :3], mesh["vertices"][used]) + T[:, :3, 3]
        scene = EmbreeScene()
        TriangleMesh(scene, (world - self.centre).astype(np.float32), faces.astype(np.int32))
        return scene, mesh["face_group"][keep]

    def frame(self, f: int, origin: np.ndarray, range_m: float) -> None:
        """Pose the moving parts for frame ``f`` of a sensor at ``origin``: a part whose
        bounding sphere lies beyond ``range_m`` cannot be hit and is left out."""
        if not self.moving:
            return
        T = self.poses[f]
        centres = np.einsum("pij,pj->pi", T[:, :3, :3], self.sphere_centre) + T[:, :3, 3]
        near = np.linalg.norm(centres - origin, axis=1) - self.sphere_radius < range_m
        parts = np.unique(self.moving["vertex_part"])
        if f > 0 and np.array_equal(near[parts], self.moving_near[parts]):
            same = np.array_equal(self.poses[f, parts], self.poses[f - 1, parts])
            if same and np.array_equal(self.present[f, parts], self.present[f - 1, parts]):
                return
        self.moving_scene, self.moving_near = self._scene(self.moving, f, near), near

    def cast(self, origin: np.ndarray, directions: np.ndarray, range_m: float):
        count = len(directions)
        origins = np.ascontiguousarray(
            np.broadcast_to(origin - self.centre, (count, 3)), dtype=np.float32
        )
        dirs = np.ascontiguousarray(directions, dtype=np.float32)
        group = np.full(count, -1, dtype=np.int64)
        distance = np.full(count, np.float32(range_m), dtype=np.float32)
        normal = np.zeros((count, 3), dtype=np.float32)
        for found in (self.static_scene, self.moving_scene):
            if found is None:
                continue
            scene, face_group = found
            hit = scene.run(origins, dirs, dists=distance.copy(), output=1)
            closer = (hit["primID"] >= 0) & (hit["tfar"] < distance)
            group[closer] = face_group[hit["primID"][closer]]
            distance[closer] = hit["tfar"][closer]
            normal[closer] = hit["Ng"][closer]
        length = np.linalg.norm(normal, axis=1, keepdims=True)
        normal = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
        return group, distance.astype(np.float64), normal.astype(np.float64)

    def close(self) -> None:
        self.static_scene = self.moving_scene = None


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


def _cast_sheets(sheets: list[Sheet], f: int, origin: np.ndarray, directions, range_m: float):
    """First hit of every ray against the sheets' meshes of frame ``f``: sheet index (-1
    for a miss), distance and world normal (Embree, or pybullet without it)."""
    faces = [np.asarray(s.faces, dtype=np.int64) for s in sheets]
    offsets = np.cumsum([0] + [len(s.vertices[f]) for s in sheets])
    vertices = np.concatenate([np.asarray(s.vertices[f], dtype=np.float64) for s in sheets])
    triangles = np.concatenate([fc + o for fc, o in zip(faces, offsets, strict=False)])
    sheet_of = np.concatenate([np.full(len(fc), c) for c, fc in enumerate(faces)])
    count = len(directions)
    if ray_engine() == "embree":
        from embreex.mesh_construction import TriangleMesh
        from embreex.rtcore_scene import EmbreeScene

        scene = EmbreeScene()
        local = (vertices - origin).astype(np.float32)
        TriangleMesh(scene, local, triangles.astype(np.int32))
        origins = np.zeros((count, 3), dtype=np.float32)
        dirs = np.ascontiguousarray(directions, dtype=np.float32)
        dists = np.full(count, np.float32(range_m), dtype=np.float32)
        hit = scene.run(origins, dirs, dists=dists, output=1)
        found = hit["primID"] >= 0
        index = np.where(found, sheet_of[np.maximum(hit["primID"], 0)], -1)
        normal = hit["Ng"].astype(np.float64)
        length = np.linalg.norm(normal, axis=1, keepdims=True)
        normal = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
        return index, np.where(found, hit["tfar"], range_m).astype(np.float64), normal
    caster = _BulletCaster(
        [_Group(c, s.albedo, vertices[offsets[c] : offsets[c + 1]], fc)
         for c, (s, fc) in enumerate(zip(sheets, faces, strict=True))],
        np.tile(np.eye(4), (1, len(sheets), 1, 1)), np.ones((1, len(sheets)), dtype=bool),
    )  # fmt: skip
    try:
        return caster.cast(origin, directions, range_m)
    finally:
        caster.close()


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
    as their meshes of each frame; the c-th has part index P + c.
    """
    sheets = list(sheets or [])
    poses = np.asarray(poses, dtype=np.float64)
    T_world_lidar = np.asarray(T_world_lidar, dtype=np.float64)
    class_ids = np.concatenate(
        [np.asarray(class_ids, dtype=np.int64), [s.class_id for s in sheets]]
    ).astype(np.int64)
    num_frames = len(poses)
    if present is None:
        present = np.ones(poses.shape[:2], dtype=bool)
    groups = _groups(visuals, carried_parts(lidar.body, part_names))
    if ray_engine() == "embree":
        caster = _EmbreeCaster(groups, poses, present, T_world_lidar[0, :3, 3])
    else:
        caster = _BulletCaster(groups, poses, present)
    P = poses.shape[1]
    part_of = np.array(
        [g.part for g in groups] + [P + c for c in range(len(sheets))], dtype=np.int64
    )
    albedo = np.array([g.albedo for g in groups] + [s.albedo for s in sheets], dtype=float)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("xyz", "intensity", "group", "ring")}
    counts = []
    try:
        for f in range(num_frames):
            R, origin = T_world_lidar[f, :3, :3], T_world_lidar[f, :3, 3]
            caster.frame(f, origin, float(lidar.range_m))
            directions, ring = lidar_rays(lidar, fps, f)
            world_dirs = directions @ R.T
            group, distance, normal = caster.cast(origin, world_dirs, float(lidar.range_m))
            if sheets:
                index, near, facing = _cast_sheets(
                    sheets, f, origin, world_dirs, float(lidar.range_m)
                )
                closer = (index >= 0) & ((group < 0) | (near < distance))
                group[closer] = len(groups) + index[closer]
                distance[closer], normal[closer] = near[closer], facing[closer]
            hit = group >= 0
            cosine = np.abs(np.einsum("ij,ij->i", world_dirs[hit], normal[hit]))
            out["xyz"].append(directions[hit] * distance[hit, None])
            out["intensity"].append(np.clip(albedo[group[hit]] * cosine, 0.0, 1.0))
            out["group"].append(group[hit])
            out["ring"].append(ring[hit])
            counts.append(int(hit.sum()))
    finally:
        caster.close()

    part = part_of[np.concatenate(out["group"])]
    return LidarScan(
        xyz=np.concatenate(out["xyz"]).astype(np.float32).reshape(-1, 3),
        intensity=np.concatenate(out["intensity"]).astype(np.float32),
        instance=(part + 1).astype(np.uint16),
        semantic=class_ids[part].astype(np.uint8),
        ring=np.concatenate(out["ring"]).astype(np.uint8),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        T_world_lidar=T_world_lidar,
    )
