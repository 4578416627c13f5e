"""The shortcuts of the fingers' contact search give the values of the full measures:
a sheet's depth from the triangles near a point only (and where only contact matters,
from those within reach), a crossing tested on the triangles near a step's way only, a
convex piece's depth where only contact matters from the points within its sphere and
a sample of its faces, and the curl scan measured for all steps at once."""

import numpy as np
import trimesh

from simfactory.sim.actors.body import (
    TIP_PRESS,
    _convex_pieces,
    _FingerReach,
    closest_points,
    convex_depth,
    sheet_crossed,
    sheet_depth,
    sheet_depth_near,
    sheet_parts,
    sheet_spheres,
)


def _crumpled_sheets(rng, rows: int = 6) -> np.ndarray:
    """Per row, a 6 x 6 grid of triangles 1 cm apart, bent and shifted differently."""
    u, v = np.meshgrid(np.linspace(0, 0.06, 7), np.linspace(0, 0.06, 7), indexing="ij")
    sheets = []
    for _ in range(rows):
        z = 0.01 * np.sin(u * rng.uniform(20, 60)) * np.cos(v * rng.uniform(20, 60))
        grid = np.stack([u, v, z], axis=-1) + rng.uniform(-0.01, 0.01, 3)
        quads = [(grid[i, j], grid[i + 1, j], grid[i + 1, j + 1], grid[i, j + 1])
                 for i in range(6) for j in range(6)]  # fmt: skip
        sheets.append([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    return np.asarray(sheets)  # (rows, 72, 3, 3)


def test_a_sheets_depth_from_its_near_triangles_is_the_full_measure():
    rng = np.random.default_rng(3)
    triangles = _crumpled_sheets(rng)
    parts = sheet_parts(triangles)
    points = rng.uniform(-0.02, 0.08, (len(triangles), 400, 3))
    points[:, :200, 2] = rng.uniform(-0.004, 0.004, (len(triangles), 200))  # near the cloth
    full = sheet_depth(parts, points)  # (rows, 400)
    rows = np.repeat(np.arange(len(triangles)), points.shape[1])
    flat = points.reshape(-1, 3)
    exact = sheet_depth_near(parts, sheet_spheres(parts), flat, rows)
    assert np.array_equal(exact.reshape(full.shape), full)
    contact = sheet_depth_near(parts, sheet_spheres(parts), flat, rows, 0.003 - TIP_PRESS)
    inside = full.reshape(-1) >= TIP_PRESS
    assert 0 < inside.sum() < len(inside)  # some points in the cloth, most not
    assert np.array_equal(contact >= TIP_PRESS, inside)
    assert np.array_equal(contact[inside], full.reshape(-1)[inside])


def test_a_crossing_tested_near_the_way_only_is_the_full_test():
    rng = np.random.default_rng(4)
    triangles = _crumpled_sheets(rng)
    parts = sheet_parts(triangles)
    start = rng.uniform(-0.02, 0.08, (len(triangles), 300, 3))
    end = start + rng.normal(0.0, 0.02, start.shape)
    full = sheet_crossed(parts, start, end)
    reach = _FingerReach(None, None, None, None, parts)
    rows = np.repeat(np.arange(len(triangles)), start.shape[1])
    near = reach._crossed(start.reshape(-1, 3), end.reshape(-1, 3), rows)
    assert 0 < full.sum() < full.size
    assert np.array_equal(near, full.reshape(-1))


def test_a_convex_depth_where_only_contact_matters_is_exact_there():
    rng = np.random.default_rng(5)
    pieces = _convex_pieces([trimesh.creation.icosphere(subdivisions=3, radius=0.04),
                             trimesh.creation.box((0.1, 0.02, 0.02))])  # fmt: skip
    assert len(pieces[0][0]) > 64  # the sphere's faces are sampled first
    points = rng.uniform(-0.08, 0.08, (5000, 3))
    full = convex_depth(pieces, points)
    contact = convex_depth(pieces, points, TIP_PRESS)
    inside = full >= TIP_PRESS
    assert 0 < inside.sum() < len(inside)
    assert np.array_equal(contact >= TIP_PRESS, inside)
    assert np.array_equal(contact[inside], full[inside])
    assert np.all(contact[~inside] < TIP_PRESS)


def test_the_curl_scan_at_once_gives_each_steps_tips():
    """The scan's tips (all steps, all spreads) are those of one curl at a time."""
    rng = np.random.default_rng(6)
    m = 5
    limbs = rng.normal(0.0, 0.03, (m, 3, 3))
    normal = rng.normal(size=(m, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    share = np.tile(np.cumsum([0.4, 0.35, 0.25]), (m, 1))
    reach = _FingerReach(rng.normal(size=(m, 3)), limbs, normal, share, [])
    spread = np.tile(np.radians([0.0, -10.0, 10.0]), (m, 1))
    turned = reach.turned(spread)
    grid = np.linspace(-0.5, 4.3, 9)
    scan = reach.bent(turned, np.broadcast_to(grid, (m, 1, len(grid))))
    for g, theta in enumerate(grid):
        one = reach.bent(turned, np.full((m, 3, 1), theta))[..., 0, :]
        assert np.array_equal(scan[:, :, g], one)
        rows, spreads = np.nonzero(np.ones((m, 3), dtype=bool))
        each = reach.bent(tuple(t[rows, spreads] for t in turned), np.full((m * 3, 1), theta), rows)
        assert np.array_equal(each[:, 0].reshape(m, 3, 3), one)


def test_closest_points_are_trimeshs_even_beside_a_vertex_no_face_uses():
    """``closest_points`` (no tree) gives ``trimesh.proximity.closest_point``'s distances,
    also for points next to a vertex that no face uses (a coarser level's left-overs)."""
    rng = np.random.default_rng(2)
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    stray = np.array([[0.2, 0.0, 0.0]])  # used by no face
    mesh = trimesh.Trimesh(np.vstack([sphere.vertices, stray]), sphere.faces, process=False)
    points = np.vstack([rng.normal(0, 0.06, (40, 3)), stray + 0.001])
    point, distance, triangle = closest_points(mesh, points)
    _, expected, _ = trimesh.proximity.closest_point(sphere, points)
    assert len(distance) == len(points) and triangle.max() < len(sphere.faces)
    np.testing.assert_allclose(distance, expected, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(point - points, axis=1), distance, atol=1e-12)
