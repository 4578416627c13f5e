"""The light probes drawn as layered cube maps (a probe's faces in one instanced draw per
part) give byte for byte what drawing them face by face gives: the probe's faces and
irradiance, the grid's coefficients, and every output of the frames lit by them."""

import numpy as np
import pytest
import trimesh
from trimesh.transformations import translation_matrix

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.spec import Fog, Light, Material, Sky, Visual
from simfactory.sim.render import ibl
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.render.settings import RenderSettings

W, H = 64, 48
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 2.0]])


def _scene():
    """A floor (wood detail), a metal box, a fabric ball, a textured slab, a part left
    out of the probes (absent), a sun and a shadowed point lamp."""
    checker = np.kron([[40, 220], [220, 40]], np.ones((8, 8)))[..., None].repeat(3, 2)
    visuals = [
        [
            Visual(
                trimesh.creation.box((6, 6, 0.1), transform=translation_matrix((0, 0, -0.05))),
                Material("wood_0", (0.6, 0.45, 0.3, 1.0), roughness=0.5),
            )
        ],
        [Visual(trimesh.creation.box((0.6, 0.6, 0.6)), Material("metal_0", (0.8,) * 4, 0.3, 1.0))],
        [
            Visual(
                trimesh.creation.icosphere(2, radius=0.3),
                Material("fabric_1", (0.2, 0.3, 0.7, 1.0), 0.9),
            )
        ],
        [
            Visual(
                trimesh.creation.box((1.0, 0.4, 0.2)),
                Material("tile_0", (0.9, 0.9, 0.9, 1.0), 0.7, texture=checker.astype(np.uint8)),
            )
        ],
        [Visual(trimesh.creation.box((0.3, 0.3, 0.3)), Material("red_0", (0.9, 0.1, 0.1, 1.0)))],
    ]
    lights = [
        Light("directional", direction=(0.5, 0.3, -0.6), intensity=3.0, cast_shadows=True),
        Light("point", intensity=2.0, position=(0.5, -1.0, 1.5)),
    ]
    poses = np.stack(
        [
            np.eye(4),
            translation_matrix((0.5, 0, 0.3)),
            translation_matrix((-0.6, -0.8, 0.3)),
            translation_matrix((-1.2, 1.0, 0.1)),
            translation_matrix((1.5, 1.5, 0.15)),
        ]
    )
    return visuals, lights, poses


def _render(layered: bool, fog: float):
    renderer = process_renderer()
    layered_before = renderer.layered_probes
    renderer.layered_probes = layered
    try:
        visuals, lights, poses = _scene()
        present = np.array([True, True, True, True, False])
        renderer.load_scene(
            visuals, lights, Sky(), BOUNDS, fog=Fog(density=fog),
            settings=RenderSettings(probe_grid=3),
            probe=(np.array([0.0, 0.0, 1.5]), poses, present),
        )  # fmt: skip
        K = intrinsics(W, H, 60.0)
        T = look_at((0.5, -3.2, 1.8), (0.0, 0.0, 0.3))
        frame = renderer.render(poses, K, T, W, H, 0.1, 50.0, 1.0)
        outputs = {
            "probe_faces": renderer.probe_faces,
            "sh": renderer._sh,
            "grid_sh": renderer.grid_sh,
            "grid_valid": renderer.grid_valid,
            "hdr": renderer.read_hdr(),
        }
        for name in ("rgb", "depth", "instance", "normals", "uv_next_prev", "z_next_prev"):
            outputs[name] = getattr(frame, name)
        outputs["unoccluded_pixels"] = frame.unoccluded_pixels
        return outputs
    finally:
        renderer.layered_probes = layered_before


@pytest.mark.parametrize("fog", [0.0, 0.05])
def test_layered_probes_are_byte_identical_to_face_by_face(fog):
    if not process_renderer().layered_probes:
        pytest.skip("the GL driver lacks ARB_shader_viewport_layer_array")
    layered, by_face = _render(True, fog), _render(False, fog)
    assert np.ptp(layered["grid_sh"][:, 0, 0]) > 0  # the grid probes see different light
    for name, value in by_face.items():
        assert np.asarray(layered[name]).tobytes() == np.asarray(value).tobytes(), name


def test_prefilter_weights_kept_per_size_give_each_cube_its_own_light():
    """The GGX weights are computed once per size and reused: a uniform cube stays
    uniform at every roughness, whichever cube came before; a cube lit from +z only
    keeps its light on the +z side."""
    for value in (2.0, 0.5):
        levels = ibl.prefilter_specular(np.full((6, 32, 32, 3), value))
        assert [lv.shape[1] for lv in levels] == [32, 16, 8, 4, 2]
        for level in levels[1:]:
            assert np.allclose(level, value, rtol=1e-12)
    cube = np.zeros((6, 32, 32, 3))
    cube[4] = 1.0  # +z face
    levels = ibl.prefilter_specular(cube)
    for level in levels[1:]:
        assert level[4].min() > level[5].max()  # +z brighter than -z at every roughness
