"""The raster's light-transport effects change colour only: every label is byte-identical
with all effects on and all off; the tone pipeline matches its numpy definition; the
physical sky and the light probe behave; bad ``render.*`` values are refused by key."""

import dataclasses

import numpy as np
import pytest
import trimesh

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Light, Material, Sky, Visual
from simfactory.sim.render import ibl
from simfactory.sim.render.raster import Renderer, probe_grid, process_renderer
from simfactory.sim.render.settings import RenderSettings, check_render
from simfactory.sim.render.sky import sky_radiance
from simfactory.sim.render.tonemap import tonemap

W, H = 64, 48
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 2.0]])


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _parts():
    """A wooden floor, a metal box and a fabric ball: one part each."""
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)),
        Material("wood_0", (0.6, 0.45, 0.3, 1.0), roughness=0.5),
    )
    box = Visual(
        trimesh.creation.box((0.6, 0.6, 0.6)), Material("metal_0", (0.8, 0.8, 0.8, 1.0), 0.3, 1.0)
    )
    ball = Visual(
        trimesh.creation.icosphere(2, radius=0.3), Material("fabric_1", (0.2, 0.3, 0.7, 1.0), 0.9)
    )
    return [[floor], [box], [ball]]


def _scene():
    sun = Light("directional", direction=(0.5, 0.3, -0.6), intensity=3.0, cast_shadows=True)
    lamp = Light("point", intensity=2.0, position=(0.5, -1.0, 1.5))
    poses = [
        np.stack([np.eye(4), _translation(x, 0, 0.3), _translation(-0.6, -0.8, 0.3)])
        for x in (0.4, 0.5)
    ]
    return _parts(), [sun, lamp], poses


def _frames(renderer: Renderer, settings: RenderSettings):
    visuals, lights, poses = _scene()
    renderer.load_scene(visuals, lights, Sky(), BOUNDS, settings=settings)
    K = intrinsics(W, H, 60.0)
    T = look_at((0.5, -3.2, 1.8), (0.0, 0.0, 0.3))
    frames = []
    for i in range(2):
        nb = (poses[1 - i], T, poses[1 - i], T)
        frames.append(
            renderer.render(poses[i], K, T, W, H, 0.1, 50.0, 1.0, neighbours=nb, time=0.1 * i)
        )
    return frames


ALL_ON = RenderSettings(
    motion_blur=0.5, noise=0.05, vignette=0.3, white_balance_k=5000.0, bloom=0.3
)


def test_effects_change_colour_and_no_label():
    renderer = process_renderer()
    on, off = _frames(renderer, ALL_ON), _frames(renderer, RenderSettings.off())
    for a, b in zip(on, off, strict=True):
        for name in (
            "depth",
            "instance",
            "normals",
            "unoccluded_pixels",
            "uv_next_prev",
            "z_next_prev",
        ):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
        assert np.abs(a.rgb.astype(int) - b.rgb.astype(int)).mean() > 5


def test_gl_tone_pipeline_matches_numpy():
    renderer = process_renderer()
    for auto in (True, False):
        visuals, lights, poses = _scene()
        settings = RenderSettings(auto_exposure=auto, fxaa=False, exposure=1.3)
        renderer.load_scene(visuals, lights, Sky(), BOUNDS, settings=settings)
        K = intrinsics(W, H, 60.0)
        frame = renderer.render(
            poses[0], K, look_at((0.5, -3.2, 1.8), (0, 0, 0.3)), W, H, 0.1, 50.0, 1.3
        )
        expected = tonemap(renderer.read_hdr(), 1.3, auto)
        assert np.abs(frame.rgb.astype(int) - expected.astype(int)).max() <= 2


def test_tonemap_puts_the_log_average_at_middle_grey():
    rng = np.random.default_rng(0)
    image = np.exp(rng.normal(0.0, 1.0, (32, 32, 1))).repeat(3, -1) * 0.7
    out = tonemap(image, 1.0, auto=True)
    # a pixel at the log average maps to the tone curve of 0.18
    x = 0.18
    aces = x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14)
    srgb = 1.055 * aces ** (1 / 2.4) - 0.055
    geo = np.exp(np.mean(np.log(1e-4 + image[..., 0])))
    near = np.abs(image[..., 0] - geo) < 0.02 * geo
    assert near.any() and np.abs(out[near][:, 0].astype(int) - round(srgb * 255)).max() <= 2
    brighter = tonemap(image * 4, 1.0, auto=True).astype(int)
    assert np.abs(brighter - out.astype(int)).max() <= 1  # auto exposure undoes the scale
    assert not np.array_equal(tonemap(image, 1.0, auto=False), tonemap(image * 10, 1.0, auto=False))


def test_auto_exposure_scales_a_dim_image_by_at_most_its_largest_scale():
    rng = np.random.default_rng(1)
    dim = np.exp(rng.normal(0.0, 1.0, (32, 32, 1))).repeat(3, -1) * 0.002  # a night
    capped = tonemap(dim, 1.0, auto=True, max_scale=3.0)
    assert np.array_equal(capped, tonemap(dim, 3.0, auto=False))  # the largest scale
    full = tonemap(dim, 1.0, auto=True, max_scale=1000.0)
    a = 0.18 / np.exp(np.mean(np.log(1e-4 + dim[..., 0])))  # the definition: about 100
    assert a > 50 and np.abs(full.astype(int) - tonemap(dim, a, auto=False)).max() <= 1
    assert capped.mean() < 0.5 * full.mean()
    bright = dim * 100  # needs a scale of about 0.9: the largest one changes nothing
    assert np.array_equal(tonemap(bright, 1.0, True, 3.0), tonemap(bright, 1.0, True, 1000.0))


def test_the_raster_stops_auto_exposure_at_its_largest_scale_as_numpy_does():
    """A scene lit like a street at night (a dim moon, a dark sky) is scaled by
    ``auto_exposure_max`` and no more, with the same bytes as the numpy tone pipeline
    within 2 levels; the same scene in daylight is scaled to middle grey as before."""
    renderer = process_renderer()
    visuals, _, poses = _scene()
    K = intrinsics(W, H, 60.0)
    T = look_at((0.5, -3.2, 1.8), (0, 0, 0.3))
    scales = {}
    for light, largest in ((0.02, 3.0), (0.02, 1000.0), (3.0, 3.0), (3.0, 1000.0)):
        sun = Light("directional", direction=(0.5, 0.3, -0.6), intensity=light)
        sky = Sky(zenith=(0.002, 0.002, 0.004), horizon=(0.004,) * 3, ambient=0.1 * light)
        settings = RenderSettings(fxaa=False, auto_exposure_max=largest)
        renderer.load_scene(visuals, [sun], sky, BOUNDS, settings=settings)
        frame = renderer.render(poses[0], K, T, W, H, 0.1, 50.0, 1.0)
        expected = tonemap(renderer.read_hdr(), 1.0, True, largest)
        assert np.abs(frame.rgb.astype(int) - expected.astype(int)).max() <= 2
        scales[light, largest] = (renderer.last_exposure_scale, frame.rgb.mean())
    assert scales[0.02, 3.0][0] == pytest.approx(3.0)
    assert scales[0.02, 1000.0][0] > 10.0 and scales[0.02, 3.0][1] < 0.5 * scales[0.02, 1000.0][1]
    assert scales[3.0, 3.0] == scales[3.0, 1000.0] and scales[3.0, 3.0][0] < 3.0


def test_physical_sky_is_blue_overhead_bright_towards_the_sun_and_warm_at_sunset():
    sky = Sky()
    dirs = np.array([[0, 0, 1.0], [0.8, 0, 0.6], [-0.8, 0, 0.6]])
    high = sky_radiance(dirs, sky, np.array([0.8, 0.0, 0.6]))
    assert high[0, 2] > high[0, 0]  # blue zenith
    assert high[1].sum() > high[2].sum()  # brighter around the sun than opposite it
    assert np.isclose(
        high[0] @ [0.2126, 0.7152, 0.0722], np.dot(sky.zenith, [0.2126, 0.7152, 0.0722]), rtol=0.01
    )
    horizon = np.array([[0.99, 0.0, 0.14]])
    low = sky_radiance(horizon, sky, np.array([0.99, 0.0, 0.1]))
    assert low[0, 0] > low[0, 2]  # reddened towards a low sun
    night = sky_radiance(dirs, sky, np.array([0.0, 0.6, -0.8]))
    assert np.allclose(night, sky_radiance(dirs, sky, None, model="gradient"))


def test_irradiance_of_a_uniform_sky_and_a_sun_patch():
    d, _ = ibl.face_directions(16)
    sh = ibl.irradiance_sh9(np.full((6, 16, 16, 3), 2.0))
    assert np.allclose(ibl.sh9_basis(np.array([0.3, -0.5, 0.81])) @ sh, 2.0, atol=0.02)
    up_only = np.repeat(np.maximum(d[..., 2:3], 0.0), 3, -1)  # radiance cos(theta) above
    sh = ibl.irradiance_sh9(up_only)
    assert abs(ibl.sh9_basis(np.array([0, 0, 1.0])) @ sh[:, 0] - 2 / 3) < 0.02
    assert ibl.sh9_basis(np.array([0, 0, -1.0])) @ sh[:, 0] < 0.05
    levels = ibl.prefilter_specular(np.full((6, 32, 32, 3), 0.5))
    assert [lv.shape[1] for lv in levels] == [32, 16, 8, 4, 2]
    assert all(np.allclose(lv, 0.5) for lv in levels)  # filtering keeps a uniform sky


def test_light_probe_lights_a_box_in_the_sun_shadow():
    renderer = process_renderer()
    lit = {}
    for on in (True, False):
        settings = RenderSettings(ibl=on, ao=False, auto_exposure=False, fxaa=False)
        frame = _frames(renderer, settings)[0]
        shadowed = (frame.instance == 1) & (frame.depth > 0)
        lit[on] = frame.rgb[shadowed].astype(float).mean()
    assert lit[True] > lit[False] * 0.5 and lit[True] > 10


def test_probe_grid_spans_the_bounds_at_two_heights():
    origin, inv_step, counts, positions = probe_grid(BOUNDS, 3)
    assert positions.shape == (18, 3) and list(counts) == [3, 3, 2]
    assert np.allclose(sorted(set(positions[:, 0].round(6))), [-2.0, 0.0, 2.0])
    assert np.allclose(sorted(set(positions[:, 2].round(6))), [0.2, 0.95])
    assert np.allclose(origin, positions[0]) and np.allclose(inv_step[:2], 0.5)
    assert probe_grid(BOUNDS, 1) is None
    assert probe_grid(BOUNDS * 10, 3) is None  # 20 m cells: the light probe alone


def test_probe_grid_darkens_the_floor_under_a_table_and_skips_probes_inside_parts():
    """Under a table top under an open sky, the floor gets the light a probe under it
    sees (the sky near the horizon), not the whole sky above the table; a probe inside
    a solid box is not used."""
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)),
        Material("painted_0", (0.7, 0.7, 0.7, 1.0), roughness=0.8),
    )
    top = Visual(
        trimesh.creation.box((2.4, 2.4, 0.05)), Material("painted_1", (0.7, 0.7, 0.7, 1.0), 0.8)
    )
    block = Visual(trimesh.creation.box((0.6, 0.6, 0.6)), Material("painted_2", (0.5,) * 4, 0.8))
    poses = np.stack([np.eye(4), _translation(0, 0, 0.75), _translation(2.0, 2.0, 0.3)])
    K = intrinsics(W, H, 60.0)
    T = look_at((0.0, -2.9, 0.35), (0.0, 0.0, 0.1))
    renderer = process_renderer()
    under = {}
    for count in (1, 3):
        settings = RenderSettings(probe_grid=count, ao=False, auto_exposure=False, fxaa=False)
        renderer.load_scene(
            [[floor], [top], [block]], [], Sky(), BOUNDS, settings=settings,
            probe=(np.array([0.0, 0.0, 1.5]), poses, None),
        )  # fmt: skip
        frame = renderer.render(poses, K, T, W, H, 0.05, 50.0, 1.0)
        floor_px = (
            (frame.instance == 1) & (frame.depth > 2.2) & (frame.depth < 3.2)
        )  # under the top
        assert floor_px.sum() > 20
        under[count] = renderer.read_hdr()[floor_px].mean()
    assert under[3] < 0.9 * under[1]  # linear radiance
    inside = np.all(np.abs(renderer._grid[3] - (2.0, 2.0, 0.2)) < 1e-6, axis=1)
    assert inside.sum() == 1
    assert not renderer.grid_valid[inside][0] and renderer.grid_valid[~inside].all()


@pytest.mark.parametrize(
    "key,value",
    [
        ("turbidity", 50.0),
        ("ao", "yes"),
        ("sky_model", "hosek"),
        ("noise", float("nan")),
        ("exposure", 0.0),
        ("point_shadows", 3),
        ("anisotropy", 0),
        ("point_shadows", True),
        ("probe_grid", 0),
        ("probe_grid", 2.5),
        ("auto_exposure_max", 0.0),
        ("auto_exposure_max", float("inf")),
    ],
)
def test_bad_render_values_name_their_key(key, value):
    errors = check_render({key: value})
    assert len(errors) == 1 and errors[0].startswith(f"render.{key}:")
    assert check_render({key: getattr(RenderSettings(), key)}) == []


OFF_KEYS = {
    "render.auto_exposure": "false", "render.ibl": "false", "render.ao": "false",
    "render.shadow_softness": 0.0, "render.point_shadows": 0, "render.specular": "false",
    "render.detail": "false", "render.fxaa": "false", "render.anisotropy": 1,
}  # fmt: skip


def test_a_clip_with_effects_off_has_the_same_label_files(tmp_path):
    import json

    from simfactory.sim.run.clip import generate_clip
    from tests.conftest import tiny_config

    folders = {}
    for name, keys in (("on", {"render.motion_blur": 0.5, "render.bloom": 0.2}), ("off", OFF_KEYS)):
        cfg = tiny_config(num_clips=1, frames=3, **keys)
        generate_clip(cfg, 0, tmp_path / name)
        folders[name] = next((tmp_path / name / "clips").iterdir())
    on, off = folders["on"], folders["off"]
    labels = sorted(p.relative_to(on) for p in on.rglob("*.npz"))
    assert labels and labels == sorted(p.relative_to(off) for p in off.rglob("*.npz"))
    for rel in labels:
        assert (on / rel).read_bytes() == (off / rel).read_bytes(), rel
    ann_on = json.loads((on / "annotations.json").read_text())
    ann_off = json.loads((off / "annotations.json").read_text())
    assert ann_on["render"]["ibl"] is True and ann_on["render"]["motion_blur"] == 0.5
    assert ann_off["render"]["ibl"] is False and ann_off["render"]["fxaa"] is False
    assert ann_on["objects"] == ann_off["objects"] and ann_on["cameras"] == ann_off["cameras"]
    assert (on / "cam0" / "rgb.mp4").read_bytes() != (off / "cam0" / "rgb.mp4").read_bytes()


def _single(visuals, lights, settings, eye=(0.0, -3.0, 2.5), target=(0.0, 0.0, 0.0), sky=None):
    renderer = process_renderer()
    renderer.load_scene(visuals, lights, sky or Sky(), BOUNDS, settings=settings)
    P = len(visuals)
    K = intrinsics(W * 2, H * 2, 60.0)
    return renderer.render(
        np.stack([np.eye(4)] * P), K, look_at(eye, target), W * 2, H * 2, 0.1, 50.0
    )


FLAT = RenderSettings(
    auto_exposure=False, fxaa=False, ibl=False, ao=False, detail=False, specular=False
)


def test_the_strongest_point_light_casts_a_shadow():
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)), Material("f")
    )
    block = Visual(
        trimesh.creation.box((0.5, 0.5, 0.1), transform=_translation(0, 0, 0.8)), Material("b")
    )
    lamp = Light("point", intensity=3.0, position=(0.0, 0.0, 1.8))
    dark = Sky(ambient=0.0)
    frames = {
        on: _single(
            [[floor], [block]], [lamp], dataclasses.replace(FLAT, point_shadows=int(on)), sky=dark
        )
        for on in (True, False)
    }
    under = frames[True].instance == 1
    ys, xs = np.nonzero(under)
    # the floor pixel nearest the point under the lamp (the image centre looks at it)
    centre = np.argmin((ys - H) ** 2 + (xs - W) ** 2)
    y, x = ys[centre], xs[centre]
    assert frames[True].rgb[y, x].mean() < 0.3 * frames[False].rgb[y, x].mean()
    far = (ys - H) ** 2 + (xs - W) ** 2 > (0.8 * H) ** 2
    a = frames[True].rgb[ys[far], xs[far]].astype(int)
    b = frames[False].rgb[ys[far], xs[far]].astype(int)
    assert np.abs(a - b).mean() < 2  # out of the block's shadow the light is unchanged


def test_soft_sun_shadows_have_a_wider_penumbra():
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)), Material("f")
    )
    pole = Visual(
        trimesh.creation.box((0.2, 0.2, 1.5), transform=_translation(0, 0, 0.75)), Material("p")
    )
    sun = Light("directional", direction=(0.6, 0.3, -0.7), cast_shadows=True)
    partial = {}
    for softness in (0.0, 4.0):
        settings = dataclasses.replace(FLAT, shadow_softness=softness)
        frame = _single([[floor], [pole]], [sun], settings)
        bare = _single([[floor]], [sun], settings)
        on_floor = (frame.instance == 1) & (bare.instance == 1)
        # the shadow's share of each floor pixel: the floor's own shading divided out
        v = frame.rgb[on_floor].mean(axis=1) / np.maximum(bare.rgb[on_floor].mean(axis=1), 1.0)
        lit, shade = 1.0, v.min()
        partial[softness] = np.count_nonzero(
            (v > shade + 0.15 * (lit - shade)) & (v < lit - 0.15 * (lit - shade))
        )
    assert partial[4.0] > 1.5 * partial[0.0]


def test_ambient_occlusion_darkens_the_inside_corner_only():
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)), Material("f")
    )
    wall = Visual(
        trimesh.creation.box((6, 0.1, 2.0), transform=_translation(0, 1.0, 1.0)), Material("w")
    )
    frames = {
        on: _single(
            [[floor], [wall]],
            [],
            dataclasses.replace(FLAT, ibl=True, ao=on, ao_strength=1.0),
            eye=(0.0, -2.0, 1.2),
            target=(0.0, 1.0, 0.2),
            sky=Sky(ambient=0.1),  # dim: where the tone curve is steep
        )
        for on in (True, False)
    }
    depth = frames[True].depth
    floor_px = frames[True].instance == 1
    ys, xs = np.nonzero(floor_px)
    corner = ys <= ys.min() + 2  # the floor's far edge, against the wall
    near = ys >= ys.max() - 10  # the floor in front of the camera, far from the wall
    on, off = (frames[k].rgb.mean(axis=2) for k in (True, False))
    assert on[ys[corner], xs[corner]].mean() < 0.93 * off[ys[corner], xs[corner]].mean()
    assert abs(on[ys[near], xs[near]].mean() - off[ys[near], xs[near]].mean()) < 3
    assert depth.min() >= 0


def test_config_defaults_are_the_settings_defaults():
    from tests.conftest import tiny_config

    render = tiny_config()["render"]
    fields = dataclasses.asdict(RenderSettings())
    assert set(fields) <= set(render)
    assert RenderSettings.from_config(render) == RenderSettings()
    assert check_render(render) == []


def test_validate_refuses_a_bad_render_key_before_any_work():
    from simfactory.sim.run.config import ConfigError, validate
    from tests.conftest import tiny_config

    with pytest.raises(ConfigError, match=r"render\.ao_strength: must be a number in \[0.0, 1.0\]"):
        validate(tiny_config(**{"render.ao_strength": 2.0}))


def test_sun_shadow_region_is_what_the_camera_sees_within_reach():
    from simfactory.sim.model.camera import intrinsics
    from simfactory.sim.model.parts import shadow_bounds

    scene = np.array([[-200.0, -200.0, -0.5], [200.0, 200.0, 30.0]])
    T = np.eye(4)
    T[:3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)  # looking along +x
    T[:3, 3] = (0.0, 0.0, 1.5)
    K = intrinsics(64, 48, 60.0)
    lo, hi = shadow_bounds(scene, [(K, 64, 48, T[None])], reach=40.0)
    half_width = 40.0 * 32 / K[0, 0]  # the view's half width 40 m ahead
    assert lo[0] == pytest.approx(0.0) and hi[0] == pytest.approx(40.0)
    assert -lo[1] == pytest.approx(half_width, rel=0.05) and hi[1] == pytest.approx(
        half_width, rel=0.05
    )
    assert (lo[2], hi[2]) == (-0.5, 30.0)  # the scene's full height: tall occluders cast
    T[:3, 3] = (500.0, 0.0, 1.5)  # looking away from the scene: all of it
    assert np.array_equal(shadow_bounds(scene, [(K, 64, 48, T[None])]), scene)


@pytest.mark.parametrize("softness", [0.0, 1.5])
def test_a_low_sun_leaves_open_ground_lit_and_a_block_still_shadows_it(softness):
    """A road-sized ground under a sun 10 to 30 degrees high: where nothing stands
    between it and the sun it is lit exactly as with no shadow map (no self-shadowing
    bands), and a van-sized block's shadow lies on it from the block's foot outwards."""
    ground = Visual(
        trimesh.creation.box((120, 120, 0.1), transform=_translation(0, 0, -0.05)), Material("g")
    )
    block = Visual(
        trimesh.creation.box((2.0, 2.0, 2.5), transform=_translation(0, 0, 1.25)), Material("b")
    )
    bounds = np.array([[-60.0, -60.0, -0.1], [60.0, 60.0, 10.0]])
    settings = dataclasses.replace(FLAT, shadow_softness=softness)
    renderer = process_renderer()
    width, height = 160, 120
    K = intrinsics(width, height, 60.0)
    T = look_at((2.0, -10.0, 4.0), (4.0, 0.0, 0.0))
    # ground points in the shadow, 0.25 to 3 m from the block's sunless face (x = 1)
    points = np.array([(1.0 + d, y, 0.0) for d in (0.25, 0.5, 1.0, 2.0, 3.0) for y in (-0.5, 0.5)])
    camera = (np.linalg.inv(T) @ np.c_[points, np.ones(len(points))].T)[:3]
    u, v = np.rint((K @ camera / camera[2])[:2]).astype(int)
    for elevation in (10.0, 20.0, 30.0):
        e = np.radians(elevation)
        direction = (np.cos(e), 0.0, -np.sin(e))  # the shadow falls towards +x
        frames = {}
        for cast in (True, False):
            sun = Light("directional", direction=direction, intensity=3.0, cast_shadows=cast)
            renderer.load_scene([[ground], [block]], [sun], Sky(), bounds, settings=settings)
            frames[cast] = renderer.render(
                np.stack([np.eye(4)] * 2), K, T, width, height, 0.1, 200.0
            )
        lit = frames[True].rgb.mean(axis=2) / np.maximum(frames[False].rgb.mean(axis=2), 1.0)
        ground_px = frames[True].instance == 1
        # the ground out of the block's shadow: every ground pixel whose ray meets the
        # ground at y outside the block's width (the shadow runs along x)
        ys, xs = np.nonzero(ground_px)
        rays = T[:3, :3] @ (np.linalg.inv(K) @ np.stack([xs, ys, np.ones_like(xs)]))
        y_on_ground = T[1, 3] - T[2, 3] / rays[2] * rays[1]
        open_ground = np.zeros_like(ground_px)
        open_ground[ys, xs] = np.abs(y_on_ground) > 1.5
        assert open_ground.sum() > 5000
        assert np.abs(lit[open_ground] - 1.0).max() < 0.02, (elevation, softness)
        # the shadow reaches the foot (its first half metre in the soft edge where the sun
        # is lowest: a texel of the map spans a metre of ground there) and is whole beyond
        assert ground_px[v, u].all() and (lit[v, u] < 0.9).all(), (elevation, softness)
        assert (lit[v[4:], u[4:]] < 0.8).all(), (elevation, softness)


@pytest.mark.parametrize("cone_deg", [0.0, 40.0])
def test_a_headlight_leaves_open_road_lit_and_a_car_still_shadows_it(cone_deg):
    """A lamp at a headlight's height over a road-sized ground, lighting it at grazing
    angles out to 40 m: where nothing stands between them the ground is lit exactly as
    with no cube shadow map (no self-shadowing bands), and a car-sized block 11 m ahead
    shadows the ground from its back face on."""
    ground = Visual(
        trimesh.creation.box((120, 120, 0.1), transform=_translation(0, 0, -0.05)), Material("g")
    )
    block = Visual(
        trimesh.creation.box((2.0, 2.0, 1.5), transform=_translation(12, 0, 0.75)), Material("b")
    )
    bounds = np.array([[-60.0, -60.0, -0.1], [60.0, 60.0, 10.0]])
    renderer = process_renderer()
    width, height = 160, 120
    K = intrinsics(width, height, 60.0)
    T = look_at((8.0, -10.0, 6.0), (15.0, 0.0, 0.0))
    radiance = {}
    for maps in (1, 0):
        lamp = Light(
            "point", intensity=200.0, position=(0.0, 0.0, 0.8), direction=(1.0, 0.0, -0.08),
            cone_deg=cone_deg,
        )  # fmt: skip
        settings = dataclasses.replace(FLAT, point_shadows=maps)
        scene = ([[ground], [block]], [lamp], Sky(ambient=0.0), bounds)
        renderer.load_scene(*scene, settings=settings)
        frame = renderer.render(np.stack([np.eye(4)] * 2), K, T, width, height, 0.1, 200.0)
        radiance[maps] = renderer.read_hdr().mean(axis=2)
    ys, xs = np.nonzero(frame.instance == 1)
    rays = T[:3, :3] @ (np.linalg.inv(K) @ np.stack([xs, ys, np.ones_like(xs)]))
    along = -T[2, 3] / rays[2]
    x, y = T[0, 3] + along * rays[0], T[1, 3] + along * rays[1]
    shadowed, unshadowed = radiance[1][ys, xs], radiance[0][ys, xs]
    lit = unshadowed > 1e-6
    # out of the block's shadow: short of the block, or wide of the wedge it casts
    open_ground = lit & ((x < 10.7) | (np.abs(y) > np.maximum(x, 1.0) / 11.0 + 0.3))
    assert open_ground.sum() > 3000 and (x[open_ground] > 30).any()
    assert np.abs(shadowed[open_ground] / unshadowed[open_ground] - 1.0).max() < 0.02
    behind = lit & (np.abs(y) < 0.5) & (x > 13.1) & (x < 25.0)
    assert behind.sum() > 50
    assert (shadowed[behind] < 0.05 * unshadowed[behind]).all()
