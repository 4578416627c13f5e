"""Per-part data shared by the render and label stages: each rigid part's visuals,
semantic class, convex hull and oriented box, the scene's bounds and which part
carries each light."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import trimesh

from simfactory.sim.actors.urdf import urdf_link_visuals
from simfactory.sim.annotate.boxes import box_corners, oriented_box
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.spec import SceneSpec, Visual
from simfactory.sim.model.trajectory import Trajectory


@dataclass
class PartGeometry:
    """Per-part geometry in the part's local frame, computed once per clip."""

    hull_points: list[np.ndarray]  # (Ni, 3) convex hull vertices (for amodal boxes)
    T_part_box: np.ndarray  # (P, 4, 4) tight oriented box of the part
    box_size: np.ndarray  # (P, 3)
    class_ids: np.ndarray  # (P,) semantic class id


def part_visuals(spec: SceneSpec, trajectory: Trajectory) -> list[list[Visual]]:
    """The visuals of every part of the trajectory, in the part's frame (none for the
    humanoid proxies of skinned people: their bodies are drawn from vertices)."""
    out = []
    proxies = {person.proxy for person in spec.people}  # drawn as skinned bodies instead
    for b, link in zip(trajectory.part_body, trajectory.part_link, strict=True):
        body = spec.bodies[b]
        if body.name in proxies:
            out.append([])
        elif body.urdf_path:
            visuals = urdf_link_visuals(body.urdf_path, body.urdf_scale, body.urdf_cell_m)
            visuals = visuals[int(link)]
            name = "base" if link < 0 else trajectory.part_names[len(out)].split("/", 1)[1]
            material = body.urdf_materials.get(name)
            if material is not None:
                visuals = [Visual(v.mesh, material, v.shadow_mesh) for v in visuals]
            out.append(visuals)
        else:
            out.append(list(body.visuals if link < 0 else body.links[link].visuals))
    return out


def part_classes(spec: SceneSpec, trajectory: Trajectory) -> list[str]:
    classes = []
    for b, link in zip(trajectory.part_body, trajectory.part_link, strict=True):
        body = spec.bodies[b]
        classes.append(
            body.links[link].semantic_class if link >= 0 and body.links else body.semantic_class
        )
    return classes


# Hull and box of a part's meshes by the digest of their vertices and faces: identical
# parts (wheels, a person's links, a robot's meshes) recur within and across clips, and
# the hull and the minimum-volume box are the costly part of ``part_geometry``.
_BOX_CACHE: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
BOX_CACHE_SIZE = 4096


def _hull_and_box(meshes: list[trimesh.Trimesh]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convex hull vertices, ``T_part_box`` and box extents of a part's meshes; the same
    arrays as computing them afresh (cached by an exact digest of the meshes)."""
    digest = hashlib.blake2b(digest_size=20)
    for mesh in meshes:
        for array in (mesh.vertices, mesh.faces):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
    key = digest.digest()
    if key not in _BOX_CACHE:
        hull = trimesh.util.concatenate(meshes).convex_hull
        volume = float(hull.volume) if len(hull.faces) else None
        T, size = oriented_box(hull.vertices, volume if volume and np.isfinite(volume) else None)
        if len(_BOX_CACHE) >= BOX_CACHE_SIZE:
            _BOX_CACHE.pop(next(iter(_BOX_CACHE)))
        _BOX_CACHE[key] = (np.asarray(hull.vertices), T, size)
    hull, T, size = _BOX_CACHE[key]
    return hull.copy(), T.copy(), size.copy()


def part_geometry(visuals: list[list[Visual]], classes: list[str]) -> PartGeometry:
    table = class_table()
    hulls, boxes, sizes = [], [], []
    for vis in visuals:
        if not vis:
            hulls.append(np.zeros((0, 3)))
            boxes.append(np.eye(4))
            sizes.append(np.zeros(3))
            continue
        hull, T, size = _hull_and_box([v.mesh for v in vis])
        hulls.append(hull)
        boxes.append(T)
        sizes.append(size)
    return PartGeometry(
        hull_points=hulls,
        T_part_box=np.array(boxes),
        box_size=np.array(sizes),
        class_ids=np.array([table.id_of(c) for c in classes], dtype=np.int64),
    )


def scene_bounds(
    geometry: PartGeometry, poses: np.ndarray, cloth_vertices: list[np.ndarray] = ()
) -> np.ndarray:
    """Bounds (2, 3) of every part's 3D box and every cloth vertex over every frame (for
    the sun's shadow map)."""
    parts = [p for p, hull in enumerate(geometry.hull_points) if len(hull)]
    corners = np.stack([box_corners(geometry.T_part_box[p], geometry.box_size[p]) for p in parts])
    T = poses[:, parts]  # (F, P', 4, 4)
    world = np.einsum("fpij,pnj->fpni", T[..., :3, :3], corners) + T[:, :, None, :3, 3]
    flat = np.concatenate([world.reshape(-1, 3)] + [v.reshape(-1, 3) for v in cloth_vertices])
    return np.array([flat.min(0), flat.max(0)])


SHADOW_REACH = 40.0  # metres in front of a camera within which the sun's shadows are drawn


def shadow_bounds(bounds: np.ndarray, views: list[tuple], reach: float = SHADOW_REACH):
    """The part of the scene's ``bounds`` (2, 3) where the sun's shadow map is spent: the
    box of every camera's view cut ``reach`` metres ahead, over all its frames, with
    the scene's full height (so tall occluders still cast); ``views``: (K (3, 3),
    width, height, T_world_camera (F, 4, 4)) per camera. ``bounds`` itself where the
    views miss it."""
    bounds = np.asarray(bounds, float)
    points = []
    for K, width, height, T_wc in views:
        corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
        rays = (corners - [0.5, 0.5, 0]) @ np.linalg.inv(K).T * reach  # (4, 3), camera frame
        T = np.asarray(T_wc, float)
        points.append(T[:, :3, 3])
        points.append(
            (np.einsum("fij,nj->fni", T[:, :3, :3], rays) + T[:, None, :3, 3]).reshape(-1, 3)
        )
    flat = np.concatenate(points)
    lo = np.maximum(bounds[0], flat.min(0))
    hi = np.minimum(bounds[1], flat.max(0))
    if np.any(lo[:2] >= hi[:2]):
        return bounds
    lo[2], hi[2] = bounds[0, 2], bounds[1, 2]
    return np.array([lo, hi])


def light_parts(spec: SceneSpec, trajectory: Trajectory) -> list[int]:
    """Per light, the part index of the body that carries it (-1 for fixed lights)."""
    out = []
    for light in spec.lights:
        if light.body and light.body not in trajectory.part_names:
            raise ValueError(f"light carried by unknown body {light.body!r}")
        out.append(trajectory.part_names.index(light.body) if light.body else -1)
    return out
