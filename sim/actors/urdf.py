"""Visual meshes of a URDF body, read through pybullet so they match its physics.

pybullet reports each visual's frame relative to its link frame (the part frame of
the Trajectory), so the visuals returned here are in that frame.

Levels of detail: a robot's visual meshes are made for close-ups (the Panda's links
have 7k-22k triangles each, ~100k in all), far finer than a pixel where a clip's
cameras see them. ``choose_detail`` picks per clip the coarsest cube of vertex
clustering (``DETAIL_CELLS``) that spans at most ``DETAIL_PIXELS`` pixels where the
body comes nearest a camera, and its dense meshes (over ``DETAIL_MIN_FACES``
triangles) are drawn clustered at that cube by every pass, the LiDAR and the path
tracer alike: the labels come from the drawn surface. The raster's shadow maps draw
those meshes clustered at ``SHADOW_CELL`` (about a texel of the maps; shadows are colour
only), whatever the level.
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


# Cubes (m) of vertex clustering a URDF's dense meshes may be drawn at, finest first, and
# the most pixels a cube may span where the body comes nearest a camera (as people's).
DETAIL_CELLS = (0.002, 0.003, 0.005, 0.008)
DETAIL_PIXELS = 2.0
DETAIL_MIN_FACES = 2000  # meshes with fewer triangles are drawn as they are
SHADOW_CELL = 0.01  # m: shadow maps draw the dense meshes clustered this coarse (as people's)


def clustered(mesh: trimesh.Trimesh, cell: float) -> trimesh.Trimesh:
    """``mesh`` with its coincident vertices merged and then clustered in cubes of side
    ``cell`` (m; each cube's vertices replaced by the one nearest their mean), the
    triangles that collapse dropped."""
    from simfactory.sim.actors.body import cluster_vertices

    merged = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    merged.merge_vertices()
    faces = cluster_vertices(merged.vertices, cell)[merged.faces]
    a, b, c = faces.T
    faces = np.unique(faces[(a != b) & (b != c) & (a != c)], axis=0)
    used, local = np.unique(faces, return_inverse=True)
    return trimesh.Trimesh(merged.vertices[used], local.reshape(-1, 3), process=False)


@cache
def _urdf_visuals(
    path: str, scale: float, cell: float = 0.0
) -> tuple[tuple[int, tuple[Visual, ...]], ...]:
    if cell > 0:
        return tuple(
            (link, tuple(Visual(clustered(v.mesh, cell), v.material, v.shadow_mesh)
                         if len(v.mesh.faces) > DETAIL_MIN_FACES else v for v in visuals))
            for link, visuals in _urdf_visuals(path, scale)
        )  # fmt: skip
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
            shadow = clustered(mesh, SHADOW_CELL) if len(mesh.faces) > DETAIL_MIN_FACES else None
            by_link[link].append(Visual(mesh, material, shadow))
    finally:
        pb.disconnect(client)
    return tuple((link, tuple(vis)) for link, vis in sorted(by_link.items()))


def urdf_link_visuals(path: str, scale: float = 1.0, cell: float = 0.0) -> dict[int, list[Visual]]:
    """{link index (-1 = base): visuals in that link's frame} of a URDF file; ``cell`` > 0
    (m): its meshes of more than ``DETAIL_MIN_FACES`` triangles clustered in cubes of
    that side (``clustered``)."""
    return {link: list(vis) for link, vis in _urdf_visuals(str(path), float(scale), float(cell))}


def choose_detail(spec, traj) -> None:
    """Set each URDF body's ``urdf_cell_m`` to the coarsest of ``DETAIL_CELLS`` that spans
    at most ``DETAIL_PIXELS`` pixels where the body comes nearest any of the clip's
    cameras (the least depth of the corners of its dense meshes' bounding boxes over all
    frames, of the boxes with a corner in front of the camera, and at least the near
    plane's; 0, the meshes as they are, where none does). Bodies without a mesh of more
    than ``DETAIL_MIN_FACES`` triangles keep 0."""
    from simfactory.sim.model.camera import camera_poses, intrinsics

    cameras = []
    for cam in spec.cameras:
        K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
        cameras.append((np.linalg.inv(camera_poses(cam, traj.times, spec, traj)), K[1, 1], cam))
    part_body = np.asarray(traj.part_body)
    for b, body in enumerate(spec.bodies):
        body.urdf_cell_m = 0.0
        if not body.urdf_path or not cameras:
            continue
        corners = []  # (F, 8 per dense mesh, 3) world
        for part in np.flatnonzero(part_body == b):
            link = int(traj.part_link[part])
            for visual in urdf_link_visuals(body.urdf_path, body.urdf_scale)[link]:
                if len(visual.mesh.faces) > DETAIL_MIN_FACES:
                    box = trimesh.bounds.corners(visual.mesh.bounds)
                    T = traj.poses[:, part]
                    corners.append(np.einsum("fij,vj->fvi", T[:, :3, :3], box) + T[:, None, :3, 3])
        if not corners:
            continue
        points = np.concatenate(corners, axis=1)
        finest = np.inf  # metres a pixel spans where the body is nearest a camera
        for T_cw, focal, cam in cameras:
            z = np.einsum("fj,fvj->fv", T_cw[:, 2, :3], points) + T_cw[:, 2, 3][:, None]
            z = z.reshape(len(z), -1, 8)  # (F, boxes, corners)
            seen = (z > cam.near).any(axis=2)  # a box partly behind the near plane counts
            if seen.any():  # as at the near plane (its surface may come that close)
                finest = min(finest, max(float(z.min(axis=2)[seen].min()), cam.near) / focal)
        fitting = [c for c in DETAIL_CELLS if c <= DETAIL_PIXELS * finest]
        body.urdf_cell_m = max(fitting, default=0.0)
