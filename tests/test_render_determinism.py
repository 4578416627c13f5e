"""A process's renderer draws each frame from the scene and poses alone: what it rendered
before (other frames, other scenes) leaves no trace, so a worker's first clip looks like
its later ones."""

import numpy as np
import pytest
import trimesh

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Light, Material, Sky, Visual
from simfactory.sim.render.raster import Frame, Renderer, process_renderer

W, H = 64, 48
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 1.5]])


def _translation(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _scene(name: str):
    """(part visuals, lights, part poses per pose index) of a small sunlit scene."""
    floor = Visual(
        trimesh.creation.box((6, 6, 0.1), transform=_translation(0, 0, -0.05)),
        Material("floor", (0.7, 0.7, 0.7, 1.0)),
    )
    if name == "box":
        box = Visual(trimesh.creation.box((0.6, 0.6, 0.6)), Material("red", (0.8, 0.2, 0.2, 1.0)))
        sun = Light("directional", direction=(0.8, 0.3, -0.45), cast_shadows=True)
        poses = [_translation(x, 0, 0.3) for x in (-0.7, 0.7)]
        return [[floor], [box]], [sun], [np.stack([np.eye(4), p]) for p in poses]
    checker = np.kron([[0, 255], [255, 0]], np.ones((8, 8)))[..., None].repeat(3, -1)
    pillar = Visual(
        trimesh.creation.cylinder(0.2, 1.2, transform=_translation(0, 0, 0.6)),
        Material("checker", (1.0, 1.0, 1.0, 1.0), texture=checker.astype(np.uint8)),
    )
    sun = Light("directional", direction=(-0.4, 0.7, -1.0), intensity=2.5, cast_shadows=True)
    return [[floor], [pillar]], [sun], [np.stack([np.eye(4), _translation(0.3, 0.2, 0)])]


def _render_sequence(renderer: Renderer, shots: list[tuple[str, int]]) -> list[Frame]:
    """The frame of each (scene, pose index) in turn, loading a scene only when it changes."""
    K = intrinsics(W, H, 60.0)
    T_wc = look_at((0.0, -3.0, 2.2), (0.0, 0.0, 0.2))
    loaded, out = None, []
    for name, pose in shots:
        visuals, lights, poses = _scene(name)
        if name != loaded:
            renderer.load_scene(visuals, lights, Sky(), BOUNDS)
            loaded = name
        out.append(renderer.render(poses[pose], K, T_wc, W, H, 0.1, 50.0))
    return out


ALONE = [("box", 0), ("box", 1), ("pillar", 0)]


@pytest.fixture(scope="module")
def alone() -> dict:
    """Each shot rendered first thing by a renderer of its own (a new GL context, in the
    state a fresh worker process starts from)."""
    return {shot: _render_sequence(Renderer(), [shot])[0] for shot in ALONE}


def test_the_sun_shadow_moves_with_the_box(alone):
    a, b = alone[("box", 0)], alone[("box", 1)]
    floor = (a.instance == 1) & (b.instance == 1)
    darker_in_a = a.rgb.astype(int).sum(-1) < b.rgb.astype(int).sum(-1) - 60
    darker_in_b = b.rgb.astype(int).sum(-1) < a.rgb.astype(int).sum(-1) - 60
    assert np.count_nonzero(floor & darker_in_a) > 25  # each shadow darkens floor the other
    assert np.count_nonzero(floor & darker_in_b) > 25  # leaves lit


def test_same_scene_renders_alike_whatever_came_before(alone):
    shots = [("box", 0), ("box", 1), ("box", 0), ("box", 0), ("box", 1)]
    for shot, frame in zip(shots, _render_sequence(process_renderer(), shots), strict=True):
        np.testing.assert_array_equal(frame.rgb, alone[shot].rgb, err_msg=str(shot))


def test_scenes_render_alike_in_either_order(alone):
    shots = [("pillar", 0), ("box", 1), ("pillar", 0), ("box", 0), ("pillar", 0)]
    for shot, frame in zip(shots, _render_sequence(process_renderer(), shots), strict=True):
        np.testing.assert_array_equal(frame.rgb, alone[shot].rgb, err_msg=str(shot))
