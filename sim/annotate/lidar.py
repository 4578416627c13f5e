"""A spinning LiDAR, cast against the render geometry of a simulated clip.

Rays are cast against the visual meshes of the parts (one triangle mesh per material
of a part), so a LiDAR sees exactly the surfaces the cameras see, not the simplified
collision shapes of the physics rollout. The parts of the body that carries the LiDAR
are left out: the sensor never sees its own vehicle.

Two ray engines give the same points (to float32 rounding): Intel Embree through
``embreex`` (the default where it is installed), and pybullet's ``rayTestBatch`` in a
private DIRECT world of mass-0 concave triangle-mesh bodies
(``SIMFACTORY_LIDAR_ENGINE=pybullet`` forces it; about 30 times slower). With Embree,
the parts that never move nor vanish are put into one BVH per clip; every other part
gets a BVH of its own mesh in its own frame, built once per clip (parts with the same
mesh share it), and in each frame it is cast against only with the rays that may pass
through its bounding sphere (a band of beams and azimuths of the frame's ray grid),
turned into its frame; each ray keeps its nearest hit. Meshes given per frame (sheets:
cloths, skinned people) are cast against by exact float64 ray-triangle tests of each
triangle with the few rays near it. Frames are scanned on two threads where two cores
are free (``SIMFACTORY_LIDAR_THREADS`` sets the count; Embree casts without the GIL).

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

import hashlib
import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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


def _azimuth_steps(lidar: LidarSpec, fps: float, frame: int) -> tuple[int, int]:
    """The frame's azimuths are ``k * horizontal_resolution_deg`` for k in [first, stop)."""
    res = float(lidar.horizontal_resolution_deg)
    if lidar.rotation_hz is None:  # one full revolution per frame, starting at 0
        start, sweep = 0.0, 360.0
    else:
        turn = 360.0 * float(lidar.rotation_hz) / fps  # degrees turned per frame
        start, sweep = frame * turn, min(turn, 360.0)
    eps = 1e-9
    return int(np.ceil(start / res - eps)), int(np.ceil((start + sweep) / res - eps))


def frame_azimuths(lidar: LidarSpec, fps: float, frame: int) -> np.ndarray:
    """Azimuths (A,) in degrees, in [0, 360), fired during ``frame``, in firing order."""
    first, stop = _azimuth_steps(lidar, fps, frame)
    return np.mod(np.arange(first, stop) * float(lidar.horizontal_resolution_deg), 360.0)


@dataclass
class _RayGrid:
    """The rays of one frame as a grid: ray ``k * channels + r`` is beam r at azimuth
    ``(first + k) * res`` degrees, for k in [0, count)."""

    first: int
    count: int
    res: float  # degrees
    elevation: np.ndarray  # (C,) radians of the beams, ascending
    ring: np.ndarray  # (C,) beam index of each entry of ``elevation``

    @classmethod
    def of(cls, lidar: LidarSpec, fps: float, frame: int) -> _RayGrid:
        first, stop = _azimuth_steps(lidar, fps, frame)
        elevation = np.radians(beam_elevations(lidar))
        order = np.argsort(elevation, kind="stable")
        res = float(lidar.horizontal_resolution_deg)
        return cls(first, stop - first, res, elevation[order], order.astype(np.int64))


_ANGLE_MARGIN = 1e-6  # radians added to every window: float32 rays stay inside it


def _grid_pairs(grid: _RayGrid, centres: np.ndarray, radii: np.ndarray, range_m: float):
    """Every (item, ray) such that the ray may pass through item i's sphere (``centres``
    (N, 3) in the lidar frame, ``radii`` (N,)) within ``range_m``: item indices (M,),
    ascending, and ray indices (M,). A superset of the rays that meet the sphere (its
    cone of directions widened to an elevation band and an azimuth band)."""
    channels = len(grid.elevation)
    d = np.sqrt(np.einsum("ij,ij->i", centres, centres))
    inside = d <= radii
    safe = np.where(inside, 1.0, d)
    alpha = np.where(inside, np.pi, np.arcsin(np.minimum(radii / safe, 1.0)) + _ANGLE_MARGIN)
    elevation = np.arcsin(np.clip(centres[:, 2] / safe, -1.0, 1.0))
    r0 = np.searchsorted(grid.elevation, elevation - alpha, side="left")
    r1 = np.searchsorted(grid.elevation, elevation + alpha, side="right")
    index = np.flatnonzero((d - radii < range_m) & (r1 > r0))  # in range, between beams
    centres, inside, alpha, elevation = (
        centres[index],
        inside[index],
        alpha[index],
        elevation[index],
    )
    r0, r1 = r0[index], r1[index]
    # Azimuth half-width of the cone: asin(sin a / cos e) while it leaves the poles out.
    whole = inside | (np.abs(elevation) + alpha >= np.pi / 2)
    half = np.where(whole, 360.0, 0.0)
    ratio = np.sin(alpha[~whole]) / np.cos(elevation[~whole])
    half[~whole] = np.degrees(np.arcsin(np.minimum(ratio, 1.0)) + _ANGLE_MARGIN)
    phi = np.degrees(np.arctan2(centres[:, 1], centres[:, 0])) - grid.first * grid.res
    phi = np.mod(phi, 360.0)  # offset from the first azimuth; ray k is at k * res
    rows = []  # (item, k_lo, k_hi) per azimuth window, k_hi inclusive
    for shift in (0.0, 360.0, -360.0):  # windows of width <= 180 degrees: disjoint
        k_lo = np.ceil((phi + shift - half) / grid.res - 1e-9)
        k_hi = np.floor((phi + shift + half) / grid.res + 1e-9)
        k_lo, k_hi = np.maximum(k_lo, 0), np.minimum(k_hi, grid.count - 1)
        ok = (k_hi >= k_lo) & (~whole if shift else True)
        rows.append((np.flatnonzero(ok), k_lo[ok].astype(np.int64), k_hi[ok].astype(np.int64)))
    item = np.concatenate([r[0] for r in rows])
    order = np.argsort(item, kind="stable")
    item = item[order]
    k_lo = np.concatenate([r[1] for r in rows])[order]
    nk = np.concatenate([r[2] for r in rows])[order] - k_lo + 1
    lo, nr = r0[item], (r1 - r0)[item]
    n = nk * nr
    row = np.repeat(np.arange(len(item)), n)
    j = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    k = k_lo[row] + j // nr[row]
    ring = grid.ring[lo[row] + j % nr[row]]
    return index[item[row]], k * channels + ring


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
        texture = np.asarray(material.texture)[..., :3]
        if texture.dtype == np.uint8:  # a histogram of the 256 levels: the same mean
            counts = np.bincount(texture.reshape(-1), minlength=256)
            albedo *= float(counts @ _srgb_to_linear(np.arange(256)) / texture.size)
        else:
            albedo *= float(_srgb_to_linear(texture).mean())
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

    def frame(self, f: int) -> None:
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

    def cast(self, f: int, T_world_lidar: np.ndarray, directions: np.ndarray, grid, range_m):
        """First hit of every ray (unit ``directions`` (R, 3) from the sensor at
        ``T_world_lidar``) within ``range_m`` in frame ``f``: group index (-1 for a
        miss), distance and world normal, in chunks of pybullet's per-call limit."""
        self.frame(f)
        origin = T_world_lidar[:3, 3]
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
    """The groups in Embree scenes: the parts that never move nor vanish in one scene
    posed once per clip (coordinates relative to ``centre``, so that float32 keeps
    sub-millimetre precision far from the world origin), and each other part in a scene
    of its own frame, built once per distinct mesh. A moving part is cast against only
    the rays of the frame's grid that pass within its bounding sphere, turned into its
    frame, and each ray keeps its nearest hit."""

    def __init__(self, groups: list[_Group], poses: np.ndarray, present: np.ndarray, centre):
        from embreex.rtcore import EmbreeDevice

        self.poses, self.present = poses, present
        self.centre = np.asarray(centre, dtype=np.float64)
        self.device = EmbreeDevice()  # one for all the scenes: each new device costs ms
        still = np.all(poses == poses[:1], axis=(0, 2, 3)) & present.all(axis=0)
        static = [(k, g) for k, g in enumerate(groups) if still[g.part]]
        self.static = None
        if static:
            vertices = [
                g.vertices @ poses[0, g.part, :3, :3].T + poses[0, g.part, :3, 3] - self.centre
                for _, g in static
            ]
            faces, labels = [g.faces for _, g in static], [k for k, _ in static]
            self.static = _embree_scene(self.device, vertices, faces, labels)
        # One scene per moving part (shared by parts of the same mesh), in its frame.
        self.moving: list[int] = []
        self.part_scene: dict[int, tuple] = {}
        built: dict[bytes, tuple] = {}
        by_part: dict[int, list[tuple[int, _Group]]] = {}
        for k, g in enumerate(groups):
            if not still[g.part]:
                by_part.setdefault(g.part, []).append((k, g))
        self.sphere_centre = np.zeros((poses.shape[1], 3))
        self.sphere_radius = np.zeros(poses.shape[1])
        for p, part_groups in by_part.items():
            digest = hashlib.blake2b(digest_size=16)
            for _, g in part_groups:
                digest.update(np.ascontiguousarray(g.vertices, dtype=np.float64).tobytes())
                digest.update(np.ascontiguousarray(g.faces, dtype=np.int64).tobytes())
                digest.update(b"|")
            key = digest.digest()
            if key not in built:
                # Triangle i of the scene is of the part's slot-th group, slot = face_slot[i].
                built[key] = _embree_scene(
                    self.device, [g.vertices for _, g in part_groups],
                    [g.faces for _, g in part_groups], list(range(len(part_groups))),
                )  # fmt: skip
            scene, face_slot = built[key]
            slots = np.array([k for k, _ in part_groups], dtype=np.int64)
            self.part_scene[p] = (scene, slots[face_slot])
            lo = np.min([g.vertices.min(axis=0) for _, g in part_groups], axis=0)
            hi = np.max([g.vertices.max(axis=0) for _, g in part_groups], axis=0)
            self.sphere_centre[p] = (lo + hi) / 2.0
            self.sphere_radius[p] = np.linalg.norm(hi - lo) / 2.0
            self.moving.append(p)
        self.moving_parts = np.array(self.moving, dtype=np.int64)

    def cast(self, f: int, T_world_lidar: np.ndarray, world_dirs: np.ndarray, grid, range_m):
        """First hit of every ray of ``grid`` (unit ``world_dirs`` (R, 3) from the sensor
        at ``T_world_lidar``) within ``range_m`` in frame ``f``: group index (-1 for a
        miss), distance (float32) and world normal (float32, not normalized)."""
        R, origin = T_world_lidar[:3, :3], T_world_lidar[:3, 3]
        count = len(world_dirs)
        dirs = np.ascontiguousarray(world_dirs, dtype=np.float32)
        if self.static is None:
            group = np.full(count, -1, dtype=np.int64)
            distance = np.full(count, np.float32(range_m), dtype=np.float32)
            normal = np.zeros((count, 3), dtype=np.float32)
        else:
            scene, face_group = self.static
            origins = np.empty((count, 3), dtype=np.float32)
            origins[:] = origin - self.centre
            dists = np.full(count, np.float32(range_m), dtype=np.float32)
            hit = scene.run(origins, dirs, dists=dists, output=1)
            prim, distance = hit["primID"], hit["tfar"]  # a miss keeps range_m
            group = np.where(prim >= 0, face_group[prim], -1)  # a miss's -1 reads the last
            normal = hit["Ng"]
        if not self.moving:
            return group, distance, normal
        parts = self.moving_parts[self.present[f, self.moving_parts]]
        T = self.poses[f, parts]
        centres = np.einsum("pij,pj->pi", T[:, :3, :3], self.sphere_centre[parts]) + T[:, :3, 3]
        item, ray = _grid_pairs(grid, (centres - origin) @ R, self.sphere_radius[parts], range_m)
        bounds = np.searchsorted(item, np.arange(len(parts) + 1))
        for i, p in enumerate(parts):
            rays = ray[bounds[i] : bounds[i + 1]]
            if not len(rays):
                continue
            Rp, tp = T[i, :3, :3], T[i, :3, 3]
            origins = np.empty((len(rays), 3), dtype=np.float32)
            origins[:] = (origin - tp) @ Rp
            local = np.ascontiguousarray(world_dirs.take(rays, axis=0) @ Rp, dtype=np.float32)
            scene, face_group = self.part_scene[p]
            best = distance[rays]
            hit = scene.run(origins, local, dists=best.copy(), output=1)
            closer = (hit["primID"] >= 0) & (hit["tfar"] < best)
            rays = rays[closer]
            group[rays] = face_group[hit["primID"][closer]]
            distance[rays] = hit["tfar"][closer]
            normal[rays] = hit["Ng"][closer] @ Rp.T
        return group, distance, normal

    def close(self) -> None:
        self.static, self.part_scene, self.device = None, {}, None


def _embree_scene(device, vertices: list[np.ndarray], faces: list[np.ndarray], labels: list[int]):
    """One committed Embree scene on ``device`` of the meshes (``vertices[i]``,
    ``faces[i]``) as a single triangle mesh, and the label of each of its triangles."""
    from embreex.mesh_construction import TriangleMesh
    from embreex.rtcore_scene import EmbreeScene

    scene = EmbreeScene(device)
    # Corners given per triangle: embreex copies them faster than shared vertices.
    corners = [np.asarray(v, dtype=np.float32)[fc] for v, fc in zip(vertices, faces, strict=True)]
    TriangleMesh(scene, np.ascontiguousarray(np.concatenate(corners)))
    label = np.concatenate(
        [np.full(len(fc), k, dtype=np.int64) for fc, k in zip(faces, labels, strict=True)]
    )
    scene.run(np.zeros((1, 3), np.float32), np.ones((1, 3), np.float32))  # commit the BVH now
    return scene, label


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


class _SheetCaster:
    """Rays against the sheets' meshes of each frame, by exact float64 ray-triangle tests
    (Moller-Trumbore) of each triangle with only the rays of the grid that may pass
    through its bounding sphere, for the sheets whose own bounding sphere some ray meets
    within range: no acceleration structure to rebuild for each frame."""

    def __init__(self, sheets: list[Sheet]):
        self.sheets = sheets
        self.faces = [np.asarray(sh.faces, dtype=np.int64) for sh in sheets]
        lo = np.stack([np.asarray(sh.vertices).min(axis=1) for sh in sheets], axis=1)
        hi = np.stack([np.asarray(sh.vertices).max(axis=1) for sh in sheets], axis=1)
        self.centre, self.radius = (lo + hi) / 2.0, np.linalg.norm(hi - lo, axis=2) / 2.0

    def cast(self, f: int, T_world_lidar, world_dirs, grid: _RayGrid, range_m, distance):
        """The rays of ``grid`` (unit ``world_dirs`` (R, 3)) that meet a sheet's triangle
        of frame ``f`` nearer than ``distance`` (R,): ray indices, sheet index, distance
        and world normal (not normalized)."""
        R, origin = T_world_lidar[:3, :3], T_world_lidar[:3, 3]
        empty = np.zeros(0, dtype=np.int64)
        centres = (self.centre[f] - origin) @ R
        near = np.unique(_grid_pairs(grid, centres, self.radius[f], range_m)[0])
        if not len(near):
            return empty, empty, np.zeros(0), np.zeros((0, 3))
        sheets, faces = self.sheets, self.faces
        tri = np.concatenate(
            [np.asarray(sheets[c].vertices[f]).take(faces[c], axis=0) for c in near]
        )
        tri = tri - origin
        sheet_of = np.repeat(near, [len(faces[c]) for c in near])
        a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
        centre = (a + b + c) / 3.0
        a, b, c = a - centre, b - centre, c - centre
        radius = np.sqrt(
            np.maximum(
                np.maximum(np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)),
                np.einsum("ij,ij->i", c, c),
            )
        )
        item, ray = _grid_pairs(grid, centre @ R, radius, range_m)
        return _nearest_triangle_hits(tri, item, ray, world_dirs, distance, sheet_of)


def _nearest_triangle_hits(tri, item, ray, world_dirs, distance, label):
    """Of the (triangle ``item``, ``ray``) pairs, each ray's nearest hit nearer than
    ``distance``: ray indices, ``label`` of the triangle, distance, normal."""
    corners = tri.take(item, axis=0)
    v0 = corners[:, 0]
    e1, e2, d = corners[:, 1] - v0, corners[:, 2] - v0, world_dirs.take(ray, axis=0)
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        u = -np.einsum("ij,ij->i", v0, p) * inv
        q = np.cross(-v0, e1)
        v = np.einsum("ij,ij->i", d, q) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        ok = (det != 0) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0) & (t < distance[ray])
    item, ray, t = item[ok], ray[ok], t[ok]
    order = np.lexsort((t, ray))  # nearest first within each ray
    item, ray, t = item[order], ray[order], t[order]
    first = np.ones(len(ray), dtype=bool)
    first[1:] = ray[1:] != ray[:-1]
    item, ray, t = item[first], ray[first], t[first]
    normal = np.cross(tri[item, 1] - tri[item, 0], tri[item, 2] - tri[item, 0])
    return ray, label[item], t, normal


def default_threads() -> int:
    """Frames scanned at once: ``SIMFACTORY_LIDAR_THREADS`` if set, else 2 where the
    process may run on two cores or more (Embree casts without holding the GIL)."""
    wanted = os.environ.get("SIMFACTORY_LIDAR_THREADS")
    if wanted is not None:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"SIMFACTORY_LIDAR_THREADS must be a positive integer, not {wanted!r}")
        return int(wanted)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2, cores or 1)


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
    threads: int | None = None,
) -> LidarScan:
    """Scan every frame of a clip.

    ``visuals`` are the parts' visuals in their part frames, ``poses`` (F, P, 4, 4) the
    parts' ``T_world_part``, ``T_world_lidar`` (F, 4, 4) the sensor's pose per frame,
    ``class_ids`` (P,) the parts' semantic ids and ``part_names`` (P,) their names (the
    parts of ``lidar.body`` are not cast against, nor parts absent from a frame by
    ``present`` (F, P)). ``sheets`` (cloths, skinned people's regions) are cast against
    as their meshes of each frame; the c-th has part index P + c. With Embree, up to
    ``threads`` frames (default: ``default_threads()``) are scanned at once; the points
    do not depend on it.
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
    embree = ray_engine() == "embree"
    if embree:
        caster = _EmbreeCaster(groups, poses, present, T_world_lidar[0, :3, 3])
    else:
        caster = _BulletCaster(groups, poses, present)
    sheet_caster = _SheetCaster(sheets) if sheets else None
    P = poses.shape[1]
    part_of = np.array(
        [g.part for g in groups] + [P + c for c in range(len(sheets))], dtype=np.int64
    )
    albedo = np.array([g.albedo for g in groups] + [s.albedo for s in sheets], dtype=float)
    range_m = float(lidar.range_m)

    grids: dict[tuple[int, int], tuple] = {}  # the same for every frame of a full turn

    def frame(f: int):
        steps = _azimuth_steps(lidar, fps, f)
        if steps not in grids:
            grids[steps] = (*lidar_rays(lidar, fps, f), _RayGrid.of(lidar, fps, f))
        directions, ring, grid = grids[steps]
        world_dirs = directions @ T_world_lidar[f, :3, :3].T
        group, distance, normal = caster.cast(f, T_world_lidar[f], world_dirs, grid, range_m)
        if sheets:
            rays, index, near, facing = sheet_caster.cast(
                f, T_world_lidar[f], world_dirs, grid, range_m, distance
            )
            group[rays] = len(groups) + index
            distance[rays], normal[rays] = near, facing
        hit = np.flatnonzero(group >= 0)  # take(): far faster than masks on (R, 3) rows
        facing = normal.take(hit, axis=0).astype(np.float64)
        length2 = np.einsum("ij,ij->i", facing, facing)
        cosine = np.abs(np.einsum("ij,ij->i", world_dirs.take(hit, axis=0), facing))
        cosine /= np.sqrt(np.where(length2 > 0, length2, np.inf))
        group = group.take(hit)
        xyz = directions.take(hit, axis=0) * distance.take(hit)[:, None]
        intensity = np.clip(albedo.take(group) * cosine, 0.0, 1.0)
        part = part_of.take(group)  # each frame in its stored types: 48 frames in float64
        # and int64 until the end would be twice the scan
        return (
            xyz.astype(np.float32), intensity.astype(np.float32),
            (part + 1).astype(np.uint16), class_ids.take(part).astype(np.uint8),
            ring.take(hit).astype(np.uint8),
        )  # fmt: skip

    threads = default_threads() if threads is None else int(threads)
    try:
        if embree and threads > 1 and num_frames > 1:
            with ThreadPoolExecutor(threads) as pool:  # the casts release the GIL
                frames = list(pool.map(frame, range(num_frames)))
        else:
            frames = [frame(f) for f in range(num_frames)]
    finally:
        caster.close()

    xyz, intensity, instance, semantic, ring = (
        list(column) for column in zip(*frames, strict=True)
    )
    empty = [np.zeros(0, np.float32), np.zeros(0, np.uint16), np.zeros(0, np.uint8)]
    return LidarScan(
        xyz=np.concatenate(xyz or [np.zeros((0, 3), np.float32)]).reshape(-1, 3),
        intensity=np.concatenate(intensity or empty[:1]),
        instance=np.concatenate(instance or empty[1:2]),
        semantic=np.concatenate(semantic or empty[2:]),
        ring=np.concatenate(ring or empty[2:]),
        offsets=np.concatenate([[0], np.cumsum([len(g) for g in instance])]).astype(np.int64),
        T_world_lidar=T_world_lidar,
    )
