"""The raster's shortcuts give the same frames as the plain way: the flow pass on the GPU
gives numpy's flow bit for bit, shadow maps kept for parts at rest equal maps drawn
from scratch, and parts outside the view are left out of the camera's passes."""

import numpy as np
import pytest
import trimesh

from simfactory.sim.annotate.flow import flow_from_projections
from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Light, Material, Sky, Visual
from simfactory.sim.render import shaders
from simfactory.sim.render.raster import process_renderer

W, H = 64, 48
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 1.5]])
K = intrinsics(W, H, 60.0)


def _at(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _load(renderer):
    """A floor, a box that moves, a pillar in front of it, a far block behind the
    camera; a sun and two shadow-casting point lights."""
    visuals = [
        [Visual(trimesh.creation.box((6, 6, 0.1), transform=_at(0, 0, -0.05)),
                Material("floor", (0.7, 0.7, 0.7, 1.0)))],
        [Visual(trimesh.creation.box((0.5, 0.5, 0.5)), Material("red", (0.8, 0.2, 0.2, 1.0)))],
        [Visual(trimesh.creation.cylinder(0.12, 1.0, transform=_at(0, 0, 0.5)),
                Material("wood_pillar", (0.6, 0.4, 0.2, 1.0)))],
        [Visual(trimesh.creation.box((0.3, 0.3, 0.3)), Material("blue", (0.2, 0.2, 0.8, 1.0)))],
    ]  # fmt: skip
    lights = [
        Light("directional", direction=(0.6, 0.3, -0.8), cast_shadows=True),
        Light("point", position=(1.0, -1.0, 1.6), intensity=4.0),
        Light("point", position=(-1.2, 0.5, 1.4), intensity=3.0),
    ]
    renderer.load_scene(visuals, lights, Sky(), BOUNDS)


def _poses(t: int) -> np.ndarray:
    """Part poses at frame t: the box moves in frames 0-2, rests in 3-5, moves again."""
    x = {0: -0.8, 1: -0.6, 2: -0.4, 3: -0.4, 4: -0.4, 5: -0.4, 6: -0.1, 7: 0.2}[t]
    return np.stack([np.eye(4), _at(x, 0.3, 0.25), _at(-0.6, -0.4, 0), _at(0, -9, 1)])


CAMERA = [look_at((0.3 * t, -3.0, 2.0), (0.0, 0.0, 0.3)) for t in range(8)]


def _render(renderer, t: int):
    n, p = min(t + 1, 7), max(t - 1, 0)
    return renderer.render(
        _poses(t), K, CAMERA[t], W, H, 0.1, 50.0,
        neighbours=(_poses(n), CAMERA[n], _poses(p), CAMERA[p]),
    )  # fmt: skip


@pytest.fixture(scope="module")
def renderer():
    return process_renderer()


@pytest.fixture
def gpu_flow(renderer):
    """The renderer with its flow pass on (off by default on llvmpipe)."""
    before = renderer.gpu_flow
    renderer.gpu_flow = True
    yield renderer
    renderer.gpu_flow = before


def test_gpu_flow_equals_numpy_flow(gpu_flow):
    renderer = gpu_flow
    _load(renderer)
    prev = _render(renderer, 0)
    for t in range(1, 4):
        frame = _render(renderer, t)
        fwd, fwd_valid, bwd, bwd_valid = renderer.flows()
        want_fwd = flow_from_projections(
            prev.instance, prev.depth, prev.uv_next_prev[..., 0:2], prev.z_next_prev[..., 0],
            frame.instance, frame.depth,
        )  # fmt: skip
        want_bwd = flow_from_projections(
            frame.instance, frame.depth, frame.uv_next_prev[..., 2:4],
            frame.z_next_prev[..., 1], prev.instance, prev.depth,
        )  # fmt: skip
        for got, want in ((fwd, want_fwd[0]), (bwd, want_bwd[0])):
            assert got.dtype == np.float32
            assert np.ascontiguousarray(got).tobytes() == want.tobytes()
        assert np.array_equal(fwd_valid, want_fwd[1])
        assert np.array_equal(bwd_valid, want_bwd[1])
        assert fwd_valid.any() and not fwd_valid[frame.instance > 0].all()  # both kinds
        prev = frame


def test_kept_shadow_layers_equal_shadows_drawn_afresh(renderer):
    _load(renderer)
    kept = [_render(renderer, t) for t in range(8)]  # layers kept while parts rest
    assert renderer._depth_state[("sun",)][1] is not None  # a layer was used
    _load(renderer)
    for t in range(8):
        renderer._depth_state = {}  # every map drawn from scratch
        fresh = _render(renderer, t)
        assert np.array_equal(fresh.rgb, kept[t].rgb), t
        assert np.array_equal(fresh.instance, kept[t].instance), t


def test_kept_coverage_equals_coverage_drawn_afresh(renderer, monkeypatch):
    """Under a still camera the parts at rest keep their counts from the frame before:
    the same counts as drawn afresh, from fewer draws."""
    _load(renderer)
    draws = []  # the parts the coverage pass draws
    draw_part, coverage_pass = renderer._draw_part, renderer._coverage_pass

    def counting_pass(*args):
        monkeypatch.setattr(renderer, "_draw_part", lambda *a: draws.append(a[2]) or draw_part(*a))
        try:
            return coverage_pass(*args)
        finally:
            monkeypatch.setattr(renderer, "_draw_part", draw_part)

    monkeypatch.setattr(renderer, "_coverage_pass", counting_pass)

    def frame(t):
        return renderer.render(_poses(t), K, CAMERA[0], W, H, 0.1, 50.0)

    kept = [frame(t).unoccluded_pixels for t in range(8)]
    kept_draws = list(draws)
    draws.clear()
    fresh = []
    for t in range(8):
        renderer._coverage = None  # every part drawn
        fresh.append(frame(t).unoccluded_pixels)
    assert all(np.array_equal(a, b) for a, b in zip(kept, fresh, strict=True))
    assert kept[0][1] > 0 and kept[0][2] != kept[7][2]  # counted, and the box moved
    assert len(draws) == 8 * 3  # the floor, the box, the pillar (the block is behind)
    # then only the box, in the frames it moves (1, 2, 6, 7; it rests in 3-5)
    assert kept_draws == [0, 1, 2, 1, 1, 1, 1]


def test_final_pass_in_two_draws_equals_one_draw(renderer):
    """FXAA's final pass in two draws (the edge taps where the depth test lets them)
    gives the bytes of one full draw."""
    _load(renderer)
    before = renderer.split_final
    try:
        renderer.split_final = True
        split = [_render(renderer, t).rgb for t in (0, 6)]
        renderer.split_final = False
        whole = [_render(renderer, t).rgb for t in (0, 6)]
    finally:
        renderer.split_final = before
    assert renderer.settings.fxaa
    assert all(np.array_equal(a, b) for a, b in zip(split, whole, strict=True))


def test_parts_outside_the_view_are_left_out(renderer):
    _load(renderer)
    frame = _render(renderer, 0)
    assert renderer._in_view.tolist() == [True, True, True, False]  # the block is behind
    assert frame.unoccluded_pixels[4] == 0
    assert frame.unoccluded_pixels[2] > (frame.instance == 2).sum()  # the pillar occludes


def test_specialise_replaces_uniforms_by_constants():
    source = "uniform int fxaa;\nuniform float bloom;  // strength\nvoid main() {}\n"
    out = shaders.specialise(source, {"fxaa": 1, "bloom": 0.0})
    assert "const int fxaa = 1;" in out
    assert "const float bloom = 0.0;  // strength" in out
    with pytest.raises(KeyError, match="noise"):
        shaders.specialise(source, {"noise": 0.0})
