"""Physics and rendering on a small hand-built scene, checked against geometry."""

import numpy as np
import pytest
import trimesh

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Body, Light, Material, Motion, SceneSpec, Sky, Visual
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.simulate.physics import rollout

G = 9.81


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _scene() -> SceneSpec:
    floor_mesh = trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05))
    floor = Body("floor", "floor", [Visual(floor_mesh, Material("grey"))], collision="box")
    box = Body(
        "crate",
        "box",
        [Visual(trimesh.creation.box((0.4, 0.3, 0.2)), Material("red", (0.8, 0.1, 0.1, 1)))],
        pose=_translation(0.0, 0.0, 1.5),
        mass=2.0,
    )
    mover = Body(
        "table",
        "table",
        [Visual(trimesh.creation.box((0.6, 0.6, 0.7)), Material("wood"))],
        pose=_translation(-1.0, 0.8, 0.35),
        motion=Motion(
            np.array([0.0, 0.3]),
            np.stack([_translation(-1.0, 0.8, 0.35), _translation(-1.0, 1.4, 0.35)]),
        ),
    )
    lights = [Light("directional", direction=(0.3, 0.4, -1.0), cast_shadows=True)]
    return SceneSpec("test", [floor, box, mover], lights, [], Sky())


@pytest.fixture(scope="module")
def rolled():
    spec = _scene()
    return spec, rollout(spec, fps=30, num_frames=12, physics_hz=240)


def test_dropped_body_falls_with_g(rolled):
    _, traj = rolled
    t = traj.times
    crate = traj.part_names.index("crate")
    z = traj.poses[:, crate, 2, 3]
    airborne = z > 0.1 + 1e-3  # before it reaches the floor (half height 0.1)
    airborne[0] = True
    vz = traj.linear_velocity[airborne, crate, 2]
    slope = np.polyfit(t[airborne], vz, 1)[0]
    assert slope == pytest.approx(-G, rel=0.01)
    # Position follows z0 - g t^2 / 2 up to the integrator's O(dt) error.
    dt = 1 / 240
    expected = 1.5 - 0.5 * G * t[airborne] ** 2
    assert np.abs(z[airborne] - expected).max() < G * dt * t[airborne].max()


def test_kinematic_body_follows_its_motion(rolled):
    _, traj = rolled
    table = traj.part_names.index("table")
    y = traj.poses[:, table, 1, 3]
    assert y[0] == pytest.approx(0.8) and y[-1] == pytest.approx(1.4)
    assert np.all(np.diff(y) >= -1e-12)
    # Recorded velocity is the derivative of the smoothstep path (0.6 m over 0.3 s).
    x = np.clip(traj.times / 0.3, 0, 1)
    expected = 0.6 * 6 * x * (1 - x) / 0.3
    assert np.abs(traj.linear_velocity[:, table, 1] - expected).max() < 0.02


def test_trajectory_round_trips(tmp_path, rolled):
    _, traj = rolled
    traj.save(tmp_path / "t.npz")
    back = Trajectory.load(tmp_path / "t.npz")
    assert back.part_names == traj.part_names
    np.testing.assert_array_equal(back.poses, traj.poses)
    np.testing.assert_array_equal(back.contact_parts, traj.contact_parts)


def test_rollout_is_deterministic(rolled):
    spec, traj = rolled
    again = rollout(spec, fps=30, num_frames=12, physics_hz=240)
    np.testing.assert_array_equal(again.poses, traj.poses)
    np.testing.assert_array_equal(again.contact_force, traj.contact_force)


@pytest.fixture(scope="module")
def rendered(rolled):
    spec, traj = rolled
    renderer = process_renderer()
    visuals = [b.visuals for b in spec.bodies]
    bounds = np.array([[-3, -3, -0.1], [3, 3, 2]])
    renderer.load_scene(visuals, spec.lights, spec.sky, bounds)
    W, H = 96, 64
    K = intrinsics(W, H, 60)
    T_wc = look_at((2.5, -2.5, 2.0), (0, 0, 0.3))
    frame = renderer.render(traj.poses[-1], K, T_wc, W, H)
    return spec, traj, frame, K, T_wc


def test_depth_back_projects_into_each_objects_box(rendered):
    spec, traj, frame, K, T_wc = rendered
    for p, body in enumerate(spec.bodies):
        mask = frame.instance == p + 1
        assert mask.sum() > 20, body.name
        v, u = np.nonzero(mask)
        z = frame.depth[mask].astype(float)
        cam = np.stack(
            [(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z, np.ones_like(z)]
        )
        local = np.linalg.inv(traj.poses[-1, p]) @ T_wc @ cam
        lo, hi = trimesh.util.concatenate([vis.mesh for vis in body.visuals]).bounds
        assert np.all(local[:3].T >= lo - 1e-3) and np.all(local[:3].T <= hi + 1e-3), body.name


def test_background_has_no_depth_and_no_id(rendered):
    _, _, frame, _, _ = rendered
    sky = frame.instance == 0
    assert sky.any()
    assert np.all(frame.depth[sky] == 0)
    assert np.all(frame.normals[sky] == 0)


def test_normals_are_unit_and_face_the_camera(rendered):
    spec, traj, frame, K, T_wc = rendered
    mask = frame.instance > 0
    n = frame.normals[mask].astype(float)
    assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=2e-3)
    v, u = np.nonzero(mask)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], 1)
    assert np.all((n * rays).sum(1) < 1e-3)
    # The floor's normal is world +Z.
    floor = frame.instance[mask] == 1
    world = n[floor] @ T_wc[:3, :3].T
    assert np.allclose(world, [0, 0, 1], atol=3e-3)


def test_unoccluded_pixels_bound_visible_pixels(rendered):
    _, _, frame, _, _ = rendered
    visible = np.bincount(frame.instance.ravel(), minlength=len(frame.unoccluded_pixels))
    assert np.all(visible[1:] <= frame.unoccluded_pixels[1:])
    # The crate lies on the floor in front of it: the floor is partly occluded, the crate not.
    assert visible[2] == frame.unoccluded_pixels[2]
    assert visible[1] < frame.unoccluded_pixels[1]


def test_urdf_bodies_render_where_their_physics_puts_them():
    import pybullet_data

    from simfactory.sim.model.parts import part_visuals

    root = pybullet_data.getDataPath()
    floor = _scene().bodies[0]
    table = Body("table", "table", urdf_path=f"{root}/table/table.urdf", pose=_translation(0, 0, 0))
    cube = Body(
        "cube", "box", urdf_path=f"{root}/cube_small.urdf", pose=_translation(0.2, 0, 1.2), mass=1
    )
    spec = SceneSpec("test", [floor, table, cube], [Light("directional")], [], Sky())
    traj = rollout(spec, fps=30, num_frames=20)
    visuals = part_visuals(spec, traj)
    assert all(len(v) > 0 for v in visuals)
    renderer = process_renderer()
    renderer.load_scene(visuals, spec.lights, spec.sky, np.array([[-3, -3, -0.1], [3, 3, 2]]))
    W, H = 96, 64
    K = intrinsics(W, H, 50)
    T_wc = look_at((1.5, -1.5, 1.5), (0, 0, 0.6))
    frame = renderer.render(traj.poses[-1], K, T_wc, W, H)
    cube_part = traj.part_names.index("cube")
    # The cube came to rest on the table top (0.625 m high in table.urdf).
    assert traj.poses[-1, cube_part, 2, 3] == pytest.approx(0.65, abs=0.03)
    for p in (1, cube_part):
        mask = frame.instance == p + 1
        assert mask.any()
        v, u = np.nonzero(mask)
        z = frame.depth[mask].astype(float)
        cam = np.stack(
            [(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z, np.ones_like(z)]
        )
        local = (np.linalg.inv(traj.poses[-1, p]) @ T_wc @ cam)[:3].T
        lo, hi = trimesh.util.concatenate([vis.mesh for vis in visuals[p]]).bounds
        assert np.all(local >= lo - 2e-3) and np.all(local <= hi + 2e-3)


def test_each_frame_starts_from_a_cleared_target(rendered):
    spec, traj, _, K, _ = rendered
    renderer = process_renderer()
    W, H = 96, 64
    near = look_at((0.3, -0.3, 0.3), (0, 0, 0.1))  # close to the crate: small depths
    far = look_at((4.0, -4.0, 3.0), (0, 0, 0.3))
    fresh = renderer.render(traj.poses[-1], K, far, W, H)
    renderer.render(traj.poses[-1], K, near, W, H)
    after_near = renderer.render(traj.poses[-1], K, far, W, H)
    renderer.render(traj.poses[-1], intrinsics(64, 48, 60), far, 64, 48)
    after_resize = renderer.render(traj.poses[-1], K, far, W, H)
    assert np.count_nonzero(fresh.instance == 1) > 1000  # the floor fills the view
    assert np.count_nonzero(fresh.instance == 2) > 20  # the crate is seen
    for frame in (after_near, after_resize):
        np.testing.assert_array_equal(frame.instance, fresh.instance)
        np.testing.assert_array_equal(frame.depth, fresh.depth)


def test_pose_is_the_mesh_frame_not_the_centre_of_mass():
    floor = _scene().bodies[0]
    # A crate whose frame is at the middle of its bottom face, 0.2 m below its centre.
    mesh = trimesh.creation.box((0.3, 0.3, 0.4), transform=_translation(0, 0, 0.2))
    crate = Body(
        "crate", "box", [Visual(mesh, Material("m"))], pose=_translation(0, 0, 0.3), mass=1
    )
    traj = rollout(SceneSpec("test", [floor, crate], [], []), fps=30, num_frames=30)
    assert traj.poses[-1, 1, 2, 3] == pytest.approx(0.0, abs=5e-3)  # resting on the floor
    assert traj.poses[0, 1, 2, 3] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "collision, mesh, rest_z",
    [
        ("sphere", trimesh.creation.icosphere(3, radius=0.15), 0.15),
        ("cylinder", trimesh.creation.cylinder(radius=0.15, height=0.2), 0.1),
        ("box", trimesh.creation.box((0.2, 0.2, 0.24)), 0.12),
    ],
)
def test_primitive_colliders_rest_on_their_exact_surface(collision, mesh, rest_z):
    floor = _scene().bodies[0]
    start = _translation(0, 0, rest_z + 0.02)  # just above its resting height
    body = Body("p", "toy", [Visual(mesh, Material("m"))], pose=start, mass=1)
    body.collision = collision
    traj = rollout(SceneSpec("test", [floor, body], [], []), fps=30, num_frames=45)
    assert traj.poses[-1, 1, 2, 3] == pytest.approx(rest_z, abs=3e-3)
