"""Renderer features the driving family relies on: time-varying emission, fog, spot
lights carried by bodies, linear motions and mounted cameras."""

import numpy as np
import trimesh

from simfactory.sim.model.camera import camera_poses, intrinsics, look_at
from simfactory.sim.model.motion import motion_pose, motion_velocity
from simfactory.sim.model.spec import (
    Body,
    CameraPath,
    CameraSpec,
    Fog,
    Light,
    Material,
    Motion,
    SceneSpec,
    Sky,
    Visual,
)
from simfactory.sim.render.raster import emission, process_renderer
from simfactory.sim.render.settings import RenderSettings
from simfactory.sim.simulate.physics import rollout

W, H = 64, 48


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _render(visuals, lights, fog=None, time=0.0, light_parts=None, poses=None, sky=None, ibl=True):
    renderer = process_renderer()
    P = len(visuals)
    poses = np.stack([np.eye(4)] * P) if poses is None else poses
    renderer.load_scene(
        visuals,
        lights,
        sky or Sky(ambient=0.0),
        np.array([[-5, -5, -1], [5, 5, 3]]),
        fog,
        light_parts,
        # brightness compared across renders, pixel by pixel: no auto exposure, no AA
        settings=RenderSettings(auto_exposure=False, fxaa=False, ibl=ibl),
    )
    K = intrinsics(W, H, 60.0)
    T_wc = look_at((0.0, -4.0, 1.0), (0.0, 0.0, 0.5))
    return renderer.render(poses, K, T_wc, W, H, 0.1, 50.0, 1.0, time=time)


def test_emission_follows_its_keys():
    lamp = Material(
        "lamp",
        (0.05, 0.05, 0.05, 1.0),
        emissive=(0.0, 0.0, 0.0),
        emissive_keys=[(1.0, (5.0, 0.0, 0.0)), (2.0, (0.0, 5.0, 0.0))],
    )
    assert emission(lamp, 0.5) == (0.0, 0.0, 0.0)
    assert emission(lamp, 1.0) == (5.0, 0.0, 0.0)
    assert emission(lamp, 3.0) == (0.0, 5.0, 0.0)
    sphere = [[Visual(trimesh.creation.icosphere(2, radius=0.6), lamp)]]
    centre = (H // 2, W // 2)
    dark = _render(sphere, [], time=0.5).rgb[centre]
    red = _render(sphere, [], time=1.5).rgb[centre]
    green = _render(sphere, [], time=2.5).rgb[centre]
    assert dark.max() < 30
    assert red[0] > 150 and red[1] < 60
    assert green[1] > 150 and green[0] < 60


def test_fog_pulls_far_surfaces_towards_the_fog_colour():
    wall = trimesh.creation.box((60, 0.2, 30), transform=_translation(0, 30, 0))
    visuals = [[Visual(wall, Material("black", (0.0, 0.0, 0.0, 1.0)))]]
    fog_colour = (0.6, 0.6, 0.6)
    clear = _render(visuals, [], fog=None).rgb[H // 2, W // 2].astype(int)
    thin = _render(visuals, [], fog=Fog(0.01, fog_colour)).rgb[H // 2, W // 2].astype(int)
    thick = _render(visuals, [], fog=Fog(0.2, fog_colour)).rgb[H // 2, W // 2].astype(int)
    assert clear.max() < 10
    assert clear.mean() < thin.mean() < thick.mean()
    full = (
        _render([[Visual(wall, Material("white", (0.6, 0.6, 0.6, 1.0), emissive=fog_colour))]], [])
        .rgb[H // 2, W // 2]
        .astype(int)
    )
    assert abs(thick.mean() - full.mean()) <= 3  # fully fogged: the fog colour itself


def test_spot_light_moves_with_its_body_and_lights_only_its_cone():
    ground = trimesh.creation.box((20, 20, 0.1), transform=_translation(0, 0, -0.05))
    visuals = [[Visual(ground, Material("grey", (0.5, 0.5, 0.5, 1.0)))], []]
    # A spot on the (invisible) carrier, 2 m up, pointing straight down with a 30 deg cone.
    spot = Light(
        "point",
        intensity=40.0,
        position=(0.0, 0.0, 2.0),
        direction=(0, 0, -1),
        body="carrier",
        cone_deg=30.0,
    )
    poses_a = np.stack([np.eye(4), _translation(-1.5, 0.0, 0.0)])
    poses_b = np.stack([np.eye(4), _translation(1.5, 0.0, 0.0)])

    def halves(poses):
        # direct light only: the pool's bounce light (ibl) reaches the whole ground
        frame = _render(visuals, [spot], light_parts=[1], poses=poses, ibl=False)
        light = np.where(frame.depth > 0, frame.rgb.mean(axis=2), 0.0)  # the ground only
        return light[:, : W // 2].sum(), light[:, W // 2 :].sum()

    left, right = halves(poses_a)
    assert left > 0 and right == 0  # the pool of light sits under the carrier, in its cone
    left, right = halves(poses_b)
    assert right > 0 and left == 0


def test_linear_motion_has_constant_speed_between_keys():
    poses = np.stack([_translation(0, 0, 0), _translation(2, 0, 0), _translation(2, 3, 0)])
    motion = Motion(np.array([0.0, 1.0, 2.0]), poses, interpolation="linear")
    assert np.allclose(motion_pose(motion, 0.25)[:3, 3], (0.5, 0, 0))
    assert np.allclose(motion_pose(motion, 1.5)[:3, 3], (2, 1.5, 0))
    assert np.allclose(motion_velocity(motion, 0.5)[0], (2, 0, 0), atol=1e-6)
    smooth = Motion(motion.times, poses)
    assert motion_pose(smooth, 0.25)[0, 3] < 0.5  # eases in


def test_mounted_camera_rides_on_its_body():
    box = trimesh.creation.box((2, 1, 1))
    T0, T1 = _translation(0, 0, 0.5), _translation(4, 0, 0.5)
    car = Body(
        "car",
        "car",
        [Visual(box, Material("m"))],
        pose=T0,
        motion=Motion(np.array([0.0, 1.0]), np.stack([T0, T1]), "linear"),
    )
    mount = look_at((0.0, 0.0, 1.0), (5.0, 0.0, 1.0))  # on the roof, looking forward (+x)
    cam = CameraSpec("cam0", W, H, path=CameraPath(kind="mounted", body="car", T_body_camera=mount))
    spec = SceneSpec("test", [car], [], [cam])
    traj = rollout(spec, fps=10, num_frames=11)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    assert np.allclose(T_wc[-1][:3, 3], (4.0, 0.0, 1.5), atol=1e-6)
    assert np.allclose(T_wc[:, :3, 2], [1.0, 0.0, 0.0], atol=1e-6)
    assert np.allclose(T_wc[5][:3, 3], (2.0, 0.0, 1.5), atol=1e-6)


def _quad(corners) -> trimesh.Trimesh:
    """A two-sided flat quad through four corners (x, y, z), in order."""
    return trimesh.Trimesh(np.asarray(corners, float), [[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]])


def test_fxaa_smooths_a_slanted_edge_and_keeps_a_small_bright_rectangle():
    """Against the same view drawn at 4x4 the resolution and averaged in linear light,
    FXAA brings a slanted edge's pixels closer than no anti-aliasing does, and a 4x5
    pixel glowing rectangle (a distant lit window) keeps its shape: only its corners
    may lose more than a quarter of their brightness."""
    glow = Material("glow", (0.0, 0.0, 0.0, 1.0), emissive=(1.0, 0.9, 0.7))
    w, h, scale = 96, 64, 4
    K = intrinsics(w, h, 60.0)
    T_wc = look_at((0.0, -4.0, 0.0), (0.0, 0.0, 0.0))
    f = K[0, 0]
    # a quad at y = 0 covering pixel columns 60-63 and rows 20-24 exactly (4 m away)
    u0, u1, v0, v1 = 60.0, 64.0, 20.0, 25.0
    x0, x1 = [(u - K[0, 2]) * 4.0 / f for u in (u0, u1)]
    z1, z0 = [-(v - K[1, 2]) * 4.0 / f for v in (v0, v1)]
    window = Visual(_quad([(x0, 0, z0), (x1, 0, z0), (x1, 0, z1), (x0, 0, z1)]), glow)
    slab = Visual(_quad([(-1.6, 0, -0.2), (-0.4, 0, -0.9), (-0.1, 0, 0.9), (-1.3, 0, 1.2)]), glow)
    renderer = process_renderer()
    images = {}
    for fxaa, size in ((True, 1), (False, 1), (False, scale)):
        settings = RenderSettings(auto_exposure=False, fxaa=fxaa, ibl=False, ao=False)
        renderer.load_scene(
            [[window], [slab]], [], Sky(ambient=0.0), np.array([[-5, -5, -5], [5, 5, 5]]),
            settings=settings,
        )  # fmt: skip
        Ks = intrinsics(w * size, h * size, 60.0)
        frame = renderer.render(
            np.stack([np.eye(4)] * 2), Ks, T_wc, w * size, h * size, 0.1, 50.0, 1.0
        )
        images[fxaa, size] = frame.rgb.astype(float) / 255.0
        if size == 1 and not fxaa:
            ids = frame.instance
    linear = images[False, scale] ** 2.2  # near enough to the sRGB curve for averaging
    reference = linear.reshape(h, scale, w, scale, 3).mean(axis=(1, 3)) ** (1 / 2.2)
    error = {fxaa: np.abs(images[fxaa, 1] - reference).mean(axis=2) for fxaa in (True, False)}
    edge = np.abs(reference.mean(axis=2) - 0.5) < 0.45  # partly covered in the reference
    edge &= ids != 1  # the slab's edge, not the rectangle's
    assert edge.sum() > 40
    assert error[True][edge].mean() < 0.8 * error[False][edge].mean()
    rect = ids == 1
    assert rect.sum() == 20  # 4 x 5 pixels
    kept = images[True, 1][rect].mean(axis=1) / images[False, 1][rect].mean(axis=1)
    assert (kept < 0.75).sum() <= 4
