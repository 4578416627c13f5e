"""Cloth geometry: grid meshes for ``spec.Cloth``, and what labels need from a cloth's
vertices in one frame (smooth normals, its box, the area it covers on the table).

A cloth has no rigid pose: its shape is its vertices, (V, 3) world per frame, recorded
by the rollout in ``Trajectory.cloth_vertices``.
"""

from __future__ import annotations

import numpy as np
import shapely
import trimesh

from simfactory.sim.annotate.boxes import oriented_box

THICKNESS = 0.002  # m: a cloth's box and hull are its vertices' grown by half this up and down


def grid(width: float, depth: float, spacing: float) -> trimesh.Trimesh:
    """A flat rectangle ``width`` (x) by ``depth`` (y) m in the z = 0 plane, centred at the
    origin, split into squares about ``spacing`` m wide, each cut into two triangles
    along alternating diagonals (so the mesh bends alike both ways).

    Vertex ``j * nx + i`` is at column i (x) and row j (y), so the corners are vertices
    0, nx - 1, nx * (ny - 1) and nx * ny - 1.
    """
    nx = max(2, int(round(width / spacing)) + 1)
    ny = max(2, int(round(depth / spacing)) + 1)
    x = np.linspace(-width / 2, width / 2, nx)
    y = np.linspace(-depth / 2, depth / 2, ny)
    X, Y = np.meshgrid(x, y)
    vertices = np.column_stack([X.ravel(), Y.ravel(), np.zeros(nx * ny)])
    i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1))
    a = (j * nx + i).ravel()
    b, c, d = a + 1, a + nx, a + nx + 1
    flip = ((i + j) % 2 == 1).ravel()
    first = np.where(flip[:, None], np.column_stack([a, b, c]), np.column_stack([a, b, d]))
    second = np.where(flip[:, None], np.column_stack([b, d, c]), np.column_stack([a, d, c]))
    faces = np.concatenate([first, second])
    return trimesh.Trimesh(vertices, faces, process=False)


def outline_mesh(outline: np.ndarray, spacing: float) -> trimesh.Trimesh:
    """A flat sheet in the z = 0 plane filling the polygon ``outline`` (N, 2): the
    squares of a ``grid`` over its bounds whose middles lie inside it, each cut into two
    triangles as ``grid`` cuts them, with the grid's vertices they use (a garment's
    shape, to the grid's resolution)."""
    polygon = shapely.Polygon(outline)
    lo, hi = np.min(outline, axis=0), np.max(outline, axis=0)
    sheet = grid(hi[0] - lo[0], hi[1] - lo[1], spacing)
    sheet.apply_translation((*((lo + hi) / 2), 0.0))
    v, f = np.asarray(sheet.vertices), np.asarray(sheet.faces)
    # A square's two triangles (k and k + half) share its diagonal: keep both where the
    # square's middle (the diagonal's midpoint) is inside.
    half = len(f) // 2
    quads = np.concatenate([f[:half], f[half:]], axis=1)
    middles = np.stack([v[q][:, :2].mean(axis=0) for q in map(np.unique, quads)])
    inside = shapely.contains_xy(polygon, middles[:, 0], middles[:, 1])
    keep = np.concatenate([inside, inside])
    faces = f[keep]
    used, local = np.unique(faces, return_inverse=True)
    return trimesh.Trimesh(v[used], local.reshape(-1, 3), process=False)


def corner_vertex(mesh: trimesh.Trimesh, direction: tuple[float, float]) -> int:
    """The vertex of a flat mesh farthest along ``direction`` (x, y) in its plane (a
    corner of a grid for a diagonal direction)."""
    return int(np.argmax(np.asarray(mesh.vertices)[:, :2] @ np.asarray(direction, dtype=float)))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals (V, 3) of a deformed mesh: the area-weighted mean of the normals of the
    faces around each vertex (smooth shading)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length: 2 x area
    corners = np.asarray(faces).reshape(-1)
    normals = np.stack(
        [np.bincount(corners, np.repeat(face_normals[:, d], 3), len(vertices)) for d in range(3)],
        axis=1,
    )
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 1e-12, normals / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])


def cloth_box(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tight box (T_world_box (4, 4), extents (3,)) of a cloth's vertices in one frame:
    world-aligned unless an oriented box is clearly smaller (``boxes.oriented_box``)."""
    return oriented_box(hull_points(vertices))


def hull_points(vertices: np.ndarray) -> np.ndarray:
    """The corners (N, 3) of the convex hull of a cloth's vertices given ``THICKNESS``
    (so that a flat cloth has a solid hull)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    half = np.array([0.0, 0.0, THICKNESS / 2])
    points = np.concatenate([vertices - half, vertices + half])
    return np.asarray(trimesh.convex.convex_hull(points).vertices)


def footprint_area(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Area (m^2) the cloth covers seen from above: the union of its triangles projected
    on the xy plane (a flat square covers its own area, folded in half about half)."""
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)][:, :, :2]
    polygons = shapely.polygons(triangles)
    polygons = polygons[shapely.area(polygons) > 1e-12]
    return float(shapely.union_all(polygons).area)
