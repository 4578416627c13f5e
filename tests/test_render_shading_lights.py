"""The shading pass's point lights compiled into its programs: the same frame as the
uniform loop, one set of programs per scene."""

import numpy as np

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Light, Sky
from simfactory.sim.render.raster import process_renderer, shading_lights
from simfactory.sim.render.settings import RenderSettings
from tests.test_raster_lighting import _parts, _translation

W, H = 96, 64
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 2.0]])
LIGHT_SWITCHES = ("num_points", "point_shadow_index0", "point_shadow_index1")


def _scene():
    lights = [
        Light("directional", direction=(0.5, 0.3, -0.6), intensity=2.0, cast_shadows=True),
        Light("point", intensity=1.0, position=(0.5, -1.0, 1.5), color=(1.0, 0.9, 0.8)),
        Light("point", intensity=3.0, position=(-1.0, 0.5, 1.2)),  # the strongest: a map
        Light(
            "point",
            intensity=2.0,
            position=(1.2, 1.0, 1.0),
            color=(0.6, 0.7, 1.0),
            direction=(-0.5, -0.5, -1.0),
            cone_deg=60.0,
        ),  # fmt: skip
        Light(
            "point",
            intensity=0.5,
            position=(0.0, -2.0, 0.8),
            direction=(0.0, 1.0, -0.3),
            cone_deg=40.0,
        ),  # fmt: skip
    ]
    poses = np.stack([np.eye(4), _translation(0.4, 0, 0.3), _translation(-0.6, -0.8, 0.3)])
    return _parts(), lights, poses


def _render(renderer, eye):
    visuals, lights, poses = _scene()
    renderer.load_scene(visuals, lights, Sky(), BOUNDS, settings=RenderSettings(point_shadows=2))
    K = intrinsics(W, H, 60.0)
    frame = renderer.render(poses, K, look_at(eye, (0.0, 0.0, 0.3)), W, H, 0.1, 50.0)
    return frame, renderer.read_hdr()


def test_shading_lights_put_the_shadow_mapped_lights_first():
    points = [("a",), ("b",), ("c",), ("d",)]
    assert shading_lights(points, [2, 0]) == ([("c",), ("a",), ("b",), ("d",)], [0, 1])
    assert shading_lights(points, [3, -1]) == ([("d",), ("a",), ("b",), ("c",)], [0, -1])
    assert shading_lights(points, [-1, -1]) == (points, [-1, -1])
    assert shading_lights([], [-1, -1]) == ([], [-1, -1])


def test_compiled_point_lights_shade_as_the_uniform_loop():
    renderer = process_renderer()
    eye = (0.5, -3.2, 1.8)
    compiled, hdr = _render(renderer, eye)
    switches = renderer._mesh_switches

    def uniform_lights(*args, **kwargs):
        out = switches(*args, **kwargs)
        return {k: v for k, v in out.items() if k not in LIGHT_SWITCHES}

    renderer._mesh_switches = uniform_lights
    try:
        looped, hdr_looped = _render(renderer, eye)
    finally:
        del renderer._mesh_switches
    for name in ("depth", "instance", "normals", "uv_next_prev", "z_next_prev"):
        assert np.array_equal(getattr(compiled, name), getattr(looped, name)), name
    assert np.array_equal(compiled.unoccluded_pixels, looped.unoccluded_pixels)
    # the same sums: equal up to the float rounding of the radiance target (half floats)
    surface = compiled.instance > 0
    scale = np.maximum(np.abs(hdr_looped), 1e-2)
    assert np.max(np.abs(hdr - hdr_looped)[surface] / scale[surface]) < 2e-3
    assert np.abs(compiled.rgb.astype(int) - looped.rgb.astype(int)).max() <= 1
    # and the lights are lit: the four point lights brighten the floor
    assert hdr[surface].mean() > 0.0


def test_a_moving_camera_keeps_one_set_of_programs():
    renderer = process_renderer()
    # the nearest lights (and so the order the loop would take them in) change between
    # the two views: the programs do not
    _, near_first = _render(renderer, (-2.0, 1.5, 1.5))
    count = len(renderer._programs)
    _, near_other = _render(renderer, (2.5, 1.8, 1.4))
    assert len(renderer._programs) == count
    assert not np.array_equal(near_first, near_other)
