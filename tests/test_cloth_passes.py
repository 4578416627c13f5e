"""The raster's shortcuts for cloths and people's regions give the frames of the plain
way: the shading pass shades each cloth's pixels from the triangle the depth pre-pass
left there (the label targets as rasterizing the triangles gives them, to float
rounding), the coverage of the first cloths comes from stencil bits the pre-pass sets,
a shadow map's cube face the moving things stay out of is kept, and shadow maps leave
out the back faces of a closed body (byte for byte)."""

import sys

import numpy as np
import pytest
import trimesh

from simfactory.sim.model.camera import gl_projection, gl_view, intrinsics, look_at
from simfactory.sim.model.spec import Cloth, Light, Material, Sky, Visual
from simfactory.sim.render import raster
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.simulate.cloth import vertex_normals

W, H = 96, 72
K = intrinsics(W, H, 60.0)
BOUNDS = np.array([[-3.0, -3.0, -0.1], [3.0, 3.0, 2.0]])
FRAMES = 5


def _at(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _body():
    """A closed, finely divided body split in two regions (each with its own copies of
    the vertices on the seam, as a person's regions), and a sheet folded over itself."""
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.4)
    sphere.vertices[:, 2] *= 2.0  # an upright ellipsoid: many sub-pixel triangles
    upper = sphere.triangles_center[:, 2] > 0.1
    regions = []
    for name, keep in (("top", upper), ("bottom", ~upper)):
        used, local = np.unique(sphere.faces[keep], return_inverse=True)
        regions.append((name, sphere.vertices[used], local.reshape(-1, 3), used))
    n = 12  # a sheet folded in two
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    flat = np.c_[u.ravel() * 0.8, v.ravel() * 0.6, np.zeros(n * n)]
    cells = np.array([[i * n + j, i * n + j + 1, (i + 1) * n + j] for i in range(n - 1)
                      for j in range(n - 1)]
                     + [[i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j]
                        for i in range(n - 1) for j in range(n - 1)])  # fmt: skip
    folded = flat.copy()
    over = folded[:, 0] > 0.4  # the far half lies back over the near one, 1 cm above
    folded[over, 0] = 0.8 - folded[over, 0]
    folded[over, 2] = 0.01
    regions.append(("sheet", folded, cells, None))
    return regions


REGIONS = _body()


def _cloths():
    colours = {"top": (0.8, 0.3, 0.2, 1.0), "bottom": (0.2, 0.3, 0.8, 1.0),
               "sheet": (0.9, 0.9, 0.8, 1.0)}  # fmt: skip
    return [
        Cloth(f"c/{name}", "person", trimesh.Trimesh(v, f, process=False),
              Material(name, colours[name]), skin="p" if name != "sheet" else "",
              skin_vertices=used)
        for name, v, f, used in REGIONS
    ]  # fmt: skip


def _vertices(t: int) -> list[np.ndarray]:
    """Each cloth's world vertices at frame t: the body walks and turns, the sheet lies
    on the box."""
    angle = 0.3 * t
    R = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                  [0, 0, 1]])  # fmt: skip
    out = []
    for name, v, _, _ in REGIONS:
        if name == "sheet":
            out.append((v + (-0.9 + 0.05 * t, -0.5, 0.51)).astype(np.float32))
        else:
            out.append((v @ R.T + (0.2 * t - 0.3, 0.3, 0.8)).astype(np.float32))
    return out


def _load(renderer):
    visuals = [
        [Visual(trimesh.creation.box((6, 6, 0.1), transform=_at(0, 0, -0.05)),
                Material("floor", (0.7, 0.7, 0.7, 1.0)))],
        [Visual(trimesh.creation.box((0.6, 0.6, 0.5), transform=_at(-0.6, -0.2, 0.25)),
                Material("box", (0.5, 0.6, 0.4, 1.0)))],
    ]  # fmt: skip
    lights = [
        Light("directional", direction=(0.6, 0.3, -0.8), cast_shadows=True),
        Light("point", position=(1.0, -1.0, 2.2), intensity=4.0),
        Light("point", position=(-1.5, 1.0, 2.0), intensity=3.0),
    ]
    renderer.load_scene(visuals, lights, Sky(), BOUNDS, cloths=_cloths())


def _render(renderer, t: int):
    n, p = min(t + 1, FRAMES - 1), max(t - 1, 0)
    poses = np.stack([np.eye(4), np.eye(4)])
    camera = look_at((0.4 + 0.1 * t, -3.0, 1.8), (0.0, 0.0, 0.7))
    return renderer.render(
        poses, K, camera, W, H, 0.1, 50.0,
        neighbours=(poses, camera, poses, camera),
        cloths=(_vertices(t), _vertices(n), _vertices(p)),
    )  # fmt: skip


FIELDS = ("rgb", "depth", "instance", "normals", "unoccluded_pixels", "uv_next_prev",
          "z_next_prev")  # fmt: skip


def _frames(renderer):
    _load(renderer)
    return [_render(renderer, t) for t in range(FRAMES)]


@pytest.fixture(scope="module", autouse=True)
def every_cloth_per_pixel():
    """Every cloth with a stencil bit shaded per pixel, however few pixels it spans."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(raster, "PIXEL_CLOTH_AREA", 0)
        yield


@pytest.fixture(scope="module")
def renderer():
    return process_renderer()


@pytest.fixture(scope="module")
def shortcut_frames(renderer):
    return _frames(renderer)


def _assert_same(got, want):
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        for name in FIELDS:
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (t, name)


def test_shading_cloth_pixels_gives_the_targets_of_their_triangles(
    renderer, shortcut_frames, monkeypatch
):
    assert renderer.cloth_pixels  # (Mesa's llvmpipe has GL_ARB_copy_image)
    _render(renderer, 2)
    assert renderer._by_pixel.all()
    monkeypatch.setattr(raster, "PIXEL_CLOTHS", 1)  # the first per pixel, the others not
    mixed = _frames(renderer)
    monkeypatch.setattr(raster, "MAX_CLOTH_PIXEL_TRIANGLES", 0)  # rasterize the triangles
    triangles = _frames(renderer)
    P = 2
    for a, b in zip(shortcut_frames + mixed, triangles + triangles, strict=True):
        assert np.array_equal(a.instance, b.instance)
        assert np.array_equal(a.unoccluded_pixels, b.unoccluded_pixels)
        cloth = a.instance > P  # every region and the sheet shows
        assert set(np.unique(a.instance[cloth])) == {P + 1, P + 2, P + 3}
        assert np.allclose(a.depth, b.depth, rtol=2e-5, atol=0)
        assert np.allclose(a.z_next_prev, b.z_next_prev, rtol=2e-5, atol=0)
        assert np.allclose(a.uv_next_prev, b.uv_next_prev, rtol=0, atol=1e-3)  # pixels
        normals_a, normals_b = a.normals.astype(np.float32), b.normals.astype(np.float32)
        assert np.abs(normals_a - normals_b).max() <= 2e-3  # float16's steps
        rgb = np.abs(a.rgb.astype(int) - b.rgb.astype(int)).max(axis=2)
        assert rgb.max() <= 8 and (rgb > 0).mean() < 1e-3


def test_cloths_of_different_materials_shaded_together_or_apart(renderer, monkeypatch):
    """Cloths whose materials compile to one program are shaded in one draw, each pixel
    with its own cloth's material (byte for byte as a draw per cloth gives it); a
    textured one in a draw of its own. Ids as rasterizing the triangles gives them, and
    the untextured cloths' colour nearly so."""
    plain = _cloths

    def varied():
        top, bottom, sheet = plain()
        checker = np.kron(np.indices((8, 8)).sum(axis=0) % 2, np.ones((8, 8)))
        texture = (64 + 160 * checker[..., None] * np.ones(3)).astype(np.uint8)
        top.material = Material("top", (0.9, 0.5, 0.3, 1.0), 0.25, 0.6, texture, 0.2)
        bottom.material = Material("bottom", (0.1, 0.6, 0.2, 1.0), 0.9, 0.0)
        sheet.material = Material("sheet", (0.8, 0.8, 0.9, 1.0), 0.4, 0.0,
                                  emissive=(0.5, 0.2, 0.0))  # fmt: skip
        return [top, bottom, sheet]

    monkeypatch.setattr(sys.modules[__name__], "_cloths", varied)
    together = _frames(renderer)
    key = raster.material_key  # a key of its own per cloth: a draw per cloth
    monkeypatch.setattr(raster, "material_key", lambda mesh, detail: (*key(mesh, detail), id(mesh)))
    _assert_same(together, _frames(renderer))
    monkeypatch.setattr(raster, "material_key", key)
    monkeypatch.setattr(raster, "MAX_CLOTH_PIXEL_TRIANGLES", 0)  # rasterize the triangles
    triangles = _frames(renderer)
    for a, b in zip(together, triangles, strict=True):
        assert np.array_equal(a.instance, b.instance)
        assert set(np.unique(a.instance)) >= {3, 4, 5}
        untextured = (a.instance == 4) | (a.instance == 5)
        rgb = np.abs(a.rgb.astype(int) - b.rgb.astype(int)).max(axis=2)[untextured]
        assert rgb.max() <= 8 and (rgb > 0).mean() < 0.05
    monkeypatch.setattr(sys.modules[__name__], "_cloths", plain)
    first = _frames(renderer)[0]
    top = together[0].instance == 3  # the materials show: the textured top is not plain
    assert np.abs(together[0].rgb[top].astype(int) - first.rgb[top].astype(int)).mean() > 20


def test_stencil_coverage_equals_coverage_drawn(renderer, shortcut_frames, monkeypatch):
    frames = shortcut_frames
    for drawn in (0, 1):  # none, or the first cloth, counted by the stencil
        monkeypatch.setattr(raster, "STENCIL_CLOTHS", drawn)
        _assert_same(frames, _frames(renderer))
    P = 2
    occluded = 0
    for t, frame in enumerate(frames):  # a cloth alone covers what it shows
        for c, cloth in enumerate(_cloths()):
            occluded += (frame.instance == P + c + 1).sum() < frame.unoccluded_pixels[P + c + 1]
            renderer.load_scene([[], []], [], Sky(), BOUNDS, cloths=[cloth])
            n, p = min(t + 1, FRAMES - 1), max(t - 1, 0)
            alone = renderer.render(
                np.stack([np.eye(4)] * 2), K, look_at((0.4 + 0.1 * t, -3.0, 1.8), (0, 0, 0.7)),
                W, H, 0.1, 50.0,
                cloths=([_vertices(t)[c]], [_vertices(n)[c]], [_vertices(p)[c]]),
            )  # fmt: skip
            assert frame.unoccluded_pixels[P + c + 1] == (alone.instance == P + 1).sum()
    assert occluded  # some cloth was partly hidden


@pytest.mark.parametrize(
    "eye",
    [
        (0.05, -0.05, 0.8),  # inside the body's box, outside the body: it reaches behind
        (-0.1, -0.3, 0.9),  # near: the body spills out of the frame on every side
    ],
)
def test_stencil_coverage_of_a_body_out_of_frame_or_behind(renderer, monkeypatch, eye):
    """The stencil bits are read over the cloths' rectangle; where a cloth's box leaves
    the frame or reaches behind the camera, the counts still equal the drawn ones."""
    _load(renderer)
    camera = look_at(eye, (-0.3, 0.3, 0.8))
    poses = np.stack([np.eye(4), np.eye(4)])
    counts = []
    for stenciled in (raster.STENCIL_CLOTHS, 0):
        monkeypatch.setattr(raster, "STENCIL_CLOTHS", stenciled)
        frame = renderer.render(
            poses, K, camera, W, H, 0.05, 50.0, cloths=(_vertices(0), _vertices(0), _vertices(0))
        )
        counts.append(frame.unoccluded_pixels)
    assert np.array_equal(counts[0], counts[1])
    body = np.isin(frame.instance, (3, 4))  # the two regions (after the two parts)
    assert body[[0, -1]].any() and body[:, [0, -1]].any()  # it reaches the frame's edges


def test_shadow_faces_kept_equal_faces_drawn_afresh(renderer, shortcut_frames):
    frames = shortcut_frames
    _load(renderer)
    fresh = []
    for t in range(FRAMES):
        renderer._depth_state = {}  # every map and cube face drawn from scratch
        fresh.append(_render(renderer, t))
    _assert_same(frames, fresh)


def test_uploaded_normals_are_the_smooth_vertex_normals(renderer):
    from OpenGL import GL

    _load(renderer)
    _render(renderer, 2)
    vertices = _vertices(2)
    rows = sum(len(now) for now in vertices)  # every cloth's rows, in one vertex buffer
    GL.glBindBuffer(GL.GL_ARRAY_BUFFER, renderer._cloth_buffers[1])
    data = GL.glGetBufferSubData(GL.GL_ARRAY_BUFFER, 0, rows * 72)
    every = np.frombuffer(data, np.float32).reshape(6, rows, 3)
    start = 0
    for cloth, now in zip(renderer._cloths, vertices, strict=True):
        V = len(now)
        blocks = every[:, start : start + V]
        start += V
        assert np.array_equal(blocks[0], now)  # positions as given
        want = vertex_normals(now, cloth.faces).astype(np.float32)
        assert np.allclose(blocks[1], want, atol=1e-6)


def test_shadow_maps_cull_back_faces_of_closed_bodies_only(renderer, shortcut_frames, monkeypatch):
    _load(renderer)
    assert [c.closed for c in renderer._cloths] == [True, True, False]  # the body; the sheet
    monkeypatch.setattr(raster, "CULL_CLOSED_SHADOWS", False)
    _assert_same(shortcut_frames, _frames(renderer))
    # culling is live: an open sheet's back faces do cast shadows, and leaving them out
    # moves the light
    monkeypatch.setattr(raster, "CULL_CLOSED_SHADOWS", True)
    monkeypatch.setattr(raster, "closed_regions", lambda cloths: np.ones(len(cloths), bool))
    sheet_culled = _frames(renderer)
    assert any(
        not np.array_equal(a.rgb, b.rgb) for a, b in zip(sheet_culled, shortcut_frames, strict=True)
    )
    for a, b in zip(sheet_culled, shortcut_frames, strict=True):  # colour only
        assert np.array_equal(a.instance, b.instance) and np.array_equal(a.depth, b.depth)


def test_closed_regions_needs_every_edge_met_both_ways_and_faces_out():
    cloths = _cloths()
    assert raster.closed_regions(cloths).tolist() == [True, True, False]
    holed = _cloths()
    holed[0].mesh = trimesh.Trimesh(holed[0].mesh.vertices, holed[0].mesh.faces[1:], process=False)
    assert raster.closed_regions(holed).tolist() == [False, False, False]
    inside_out = _cloths()
    for cloth in inside_out[:2]:
        cloth.mesh = trimesh.Trimesh(cloth.mesh.vertices, cloth.mesh.faces[:, ::-1], process=False)
    assert raster.closed_regions(inside_out).tolist() == [False, False, False]
    alone = _cloths()[:1]  # a region without the rest of its body
    assert raster.closed_regions(alone).tolist() == [False]


def test_closed_regions_takes_a_surface_meeting_itself_along_an_edge():
    """Two closed tetrahedra sharing an edge (as a clustered mesh may pinch): every edge
    met as often one way round as the other, so closed; without one face, not."""
    apex = {"a": [(0.0, 1.0, 0.2), (0.0, 0.5, 1.0)], "b": [(0.0, -1.0, 0.2), (0.0, -0.5, -1.0)]}
    points, faces = [(-0.5, 0.0, 0.0), (0.5, 0.0, 0.0)], []
    for pair in apex.values():
        first = len(points)
        points += pair
        hull = trimesh.convex.convex_hull(np.array([points[0], points[1], *pair]))
        number = [
            int(np.flatnonzero((np.array(points) == v).all(axis=1))[0]) for v in hull.vertices
        ]
        faces += np.array(number)[hull.faces].tolist()
        assert first + 2 == len(points)
    points, faces = np.array(points), np.array(faces)
    cloth = Cloth("p/all", "person", trimesh.Trimesh(points, faces, process=False),
                  Material("m", (1, 1, 1, 1)), skin="p", skin_vertices=np.arange(6))  # fmt: skip
    assert raster.closed_regions([cloth]).tolist() == [True]
    cloth.mesh = trimesh.Trimesh(points, faces[1:], process=False)
    assert raster.closed_regions([cloth]).tolist() == [False]


def test_cloth_rects_hold_every_pixel_a_box_can_cover():
    """Each box's rectangle holds the pixels of its projected corners, a pixel or two
    around them (whole 2x2 quads, inside the frame); a box all behind the camera gets
    none, one reaching behind it or not finite the whole frame; each box's rectangle is
    its own, whatever the others."""
    rng = np.random.default_rng(0)
    camera = look_at((0.0, -3.0, 1.0), (0, 0, 0.8))
    view_proj = gl_projection(K, W, H, 0.05, 50.0) @ gl_view(camera)
    lo = rng.uniform(-1.5, 1.0, (40, 3)) + (0, 0, 0.8)
    hi = lo + rng.uniform(0.01, 0.6, (40, 3))
    lo[-3:] = [(-0.2, -5.0, 0.5), (-0.2, -3.5, 0.5), (np.nan, 0, 0)]  # behind, across, NaN
    hi[-3:] = [(0.2, -4.0, 0.9), (0.2, -2.5, 0.9), (1, 1, 1)]
    rects = raster.cloth_rects(lo, hi, view_proj, (W, H))
    alone = [raster.cloth_rects(lo[i : i + 1], hi[i : i + 1], view_proj, (W, H))[0]
             for i in range(len(lo))]  # fmt: skip
    assert np.array_equal(rects, alone)
    assert rects[-3].tolist() == [0, 0, 0, 0]
    assert rects[-2].tolist() == rects[-1].tolist() == [0, 0, W, H]
    partly_out = 0
    for a, b, rect in zip(lo[:-3], hi[:-3], rects[:-3], strict=True):
        corners = np.array([[x, y, z] for x in (a[0], b[0]) for y in (a[1], b[1])
                            for z in (a[2], b[2])])  # fmt: skip
        clip = np.c_[corners, np.ones(8)] @ view_proj.T
        pixel = (clip[:, :2] / clip[:, 3:] + 1) / 2 * (W, H)
        x0, y0, x1, y1 = rect
        assert rect.min() >= 0 and x1 <= W and y1 <= H and not (rect % 2).any()
        span = np.clip([*pixel.min(axis=0) - 1, *pixel.max(axis=0) + 1], 0, [W, H, W, H])
        assert (rect[:2] <= span[:2]).all() and (rect[2:] >= span[2:]).all()  # holds them
        assert (rect[:2] >= np.floor(span[:2]) - 2).all()  # and no more than a quad around
        assert (rect[2:] <= np.ceil(span[2:]) + 2).all()
        partly_out += bool((span[:2] == 0).any() or span[2] == W or span[3] == H)
    assert 0 < partly_out < len(rects) - 3  # some boxes leave the frame, some do not


def test_cloth_pixels_follow_a_glow_that_changes_and_a_scene_loaded_anew(renderer, monkeypatch):
    """The per-pixel pass's member uniforms, kept with its program between frames, follow
    a cloth whose emission switches mid-clip and the materials of a scene loaded after
    another: each frame as rasterizing the triangles colours it."""
    plain = _cloths

    def glowing():
        top, bottom, sheet = plain()
        bottom.material = Material(
            "bottom", (0.2, 0.3, 0.8, 1.0), emissive_keys=((0.15, (3.0, 0.4, 0.0)),)
        )
        return [top, bottom, sheet]

    def recoloured():
        top, bottom, sheet = plain()
        top.material, bottom.material = bottom.material, top.material
        return [top, bottom, sheet]

    def frames(cloths, times=(0.0, 0.1, 0.2, 0.3)):
        monkeypatch.setattr(sys.modules[__name__], "_cloths", cloths)
        _load(renderer)
        poses, camera = np.stack([np.eye(4), np.eye(4)]), look_at((0.4, -3.0, 1.8), (0, 0, 0.7))
        return [renderer.render(poses, K, camera, W, H, 0.1, 50.0, time=t,
                                cloths=(_vertices(0), _vertices(0), _vertices(0)))
                for t in times]  # fmt: skip

    pixels = [frames(glowing) + frames(plain, (0.0,)) + frames(recoloured, (0.0,))]
    monkeypatch.setattr(raster, "MAX_CLOTH_PIXEL_TRIANGLES", 0)  # rasterize the triangles
    pixels.append(frames(glowing) + frames(plain, (0.0,)) + frames(recoloured, (0.0,)))
    for a, b in zip(*pixels, strict=True):
        assert np.array_equal(a.instance, b.instance)
        body = (a.instance == 3) | (a.instance == 4)
        assert body.sum() > 200
        rgb = np.abs(a.rgb.astype(int) - b.rgb.astype(int)).max(axis=2)[body]
        assert rgb.max() <= 8 and (rgb > 0).mean() < 0.05
    glow, lit = pixels[0][0].instance == 4, pixels[0][3]  # the glow shows from 0.15 s
    assert lit.rgb[glow][:, 0].mean() > pixels[0][0].rgb[glow][:, 0].mean() + 40
    top = pixels[0][5].instance == 3  # the top wears the bottom's blue after the reload
    assert pixels[0][5].rgb[top][:, 2].mean() > pixels[0][4].rgb[top][:, 2].mean() + 40
