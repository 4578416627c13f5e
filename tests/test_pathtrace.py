"""The path-traced backend: the same labels as the raster, byte for byte; a per-pixel
object id from the path tracer that agrees with the instance masks; upgrading a raster
dataset with ``simfactory-rerender --look 0``; bad render keys refused."""

import json

import numpy as np
import pytest

from simfactory.sim.render.pathtrace import missing
from simfactory.sim.render.tonemap import tonemap
from simfactory.sim.run.config import ConfigError, load_config, validate
from tests.conftest import tiny_config

REASON = missing()
needs_pathtrace = pytest.mark.skipif(REASON is not None, reason=f"path tracer: {REASON}")
FAMILIES = ("furniture", "driving", "hoi")
SMALL = {"num_clips": 1, "frames": 3, "resolution": [96, 64], "executor.workers": 0}
TRACED = {"render.backend": "pathtrace", "render.samples": 4}
FURNITURE = {"scene.num_pieces": 4, "scene.num_clutter": 3}


def _cfg(family: str, **overrides) -> dict:
    values = {**SMALL, "seed": 3, **(FURNITURE if family == "furniture" else {}), **overrides}
    return load_config(
        [f"scene={family}"] + [f"{k}={v}".replace(" ", "") for k, v in values.items()]
    )


def _label_files(clip):
    """Every file of a clip folder but the colour (video, preview) and annotations."""
    return {
        str(p.relative_to(clip)): p.read_bytes()
        for p in sorted(clip.rglob("*"))
        if p.is_file() and p.name not in ("rgb.mp4", "preview.png", "annotations.json")
    }


def _annotations(clip):
    """A clip's annotations less what names its render settings: the ``render`` entry
    (returned apart) and the fingerprint of the config (the backend is part of it)."""
    ann = json.loads((clip / "annotations.json").read_text())
    ann["clip"].pop("config_fingerprint")
    return ann, ann.pop("render")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Per family, one tiny clip rendered by the raster and the same clip path traced."""
    from simfactory.sim.run.clip import generate_clip

    out = {}
    for family in FAMILIES:
        root = tmp_path_factory.mktemp(family)
        for backend in ("raster", "pathtrace"):
            extra = TRACED if backend == "pathtrace" else {}
            cfg = _cfg(family, **extra)
            validate(cfg)
            generate_clip(cfg, 0, root / backend)
        out[family] = (cfg, root / "raster" / "clips" / "clip_000000", root / "pathtrace")
    return out


@needs_pathtrace
@pytest.mark.parametrize("family", FAMILIES)
def test_a_path_traced_clip_has_the_raster_clips_labels(clips, family):
    import imageio.v3 as iio

    _, raster, traced_root = clips[family]
    traced = traced_root / "clips" / "clip_000000"
    files = _label_files(raster)
    assert "cam0/instance.npz" in files and "trajectory.npz" in files
    assert _label_files(traced) == files
    (a, render_a), (b, render_b) = _annotations(raster), _annotations(traced)
    assert a == b
    assert render_a["backend"] == "raster" and render_b["backend"] == "pathtrace"
    assert render_b["samples"] == 4 and render_b["denoise"] is True
    # The colour is the path tracer's own: a different picture of the same scene.
    rgb_a, rgb_b = (iio.imread(c / "cam0" / "rgb.mp4") for c in (raster, traced))
    assert rgb_a.shape == rgb_b.shape
    assert np.abs(rgb_a.astype(float) - rgb_b).mean() > 1.0
    assert rgb_b.std() > 10.0  # a lit scene, not a blank frame


@needs_pathtrace
def test_path_traced_object_ids_agree_with_the_instance_masks(clips):
    """The path tracer's surface at each pixel centre is the instance mask's object on
    at least 99.99% of the pixels (a pixel whose centre lies on an edge may go either
    way: the rasteriser snaps vertices to a sub-pixel grid)."""
    from simfactory.sim.model.parts import light_parts, part_visuals
    from simfactory.sim.model.trajectory import Trajectory
    from simfactory.sim.render.pathtrace import PathTracer
    from simfactory.sim.run.build import build_scene
    from simfactory.sim.run.clip import simulate

    agree = total = 0
    for family in FAMILIES:
        cfg, clip, _ = clips[family]
        spec = build_scene(cfg, 0)
        traj = Trajectory.load(clip / "trajectory.npz")
        simulate(spec, cfg, traj)  # people drawn at the level of detail the clip drew
        ann = json.loads((clip / "annotations.json").read_text())
        tracer = PathTracer(samples=1, denoise=False)
        tracer.load_scene(
            part_visuals(spec, traj), spec.lights, spec.sky, spec.fog,
            light_parts(spec, traj), spec.cloths,
        )  # fmt: skip
        with np.load(clip / "cam0" / "instance.npz") as data:
            masks = data["instance"]
        cam = spec.cameras[0]
        K = np.array(ann["cameras"]["cam0"]["K"])
        T_wc = np.array(ann["cameras"]["cam0"]["T_world_camera"])
        family_agree = 0
        for i in range(traj.num_frames):
            tracer.set_frame(
                traj.poses[i], float(traj.times[i]), traj.present[i],
                [v[i] for v in traj.cloth_vertices] or None,
            )  # fmt: skip
            ids = tracer.instance_ids(K, T_wc[i], cam.width, cam.height, cam.near, cam.far)
            assert ids.shape == masks[i].shape and len(np.unique(masks[i])) > 2
            family_agree += int((ids == masks[i]).sum())
        assert family_agree / masks.size >= 0.999, family
        agree, total = agree + family_agree, total + masks.size
    assert agree / total >= 0.9999


@needs_pathtrace
def test_rerender_look_0_upgrades_a_raster_dataset(tmp_path):
    """As documented: ``simfactory-rerender DATASET OUT --look 0 render.backend=pathtrace``
    (here with ``--clips`` choosing a variant clip)."""
    import subprocess
    import sys

    from simfactory.sim.run.cli import generate_dataset

    source, out = tmp_path / "raster", tmp_path / "traced"
    cfg = _cfg("furniture", num_clips=2, variants_per_rollout=2)
    assert generate_dataset(cfg, source, "test") == 0
    cmd = [sys.executable, "-c", "from simfactory.sim.run.rerender import main; main()"]
    args = [str(source), str(out), "--look", "0", "--clips", "1", "render.backend=pathtrace"]
    result = subprocess.run(
        [*cmd, *args, "render.samples=2"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pathtrace cam0 frame 3/3" in result.stderr  # progress per frame
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["clip_000001"]
    for name in ("clip_000001",):  # variant 1 keeps its own look (``params.look``)
        a, b = source / "clips" / name, out / "clips" / name
        assert _label_files(b) == _label_files(a)
        assert _annotations(b)[0] == _annotations(a)[0]
        assert _annotations(b)[1]["backend"] == "pathtrace"
        assert (b / "cam0" / "rgb.mp4").read_bytes() != (a / "cam0" / "rgb.mp4").read_bytes()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"render.backend": "cycles"}, "render.backend: must be raster or pathtrace"),
        ({"render.samples": 0}, "render.samples: must be an integer >= 1"),
        ({"render.samples": 2.5}, "render.samples: must be an integer >= 1"),
        ({"render.denoise": "yes"}, "render.denoise: must be true or false"),
        ({"render.auto_exposure": 1}, "render.auto_exposure: must be true or false"),
    ],
)
def test_bad_render_keys_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(tiny_config(**override))


def test_pathtrace_without_mitsuba_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mitsuba" else real(name)
    )
    with pytest.raises(
        ConfigError, match=r"render.backend: .*pip install 'simfactory\[pathtrace\]'"
    ):
        validate(tiny_config(**{"render.backend": "pathtrace"}))


def test_tonemap_follows_the_documented_curve():
    grey = np.full((2, 2, 3), 0.18, np.float32)
    # Auto exposure brings a uniform grey to 0.18: the ACES fit and sRGB give 141.
    assert np.all(tonemap(grey, 1.0, True) == 141)
    assert np.all(tonemap(grey * 10, 1.0, True) == 141)
    assert np.all(tonemap(grey * 100, 1.0, False) == 255)
    assert tonemap(np.zeros((1, 1, 3)), 1.0, False)[0, 0, 0] == 0
    x = 0.5
    f = x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14)
    expected = round((1.055 * f ** (1 / 2.4) - 0.055) * 255)
    assert tonemap(np.full((1, 1, 3), 0.25), 2.0, False)[0, 0, 0] == expected


@needs_pathtrace
def test_ids_of_a_cloth_a_textured_part_and_an_absent_part():
    """A hand-built scene: a floor, a textured cube, a cube absent from the frame and a
    draped cloth (instance id P + 1); the path tracer's ids match the raster's."""
    import trimesh

    from simfactory.sim.model.camera import intrinsics, look_at
    from simfactory.sim.model.spec import Cloth, Light, Material, Sky, Visual
    from simfactory.sim.render.pathtrace import PathTracer
    from simfactory.sim.render.raster import process_renderer
    from simfactory.sim.simulate.cloth import grid

    checker = np.kron(np.indices((4, 4)).sum(0) % 2, np.ones((8, 8)))[..., None]
    texture = (checker * 200 + 30).repeat(3, axis=-1).astype(np.uint8)
    box, cube = trimesh.creation.box((3.0, 3.0, 0.1)), trimesh.creation.box((0.4, 0.4, 0.4))
    visuals = [
        [Visual(box, Material("floor", texture=texture, texture_scale=0.5))],
        [Visual(cube, Material("cube", (0.8, 0.2, 0.1, 1.0), texture=texture))],
        [Visual(cube, Material("absent"))],
    ]
    poses = np.repeat(np.eye(4)[None], 3, axis=0)
    poses[0, 2, 3], poses[1, :3, 3], poses[2, :3, 3] = -0.05, (0.5, 0.3, 0.2), (-0.3, 0.0, 0.3)
    present = np.array([True, True, False])
    sheet = grid(1.0, 0.8, 0.1)
    vertices = np.asarray(sheet.vertices) + (-0.4, -0.3, 0.05)
    vertices[:, 2] += 0.1 * np.sin(3 * vertices[:, 0]) ** 2
    cloth = Cloth("napkin", "cloth", sheet, Material("fabric", (0.2, 0.3, 0.8, 1.0)))
    lights, sky = [Light("directional", direction=(0.3, 0.2, -1.0))], Sky()
    W, H = 128, 96
    K, T = intrinsics(W, H, 60.0), look_at((1.8, -1.6, 1.4), (0.0, 0.0, 0.1))

    raster = process_renderer()
    raster.load_scene(
        visuals, lights, sky, np.array([[-2.0, -2, -0.2], [2, 2, 1]]), None, [-1], [cloth]
    )
    frame = raster.render(
        poses, K, T, W, H, neighbours=(poses, T, poses, T), present=present,
        cloths=([vertices], [vertices], [vertices]),
    )  # fmt: skip
    tracer = PathTracer(samples=2, denoise=False)
    tracer.load_scene(visuals, lights, sky, None, [-1], [cloth])
    tracer.set_frame(poses, 0.0, present, [vertices])
    ids = tracer.instance_ids(K, T, W, H, 0.05, 100.0)
    assert set(np.unique(frame.instance)) == {0, 1, 2, 4}  # the absent cube (3) is not drawn
    assert (ids == frame.instance).mean() >= 0.999, (ids != frame.instance).sum()
    rgb = tracer.render(K, T, W, H, 0.05, 100.0)
    assert rgb.shape == (H, W, 3) and np.isfinite(rgb).all()
    # The textured floor shows its checker: light and dark squares in the traced image.
    floor = rgb[frame.instance == 1].mean(axis=1)
    assert np.percentile(floor, 90) > 2 * np.percentile(floor, 10), np.percentile(floor, [10, 90])


def test_traces_combine_by_samples_and_develop_with_fog():
    from simfactory.sim.model.spec import Fog
    from simfactory.sim.render.pathtrace import combine, develop

    def trace(value, samples):
        img = np.full((2, 3, 3), value, np.float32)
        return {
            "rgb": img,
            "albedo": img,
            "normal": img,
            "samples": samples,
            "distance": np.zeros((2, 3)),
        }

    both = combine([trace(1.0, 256), trace(3.0, 768)])
    assert both["samples"] == 1024 and np.allclose(both["rgb"], 2.5)
    K = np.array([[2.0, 0, 1], [0, 2.0, 0.5], [0, 0, 1]])
    clear = develop(both, Fog(), K, np.eye(4), denoise=False)
    assert np.allclose(clear, 2.5)
    both["distance"] = np.full((2, 3), 10.0)
    fogged = develop(both, Fog(density=0.1, color=(0.5, 0.5, 0.5)), K, np.eye(4), denoise=False)
    keep = np.exp(-1.0)
    assert np.allclose(fogged, 2.5 * keep + 0.5 * (1 - keep), atol=1e-5)


def test_light_sampling_weights_follow_each_lights_irradiance():
    from simfactory.sim.model.spec import Light, Material
    from simfactory.sim.render.pathtrace import (
        LIGHT_DISTANCE,
        SKY_NEE_SHARE,
        emitter_weights,
        sky_irradiance,
    )

    white_sky = np.ones((64, 128, 3), np.float32)
    assert sky_irradiance(white_sky) == pytest.approx(np.pi, rel=1e-3)
    lights = [
        Light("directional", color=(1.0, 1.0, 1.0), intensity=2.0, direction=(0, 0, -1)),
        Light("point", color=(1.0, 1.0, 1.0), intensity=4.0, position=(0, 0, 2)),
        Light("point", color=(1.0, 1.0, 1.0), intensity=4.0, position=(0, 0, 2), cone_deg=40),
        Light("point", color=(1.0, 1.0, 1.0), intensity=0.0, position=(0, 0, 2)),
    ]
    # Off when the scene loads, bright later: weighted at its brightest key.
    lamp = Material("lamp", emissive=(0.0, 0.0, 0.0), emissive_keys=[(1.0, (2.0, 2.0, 2.0))])
    light_w, sky_w, area_w = emitter_weights(lights, white_sky, [(lamp, 0.5)])
    d2 = LIGHT_DISTANCE**2
    assert light_w[:3] == pytest.approx([2.0, 4.0 / d2, 4.0 / d2])
    assert 0 < light_w[3] < 0.01  # a dark light stays reachable
    assert sky_w == pytest.approx(SKY_NEE_SHARE * np.pi, rel=1e-3)
    assert area_w == pytest.approx([2.0 * 0.5 / d2])


@needs_pathtrace
def test_light_sampling_weights_leave_the_converged_image_unchanged(monkeypatch):
    """A floor and a cube lit by a sun, a point light, an emissive cube and the sky:
    picking lights by irradiance and picking them uniformly converge to the same image."""
    import trimesh

    from simfactory.sim.model.camera import intrinsics, look_at
    from simfactory.sim.model.spec import Light, Material, Sky, Visual
    from simfactory.sim.render import pathtrace

    box, cube = trimesh.creation.box((3.0, 3.0, 0.1)), trimesh.creation.box((0.4, 0.4, 0.4))
    glow = Material("glow", (0.9, 0.9, 0.9, 1.0), emissive=(3.0, 2.5, 2.0))
    visuals = [
        [Visual(box, Material("floor", (0.6, 0.6, 0.6, 1.0)))],
        [Visual(cube, Material("cube", (0.8, 0.2, 0.1, 1.0)))],
        [Visual(cube, glow)],
    ]
    poses = np.repeat(np.eye(4)[None], 3, axis=0)
    poses[0, 2, 3], poses[1, :3, 3], poses[2, :3, 3] = -0.05, (0.5, 0.3, 0.2), (-0.6, 0.4, 0.2)
    lights = [
        Light("directional", intensity=2.5, direction=(0.3, 0.2, -1.0)),
        Light("point", intensity=1.5, position=(-0.5, -0.5, 1.2)),
    ]
    W, H = 48, 36
    K, T = intrinsics(W, H, 60.0), look_at((1.8, -1.6, 1.4), (0.0, 0.0, 0.1))

    def traced(samples: int, seed: int):
        tracer = pathtrace.PathTracer(samples=samples, denoise=False)
        tracer.load_scene(visuals, lights, Sky(), None, [-1, -1])
        tracer.set_frame(poses)
        weights = sorted(e.sampling_weight() for e in tracer.scene.emitters())
        return tracer.trace(K, T, W, H, 0.05, 100.0, seed=seed)["rgb"], weights

    converged_weighted, weights = traced(256, 3)
    assert len(weights) == 4 and weights[-1] == pytest.approx(2.5)  # the sun's irradiance
    real = pathtrace.emitter_weights

    def uniform(lights, sky_rgb, areas=()):
        light_w, _, area_w = real(lights, sky_rgb, areas)
        return [1.0] * len(light_w), 1.0, [1.0] * len(area_w)

    monkeypatch.setattr(pathtrace, "emitter_weights", uniform)
    converged_uniform, weights = traced(256, 3)
    assert weights == [1.0] * 4
    # The same image: per-channel means within 2%, quarter-image means within 4%.
    assert np.allclose(converged_weighted.mean((0, 1)), converged_uniform.mean((0, 1)), rtol=0.02)
    quarters = [
        (slice(None, H // 2), slice(None, W // 2)),
        (slice(H // 2, None), slice(W // 2, None)),
    ]
    for q in quarters:
        assert np.allclose(converged_weighted[q].mean(), converged_uniform[q].mean(), rtol=0.04)
