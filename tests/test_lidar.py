"""LiDAR scans of a small hand-built street, checked against the visual meshes."""

import numpy as np
import pytest
import trimesh

from simfactory.sim.annotate.lidar import (
    Sheet,
    beam_elevations,
    default_threads,
    frame_azimuths,
    lidar_rays,
    ray_engine,
    scan,
    visual_albedo,
)
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.parts import part_classes, part_visuals
from simfactory.sim.model.spec import Body, LidarSpec, Material, Motion, SceneSpec, Visual
from simfactory.sim.simulate.physics import rollout

FPS = 10.0
FRAMES = 3


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _body(name, cls, mesh, pose, color=(0.5, 0.5, 0.5, 1.0), texture=None, **kw):
    material = Material(name, color, texture=texture)
    return Body(name, cls, [Visual(mesh, material)], pose=pose, collision="box", **kw)


def _drive(start, end):
    times = np.array([0.0, (FRAMES - 1) / FPS])
    return Motion(times, np.stack([start, end]), interpolation="linear")


def _street() -> SceneSpec:
    rng = np.random.default_rng(0)
    checker = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    yaw = trimesh.transformations.rotation_matrix(0.4, (0, 0, 1))
    bodies = [
        _body("ground", "road", trimesh.creation.box((60, 60, 0.2)), _translation(0, 0, -0.1)),
        _body("ego", "car", trimesh.creation.box((4.0, 1.8, 1.5)), _translation(0, 0, 0.75),
              motion=_drive(_translation(0, 0, 0.75), _translation(1.0, 0, 0.75))),
        _body("house", "building", trimesh.creation.box((2, 4, 3)), _translation(8, 3, 1.5) @ yaw,
              color=(0.9, 0.8, 0.7, 1.0), texture=checker),
        _body("pole", "pole", trimesh.creation.cylinder(0.15, 4.0), _translation(4, -3, 2.0)),
        _body("walker", "person", trimesh.creation.icosphere(2, radius=0.4),
              _translation(-5, 2, 1.0)),
        _body("car", "car", trimesh.creation.box((4.0, 1.8, 1.5)), _translation(9, -6, 0.75),
              motion=_drive(_translation(9, -6, 0.75), _translation(9, -3, 0.75) @ yaw)),
        _body("far_wall", "wall", trimesh.creation.box((0.5, 20, 4)), _translation(-20, 0, 2)),
    ]  # fmt: skip
    return SceneSpec("test", bodies, [], [])


def _lidar(**kw) -> LidarSpec:
    values = dict(
        name="lidar", body="ego", T_body_lidar=_translation(0, 0, 1.0), channels=16,
        vertical_fov_deg=(-25.0, 5.0), horizontal_resolution_deg=2.0, range_m=15.0,
    )  # fmt: skip
    return LidarSpec(**{**values, **kw})


@pytest.fixture(scope="module")
def street():
    spec = _street()
    traj = rollout(spec, FPS, FRAMES, 240)
    visuals = part_visuals(spec, traj)
    table = class_table()
    class_ids = np.array([table.id_of(c) for c in part_classes(spec, traj)])
    return spec, traj, visuals, class_ids


def _surface_distance(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest triangle (brute force: tiny meshes)."""
    triangles = mesh.triangles
    best = np.full(len(points), np.inf)
    for start in range(0, len(points), 256):
        chunk = points[start : start + 256]
        tri = np.repeat(triangles[None], len(chunk), axis=0).reshape(-1, 3, 3)
        pts = np.repeat(chunk, len(triangles), axis=0)
        closest = trimesh.triangles.closest_point(tri, pts)
        d = np.linalg.norm(closest - pts, axis=1).reshape(len(chunk), -1)
        best[start : start + 256] = d.min(axis=1)
    return best


def _scan(street, lidar):
    _, traj, visuals, class_ids = street
    T_wl = traj.poses[:, traj.part_names.index(lidar.body)] @ lidar.T_body_lidar
    return scan(lidar, visuals, traj.poses, T_wl, class_ids, FPS, traj.part_names)


@pytest.fixture(scope="module")
def full(street):
    return _scan(street, _lidar())


def test_points_lie_on_the_surface_of_their_instance(street, full):
    _, traj, visuals, _ = street
    assert full.offsets[-1] == len(full.xyz) > 1000
    checked = set()
    for f in range(FRAMES):
        rows = full.frame(f)
        xyz, instance = full.xyz[rows].astype(np.float64), full.instance[rows]
        world = xyz @ full.T_world_lidar[f, :3, :3].T + full.T_world_lidar[f, :3, 3]
        for k in np.unique(instance):
            p = int(k) - 1
            T = traj.poses[f, p]
            local = (world[instance == k] - T[:3, 3]) @ T[:3, :3]
            mesh = trimesh.util.concatenate([v.mesh for v in visuals[p]])
            distance = _surface_distance(mesh, local)
            assert distance.max() < 1e-3, traj.part_names[p]
            checked.add(traj.part_names[p])
    assert {"ground", "house", "pole", "walker", "car"} <= checked


def test_semantic_ids_match_instance_classes(street, full):
    _, _, _, class_ids = street
    assert np.array_equal(full.semantic, class_ids[full.instance.astype(int) - 1])
    assert full.xyz.dtype == np.float32 and full.instance.dtype == np.uint16


def test_ring_elevation_and_azimuth(full):
    lidar = _lidar()
    x, y, z = full.xyz.astype(np.float64).T
    elevation = np.degrees(np.arctan2(z, np.hypot(x, y)))
    assert np.abs(elevation - beam_elevations(lidar)[full.ring]).max() < 1e-3
    assert beam_elevations(lidar)[0] == -25.0 and beam_elevations(lidar)[-1] == 5.0
    azimuth = np.mod(np.degrees(np.arctan2(y, x)), 360.0)
    nearest = np.round(azimuth / 2.0) * 2.0
    assert np.abs(np.mod(azimuth - nearest + 180, 360) - 180).max() < 1e-3
    directions, ring = lidar_rays(lidar, FPS, 0)
    assert len(directions) == 16 * 180 and np.allclose(np.linalg.norm(directions, axis=1), 1)
    assert np.array_equal(ring[:16], np.arange(16))


def test_intensity_is_albedo_times_incidence_cosine(street, full):
    spec, traj, visuals, _ = street
    ground = traj.part_names.index("ground") + 1
    on_ground = full.instance == ground
    xyz = full.xyz[on_ground].astype(np.float64)
    cosine = np.abs(xyz[:, 2]) / np.linalg.norm(xyz, axis=1)  # the lidar frame is level
    assert np.allclose(full.intensity[on_ground], 0.5 * cosine, atol=1e-4)
    house = spec.bodies[traj.part_names.index("house")]
    assert visual_albedo(house.visuals[0]) < 0.8  # the texture darkens it
    assert 0.0 <= full.intensity.min() and full.intensity.max() <= 1.0


def test_carrier_never_hit_and_range_respected(street, full):
    _, traj, _, _ = street
    names = [traj.part_names[i - 1] for i in np.unique(full.instance)]
    assert "ego" not in names and "far_wall" not in names  # far_wall is 20 m away
    assert np.linalg.norm(full.xyz, axis=1).max() <= 15.0 + 1e-4
    # Mounted on another body, the same sensor sees the ego car and the far wall.
    other = _scan(street, _lidar(body="walker", range_m=40.0))
    names = {traj.part_names[i - 1] for i in np.unique(other.instance)}
    assert {"ego", "far_wall"} <= names and "walker" not in names


def test_moving_car_is_seen_where_it_is(street, full):
    _, traj, _, _ = street
    car = traj.part_names.index("car")
    centres = []
    for f in range(FRAMES):
        rows = full.frame(f)
        pts = full.xyz[rows][full.instance[rows] == car + 1].astype(np.float64)
        world = pts @ full.T_world_lidar[f, :3, :3].T + full.T_world_lidar[f, :3, 3]
        centres.append(world[:, 1].mean())
    assert centres[0] < centres[1] < centres[2]


def test_rotation_sectors_tile_the_revolution():
    slow = _lidar(rotation_hz=2.5, horizontal_resolution_deg=0.7)  # 90 degrees per frame
    sectors = [frame_azimuths(slow, FPS, f) for f in range(8)]
    assert all(abs(len(s) * 0.7 - 90.0) < 0.7 for s in sectors)
    turned = np.concatenate(sectors)
    expected = np.mod(np.arange(len(turned)) * 0.7, 360.0)
    assert np.allclose(turned, expected)  # no gap, no overlap between frames
    assert len(frame_azimuths(_lidar(), FPS, 3)) == 180  # full revolution every frame
    fast = _lidar(rotation_hz=25.0)  # faster than 360 degrees per frame: capped
    assert len(frame_azimuths(fast, FPS, 1)) == 180
    assert len(lidar_rays(slow, FPS, 0)[0]) == 16 * len(sectors[0])


def test_rotation_scan_holds_only_the_sector(street):
    result = _scan(street, _lidar(rotation_hz=2.5))
    for f in range(FRAMES):
        x, y = result.xyz[result.frame(f), :2].T.astype(np.float64)
        azimuth = np.mod(np.degrees(np.arctan2(y, x)), 360.0)
        lo = 90.0 * f
        assert np.all((azimuth > lo - 1e-3) & (azimuth < lo + 90.0 - 1e-3))


def test_scan_is_deterministic(street, full):
    again = _scan(street, _lidar())
    for key in ("xyz", "intensity", "instance", "semantic", "ring", "offsets"):
        assert np.array_equal(getattr(full, key), getattr(again, key))


def test_embree_and_pybullet_give_the_same_points(street, monkeypatch):
    pytest.importorskip("embreex")
    scans = {}
    for engine in ("embree", "pybullet"):
        monkeypatch.setenv("SIMFACTORY_LIDAR_ENGINE", engine)
        assert ray_engine() == engine
        scans[engine] = _scan(street, _lidar(horizontal_resolution_deg=1.0))
    embree, bullet = scans["embree"], scans["pybullet"]
    assert np.array_equal(embree.offsets, bullet.offsets)
    same = np.all(embree.instance == bullet.instance)
    assert same and np.array_equal(embree.ring, bullet.ring)
    assert np.abs(embree.xyz - bullet.xyz).max() < 1e-3
    assert np.abs(embree.intensity - bullet.intensity).max() < 1e-3


def test_unknown_ray_engine_is_refused(monkeypatch):
    monkeypatch.setenv("SIMFACTORY_LIDAR_ENGINE", "optix")
    with pytest.raises(ValueError, match="SIMFACTORY_LIDAR_ENGINE"):
        ray_engine()


def _pose(x, y, z, yaw=0.0, pitch=0.0):
    T = trimesh.transformations.euler_matrix(0.0, pitch, yaw, "sxyz")
    T[:3, 3] = (x, y, z)
    return T


def _moving_scene():
    """A hand-posed scene of 4 frames: static parts, parts that move and turn (two share
    a mesh), one that comes and goes, a roof whose bounding sphere holds the sensor, a
    car crossing the azimuth where a revolution starts, and two sheets (a breathing ball
    and a waving cloth) given per frame."""
    frames = 4
    car = trimesh.creation.box((4.0, 1.8, 1.5))
    meshes = {
        "ego": trimesh.creation.box((4.0, 1.8, 1.5)),
        "ground": trimesh.creation.box((40, 40, 0.2)),
        "house": trimesh.creation.box((2, 4, 3)),
        "car": car,
        "twin": car.copy(),
        "bus": trimesh.creation.box((8.0, 2.5, 3.0)),
        "roof": trimesh.creation.box((16.0, 16.0, 0.2)),
        "ball": trimesh.creation.icosphere(2, radius=0.6),
    }
    names = list(meshes)
    poses = np.zeros((frames, len(names), 4, 4))
    for f in range(frames):
        s = f / (frames - 1)
        poses[f, 0] = _pose(0.5 * s, 0, 0.75, yaw=0.05 * s)
        poses[f, 1] = _pose(0, 0, -0.1)
        poses[f, 2] = _pose(-7, 4, 1.5, yaw=0.4)
        poses[f, 3] = _pose(7.0, -2.5 + 5.0 * s, 0.75, yaw=0.6 * s)  # across azimuth 0
        poses[f, 4] = _pose(-6.0 + s, -5.0, 0.75, yaw=-0.3 * s)
        poses[f, 5] = _pose(2.0, 8.0, 1.5)
        poses[f, 6] = _pose(1.0 * s, 0.0, 4.5, pitch=0.02 * s)
        poses[f, 7] = _pose(3.0, 2.0 - s, 1.2 + 0.5 * s)
    present = np.ones((frames, len(names)), dtype=bool)
    present[[0, 3], 5] = False  # the bus is there in frames 1 and 2 only
    visuals = [[Visual(m, Material(n, (0.6, 0.5, 0.4, 1.0)))] for n, m in meshes.items()]
    ball = trimesh.creation.icosphere(2, radius=0.5)
    cloth = trimesh.creation.box((0.1, 1.5, 1.5)).subdivide().subdivide()
    sheet_vertices = [
        np.stack([ball.vertices * (1.0 + 0.1 * f) + (-3.0, -2.0, 1.0) for f in range(frames)]),
        np.stack([
            cloth.vertices + (0, 4, 1)
            + np.outer(0.1 * np.sin(cloth.vertices[:, 1] * 3 + f), (1, 0, 0))
            for f in range(frames)
        ]),
    ]  # fmt: skip
    sheets = [
        Sheet(sheet_vertices[0], np.asarray(ball.faces), class_id=7, albedo=0.3),
        Sheet(sheet_vertices[1], np.asarray(cloth.faces), class_id=8, albedo=0.6),
    ]
    T_wl = poses[:, 0] @ _pose(0.3, 0.0, 1.0, yaw=0.0, pitch=0.05)  # a tilted sensor
    return visuals, poses, present, names, sheets, T_wl


def _brute_scan(lidar, visuals, poses, present, names, sheets, T_wl, f):
    """Nearest hit of every ray of frame f against every posed triangle (float64
    Moller-Trumbore, no acceleration): instance id (0 for a miss) and distance."""
    triangles, ids = [], []
    for p, part in enumerate(visuals):
        if names[p] == lidar.body or not present[f, p]:
            continue
        for v in part:
            world = v.mesh.vertices @ poses[f, p, :3, :3].T + poses[f, p, :3, 3]
            triangles.append(world[v.mesh.faces])
            ids.append(np.full(len(v.mesh.faces), p + 1))
    for c, sheet in enumerate(sheets):
        triangles.append(sheet.vertices[f][sheet.faces])
        ids.append(np.full(len(sheet.faces), len(visuals) + c + 1))
    tri, ids = np.concatenate(triangles) - T_wl[f, :3, 3], np.concatenate(ids)
    directions, _ = lidar_rays(lidar, FPS, f)
    dirs = directions @ T_wl[f, :3, :3].T
    best = np.full(len(dirs), np.inf)
    hit_id = np.zeros(len(dirs), dtype=np.int64)
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    for start in range(0, len(dirs), 64):
        d = dirs[start : start + 64, None, :]
        p = np.cross(d, e2[None])
        det = np.einsum("rtk,tk->rt", p, e1)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.einsum("rtk,tk->rt", p, -v0) / det
            q = np.cross(-v0, e1)
            v = np.einsum("rk,tk->rt", d[:, 0], q) / det
            t = np.einsum("tk,tk->t", e2, q)[None] / det
            ok = (det != 0) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0) & (t <= lidar.range_m)
        t = np.where(ok, t, np.inf)
        k = t.argmin(axis=1)
        nearest = t[np.arange(len(t)), k]
        best[start : start + 64] = nearest
        hit_id[start : start + 64] = np.where(np.isfinite(nearest), ids[k], 0)
    return hit_id, best


@pytest.mark.parametrize("rotation_hz", [None, 2.5])
def test_moving_parts_and_sheets_hit_as_a_brute_reference(rotation_hz):
    """Every ray's instance and point agree with a brute-force cast against all posed
    triangles, with parts that move, turn, share a mesh, vanish, hold the sensor inside
    their bounding sphere and cross the start of a revolution, and with sheets."""
    visuals, poses, present, names, sheets, T_wl = _moving_scene()
    lidar = _lidar(
        horizontal_resolution_deg=3.0, rotation_hz=rotation_hz, vertical_fov_deg=(-25.0, 40.0)
    )
    class_ids = np.arange(len(names))
    result = scan(lidar, visuals, poses, T_wl, class_ids, FPS, names, present, sheets)
    seen = set()
    for f in range(len(poses)):
        ids, distance = _brute_scan(lidar, visuals, poses, present, names, sheets, T_wl, f)
        rows = result.frame(f)
        assert np.array_equal(result.instance[rows], ids[ids > 0])
        directions, ring = lidar_rays(lidar, FPS, f)
        expected = directions[ids > 0] * distance[ids > 0, None]
        assert np.abs(result.xyz[rows] - expected).max() < 1e-3
        assert np.array_equal(result.ring[rows], ring[ids > 0])
        seen |= set(ids[ids > 0].tolist())
    must = {"twin", "roof", "ball"} | ({"car", "bus"} if rotation_hz is None else set())
    assert {names.index(n) + 1 for n in must} <= seen
    assert {len(names) + 1, len(names) + 2} <= seen or rotation_hz is not None
    assert names.index("ego") + 1 not in seen


def test_threads_give_the_same_scan():
    visuals, poses, present, names, sheets, T_wl = _moving_scene()
    lidar = _lidar(horizontal_resolution_deg=1.0)
    args = (lidar, visuals, poses, T_wl, np.arange(len(names)), FPS, names, present, sheets)
    one, two = scan(*args, threads=1), scan(*args, threads=2)
    for key in ("xyz", "intensity", "instance", "semantic", "ring", "offsets"):
        assert np.array_equal(getattr(one, key), getattr(two, key))


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIMFACTORY_LIDAR_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("SIMFACTORY_LIDAR_THREADS", "0")
    with pytest.raises(ValueError, match="SIMFACTORY_LIDAR_THREADS"):
        default_threads()
    monkeypatch.delenv("SIMFACTORY_LIDAR_THREADS")
    assert 1 <= default_threads() <= 2
