"""Visual meshes of a URDF body, read through pybullet so they match its physics.

pybullet reports each visual's frame relative to its link frame (the part frame of
the Trajectory), so the visuals returned here are in that frame.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pybullet as pb
import trimesh

from simfactory.sim.model.motion import pose_from_pos_quat_xyzw
from simfactory.sim.model.spec import Material, Visual


def _geometry(kind: int, dims, filename: bytes) -> trimesh.Trimesh | None:
    if kind == pb.GEOM_MESH:
        # Geometry only: colours come from the URDF, and the materials trimesh would read
        # (the Panda's are packed into atlases up to 8192x2048) cost ~300 MB and time.
        path = filename.decode()
        obj = {"skip_materials": True} if path.lower().endswith(".obj") else {}
        loaded = trimesh.load(path, force="mesh", process=False, **obj)
        mesh = trimesh.Trimesh(loaded.vertices, loaded.faces, process=False)
        return mesh.apply_scale(np.asarray(dims, dtype=float))
    if kind == pb.GEOM_BOX:
        return trimesh.creation.box(extents=dims)
    if kind == pb.GEOM_SPHERE:
        return trimesh.creation.icosphere(2, radius=dims[0])
    if kind == pb.GEOM_CYLINDER:
        return trimesh.creation.cylinder(radius=dims[1], height=dims[0])
    if kind == pb.GEOM_CAPSULE:
        # 16 x 8 segments: round enough on screen, and a small hull for the part's box.
        return trimesh.creation.capsule(height=dims[0], radius=dims[1], count=[16, 8])
    return None


@cache
def _urdf_visuals(path: str, scale: float) -> tuple[tuple[int, tuple[Visual, ...]], ...]:
    client = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(path, globalScaling=scale, physicsClientId=client)
        by_link: dict[int, list[Visual]] = {
            link: [] for link in range(-1, pb.getNumJoints(uid, physicsClientId=client))
        }
        for i, v in enumerate(pb.getVisualShapeData(uid, physicsClientId=client)):
            link, kind, dims, filename, pos, quat, rgba = v[1], v[2], v[3], v[4], v[5], v[6], v[7]
            mesh = _geometry(kind, dims, filename)
            if mesh is None:
                continue
            mesh.apply_transform(pose_from_pos_quat_xyzw(pos, quat))
            material = Material(f"urdf_{link}_{i}", tuple(float(c) for c in rgba), roughness=0.6)
            by_link[link].append(Visual(mesh, material))
    finally:
        pb.disconnect(client)
    return tuple((link, tuple(vis)) for link, vis in sorted(by_link.items()))


def urdf_link_visuals(path: str, scale: float = 1.0) -> dict[int, list[Visual]]:
    """{link index (-1 = base): visuals in that link's frame} of a URDF file."""
    return {link: list(vis) for link, vis in _urdf_visuals(str(path), float(scale))}
