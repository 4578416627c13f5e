"""Headless rendering through EGL: RGB, planar depth, instance ids, normals.

pyrender's EGL platform provides the context (Mesa's llvmpipe on a CPU machine, the
NVIDIA driver on a GPU). On it, each frame is drawn by raw OpenGL passes: shadow maps
(the sun's, and a cube map for the strongest point light) redrawn when parts move; a
depth pre-pass; ambient occlusion at half resolution from that depth; the sky; one
shading pass writing linear radiance, depth and id, normals and the surface's image
positions in the neighbouring frames to five targets at once; a final pass that tone
maps the radiance (``sim.render.tonemap``'s pipeline) and anti-aliases it. An
occlusion-query pass then counts, for every part, the pixels it would cover if nothing
occluded it (for visibility fractions). Once per scene, a light probe (a small cube map
of the scene's radiance seen from the middle of the view, four bounces) gives the indirect
light: diffuse as spherical harmonics, specular prefiltered by roughness; a grid of
smaller probes over the view at two heights, each lit by the first, scales both per
pixel by the local brightness (trilinear in the grid, ``render.probe_grid``). The probes'
cube faces are layers of one target, up to eight probes at a time, each part one
instanced draw into every face it reaches (the vertex shader picks the layer). Every
effect is a ``RenderSettings`` field; none of them changes a label target.
Cloths are drawn from their vertices of the frame (uploaded once a frame and drawn by
every pass, smooth normals, both sides lit), after the parts: cloth c has instance id
P + c + 1. A person's regions, and a URDF body's dense meshes, cast shadows from a
coarser level of their mesh (shadows touch the colour only). Three
shortcuts make a finely divided cloth (a person's region, a few pixels a triangle)
cheap: the depth pre-pass records which cloth triangle is nearest at each pixel, and
the shading pass shades the cloths' pixels over a rectangle from that triangle's
vertices, one draw for all whose materials compile to one program (``shaders.CLOTH_FS``:
llvmpipe shades a triangle in blocks of 4x4 pixels, so
rasterizing them again would shade a person's pixels many times over), giving the
label targets that rasterizing the triangles gives to float rounding; the pre-pass also
sets a stencil bit per cloth, from which the coverage pass counts the first eight
cloths instead of drawing them again (and which keeps the shading to their pixels); a
shadow cube face that nothing moving or deforming reaches is kept from the frame before
(these two byte for byte).
One Renderer lives for the whole life of a worker process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from time import perf_counter, process_time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
from OpenGL import GL  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_0 import glGetTexImage as _raw_get_tex_image  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_0 import glReadPixels as _raw_read_pixels  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_1 import glBindTexture as _bind_texture  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_1 import glDrawArrays as _draw_arrays  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_1 import glDrawElements as _draw_elements  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_5 import glBeginQuery as _begin_query  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_5 import glBufferSubData as _buffer_sub_data  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_5 import glEndQuery as _end_query  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_1_5 import glGetQueryObjectuiv as _get_query  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniform1f as _uniform1f  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniform1i as _uniform1i  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniform1iv as _uniform_ints  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniform3f as _uniform3f  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniform4f as _uniform4f  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUniformMatrix4fv as _uniform_matrix  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_2_0 import glUseProgram as _use_program  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_3_0 import glBindVertexArray as _bind_vertex_array  # noqa: E402
from OpenGL.raw.GL.VERSION.GL_3_1 import (  # noqa: E402
    glDrawElementsInstanced as _draw_elements_instanced,
)
from scipy import sparse  # noqa: E402

from simfactory.sim.annotate.flow import NEAR  # noqa: E402
from simfactory.sim.model.camera import gl_projection, gl_view  # noqa: E402
from simfactory.sim.model.motion import invert  # noqa: E402
from simfactory.sim.model.spec import Cloth, Fog, Light, Material, Sky, Visual  # noqa: E402
from simfactory.sim.render import ibl, shaders  # noqa: E402
from simfactory.sim.render.settings import RenderSettings  # noqa: E402
from simfactory.sim.render.sky import sky_radiance  # noqa: E402
from simfactory.sim.render.tonemap import exposure_scale  # noqa: E402
from simfactory.sim.simulate.cloth import vertex_normals  # noqa: E402

MAX_POINT_LIGHTS = 8
SHADOW_SIZE = 1024
POINT_SHADOW_SIZE = 256
POINT_SHADOW_RANGE = (0.05, 50.0)  # near and far of the point light's cube map
PROBE_SIZE = 32  # texels per face of the light probe
PROBE_BOUNCES = 4  # times the probe is drawn, each lit by the last one's irradiance
GRID_PROBE_SIZE = 16  # texels per face of each probe of the irradiance grid
GRID_BACK_FACES = 0.1  # a grid probe seeing more back faces than this is inside something
GRID_MAX_SPACING = 4.0  # m: over wider cells (outdoors) the light probe alone lights
GRID_MIN_SIZE = 0.15  # grid probes leave out parts smaller than this (radius / distance)
TEXTURE_LOD_BIAS = -0.5  # sharper mip choice: closer to the pixel's box footprint
SKY_SIZE = 64  # texels per face of the sky's cube map
NUM_TARGETS = 5
STENCIL_CLOTHS = 8  # cloths counted by a stencil bit each in the coverage pass
CULL_CLOSED_SHADOWS = True  # shadow maps leave out the back faces of closed bodies
# cloth triangles numbered exactly in float32 (the pre-pass's ids): with more, the cloths
# are shaded by rasterizing their triangles rather than per pixel (see CLOTH_FS)
MAX_CLOTH_PIXEL_TRIANGLES = 1 << 24
# cloths shaded per pixel: of the first ones, whose stencil bits keep the shading to
# their pixels (a rectangle without the bit would be shaded whole), those whose rectangle
# in the frame spans at least PIXEL_CLOTH_AREA pixels (for a few pixels the pass's own
# set-up costs more than it saves); the others' triangles are rasterized
PIXEL_CLOTHS = 8
PIXEL_CLOTH_AREA = 2048
assert PIXEL_CLOTHS <= shaders.MAX_MEMBERS  # shaded by one draw per kind of material
MAX_ANISOTROPY = 0x84FE  # GL_TEXTURE_MAX_ANISOTROPY (GL 4.6, ARB/EXT_texture_filter_anisotropic)
# procedural detail of a material, by a word in its name (metallic materials: brushed)
DETAIL_KINDS = {"wood": 1, "cutting_board": 1, "knife_handle": 1, "fabric": 2, "asphalt": 3}


@dataclass
class Frame:
    """One camera's output for one frame."""

    rgb: np.ndarray  # (H, W, 3) uint8, sRGB
    depth: np.ndarray  # (H, W) float32 planar z in metres, 0 = no surface
    instance: np.ndarray  # (H, W) uint16, 0 = background, part p: p + 1, cloth c: P + c + 1
    normals: np.ndarray  # (H, W, 3) float16, camera frame (OpenCV axes), 0 = no surface
    unoccluded_pixels: np.ndarray  # (P + C + 1,) pixels each id covers with nothing in front
    uv_next_prev: np.ndarray  # (H, W, 4) float32 image (u, v) of each pixel's surface
    # point in the next frame, then in the previous frame
    z_next_prev: np.ndarray  # (H, W, 2) float32 its depth in the next / previous frame


@dataclass
class _GpuMesh:
    vao: int
    buffers: tuple[int, int]
    count: int
    material: Material
    texture: int
    detail: int = 0
    shadow: _GpuMesh | None = None  # the positions shadow maps draw (Visual.shadow_mesh)


@dataclass
class _GpuCloth:
    """A cloth's index buffer and a vertex array over its V rows of the scene's cloth
    vertex buffer (``_cloth_buffers``): six blocks of float32 (x, y, z), one per vertex
    attribute: position, normal, rest position, rest normal, positions in the next and
    previous frames; the rest blocks are written once, the others every frame."""

    mesh: _GpuMesh
    faces: np.ndarray  # (T, 3)
    rest: np.ndarray  # (V, 6) rest position and normal, in the cloth frame
    corners: object = None  # (V, T) sparse: which faces meet at each vertex
    shadow: tuple = (0, 0)  # (byte offset, count) of the indices shadow maps draw
    columns: tuple = ()  # the faces' first, second and third vertices, three (T,) arrays
    used: np.ndarray | None = None  # the cloth's vertices the buffer holds (None: all)
    closed: bool = False  # part of a closed surface facing out (``closed_regions``)
    sphere: tuple = (np.zeros(3), np.inf)  # bounding sphere of the frame's vertices


def _egl_platform(device: int | None):
    if not hasattr(np, "infty"):  # pyrender 0.1.45 still uses the alias numpy 2 removed
        np.infty = np.inf
    from pyrender.platforms.egl import EGLPlatform, get_device_by_index

    class _SharedDisplayPlatform(EGLPlatform):
        def delete_context(self):
            """Destroy this renderer's context only: pyrender would also terminate the
            EGL display, which every renderer of the process shares."""
            from OpenGL.EGL import eglDestroyContext

            if self._egl_display is not None and self._egl_context is not None:
                eglDestroyContext(self._egl_display, self._egl_context)
                self._egl_context = None

    if device is None and os.environ.get("EGL_DEVICE_ID"):
        device = int(os.environ["EGL_DEVICE_ID"])
    chosen = get_device_by_index(device) if device is not None else None
    platform = _SharedDisplayPlatform(1, 1, device=chosen)
    platform.init_context()
    platform.make_current()
    return platform


EGL_CUDA_DEVICE_NV = 0x323A  # EGL_NV_device_cuda: the CUDA ordinal of an EGL device


def egl_device_for_cuda(cuda_index: int) -> int | None:
    """The EGL device index of the GPU with CUDA ordinal ``cuda_index`` (EGL and CUDA
    number GPUs differently), by the EGL_NV_device_cuda extension; None where EGL
    cannot tell (no NVIDIA driver), and the caller keeps the default device."""
    import ctypes

    if not hasattr(np, "infty"):
        np.infty = np.inf
    try:
        from pyrender.platforms import egl

        egl._ensure_egl_loaded()
        query = egl._get_egl_func(
            "eglQueryDeviceAttribEXT",
            egl.egl.EGLBoolean,
            egl._EGLDeviceEXT,
            egl.egl.EGLint,
            ctypes.POINTER(ctypes.c_long),
        )
        if query is None:
            return None
        for i, device in enumerate(egl.query_devices()):
            value = ctypes.c_long(-1)
            if query(device._display, EGL_CUDA_DEVICE_NV, ctypes.byref(value)):
                if value.value == cuda_index:
                    return i
    except Exception:  # no EGL device extensions here: keep the default device
        return None
    return None


def _compile(vs: str, fs: str) -> int:
    def stage(kind, src):
        s = GL.glCreateShader(kind)
        GL.glShaderSource(s, src)
        GL.glCompileShader(s)
        if not GL.glGetShaderiv(s, GL.GL_COMPILE_STATUS):
            raise RuntimeError(GL.glGetShaderInfoLog(s).decode())
        return s

    prog = GL.glCreateProgram()
    for kind, src in ((GL.GL_VERTEX_SHADER, vs), (GL.GL_FRAGMENT_SHADER, fs)):
        GL.glAttachShader(prog, stage(kind, src))
    GL.glLinkProgram(prog)
    if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
        raise RuntimeError(GL.glGetProgramInfoLog(prog).decode())
    return prog


def _texture_parameters(
    target: int, min_filter: int, wrap: int = GL.GL_CLAMP_TO_EDGE, compare: bool = False
) -> None:
    """Set the bound ``target``'s filtering (linear when magnified), its wrap mode on
    every axis it has, and for a depth map the comparison that shadow lookups use."""
    axes = [GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T]
    if target in (GL.GL_TEXTURE_CUBE_MAP, GL.GL_TEXTURE_3D):
        axes.append(GL.GL_TEXTURE_WRAP_R)
    pairs = [(GL.GL_TEXTURE_MIN_FILTER, min_filter), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)]
    pairs += [(axis, wrap) for axis in axes]
    if compare:
        pairs += [
            (GL.GL_TEXTURE_COMPARE_MODE, GL.GL_COMPARE_REF_TO_TEXTURE),
            (GL.GL_TEXTURE_COMPARE_FUNC, GL.GL_LEQUAL),
        ]
    for key, value in pairs:
        GL.glTexParameteri(target, key, value)


def mesh_arrays(visual: Visual) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved (position, normal) float32 vertices and uint32 indices of a visual.

    Small meshes (boxes, slabs) are shaded flat; larger ones smoothly, with vertices
    split at edges sharper than 30 degrees so their hard edges stay hard.
    """
    import trimesh

    mesh = visual.mesh
    if len(mesh.faces) <= 64:
        positions = mesh.vertices[mesh.faces].reshape(-1, 3)
        normals = np.repeat(mesh.face_normals, 3, axis=0)
        indices = np.arange(len(positions), dtype=np.uint32)
    else:
        # Geometry only, with coincident vertices merged: meshes loaded from files keep
        # their per-corner UVs and normals, and smoothing unmerged corners is both wrong
        # and very slow (a 20k-face robot link took minutes and gigabytes).
        mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        mesh.merge_vertices()
        mesh = trimesh.graph.smooth_shade(mesh, angle=np.radians(30))
        positions, normals, indices = mesh.vertices, mesh.vertex_normals, mesh.faces.reshape(-1)
    vertices = np.hstack([positions, normals]).astype(np.float32)
    return np.ascontiguousarray(vertices), indices.astype(np.uint32)


class Renderer:
    """Owns the EGL context, the GL programs and the uploaded scene."""

    def __init__(self, device: int | None = None):
        self._platform = _egl_platform(device)
        self.device_name = GL.glGetString(GL.GL_RENDERER).decode()
        # Flow between frames from the GPU's flow pass (``flows``) rather than numpy:
        # on a GPU it costs next to nothing; on a software rasterizer (llvmpipe) the
        # pass costs more CPU than numpy's (10 against 8 ms a frame at 640x360). It
        # keeps a second set of targets (the previous frame's).
        software = any(
            name in self.device_name.lower() for name in ("llvmpipe", "softpipe", "swrast")
        )
        self.gpu_flow = not software
        # FXAA's final pass in two draws (see _final_pass; False: one, the same bytes):
        # on a software rasterizer, which pays for both sides of a branch at every pixel
        self.split_final = software
        self._programs: dict[tuple, int] = {}  # specialised programs, by source and constants
        self._shadow_prog = _compile(shaders.SHADOW_VS, shaders.SHADOW_FS)
        self._cloth_id_prog = _compile(shaders.SHADOW_VS, shaders.CLOTH_ID_FS)
        self._ao_prog = _compile(shaders.QUAD_VS, shaders.AO_FS)
        self._blur_prog = _compile(shaders.QUAD_VS, shaders.AO_BLUR_FS)
        self._log_sum_prog = _compile(shaders.QUAD_VS, shaders.LOG_SUM_FS)
        self.settings = RenderSettings()
        self._uniforms: dict[tuple[int, str], int] = {}
        self._empty_vao = GL.glGenVertexArrays(1)
        self._fbo_size = (0, 0)
        self._fbo = None  # (framebuffer, textures) this frame is drawn into
        self._fbo_prev = None  # the same of the previous frame
        self._flow_fbo = None
        self._frames_drawn = 0
        self._shadow_tex = self._make_shadow_map()
        self._point_texs = [self._make_point_shadow_map() for _ in range(2)]
        # the depth of the parts that stood still, per shadow map (see _draw_depth)
        self._shadow_layer = self._make_shadow_map()
        self._point_layers = [self._make_point_shadow_map() for _ in range(2)]
        self._layer_fbos = [int(f) for f in np.atleast_1d(GL.glGenFramebuffers(2))]
        for fbo in self._layer_fbos:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glDrawBuffer(GL.GL_NONE)
            GL.glReadBuffer(GL.GL_NONE)
        self._depth_state: dict[tuple, tuple] = {}  # per depth map: its last drawing
        # the last coverage pass: (view-projection, size, part poses, counted (P,), counts)
        self._coverage: tuple | None = None
        self._sky_tex = GL.glGenTextures(1)
        self._env_tex = GL.glGenTextures(1)
        self._grid_tex = GL.glGenTextures(1)
        self._grid = None  # (origin, 1 / spacing, counts, positions (N, 3)) of the probe grid
        self._grid_ready = False
        self._probe_fbo = self._make_probe_target()
        self._probe_ready = False
        # probes' cube faces as layers of one target, a part in one instanced draw for all
        # the faces it reaches (the vertex shader picks the layer:
        # ARB_shader_viewport_layer_array, in Mesa's llvmpipe and NVIDIA's driver);
        # without it, one face at a time (the same pixels)
        extensions = {
            GL.glGetStringi(GL.GL_EXTENSIONS, i).decode()
            for i in range(int(GL.glGetIntegerv(GL.GL_NUM_EXTENSIONS)))
        }
        self.layered_probes = "GL_ARB_shader_viewport_layer_array" in extensions
        # cloths shaded per pixel need the pre-pass's triangle numbers copied (GL 4.3's
        # glCopyImageSubData); without it their triangles are rasterized (the same labels)
        self.cloth_pixels = "GL_ARB_copy_image" in extensions
        self._probe_targets: dict[tuple, tuple[int, int]] = {}  # by (face size, layers)
        self._probe_programs: dict[tuple, int] = {}  # by (detail kind, texture), per build
        self._probe_set_up: set[int] = set()  # programs given the build's shared uniforms
        self._probe_locs: dict[int, list[int]] = {}  # per probe program: its draws' uniforms
        self._sh = np.zeros((9, 3))
        self._point_shadow_state = [None, None]
        self._post = None  # (fbo, its colour and stencil rbos, ao fbos and textures) of the size
        self.last_exposure_scale = 1.0
        self._parts: list[list[_GpuMesh]] = []
        self._spheres: list[tuple[np.ndarray, float]] = []  # per part, in its own frame
        self._cloths: list[_GpuCloth] = []
        self._cloth_layout = _cloth_layout([], [])  # see _update_cloths
        # every cloth's drawn faces (for shading their pixels, CLOTH_FS) and vertex blocks
        # (drawn by every pass): (faces buffer, vertex buffer, their buffer textures), None
        # without cloths
        self._cloth_buffers: tuple[int, int, int, int] | None = None
        self._cloth_first = np.ones(1, int)  # each cloth's first triangle number, then the end
        self._cloth_ids = 0  # the pre-pass's cloth triangle numbers, kept for the shading
        # every cloth's bounds this frame, (C, 3) lowest and highest (``_update_cloths``)
        self._cloth_box = (np.zeros((0, 3)), np.zeros((0, 3)))
        self._rects, self._rects_key = np.zeros((0, 4), int), None  # see _cloth_rects_in
        self._by_pixel = np.zeros(0, bool)  # per cloth, shaded per pixel this frame
        self._pixel_members: dict[int, tuple] = {}  # per CLOTH_FS program: members set
        self._textures: dict[int, int] = {}
        self._white = self._upload_texture(np.full((1, 1, 3), 255, np.uint8))
        self._lights: list[Light] = []
        self._sky = Sky()
        self._fog = Fog()
        self._light_parts: list[int] = []
        self._light_vp = np.eye(4)
        self._shadow_poses = None
        self._drawn = np.ones(0, bool)  # per part: drawn in the frame being rendered
        self._in_view = np.ones(0, bool)  # per part: drawn and reaching the camera's view
        # seconds per pass, summed over frames, when set to a dict (GL finished around
        # each pass, which costs a little): for profiling only; CPU seconds of the
        # process (every thread, llvmpipe's included) in pass_cpu_seconds
        self.pass_seconds: dict[str, float] | None = None
        self.pass_cpu_seconds: dict[str, float] = {}

    def _timed(self, name: str):
        """A context timing one pass into ``pass_seconds`` (a no-op unless profiling)."""
        if self.pass_seconds is None:
            return contextlib.nullcontext()
        return _PassTimer(self.pass_seconds, self.pass_cpu_seconds, name)

    # ----------------------------------------------------------------- scene
    def load_scene(
        self,
        part_visuals: list[list[Visual]],
        lights: list[Light],
        sky: Sky,
        scene_bounds: np.ndarray,
        fog: Fog | None = None,
        light_parts: list[int] | None = None,
        cloths: list[Cloth] | None = None,
        settings: RenderSettings | None = None,
        probe: tuple | None = None,
    ) -> None:
        """Upload the meshes of every part and cloth (replacing the previous scene).

        ``scene_bounds`` (2, 3) bounds the region the sun's shadow map covers.
        ``light_parts`` gives, per light, the index of the part that carries it (-1: the
        light is fixed in the world). ``settings``: the effects (None: every default).
        ``probe`` = (position (3,), part poses (P, 4, 4), present (P,) or None) places the
        light probe and the parts it sees (None: above the middle of ``scene_bounds``,
        every part at its identity pose); cloths are not in it. The probe is drawn at the
        first render, from these alone, so every frame of a scene gets the same light.
        """
        self._platform.make_current()  # another renderer's context may be current
        self._free_scene()
        self.settings = settings or RenderSettings()
        for visuals in part_visuals:
            groups: dict[int, list[Visual]] = {}  # one draw per material of a part
            for v in visuals:
                groups.setdefault(id(v.material), []).append(v)
            self._parts.append([self._upload_mesh(group) for group in groups.values()])
            self._spheres.append(_bounding_sphere([v.mesh.vertices for v in visuals]))
        self._cloths = [self._upload_cloth(cloth) for cloth in cloths or []]
        for gpu, closed in zip(self._cloths, closed_regions(cloths or []), strict=True):
            gpu.closed = bool(closed)
        sizes = [len(cloth.mesh.vertices) for cloth in cloths or []]
        self._cloth_layout = _cloth_layout(self._cloths, sizes)
        self._cloth_first = np.cumsum([1] + [len(cloth.faces) for cloth in self._cloths])
        self._cloth_buffers = _cloth_buffers(self._cloths)
        self._lights = list(lights)
        self._light_parts = list(light_parts) if light_parts else [-1] * len(lights)
        self._sky = sky
        self._fog = fog or Fog()
        suns = [light for light in lights if light.kind == "directional"]
        if suns:
            self._light_vp = _sun_matrix(np.asarray(suns[0].direction, float), scene_bounds)
        self._shadow_poses = None
        self._point_shadow_state = [None, None]
        self._depth_state = {}
        self._coverage = None
        self._upload_sky(suns[0] if suns else None)
        self._probe_ready = False
        self._sh = np.zeros((9, 3))
        if probe is None:
            lo, hi = np.asarray(scene_bounds, float)
            centre = (lo + hi) / 2
            centre[2] = lo[2] + min(1.5, 0.5 * (hi[2] - lo[2]))
            probe = (centre, np.stack([np.eye(4)] * len(self._parts)), None)
        position, poses, present = probe
        present = np.ones(len(self._parts), bool) if present is None else np.asarray(present)
        self._probe_spec = (np.asarray(position, float), np.asarray(poses, float), present)
        self._grid = probe_grid(scene_bounds, self.settings.probe_grid)
        self._grid_ready = False

    def _free_scene(self) -> None:
        meshes = [m for meshes in self._parts for m in meshes]
        meshes += [m.shadow for m in meshes if m.shadow is not None]
        for m in meshes + [c.mesh for c in self._cloths]:
            GL.glDeleteVertexArrays(1, [m.vao])
            GL.glDeleteBuffers(len(m.buffers), list(m.buffers))
        if self._cloth_buffers is not None:
            GL.glDeleteBuffers(2, list(self._cloth_buffers[:2]))
            GL.glDeleteTextures(list(self._cloth_buffers[2:]))
            self._cloth_buffers = None
        self._parts = []
        self._spheres = []
        self._cloths = []
        self._pixel_members = {}
        if self._textures:
            GL.glDeleteTextures(list(self._textures.values()))
        self._textures = {}

    def _upload_mesh(self, visuals: list[Visual]) -> _GpuMesh:
        """Upload visuals that share one material as a single vertex/index buffer."""
        arrays = [mesh_arrays(v) for v in visuals]
        offsets = np.cumsum([0] + [len(vertices) for vertices, _ in arrays[:-1]])
        vertices = np.concatenate([vertices for vertices, _ in arrays])
        indices = np.concatenate(
            [idx + np.uint32(o) for (_, idx), o in zip(arrays, offsets, strict=True)]
        )
        vao, vbo, ebo = _static_buffers(vertices, indices)
        # rest position, rest normal, next and previous positions: the vertex's own
        for loc, offset in enumerate((0, 12, 0, 12, 0, 0)):
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(loc, 3, GL.GL_FLOAT, False, 24, ctypes.c_void_p(offset))
        GL.glBindVertexArray(0)
        material = visuals[0].material
        mesh = _GpuMesh(vao, (vbo, ebo), len(indices), material, self._texture_of(material))
        mesh.detail = detail_kind(material)
        if any(v.shadow_mesh is not None for v in visuals):
            mesh.shadow = _upload_positions(
                [v.mesh if v.shadow_mesh is None else v.shadow_mesh for v in visuals], mesh
            )
        return mesh

    def _texture_of(self, material: Material) -> int:
        tex = material.texture
        if tex is None:
            return self._white
        key = id(tex)
        if key not in self._textures:
            self._textures[key] = self._upload_texture(tex)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._textures[key])  # surfaces at a slant stay sharp
        GL.glTexParameterf(GL.GL_TEXTURE_2D, MAX_ANISOTROPY, float(self.settings.anisotropy))
        GL.glTexParameterf(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_LOD_BIAS, TEXTURE_LOD_BIAS)
        return self._textures[key]

    def _upload_cloth(self, cloth: Cloth) -> _GpuCloth:
        """A cloth's index buffer and vertex array (whose attributes ``_cloth_buffers``
        points at the cloth's rows of the scene's cloth vertex buffer, written by
        ``_update_cloths``). A person's region casts shadows from the coarsest of its
        levels of detail (its indices follow the drawn ones in the index buffer)."""
        faces = np.asarray(cloth.mesh.faces, dtype=np.uint32)
        shadow = shadow_faces(cloth).astype(np.uint32)
        own_shadow = len(shadow) < len(faces)
        # a person drawn at a coarser level: the buffer holds only the vertices its faces
        # use (``_GpuCloth.used``, taken from each frame's arrays)
        rest = np.asarray(cloth.mesh.vertices, dtype=np.float64)
        used = np.unique(np.r_[faces.reshape(-1), shadow.reshape(-1)])
        if len(used) < len(rest):
            number = np.zeros(len(rest), np.uint32)
            number[used] = np.arange(len(used), dtype=np.uint32)
            faces, shadow, rest = number[faces], number[shadow], rest[used]
        else:
            used = None
        # the drawn triangles, then the shadow maps' (if their own)
        indices = np.concatenate([faces, shadow]) if own_shadow else faces
        rest = np.hstack([rest, vertex_normals(rest, faces)])
        vao = GL.glGenVertexArrays(1)
        ebo = int(GL.glGenBuffers(1))
        GL.glBindVertexArray(vao)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ebo)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, indices.nbytes, indices, GL.GL_STATIC_DRAW)
        GL.glBindVertexArray(0)
        mesh = _GpuMesh(vao, (ebo,), faces.size, cloth.material, self._texture_of(cloth.material))
        corners = sparse.csr_matrix(
            (np.ones(faces.size), (faces.reshape(-1), np.repeat(np.arange(len(faces)), 3))),
            shape=(len(rest), len(faces)),
        )
        offset = faces.nbytes if own_shadow else 0
        columns = tuple(np.ascontiguousarray(faces[:, k], dtype=np.intp) for k in range(3))
        return _GpuCloth(mesh, faces, rest, corners, (offset, shadow.size), columns, used)

    def _update_cloths(self, cloths: tuple | None) -> None:
        """Write every cloth's vertices now, next and before into the cloth vertex buffer
        (one upload a frame, drawn by every pass), with smooth normals: the sum of the
        (area-weighted) normals of the faces around each vertex, as ``vertex_normals``."""
        if not self._cloths:
            return
        if cloths is None:
            raise ValueError("the scene has cloths: render() needs their vertices")
        # every cloth at once: their vertices stacked, the rows the buffers hold taken
        take, starts, columns, corners = self._cloth_layout
        now, nxt, prv = (np.concatenate([np.asarray(v) for v in c]) for c in cloths)
        if take is not None:  # (``take`` along the rows: quicker than a fancy index)
            now, nxt, prv = (np.take(a, take, axis=0) for a in (now, nxt, prv))
        # the edges and their cross product with coordinates apart (three contiguous
        # (T,) rows), float64: the arithmetic of the (T, 3) form at a fifth of its cost
        x, y, z = np.ascontiguousarray(now.T, dtype=np.float64)
        f0, f1, f2 = columns
        x0, y0, z0 = x[f0], y[f0], z[f0]
        ax, ay, az = x[f1] - x0, y[f1] - y0, z[f1] - z0
        bx, by, bz = x[f2] - x0, y[f2] - y0, z[f2] - z0
        cross = np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=1)
        normals = corners @ cross
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), [0, 0, 1.0])
        firsts = starts[:-1]
        lo = np.stack([np.minimum.reduceat(a, firsts) for a in (x, y, z)], axis=1)
        hi = np.stack([np.maximum.reduceat(a, firsts) for a in (x, y, z)], axis=1)
        blocks = [np.ascontiguousarray(a, dtype=np.float32) for a in (now, normals, nxt, prv)]
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._cloth_buffers[1])
        size = int(starts[-1]) * 12  # bytes of one block of every cloth's
        for loc, values in zip((0, 1, 4, 5), blocks, strict=True):
            _buffer_sub_data(
                GL.GL_ARRAY_BUFFER, loc * size, size, values.ctypes.data_as(ctypes.c_void_p)
            )
        for c, gpu in enumerate(self._cloths):
            gpu.sphere = ((lo[c] + hi[c]) / 2, float(np.linalg.norm(hi[c] - lo[c])) / 2)
        self._cloth_box, self._rects_key = (lo, hi), None  # the rectangles follow the boxes

    def _upload_texture(self, image: np.ndarray) -> int:
        image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        tex = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        h, w = image.shape[:2]
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, GL.GL_SRGB8, w, h, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, image
        )
        GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        _texture_parameters(GL.GL_TEXTURE_2D, GL.GL_LINEAR_MIPMAP_LINEAR, GL.GL_REPEAT)
        return tex

    # ---------------------------------------------------------------- targets
    def _make_shadow_map(self) -> int:
        """The sun's depth map, compared on lookup."""
        tex = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D,
            0,
            GL.GL_DEPTH_COMPONENT24,
            SHADOW_SIZE,
            SHADOW_SIZE,
            0,
            GL.GL_DEPTH_COMPONENT,
            GL.GL_FLOAT,
            None,
        )
        _texture_parameters(GL.GL_TEXTURE_2D, GL.GL_LINEAR, compare=True)
        return tex

    def _make_point_shadow_map(self) -> int:
        """A depth cube map, compared on lookup."""
        tex = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, tex)
        for face in range(6):
            GL.glTexImage2D(
                GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + face, 0, GL.GL_DEPTH_COMPONENT24,
                POINT_SHADOW_SIZE, POINT_SHADOW_SIZE, 0, GL.GL_DEPTH_COMPONENT, GL.GL_FLOAT, None,
            )  # fmt: skip
        _texture_parameters(GL.GL_TEXTURE_CUBE_MAP, GL.GL_LINEAR, compare=True)
        return tex

    def _make_probe_target(self) -> int:
        """A small HDR framebuffer with depth, to draw the light probe's faces."""
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        _colour_and_depth(GL.GL_RGBA32F, PROBE_SIZE, PROBE_SIZE)
        return fbo

    def _upload_cube(self, tex: int, levels: list[np.ndarray]) -> None:
        """Upload a cube map of linear RGB, one (6, n, n, 3) array per mip level."""
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        for level, faces in enumerate(levels):
            n = faces.shape[1]
            for face in range(6):
                data = np.ascontiguousarray(faces[face], dtype=np.float32)
                GL.glTexImage2D(
                    GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + face, level, GL.GL_RGB16F, n, n, 0,
                    GL.GL_RGB, GL.GL_FLOAT, data,
                )  # fmt: skip
        GL.glTexParameteri(GL.GL_TEXTURE_CUBE_MAP, GL.GL_TEXTURE_MAX_LEVEL, len(levels) - 1)
        min_filter = GL.GL_LINEAR_MIPMAP_LINEAR if len(levels) > 1 else GL.GL_LINEAR
        _texture_parameters(GL.GL_TEXTURE_CUBE_MAP, min_filter)
        GL.glEnable(GL.GL_TEXTURE_CUBE_MAP_SEAMLESS)

    def _upload_sky(self, sun: Light | None) -> None:
        """The sky's radiance as a cube map (``sky.sky_radiance``), drawn behind the
        scene and seen by the light probe."""
        d, _ = ibl.face_directions(SKY_SIZE)
        to_sun = None if sun is None else -np.asarray(sun.direction, float)
        s = self.settings
        model = s.sky_model if s.ibl else "gradient"
        faces = sky_radiance(d.reshape(-1, 3), self._sky, to_sun, s.turbidity, model)
        self._upload_cube(self._sky_tex, [faces.reshape(6, SKY_SIZE, SKY_SIZE, 3)])

    def _ensure_target(self, width: int, height: int) -> None:
        if self._fbo_size == (width, height):
            return
        if self._fbo is not None:
            for fbo, texs in filter(None, (self._fbo, self._fbo_prev, self._flow_fbo)):
                GL.glDeleteFramebuffers(1, [fbo])
                GL.glDeleteTextures(list(texs))
            fbo, rbos, ao_fbos, ao_texs = self._post
            GL.glDeleteFramebuffers(2 + len(ao_fbos), [fbo, self._log_sum[0], *ao_fbos])
            GL.glDeleteRenderbuffers(len(rbos), list(rbos))
            GL.glDeleteTextures([*ao_texs, self._log_sum[1], self._fxaa_edges, self._cloth_ids])
        self._fbo = self._make_targets(width, height)
        self._cloth_ids = int(GL.glGenTextures(1))
        self._texture_2d(
            self._cloth_ids, GL.GL_RG32F, GL.GL_RG, GL.GL_FLOAT, width, height, GL.GL_NEAREST
        )
        self._fbo_prev = self._flow_fbo = None  # made when the flow pass is used
        # the final sRGB colour, FXAA's edges and a depth that splits the final pass (see
        # there)
        post = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, post)
        rbos = _colour_and_depth(GL.GL_RGBA8, width, height)
        self._fxaa_edges = int(GL.glGenTextures(1))
        self._texture_2d(
            self._fxaa_edges, GL.GL_RGBA32F, GL.GL_RGBA, GL.GL_FLOAT, width, height, GL.GL_NEAREST
        )  # fmt: skip
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT1, GL.GL_TEXTURE_2D, self._fxaa_edges, 0
        )
        _check_framebuffer()
        # ambient occlusion at half resolution: raw, then blurred
        half = (max(width // 2, 1), max(height // 2, 1))
        ao_texs = [int(t) for t in np.atleast_1d(GL.glGenTextures(2))]
        ao_fbos = [int(f) for f in np.atleast_1d(GL.glGenFramebuffers(2))]
        for tex, ao_fbo in zip(ao_texs, ao_fbos, strict=True):
            self._texture_2d(tex, GL.GL_R16F, GL.GL_RED, GL.GL_FLOAT, *half, GL.GL_LINEAR)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, ao_fbo)
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0
            )
            _check_framebuffer()
        self._post = (post, rbos, tuple(ao_fbos), tuple(ao_texs))
        # block sums of log luminance, for auto exposure
        blocks = ((width + 7) // 8, (height + 7) // 8)
        tex = int(GL.glGenTextures(1))
        self._texture_2d(tex, GL.GL_R32F, GL.GL_RED, GL.GL_FLOAT, *blocks, GL.GL_NEAREST)
        log_fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, log_fbo)
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0
        )
        _check_framebuffer()
        self._log_sum = (log_fbo, tex, blocks)
        self._fbo_size = (width, height)

    def _make_targets(self, width: int, height: int) -> tuple[int, tuple]:
        """One set of the shading pass's targets (see ``shaders.OUTPUTS``) and its
        depth-stencil buffer."""
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        formats = [
            (GL.GL_RGBA16F, GL.GL_RGBA, GL.GL_FLOAT),  # linear radiance, log luminance
            (GL.GL_RG32F, GL.GL_RG, GL.GL_FLOAT),  # planar depth, instance id
            (GL.GL_RGBA16F, GL.GL_RGBA, GL.GL_FLOAT),  # normal
            (GL.GL_RGBA32F, GL.GL_RGBA, GL.GL_FLOAT),  # (u, v) next frame, (u, v) previous
            (GL.GL_RG32F, GL.GL_RG, GL.GL_FLOAT),  # depth in the next / previous frame
            (GL.GL_DEPTH24_STENCIL8, GL.GL_DEPTH_STENCIL, GL.GL_UNSIGNED_INT_24_8),
        ]
        attachments = [GL.GL_COLOR_ATTACHMENT0 + i for i in range(NUM_TARGETS)]
        attachments.append(GL.GL_DEPTH_STENCIL_ATTACHMENT)
        texs = [int(t) for t in np.atleast_1d(GL.glGenTextures(len(formats)))]
        for tex, (fmt, layout, gltype), att in zip(texs, formats, attachments, strict=True):
            self._texture_2d(tex, fmt, layout, gltype, width, height, GL.GL_NEAREST)
            GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, att, GL.GL_TEXTURE_2D, tex, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, texs[0])  # bilinear taps for FXAA, bloom mips
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        _check_framebuffer()
        return fbo, tuple(texs)

    def _make_flow_targets(self, width: int, height: int) -> tuple[int, tuple]:
        """The flow pass's targets: forward flow, its validity, backward flow, its
        validity (see ``flows``)."""
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        formats = [
            (GL.GL_RG32F, GL.GL_RG, GL.GL_FLOAT),
            (GL.GL_R8UI, GL.GL_RED_INTEGER, GL.GL_UNSIGNED_BYTE),
        ] * 2
        texs = [int(t) for t in np.atleast_1d(GL.glGenTextures(len(formats)))]
        for i, (tex, (fmt, layout, gltype)) in enumerate(zip(texs, formats, strict=True)):
            self._texture_2d(tex, fmt, layout, gltype, width, height, GL.GL_NEAREST)
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0 + i, GL.GL_TEXTURE_2D, tex, 0
            )
        _check_framebuffer()
        return fbo, tuple(texs)

    @staticmethod
    def _texture_2d(tex, fmt, layout, gltype, width, height, filtering) -> None:
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, fmt, width, height, 0, layout, gltype, None)
        for key, value in (
            (GL.GL_TEXTURE_MIN_FILTER, filtering),
            (GL.GL_TEXTURE_MAG_FILTER, filtering),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, key, value)

    # ---------------------------------------------------------------- drawing
    def _loc(self, prog: int, name: str) -> int:
        key = (prog, name)
        if key not in self._uniforms:
            self._uniforms[key] = GL.glGetUniformLocation(prog, name)
        return self._uniforms[key]

    def _program(self, vs: str, fs: str, constants: dict[str, int | float]) -> int:
        """The program of ``vs`` and ``fs`` with ``constants`` compiled in
        (``shaders.specialise``), compiled on first use and kept."""
        key = (vs, fs, tuple(sorted(constants.items())))
        prog = self._programs.get(key)
        if prog is None:
            prog = self._programs[key] = _compile(vs, shaders.specialise(fs, constants))
        return prog

    def _mat(self, prog: int, name: str, m: np.ndarray) -> None:
        GL.glUniformMatrix4fv(self._loc(prog, name), 1, True, np.asarray(m, np.float32))

    def render(
        self,
        part_poses: np.ndarray,
        K: np.ndarray,
        T_world_camera: np.ndarray,
        width: int,
        height: int,
        near: float = 0.05,
        far: float = 100.0,
        exposure: float = 1.0,
        neighbours: tuple | None = None,
        time: float = 0.0,
        present: np.ndarray | None = None,
        cloths: tuple | None = None,
    ) -> Frame:
        """Render the loaded scene with parts at ``part_poses`` (P, 4, 4) at ``time`` (s;
        selects time-varying emission); parts whose ``present`` (P,) is False are not
        drawn (None: every part is).

        ``neighbours`` = (poses_next, T_world_camera_next, poses_prev, T_world_camera_prev)
        gives the frames on either side; each pixel then also records where its surface
        point is in them (``Frame.uv_next_prev``, ``z_next_prev``), from which flow follows.
        ``cloths`` = (now, next, prev), each a list of every cloth's vertices (V, 3) world
        in this frame and its neighbours (needed when the scene has cloths).
        """
        if neighbours is None:
            neighbours = (part_poses, T_world_camera, part_poses, T_world_camera)
        self._drawn = np.ones(len(self._parts), bool) if present is None else np.asarray(present)
        self._platform.make_current()
        with self._timed("cloths"):
            self._update_cloths(cloths)
        suns = [light for light in self._lights if light.kind == "directional"]
        shadows = bool(suns and suns[0].cast_shadows)
        s = self.settings
        if s.ibl and not self._probe_ready:
            with self._timed("probe"):
                self._build_probe(suns, shadows)
        shape = (part_poses, self._drawn, *(cloths[0] if self._cloths else ()))
        if shadows and not _same_arrays(shape, self._shadow_poses):
            with self._timed("shadow"):  # the sun is fixed: redrawn only when parts change
                self._shadow_pass(part_poses)
            self._shadow_poses = [np.array(a) for a in shape]
        cam_pos = np.asarray(T_world_camera[:3, 3], float)
        points = self._point_lights(part_poses, cam_pos)
        with self._timed("point_shadows"):
            point_shadow = self._point_shadow(points, shape)
        self._ensure_target(width, height)
        if self.gpu_flow:  # two sets of targets, this frame's and the previous frame's
            if self._fbo_prev is None:
                self._fbo_prev = self._make_targets(width, height)
                self._flow_fbo = self._make_flow_targets(width, height)
                self._frames_drawn = 0  # frames drawn into the two sets
            self._fbo, self._fbo_prev = self._fbo_prev, self._fbo
            self._frames_drawn += 1
        else:
            self._frames_drawn = 0
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo[0])
        GL.glViewport(0, 0, width, height)
        GL.glDrawBuffers(NUM_TARGETS, [GL.GL_COLOR_ATTACHMENT0 + i for i in range(NUM_TARGETS)])
        GL.glClearColor(0, 0, 0, 0)
        GL.glClearDepth(1.0)
        GL.glClearStencil(0)
        GL.glDepthMask(True)  # glClear leaves the depth buffer alone while writes are off
        GL.glStencilMask(0xFF)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT | GL.GL_STENCIL_BUFFER_BIT)
        view = gl_view(T_world_camera)
        proj = gl_projection(K, width, height, near, far)
        # the camera's passes leave out the parts entirely outside its view
        self._in_view = self._drawn & self._in_frustum(part_poses, proj @ view)
        with self._timed("prepass"):
            self._depth_prepass(part_poses, proj @ view)
        if s.ao:
            with self._timed("ao"):
                self._ao_pass(proj, width, height)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo[0])
            GL.glViewport(0, 0, width, height)
        with self._timed("sky"):
            self._sky_pass(proj @ view, self._sky.ambient / DEFAULT_AMBIENT)  # as it lights
        poses_next, T_next, poses_prev, T_prev = neighbours
        motion = (poses_next, proj @ gl_view(T_next), poses_prev, proj @ gl_view(T_prev))
        with self._timed("mesh"):
            self._mesh_pass(
                part_poses, view, proj @ view, cam_pos, suns, shadows, motion, time, points,
                point_shadow, probe=False,
            )  # fmt: skip
        with self._timed("final"):
            self._final_pass(exposure, width, height, time)
        frame = self._read(width, height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo[0])
        with self._timed("coverage"):
            frame.unoccluded_pixels = self._coverage_pass(part_poses, proj @ view)
        return frame

    def flows(self, depth_tol: float = 0.02) -> tuple[np.ndarray, ...]:
        """Optical flow between the last two frames rendered (of one camera, in order):
        the forward flow (H, W, 2) float32 of the one before into the last and its valid
        mask (H, W) bool, then the backward flow of the last into the one before and its
        mask. Computed on the GPU from the frames' targets, the same values, bit for bit,
        as ``flow.flow_from_projections`` gives from the frames' arrays."""
        if not self.gpu_flow or self._frames_drawn < 2:
            raise RuntimeError("flows() needs gpu_flow and two frames rendered at one size")
        width, height = self._fbo_size
        fbo, texs = self._flow_fbo
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glDrawBuffers(4, [GL.GL_COLOR_ATTACHMENT0 + i for i in range(4)])
        GL.glViewport(0, 0, width, height)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_STENCIL_TEST)
        GL.glDepthMask(False)
        p = self._program(shaders.QUAD_VS, shaders.FLOW_FS, {})
        GL.glUseProgram(p)
        _, prev, _, prev_uv, prev_z, _ = self._fbo_prev[1]
        _, last, _, last_uv, last_z, _ = self._fbo[1]
        for unit, (tex, name) in enumerate(
            (
                (prev, "depth_id_a"), (prev_uv, "uv_a"), (prev_z, "z_a"),
                (last, "depth_id_b"), (last_uv, "uv_b"), (last_z, "z_b"),
            )
        ):  # fmt: skip
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glUniform1i(self._loc(p, name), unit)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        # the constants as numpy rounds them to float32 (glUniform1f rounds the same way)
        GL.glUniform1f(self._loc(p, "near"), NEAR)
        GL.glUniform1f(self._loc(p, "depth_tol"), depth_tol)
        GL.glUniform1f(self._loc(p, "depth_slack"), 0.005)
        GL.glUniform2i(self._loc(p, "size"), width, height)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        out = []
        for i, (fmt, gltype, dtype, channels) in enumerate(
            (
                (GL.GL_RG, GL.GL_FLOAT, np.float32, 2),
                (GL.GL_RED_INTEGER, GL.GL_UNSIGNED_BYTE, bool, 1),
            )
            * 2
        ):
            with self._timed(f"read flow{i}"):
                GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0 + i)
                a = np.empty((height, width, channels), dtype=dtype)
                _raw_read_pixels(
                    0, 0, width, height, fmt, gltype, a.ctypes.data_as(ctypes.c_void_p)
                )
            out.append(a[::-1] if channels > 1 else a[::-1, :, 0])
        for unit in range(6):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        return tuple(out)

    def read_hdr(self) -> np.ndarray:
        """The last frame's linear radiance (H, W, 3) float32, row 0 at the top."""
        width, height = self._fbo_size
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo[0])
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        out = np.empty((height, width, 4), np.float32)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        _raw_read_pixels(
            0, 0, width, height, GL.GL_RGBA, GL.GL_FLOAT, out.ctypes.data_as(ctypes.c_void_p)
        )
        return np.ascontiguousarray(out[::-1, :, :3])

    def _mean_log_luminance(self, width: int, height: int) -> float:
        """Mean over all pixels of log(1e-4 + Y), which the shading passes keep in the
        radiance target's alpha: summed over 8x8 blocks on the GPU, then here."""
        fbo, tex, blocks = self._log_sum
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
        GL.glViewport(0, 0, *blocks)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(False)
        p = self._log_sum_prog
        GL.glUseProgram(p)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._fbo[1][0])
        GL.glUniform1i(self._loc(p, "hdr"), 0)
        GL.glUniform2i(self._loc(p, "size"), width, height)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        out = np.empty((blocks[1], blocks[0]), np.float32)
        _raw_read_pixels(0, 0, *blocks, GL.GL_RED, GL.GL_FLOAT, out.ctypes.data_as(ctypes.c_void_p))
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        return float(out.sum(dtype=np.float64) / (width * height))

    def _ao_pass(self, proj: np.ndarray, width: int, height: int) -> None:
        """Ambient occlusion of the pre-pass's depth into the half-resolution target."""
        _, _, ao_fbos, ao_texs = self._post
        half = (max(width // 2, 1), max(height // 2, 1))
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(False)
        GL.glBindVertexArray(self._empty_vao)
        GL.glViewport(0, 0, *half)
        p = self._ao_prog
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, ao_fbos[0])
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
        GL.glUseProgram(p)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._fbo[1][5])
        GL.glUniform1i(self._loc(p, "depth_tex"), 0)
        GL.glUniform2f(self._loc(p, "full_size"), float(width), float(height))
        GL.glUniform4f(self._loc(p, "proj"), proj[0, 0], proj[1, 1], proj[0, 2], proj[1, 2])
        GL.glUniform2f(self._loc(p, "depth_params"), proj[2, 2], proj[2, 3])
        GL.glUniform1f(self._loc(p, "radius"), self.settings.ao_radius)
        GL.glUniform1f(self._loc(p, "strength"), self.settings.ao_strength)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        p = self._blur_prog
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, ao_fbos[1])
        GL.glUseProgram(p)
        GL.glActiveTexture(GL.GL_TEXTURE1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, ao_texs[0])
        GL.glUniform1i(self._loc(p, "ao_raw"), 1)
        GL.glUniform1i(self._loc(p, "depth_tex"), 0)
        GL.glUniform2f(self._loc(p, "size"), float(half[0]), float(half[1]))
        GL.glUniform2f(self._loc(p, "depth_params"), proj[2, 2], proj[2, 3])
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)  # the depth texture is drawn into next

    def _final_pass(self, exposure: float, width: int, height: int, time: float) -> None:
        """Tone map the radiance into the sRGB target, with anti-aliasing and the
        camera effects the settings ask for.

        With FXAA (and no motion blur or bloom), two draws: ``FINAL_EDGES_FS`` writes the pixels
        away from edges, and the others' edge direction and luma bounds with depth 1;
        then ``FINAL_EDGE_TAPS_FS`` draws those only, where the depth test lets it
        (llvmpipe pays for both sides of FXAA's branch at every pixel it shades, but
        shades no block that the depth test rejects): the same bytes as one draw of
        ``FINAL_FS``."""
        s = self.settings
        mean_log = self._mean_log_luminance(width, height) if s.auto_exposure else 0.0
        a = exposure_scale(mean_log, exposure, s.auto_exposure, s.auto_exposure_max)
        self.last_exposure_scale = a
        post, _, _, _ = self._post
        hdr, depth_id, _, uv, _, _ = self._fbo[1]
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, post)
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
        GL.glViewport(0, 0, width, height)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(False)
        switches = {"fxaa": int(s.fxaa), "motion_blur": int(s.motion_blur > 0)}
        for name in ("bloom", "noise", "vignette"):
            if getattr(s, name) <= 0:
                switches[name] = 0.0
        for unit, tex in enumerate((hdr, uv, depth_id)):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        if s.bloom > 0:
            GL.glBindTexture(GL.GL_TEXTURE_2D, hdr)
            GL.glTexParameteri(
                GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_LINEAR
            )
            GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        GL.glBindVertexArray(self._empty_vao)
        # (with bloom's mipmaps, the edge taps' level of detail would depend on the split)
        split = self.split_final and bool(s.fxaa) and s.motion_blur <= 0 and s.bloom <= 0
        if split:
            GL.glEnable(GL.GL_DEPTH_TEST)
            GL.glDepthFunc(GL.GL_ALWAYS)
            GL.glDepthMask(True)
            GL.glDrawBuffers(2, [GL.GL_COLOR_ATTACHMENT0, GL.GL_COLOR_ATTACHMENT1])
            self._final_draw(shaders.FINAL_EDGES_FS, switches, a, time)
            GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
            GL.glDepthMask(False)
            GL.glDepthFunc(GL.GL_LESS)  # the quad's depth, 0.5, passes at the edges' 1
            GL.glActiveTexture(GL.GL_TEXTURE3)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._fxaa_edges)
            self._final_draw(shaders.FINAL_EDGE_TAPS_FS, switches, a, time)
            GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
            GL.glActiveTexture(GL.GL_TEXTURE0)
            GL.glDisable(GL.GL_DEPTH_TEST)
        else:
            self._final_draw(shaders.FINAL_FS, switches, a, time)
        if s.bloom > 0:
            GL.glBindTexture(GL.GL_TEXTURE_2D, hdr)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        for unit in (2, 1, 0):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    def _final_draw(self, fs: str, switches: dict, scale: float, time: float) -> None:
        """One full-screen draw of the final pass's shader ``fs`` (its textures bound)."""
        s = self.settings
        p = self._program(shaders.QUAD_VS, fs, switches)
        GL.glUseProgram(p)
        for unit, name in enumerate(("hdr", "uv_next_prev", "depth_id", "edges")):
            GL.glUniform1i(self._loc(p, name), unit)
        width, height = self._fbo_size
        GL.glUniform2f(self._loc(p, "size"), float(width), float(height))
        GL.glUniform1f(self._loc(p, "exposure_scale"), scale)
        GL.glUniform3f(self._loc(p, "wb_gain"), *white_balance_gains(s.white_balance_k))
        GL.glUniform1f(self._loc(p, "noise"), s.noise)
        GL.glUniform1f(self._loc(p, "noise_seed"), float(time * 1000.0 % 977.0))
        GL.glUniform1f(self._loc(p, "vignette"), s.vignette)
        GL.glUniform1f(self._loc(p, "bloom"), s.bloom)
        GL.glUniform1f(self._loc(p, "shutter"), s.motion_blur)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _point_shadow(self, points: list[tuple], shape: tuple) -> list[int]:
        """Draw the cube shadow maps of the strongest point lights (``point_shadows`` of
        them; each re-drawn when it or the parts move); returns their indices in
        ``points``, -1 for none, one per map."""
        count = min(self.settings.point_shadows, len(points))
        strength = [-float(np.max(color)) for _, _, color, _ in points]
        chosen = [int(i) for i in np.argsort(strength, kind="stable")[:count]]
        near, far = POINT_SHADOW_RANGE
        for slot, index in enumerate(chosen):
            pos = np.asarray(points[index][0], float)
            state = [*(np.array(a) for a in shape), pos]
            if _same_arrays(tuple(state), self._point_shadow_state[slot]):
                continue
            GL.glViewport(0, 0, POINT_SHADOW_SIZE, POINT_SHADOW_SIZE)
            GL.glDepthMask(True)
            GL.glEnable(GL.GL_DEPTH_TEST)
            GL.glDepthFunc(GL.GL_LESS)
            GL.glDisable(GL.GL_CULL_FACE)
            # each face draws only the parts whose bounding spheres reach its frustum
            centres = (
                np.array(
                    [
                        T[:3, :3] @ c + T[:3, 3]
                        for T, (c, _) in zip(shape[0], self._spheres, strict=True)
                    ]
                ).reshape(-1, 3)
                - pos
            )
            radii = np.array([r for _, r in self._spheres])
            if len(shape) > 2:  # the cloths' spheres (world), after the parts'
                centres = np.vstack([centres, [c.sphere[0] - pos for c in self._cloths]])
                radii = np.r_[radii, [c.sphere[1] for c in self._cloths]]
            for face in range(6):
                vp = ibl.face_view_proj(face, pos, near, far)
                s_axis, t_axis, major = ibl.FACE_AXES[face]
                keep = np.ones(len(radii), bool)
                for side in (s_axis, -s_axis, t_axis, -t_axis):
                    keep &= centres @ ((major + side) / np.sqrt(2)) >= -radii
                self._draw_depth(
                    ("point", slot, face), self._point_texs[slot], self._point_layers[slot],
                    GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + face, POINT_SHADOW_SIZE, shape[0], vp,
                    keep, cloths=len(shape) > 2,
                )  # fmt: skip
            self._point_shadow_state[slot] = state
        return chosen + [-1] * (2 - len(chosen))

    def _build_probe(self, suns: list[Light], shadows: bool) -> None:
        """The light probe: the scene's radiance in every direction from the probe's
        position, drawn ``PROBE_BOUNCES`` times (each lit by the last one's irradiance, for
        that many bounces); its irradiance becomes the spherical harmonics, its radiance the
        specular mips. Shadow maps drawn for it are marked stale for the frames."""
        cam_pos, part_poses, present = self._probe_spec
        drawn, self._drawn = self._drawn, present
        if shadows:
            self._shadow_pass(part_poses, cloths=False)
        points = self._point_lights(part_poses, cam_pos)
        point_shadow = self._point_shadow(points, (part_poses, present))
        self._sh = np.zeros((9, 3))
        lighting = (suns, shadows, points, point_shadow)
        self._probe_programs, self._probe_set_up = {}, set()
        for _ in range(PROBE_BOUNCES):
            faces = self._probe_cubes([cam_pos], PROBE_SIZE, [present], part_poses, lighting)[0]
            faces = np.nan_to_num(np.maximum(faces[..., :3], 0.0))
            self._sh = ibl.irradiance_sh9(faces)
        self._upload_cube(self._env_tex, ibl.prefilter_specular(faces))
        self.probe_faces = faces
        if self._grid is not None:
            self._build_grid(part_poses, suns, shadows, points, point_shadow)
        self._probe_ready = True
        self._drawn = drawn
        self._shadow_poses = None
        self._point_shadow_state = [None, None]

    def _probe_cubes(self, positions, size, seen, part_poses, lighting) -> np.ndarray:
        """The six cube faces of probes at ``positions`` (K, 3), ``size`` texels a side:
        the sky and the parts ``seen`` (K, P) by each, lit by ``lighting`` (suns, sun
        shadows on, point lights, their shadow maps) with the light probe's current
        irradiance; (K, 6, size, size, 4) float32 radiance and a back-face mark (alpha
        1e4). Up to ``shaders.PROBE_BATCH`` probes are drawn at once, a part in one draw
        for all the faces it reaches; the programs of a probe build share its lighting and
        are set up once per build (``_build_probe`` resets them)."""
        positions = np.asarray(positions, float).reshape(-1, 3)
        if not self.layered_probes:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._probe_fbo)
            GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
            GL.glViewport(0, 0, size, size)
            return np.stack(
                [
                    [self._probe_face(f, pos, size, sees, part_poses, lighting) for f in range(6)]
                    for pos, sees in zip(positions, seen, strict=True)
                ]
            )
        out = np.empty((len(positions), 6, size, size, 4), np.float32)
        for start in range(0, len(positions), shaders.PROBE_BATCH):
            batch = slice(start, start + shaders.PROBE_BATCH)
            self._draw_probes(positions[batch], size, seen[batch], part_poses, lighting, out[batch])
        return out

    def _draw_probes(self, positions, size, seen, part_poses, lighting, out) -> None:
        """``_probe_cubes`` of at most ``shaders.PROBE_BATCH`` probes, into ``out``: probe
        k's face f in layer 6 k + f of a layered target."""
        suns, shadows, points, point_shadow = lighting
        layers = 6 * len(positions)
        fbo, color = self._layered_target(size, layers)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
        GL.glViewport(0, 0, size, size)
        vps = [ibl.face_view_proj(face, pos, 0.05, 200.0) for pos in positions for face in range(6)]
        GL.glClearColor(0, 0, 0, 0)
        GL.glDepthMask(True)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        # the sky (as _sky_pass draws it), face by face
        p = self._use_sky(shaders.SKY_LAYER_VS, self._sky.ambient / DEFAULT_AMBIENT)
        layer, inverse = self._loc(p, "layer"), self._loc(p, "inv_view_proj")
        inverses = _Matrices(np.stack([np.linalg.inv(vp) for vp in vps]))
        for face in range(layers):
            _uniform_matrix(inverse, 1, True, inverses.address(face))
            _uniform1i(layer, face)
            _draw_arrays(GL.GL_TRIANGLES, 0, 3)
        # the parts (as _mesh_pass draws them for a probe), each in one draw of the layers
        # its bounding sphere reaches in the probes that see it (lists[p, :count[p]])
        reach = np.repeat(np.asarray(seen, bool).T, 6, axis=1) & self._in_frusta(part_poses, vps)
        count = reach.sum(axis=1)
        face_lists = np.zeros((len(reach), layers), np.int32)
        for index in np.flatnonzero(count):
            face_lists[index, : count[index]] = np.flatnonzero(reach[index])
        lists = face_lists.ctypes.data
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(True)
        GL.glEnable(GL.GL_DEPTH_TEST)
        self._bind_mesh_textures()
        switches = self._mesh_switches(suns, shadows, points, point_shadow, probe=True)
        face_vps = np.ascontiguousarray(np.stack(vps), np.float32)
        eyes = np.ascontiguousarray(positions, np.float32)
        sh = np.asarray(self._sh, np.float32)
        poses = _Matrices(part_poses)
        names = ("model", "faces", "base_color", "roughness", "metallic", "emissive", "tex_scale")
        detail = self.settings.detail
        texture_2d, triangles, uint = GL.GL_TEXTURE_2D, GL.GL_TRIANGLES, GL.GL_UNSIGNED_INT
        p, locs, current = None, None, None
        this_batch: set[int] = set()  # programs given these probes' positions and faces
        for index in np.flatnonzero(count).tolist():
            placed = None
            for m in self._parts[index]:
                mat = m.material
                key = material_key(m, detail)
                q = self._probe_programs.get(key)
                if q is None:
                    constants = material_constants(switches, key)
                    q = self._program(shaders.PROBE_VS, shaders.PROBE_FS, constants)
                    self._probe_programs[key] = q
                if q != p:
                    p, current = q, None
                    if p not in self._probe_set_up:
                        self._mesh_setup(
                            p, np.eye(4), vps[0], vps[0], vps[0], (PROBE_SIZE, PROBE_SIZE),
                            positions[0], suns, points, point_shadow,
                        )  # fmt: skip
                        self._probe_set_up.add(p)
                    _use_program(p)
                    if p not in this_batch:
                        this_batch.add(p)
                        GL.glUniform3fv(self._loc(p, "probe_positions"), len(eyes), eyes)
                        GL.glUniformMatrix4fv(
                            self._loc(p, "face_view_proj"), layers, True, face_vps
                        )
                        GL.glUniform3fv(self._loc(p, "sh"), 9, sh)
                    locs = self._probe_locs.get(p)
                    if locs is None:
                        locs = self._probe_locs[p] = [self._loc(p, n) for n in names]
                if placed != p:
                    placed = p
                    _uniform_matrix(locs[0], 1, True, poses.address(index))
                    address = ctypes.c_void_p(lists + 4 * layers * index)
                    _uniform_ints(locs[1], int(count[index]), address)
                if mat is not current:
                    current = mat
                    _uniform4f(locs[2], *mat.base_color)
                    _uniform1f(locs[3], mat.roughness)
                    _uniform1f(locs[4], mat.metallic)
                    _uniform3f(locs[5], *emission(mat, 0.0))
                    _uniform1f(locs[6], mat.texture_scale)
                    _bind_texture(texture_2d, m.texture)
                _bind_vertex_array(m.vao)
                _draw_elements_instanced(triangles, m.count, uint, None, int(count[index]))
        if not out.flags.c_contiguous:
            raise ValueError("probe faces must be read into a contiguous array")
        GL.glBindTexture(GL.GL_TEXTURE_2D_ARRAY, color)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        _raw_get_tex_image(
            GL.GL_TEXTURE_2D_ARRAY, 0, GL.GL_RGBA, GL.GL_FLOAT, out.ctypes.data_as(ctypes.c_void_p)
        )
        GL.glBindTexture(GL.GL_TEXTURE_2D_ARRAY, 0)

    def _layered_target(self, size: int, layers: int) -> tuple[int, int]:
        """A framebuffer of ``layers`` layers ``size`` texels a side, HDR colour and depth
        (probes' cube faces); (framebuffer, colour texture), made on first use."""
        target = self._probe_targets.get((size, layers))
        if target is not None:
            return target
        fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        texs = [int(t) for t in np.atleast_1d(GL.glGenTextures(2))]
        for tex, (fmt, layout, gltype), att in zip(
            texs,
            (
                (GL.GL_RGBA32F, GL.GL_RGBA, GL.GL_FLOAT),
                (GL.GL_DEPTH24_STENCIL8, GL.GL_DEPTH_STENCIL, GL.GL_UNSIGNED_INT_24_8),
            ),
            (GL.GL_COLOR_ATTACHMENT0, GL.GL_DEPTH_STENCIL_ATTACHMENT),
            strict=True,
        ):
            GL.glBindTexture(GL.GL_TEXTURE_2D_ARRAY, tex)
            GL.glTexImage3D(
                GL.GL_TEXTURE_2D_ARRAY, 0, fmt, size, size, layers, 0, layout, gltype, None
            )
            for key in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
                GL.glTexParameteri(GL.GL_TEXTURE_2D_ARRAY, key, GL.GL_NEAREST)
            GL.glFramebufferTexture(GL.GL_FRAMEBUFFER, att, tex, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D_ARRAY, 0)
        _check_framebuffer()
        self._probe_targets[size, layers] = (fbo, texs[0])
        return fbo, texs[0]

    def _probe_face(self, face, pos, size, seen, part_poses, lighting) -> np.ndarray:
        """One cube face (``ibl.FACE_AXES``) of a probe at ``pos``, ``size`` texels a side,
        into the bound probe target: the sky and the parts ``seen`` that reach the face,
        lit by ``lighting`` (suns, sun shadows on, point lights, their shadow maps) as
        for a probe; read back as (size, size, 4) float32 radiance and depth."""
        suns, shadows, points, point_shadow = lighting
        vp = ibl.face_view_proj(face, pos, 0.05, 200.0)
        self._in_view = seen & self._in_frustum(part_poses, vp)
        GL.glClearColor(0, 0, 0, 0)
        GL.glDepthMask(True)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        self._sky_pass(vp, self._sky.ambient / DEFAULT_AMBIENT)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(True)
        self._mesh_pass(
            part_poses, np.eye(4), vp, pos, suns, shadows,
            (part_poses, vp, part_poses, vp), 0.0, points, point_shadow, probe=True,
        )  # fmt: skip
        out = np.empty((size, size, 4), np.float32)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        _raw_read_pixels(
            0, 0, size, size, GL.GL_RGBA, GL.GL_FLOAT, out.ctypes.data_as(ctypes.c_void_p)
        )
        return out

    def _build_grid(self, part_poses, suns, shadows, points, point_shadow) -> None:
        """The irradiance grid: at each of its probes, the scene's radiance in every
        direction (lit by the light probe's irradiance: one more bounce), as spherical
        harmonics (``grid_sh``), uploaded as their luminance up to band 1. A probe that
        sees too many back faces (it is inside a part) takes the mean of its nearest
        valid neighbours'."""
        origin, inv_step, counts, positions = self._grid
        present = self._probe_spec[2]
        n = GRID_PROBE_SIZE
        sh = np.zeros((len(positions), 9, 3))
        valid = np.zeros(len(positions), bool)
        lighting = (suns, shadows, points, point_shadow)
        poses = np.asarray(part_poses, float)
        centres = np.stack([c for c, _ in self._spheres]) if self._spheres else np.zeros((0, 3))
        radii = np.array([r for _, r in self._spheres])
        world = np.einsum("pij,pj->pi", poses[:, :3, :3], centres) + poses[:, :3, 3]
        # parts that would cover about a texel or less of a face are left out
        distance = np.linalg.norm(world[None] - positions[:, None], axis=2)
        seen = present & (radii > GRID_MIN_SIZE * distance)
        cubes = self._probe_cubes(positions, n, seen, part_poses, lighting)
        for k, faces in enumerate(cubes):
            valid[k] = np.mean(faces[..., 3] > 1e3) <= GRID_BACK_FACES
            sh[k] = ibl.irradiance_sh9(np.nan_to_num(np.maximum(faces[..., :3], 0.0)))
        for k in np.flatnonzero(~valid):
            if not valid.any():
                sh[k] = self._sh
                continue
            d = np.linalg.norm((positions[valid] - positions[k]) * inv_step, axis=1)
            sh[k] = sh[valid][d <= d.min() + 1e-6].mean(axis=0)
        self.grid_sh, self.grid_valid = sh, valid
        nx, ny, nz = (int(c) for c in counts)
        # texel (i, j, l): the luminance of the probe at (i, j, l), bands 0 and 1 (one
        # fetch per pixel; the light probe's nine coefficients give the colour and shape)
        luminance = sh[:, :4, :] @ np.array([0.2126, 0.7152, 0.0722])
        cube = luminance.reshape(nx, ny, nz, 4).transpose(2, 1, 0, 3)
        GL.glBindTexture(GL.GL_TEXTURE_3D, self._grid_tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage3D(
            GL.GL_TEXTURE_3D, 0, GL.GL_RGBA32F, nx, ny, nz, 0, GL.GL_RGBA, GL.GL_FLOAT,
            np.ascontiguousarray(cube, np.float32),
        )  # fmt: skip
        _texture_parameters(GL.GL_TEXTURE_3D, GL.GL_LINEAR)
        self._grid_ready = True

    def _shadow_pass(self, part_poses: np.ndarray, cloths: bool = True) -> None:
        GL.glViewport(0, 0, SHADOW_SIZE, SHADOW_SIZE)
        GL.glDepthMask(True)  # before the clear: the previous frame leaves depth writes off
        GL.glClearDepth(1.0)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDisable(GL.GL_CULL_FACE)
        self._draw_depth(
            ("sun",), self._shadow_tex, self._shadow_layer, GL.GL_TEXTURE_2D, SHADOW_SIZE,
            part_poses, self._light_vp, None, cloths,
        )  # fmt: skip

    def _draw_depth(
        self, key, target, layer, textarget, size, part_poses, view_proj, keep, cloths
    ) -> None:  # fmt: skip
        """Clear the depth map ``target`` (``textarget``: GL_TEXTURE_2D or a cube face)
        and draw the drawn parts (those ``keep`` marks; None: all) and cloths into it.

        The parts that stood still since this map's previous drawing are drawn into
        ``layer`` (a map of the same format), kept there while they stay still and drawn
        again when more parts have come to rest: the map is then a copy of the layer with
        the other parts drawn over it. The nearest depth wins either way, so the map is
        the same as drawn from scratch."""
        poses = np.asarray(part_poses)
        vp = np.asarray(view_proj)
        P = len(poses)
        cloth_keep = np.ones(len(self._cloths), bool) if keep is None else keep[P:]
        if len(cloth_keep) < len(self._cloths):
            cloth_keep = np.ones(len(self._cloths), bool)
        drawn = self._drawn if keep is None else self._drawn & keep[:P]
        last, held = self._depth_state.get(key, (None, None))
        with_cloths = bool(cloths and cloth_keep.any())
        if (
            last is not None
            and not (with_cloths or last[3])
            and np.array_equal(last[2], vp)
            and np.array_equal(last[1], drawn)
            and np.array_equal(poses[drawn], last[0][drawn])
        ):  # the map holds this very drawing (a cube face the moving things stay out of)
            return
        if held is not None:  # the layer holds parts (mask, poses, view): still valid?
            mask, mask_poses, held_vp = held
            if not (
                np.array_equal(held_vp, vp)
                and drawn[mask].all()
                and np.array_equal(poses[mask], mask_poses)
            ):
                held = None
        draw_fbo, read_fbo = self._layer_fbos
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, draw_fbo)
        if last is not None and np.array_equal(last[2], vp):
            still = drawn & last[1] & (poses == last[0]).all(axis=(1, 2))
            if still.any() and (held is None or (still & ~held[0]).any()):
                GL.glFramebufferTexture2D(
                    GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, textarget, layer, 0
                )
                GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
                self._draw_positions(poses, vp, cloths=False, keep=still, shadow=True)
                held = (still, poses[still].copy(), vp.copy())
        self._depth_state[key] = ((poses.copy(), drawn.copy(), vp.copy(), with_cloths), held)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, textarget, target, 0)
        if held is None:
            GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
            self._draw_positions(poses, vp, cloths, keep=np.r_[drawn, cloth_keep], shadow=True)
            return
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, read_fbo)
        GL.glFramebufferTexture2D(
            GL.GL_READ_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, textarget, layer, 0
        )
        GL.glBlitFramebuffer(
            0, 0, size, size, 0, 0, size, size, GL.GL_DEPTH_BUFFER_BIT, GL.GL_NEAREST
        )
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, draw_fbo)
        keep = np.r_[drawn & ~held[0], cloth_keep]
        self._draw_positions(poses, vp, cloths, keep=keep, shadow=True)

    def _use_positions(self, view_proj: np.ndarray) -> int:
        """Bind the position-only program (shadow, depth and coverage passes) with
        ``view_proj``; returns the location of its model matrix."""
        p = self._shadow_prog
        GL.glUseProgram(p)
        self._mat(p, "light_vp", view_proj)
        return self._loc(p, "model")

    def _cloth_rects_in(self, view_proj: np.ndarray) -> np.ndarray:
        """Per cloth, a rectangle (x0, y0, x1, y1) of the frame (GL's pixel rows, from the
        bottom) that holds every pixel the cloth can cover (``cloth_rects``), worked out
        once a frame and view (from the boxes ``_update_cloths`` sets)."""
        vp = np.asarray(view_proj, float)
        key = (self._fbo_size, vp.tobytes())
        if self._rects_key != key:
            self._rects = cloth_rects(*self._cloth_box, vp, self._fbo_size)
            self._rects_key = key
        return self._rects

    def _draw_part(
        self, model_loc: int, poses: _Matrices, index: int, shadow: bool = False
    ) -> None:
        """Draw part ``index``'s meshes (``shadow``: at their shadow maps' level)."""
        _uniform_matrix(model_loc, 1, True, poses.address(index))
        for m in self._parts[index]:
            if shadow and m.shadow is not None:
                m = m.shadow
            _bind_vertex_array(m.vao)
            _draw_elements(GL.GL_TRIANGLES, m.count, GL.GL_UNSIGNED_INT, None)

    def _draw_cloth(self, model_loc: int, cloth: _GpuCloth, shadow: bool = False) -> None:
        _uniform_matrix(model_loc, 1, True, _IDENTITY.address(0))
        _bind_vertex_array(cloth.mesh.vao)
        offset, count = cloth.shadow if shadow else (0, cloth.mesh.count)
        _draw_elements(GL.GL_TRIANGLES, count, GL.GL_UNSIGNED_INT, ctypes.c_void_p(offset))

    def _draw_positions(
        self,
        part_poses: np.ndarray,
        view_proj: np.ndarray,
        cloths: bool = True,
        keep=None,
        shadow: bool = False,
    ) -> None:
        """Draw every drawn part and cloth (those ``keep`` (P,) or (P + C,) marks, if
        given); ``shadow``: into a shadow map (parts and cloths at their shadow level)."""
        model_loc = self._use_positions(view_proj)
        poses = _Matrices(part_poses)
        for index in range(len(part_poses)):
            if self._drawn[index] and (keep is None or keep[index]):
                self._draw_part(model_loc, poses, index, shadow)
        P = len(part_poses)
        # a closed surface seen from outside shows only its front faces, so its back
        # faces leave a depth map as it was: culled there. The winding that faces front
        # turns where the view-projection mirrors the image (cube map faces).
        cull = shadow and CULL_CLOSED_SHADOWS and any(c.closed for c in self._cloths)
        culled = False
        if cull:
            mirrored = np.linalg.det(np.asarray(view_proj, float)) > 0
            GL.glFrontFace(GL.GL_CW if mirrored else GL.GL_CCW)
        for c, cloth in enumerate(self._cloths if cloths else []):
            if keep is None or len(keep) <= P or keep[P + c]:
                if cull and cloth.closed != culled:
                    culled = cloth.closed
                    (GL.glEnable if culled else GL.glDisable)(GL.GL_CULL_FACE)
                self._draw_cloth(model_loc, cloth, shadow)
        if culled:
            GL.glDisable(GL.GL_CULL_FACE)
        if cull:
            GL.glFrontFace(GL.GL_CCW)

    def _in_frustum(self, part_poses: np.ndarray, view_proj: np.ndarray) -> np.ndarray:
        """Per part, whether its bounding sphere reaches inside the six planes of the
        clip volume of ``view_proj`` (a part outside one of them draws no pixel)."""
        return self._in_frusta(part_poses, [view_proj])[:, 0]

    def _in_frusta(self, part_poses: np.ndarray, view_projs: list[np.ndarray]) -> np.ndarray:
        """Per part and view-projection (P, len(view_projs)), whether the part's bounding
        sphere reaches inside the six planes of that clip volume (``_in_frustum``)."""
        if not self._spheres:
            return np.zeros((0, len(view_projs)), bool)
        poses = np.asarray(part_poses, float)
        centres = np.stack([c for c, _ in self._spheres])
        radii = np.array([r for _, r in self._spheres])
        world = np.einsum("pij,pj->pi", poses[:, :3, :3], centres) + poses[:, :3, 3]
        m = np.stack([np.asarray(vp, float) for vp in view_projs])
        w = m[:, 3]
        planes = np.stack([w + m[:, 0], w - m[:, 0], w + m[:, 1], w - m[:, 1], w + m[:, 2],
                           w - m[:, 2]], axis=1)  # fmt: skip
        planes /= np.linalg.norm(planes[..., :3], axis=-1, keepdims=True)
        distance = np.einsum("pk,vjk->pvj", world, planes[..., :3]) + planes[..., 3]
        return (distance >= -radii[:, None, None]).all(axis=2)

    def _depth_prepass(self, part_poses: np.ndarray, view_proj: np.ndarray) -> None:
        """Lay down depth first so the costly shading runs once per visible pixel."""
        GL.glColorMask(False, False, False, False)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(True)
        self._draw_positions(part_poses, view_proj, cloths=False, keep=self._in_view)
        # the cloths, each of the first STENCIL_CLOTHS setting its own stencil bit on every
        # pixel it covers, whatever the depth test says: the coverage pass counts them there
        # and each writes its triangles' numbers into the fifth target where it
        # passes a less-or-equal test, so that each pixel ends with the last triangle in
        # drawing order that reaches its nearest depth: the one that rasterizing every
        # triangle in the shading pass would leave there, and the one CLOTH_FS shades
        if not self._cloths:
            GL.glColorMask(True, True, True, True)
            self._by_pixel = np.zeros(0, bool)
            return
        p = self._cloth_id_prog
        GL.glUseProgram(p)
        self._mat(p, "light_vp", view_proj)
        model_loc, id_loc = self._loc(p, "model"), self._loc(p, "first_triangle")
        first = self._cloth_first
        # only the fifth target written: masked per target rather than by draw buffers
        # (a change of draw buffers is a change of framebuffer, which ends llvmpipe's
        # batch of drawing)
        GL.glColorMaski(4, True, True, True, True)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glEnable(GL.GL_STENCIL_TEST)
        GL.glStencilFunc(GL.GL_ALWAYS, 0xFF, 0xFF)
        GL.glStencilOp(GL.GL_KEEP, GL.GL_REPLACE, GL.GL_REPLACE)
        for c, cloth in enumerate(self._cloths):
            GL.glStencilMask(1 << c if c < STENCIL_CLOTHS else 0)
            GL.glUniform1f(id_loc, float(first[c]))  # exact below 2^24 triangles
            self._draw_cloth(model_loc, cloth)
        GL.glStencilMask(0xFF)
        GL.glDisable(GL.GL_STENCIL_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glColorMask(True, True, True, True)
        self._keep_cloth_ids(view_proj)

    def _keep_cloth_ids(self, view_proj: np.ndarray) -> None:
        """Choose the cloths the shading pass shades per pixel this frame
        (``_by_pixel``): of the first ``PIXEL_CLOTHS``, those whose rectangle of the frame
        (``_cloth_rects_in``) spans ``PIXEL_CLOTH_AREA`` pixels; none where the cloths have
        too many triangles to be numbered exactly in float32 or the context cannot copy
        the numbers. Copy the pre-pass's triangle numbers (the fifth target, which the
        shading pass writes over) where those cloths are."""
        self._by_pixel = np.zeros(len(self._cloths), bool)
        if not self.cloth_pixels or self._cloth_first[-1] - 1 >= MAX_CLOTH_PIXEL_TRIANGLES:
            return
        rects = self._cloth_rects_in(view_proj)[:PIXEL_CLOTHS]
        for c, (x0, y0, x1, y1) in enumerate(rects):
            area = max(x1 - x0, 0) * max(y1 - y0, 0)
            self._by_pixel[c] = area > 0 and area >= PIXEL_CLOTH_AREA
        rects = rects[self._by_pixel[: len(rects)]]
        if not len(rects):
            return
        x0, y0, x1, y1 = _union_rect(rects)
        GL.glCopyImageSubData(
            self._fbo[1][4], GL.GL_TEXTURE_2D, 0, x0, y0, 0,
            self._cloth_ids, GL.GL_TEXTURE_2D, 0, x0, y0, 0, x1 - x0, y1 - y0, 1,
        )  # fmt: skip

    def _use_sky(self, vertex_shader: str, sky_scale: float) -> int:
        """Bind the sky's program (with ``vertex_shader``), its cube map, its uniforms and
        the depth state that draws it only where no surface is; returns the program."""
        p = self._program(
            vertex_shader, shaders.SKY_FS, {"fog_density": 0.0} if self._fog.density <= 0 else {}
        )
        GL.glUseProgram(p)
        GL.glUniform1f(self._loc(p, "sky_scale"), sky_scale)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glDepthMask(False)
        GL.glActiveTexture(GL.GL_TEXTURE3)
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, self._sky_tex)
        GL.glUniform1i(self._loc(p, "sky_tex"), 3)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glUniform1f(self._loc(p, "fog_density"), self._fog.density)
        GL.glUniform3f(self._loc(p, "fog_color"), *self._fog.color)
        GL.glBindVertexArray(self._empty_vao)
        return p

    def _sky_pass(self, view_proj: np.ndarray, sky_scale: float = 1.0) -> None:
        """The sky where the pre-pass left no surface."""
        p = self._use_sky(shaders.SKY_VS, sky_scale)
        self._mat(p, "inv_view_proj", np.linalg.inv(view_proj))
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _point_lights(self, part_poses: np.ndarray, cam_pos: np.ndarray) -> list[tuple]:
        """(position, direction, colour, cone cosines) of the point lights nearest the
        camera, at most MAX_POINT_LIGHTS, with lights carried by parts moved with them."""
        lights = []
        for light, part in zip(self._lights, self._light_parts, strict=True):
            if light.kind != "point":
                continue
            pos, direction = np.asarray(light.position, float), np.asarray(light.direction, float)
            if part >= 0:
                T = part_poses[part]
                pos, direction = T[:3, :3] @ pos + T[:3, 3], T[:3, :3] @ direction
            if light.cone_deg > 0:
                half = np.radians(light.cone_deg / 2)
                cone = (np.cos(half), np.cos(half + np.radians(10)))
            else:
                cone = (-2.0, -3.0)
            direction = direction / max(np.linalg.norm(direction), 1e-12)
            color = np.asarray(light.color) * light.intensity
            lights.append((np.linalg.norm(pos - cam_pos), pos, direction, color, cone))
        lights.sort(key=lambda item: item[0])
        return [item[1:] for item in lights[:MAX_POINT_LIGHTS]]

    def _mesh_switches(self, suns, shadows, points, point_shadow, probe) -> dict:
        """The effects switched off for a shading pass and its point lights' count and
        shadow maps, compiled into its programs (``shaders.specialise``); ``probe``:
        drawing a light probe's faces."""
        s = self.settings
        switches = {
            "specular": int(s.specular),
            "ibl": int(s.ibl),
            "ibl_specular": int(s.ibl and not probe),
            "use_ao": int(s.ao and not probe),
            "probe_grid": int(s.ibl and not probe and self._grid_ready),
            "probe_pass": int(probe),
            "has_sun": int(bool(suns)),
            "sun_shadows": int(shadows),
            "sun_pcf": int(np.float32(s.shadow_softness) > 0),  # as the uniform compares
        }
        if self._fog.density <= 0:
            switches["fog_density"] = 0.0
        # the number of point lights and which have shadow maps: the light loop unrolls
        # and its per-light tests fold (as uniforms, llvmpipe's loop cost about one
        # light more); the shadow-mapped lights come first (``shading_lights``), so a
        # scene's frames share one set of programs while the nearest lights change
        _, slots = shading_lights(points, point_shadow)
        switches["num_points"] = len(points)
        for slot, index in enumerate(slots):
            switches[f"point_shadow_index{slot}"] = index
        return switches

    def _mesh_setup(
        self, p, view, view_proj, view_proj_next, view_proj_prev, viewport, cam_pos, suns,
        points, point_shadow,
    ) -> None:  # fmt: skip
        """The uniforms every draw of a shading pass shares, on program ``p``."""
        s = self.settings
        GL.glUseProgram(p)
        self._mat(p, "view", view)
        self._mat(p, "view_proj", view_proj)
        self._mat(p, "view_proj_next", view_proj_next)
        self._mat(p, "view_proj_prev", view_proj_prev)
        GL.glUniform2f(self._loc(p, "viewport"), float(viewport[0]), float(viewport[1]))
        self._mat(p, "light_vp", self._light_vp)
        # normals to the sun's map: the inverse transpose of its linear part
        normals = np.linalg.inv(np.asarray(self._light_vp, float)[:3, :3]).T
        GL.glUniformMatrix3fv(self._loc(p, "sun_normal_map"), 1, True, normals.astype(np.float32))
        GL.glUniform3f(self._loc(p, "cam_pos"), *cam_pos)
        GL.glUniform1f(self._loc(p, "ambient"), self._sky.ambient)
        GL.glUniform3f(self._loc(p, "sky_zenith"), *self._sky.zenith)
        GL.glUniform3f(self._loc(p, "sky_ground"), *self._sky.ground)
        if suns:
            sun = suns[0]
            GL.glUniform3f(self._loc(p, "sun_dir"), *sun.direction)
            GL.glUniform3f(self._loc(p, "sun_color"), *(np.asarray(sun.color) * sun.intensity))
        GL.glUniform1f(self._loc(p, "shadow_texel"), 1.0 / SHADOW_SIZE)
        GL.glUniform1f(self._loc(p, "shadow_softness"), s.shadow_softness)
        points, slots = shading_lights(points, point_shadow)
        GL.glUniform1i(self._loc(p, "num_points"), len(points))  # no-ops where specialised
        for i, (pos, direction, color, cone) in enumerate(points):
            GL.glUniform3f(self._loc(p, f"point_pos[{i}]"), *pos)
            GL.glUniform3f(self._loc(p, f"point_dir[{i}]"), *direction)
            GL.glUniform3f(self._loc(p, f"point_color[{i}]"), *color)
            GL.glUniform2f(self._loc(p, f"point_cone[{i}]"), *cone)
        GL.glUniform1i(self._loc(p, "point_shadow_index0"), slots[0])
        GL.glUniform1i(self._loc(p, "point_shadow_index1"), slots[1])
        near, far = POINT_SHADOW_RANGE
        GL.glUniform2f(
            self._loc(p, "point_shadow_depth"),
            (far + near) / (far - near),
            2 * far * near / (near - far),
        )
        GL.glUniform1f(self._loc(p, "point_shadow_texel"), 2.0 / POINT_SHADOW_SIZE)
        GL.glUniform3fv(self._loc(p, "sh"), 9, np.asarray(self._sh, np.float32))
        GL.glUniform1f(self._loc(p, "env_levels"), float(ibl.SPECULAR_LEVELS - 1))
        GL.glUniform1f(self._loc(p, "ibl_scale"), 1.0)
        if self._grid is not None:
            origin, inv_step, counts, _ = self._grid
            GL.glUniform3f(self._loc(p, "grid_origin"), *origin)
            GL.glUniform3f(self._loc(p, "grid_inv_step"), *inv_step)
            GL.glUniform3f(self._loc(p, "grid_count"), *counts)
        GL.glUniform1f(self._loc(p, "fog_density"), self._fog.density)
        GL.glUniform3f(self._loc(p, "fog_color"), *self._fog.color)
        for unit, name in (
            (1, "shadow_map"),
            (2, "point_shadow_map0"),
            (5, "point_shadow_map1"),
            (3, "env_specular"),
            (4, "ao_tex"),
            (6, "grid_sh"),
        ):
            GL.glUniform1i(self._loc(p, name), unit)
        GL.glUniform1i(self._loc(p, "albedo_tex"), 0)

    def _bind_mesh_textures(self) -> None:
        """The shading pass's shadow maps, light probe, ambient occlusion and grid."""
        for unit, target, tex in (
            (1, GL.GL_TEXTURE_2D, self._shadow_tex),
            (2, GL.GL_TEXTURE_CUBE_MAP, self._point_texs[0]),
            (5, GL.GL_TEXTURE_CUBE_MAP, self._point_texs[1]),
            (3, GL.GL_TEXTURE_CUBE_MAP, self._env_tex),
            (4, GL.GL_TEXTURE_2D, self._post[3][1] if self._post else 0),
            (6, GL.GL_TEXTURE_3D, self._grid_tex),
        ):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(target, tex)
        GL.glActiveTexture(GL.GL_TEXTURE0)

    def _mesh_pass(
        self, part_poses, view, view_proj, cam_pos, suns, shadows, motion, time, points,
        point_shadow, probe,
    ):  # fmt: skip
        """Shade every part and cloth. ``probe``: drawing the light probe (depth test
        and writes on, no occlusion, no specular light from the probe itself).

        Each material's detail kind and texture, and the pass's switched-off effects, are
        compiled into the program it is drawn with (``shaders.specialise``); parts are
        drawn in their order whatever program each needs."""
        s = self.settings
        poses_next, view_proj_next, poses_prev, view_proj_prev = motion
        GL.glEnable(GL.GL_DEPTH_TEST)
        if not probe:
            GL.glDepthFunc(GL.GL_LEQUAL)  # after the depth pre-pass: only the visible surface
            GL.glDepthMask(False)
        switches = self._mesh_switches(suns, shadows, points, point_shadow, probe)
        viewport = (PROBE_SIZE, PROBE_SIZE) if probe else self._fbo_size

        def setup(p: int) -> None:
            self._mesh_setup(
                p, view, view_proj, view_proj_next, view_proj_prev, viewport, cam_pos, suns,
                points, point_shadow,
            )  # fmt: skip

        self._bind_mesh_textures()
        names = ("model", "model_next", "model_prev", "instance_id", *shaders.MATERIAL_UNIFORMS)
        ready: set[int] = set()  # programs set up for this pass
        programs: dict[tuple, int] = {}  # by (detail kind, texture)
        p, locs, current = None, None, None
        num_parts = len(self._parts)
        # every part's poses now, next and before as float32, then the cloths' (identity)
        extra = 0 if probe else len(self._cloths)
        matrices = [
            _Matrices(
                np.concatenate([np.asarray(a, float).reshape(-1, 4, 4)] + [np.eye(4)[None]] * extra)
            )
            for a in (part_poses, poses_next, poses_prev)
        ]
        by_pixel = np.zeros(len(self._cloths), bool) if probe else self._by_pixel
        meshes_of = self._parts + ([[c.mesh] for c in self._cloths] if not probe else [])
        for index, meshes in enumerate(meshes_of):
            if index < num_parts and not self._in_view[index]:
                continue
            if index >= num_parts and by_pixel[index - num_parts]:
                continue  # shaded per pixel below
            placed = None  # the program the part's pose was last given to
            for m in meshes:
                mat = m.material
                key = material_key(m, s.detail)
                q = programs.get(key)
                if q is None:
                    constants = material_constants(switches, key)
                    q = programs[key] = self._program(shaders.MESH_VS, shaders.MESH_FS, constants)
                if q != p:
                    p, current = q, None
                    if p not in ready:
                        setup(p)
                        ready.add(p)
                    GL.glUseProgram(p)
                    locs = {n: self._loc(p, n) for n in names}
                if placed != p:
                    placed = p
                    for name, poses in zip(
                        ("model", "model_next", "model_prev"), matrices, strict=True
                    ):
                        _uniform_matrix(locs[name], 1, True, poses.address(index))
                    GL.glUniform1f(locs["instance_id"], float(index + 1))
                if mat is not current:  # consecutive parts often share a material
                    current = mat
                    _use_material(locs, mat, m.texture, time)
                _bind_vertex_array(m.vao)
                _draw_elements(GL.GL_TRIANGLES, m.count, GL.GL_UNSIGNED_INT, None)
        if by_pixel.any():
            proj = np.asarray(view_proj, float) @ invert(np.asarray(view, float))
            self._shade_cloth_pixels(by_pixel, switches, setup, ready, view, proj, time)

    def _shade_cloth_pixels(self, chosen, switches, setup, ready, view, proj, time) -> None:
        """Shade the ``chosen`` (C,) cloths' pixels (those whose pre-pass triangle is one
        of theirs) by ``CLOTH_FS``, one draw over the rectangle of all those whose
        materials compile to one program (a textured one alone): every target as
        rasterizing their triangles gives, at a fraction of the cost where the triangles
        are a few pixels each."""
        s = self.settings
        rays = _pixel_rays(view, proj, self._fbo_size)
        GL.glDisable(GL.GL_DEPTH_TEST)  # the triangle numbers say which surface is nearest
        GL.glEnable(GL.GL_SCISSOR_TEST)
        # the first cloths' stencil bits (the pixels each covers, from the pre-pass) leave
        # out the rest of their rectangles before any shading
        GL.glEnable(GL.GL_STENCIL_TEST)
        GL.glStencilMask(0)
        GL.glStencilOp(GL.GL_KEEP, GL.GL_KEEP, GL.GL_KEEP)
        GL.glActiveTexture(GL.GL_TEXTURE7)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._cloth_ids)
        for unit, tex in ((8, self._cloth_buffers[2]), (9, self._cloth_buffers[3])):
            GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
            GL.glBindTexture(GL.GL_TEXTURE_BUFFER, tex)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindVertexArray(self._empty_vao)
        groups: dict[tuple, list[int]] = {}
        for c in map(int, np.flatnonzero(chosen)):
            key = material_key(self._cloths[c].mesh, s.detail)
            groups.setdefault(key + ((c,) if key[1] else ()), []).append(c)
        for key, members in groups.items():
            p = self._program(shaders.QUAD_VS, shaders.CLOTH_FS, material_constants(switches, key))
            if p not in ready:
                setup(p)
                GL.glUniformMatrix3fv(self._loc(p, "pixel_rays"), 1, True, rays)
                for unit, name in ((7, "cloth_ids"), (8, "cloth_faces"), (9, "cloth_vertices")):
                    GL.glUniform1i(self._loc(p, name), unit)
                GL.glUniform1i(self._loc(p, "num_vertices"), int(self._cloth_layout[1][-1]))
                ready.add(p)
            GL.glUseProgram(p)
            mats = [self._cloths[c].mesh.material for c in members]
            glow = np.asarray([emission(m, time) for m in mats], np.float32)
            # the members' uniforms stay with the program: set where they changed
            if self._pixel_members.get(p) != (members, glow.tobytes()):
                self._set_members(p, members, mats, glow)
                self._pixel_members[p] = (members, glow.tobytes())
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._cloths[members[0]].mesh.texture)
            if max(members) < STENCIL_CLOTHS:
                bits = sum(1 << c for c in members)
                GL.glStencilFunc(GL.GL_NOTEQUAL, 0, bits)
            else:
                GL.glStencilFunc(GL.GL_ALWAYS, 0, 0)
            x0, y0, x1, y1 = _union_rect(self._rects[members])  # this frame's (the pre-pass)
            GL.glScissor(x0, y0, x1 - x0, y1 - y0)
            _draw_arrays(GL.GL_TRIANGLES, 0, 3)
        GL.glStencilMask(0xFF)
        GL.glDisable(GL.GL_STENCIL_TEST)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glEnable(GL.GL_DEPTH_TEST)

    def _set_members(self, p: int, members: list[int], mats: list, glow: np.ndarray) -> None:
        """Set ``CLOTH_FS``'s uniform arrays of program ``p`` for the cloths ``members``
        (their materials ``mats``, emission ``glow``)."""
        first, n = self._cloth_first, len(members)
        arrays = {
            "member_first": [first[c] for c in members],
            "member_count": [len(self._cloths[c].faces) for c in members],
            "member_roughness": [m.roughness for m in mats],
            "member_metallic": [m.metallic for m in mats],
            "member_tex_scale": [m.texture_scale for m in mats],
            "member_instance_id": [len(self._parts) + c + 1 for c in members],
        }
        for name, values in arrays.items():
            GL.glUniform1fv(self._loc(p, name), n, np.asarray(values, np.float32))
        colours = np.asarray([m.base_color for m in mats], np.float32)
        GL.glUniform4fv(self._loc(p, "member_base_color"), n, colours)
        GL.glUniform3fv(self._loc(p, "member_emissive"), n, glow)
        GL.glUniform1i(self._loc(p, "members"), n)

    def _coverage_pass(self, part_poses: np.ndarray, view_proj: np.ndarray) -> np.ndarray:
        """Pixels each part (then each cloth) covers with occlusion ignored (one occlusion
        query per part; the stencil lets every pixel count once even where a part overlaps
        itself). The first ``STENCIL_CLOTHS`` cloths are counted from the bits the depth
        pre-pass left in the stencil (the same pixels: rasterizing does not depend on the
        depth test), by reading it back, instead of being drawn again. A part that stood
        still under the same view since the last pass keeps the count it had there (the
        same triangles rasterized the same way)."""
        num_parts = len(self._parts)
        counts = np.zeros(num_parts + len(self._cloths) + 1, dtype=np.int64)
        poses_now = np.array(part_poses, float)
        vp = np.array(view_proj, float)
        kept = np.zeros(num_parts, bool)
        last = self._coverage
        if last is not None and last[1] == self._fbo_size and np.array_equal(last[0], vp):
            kept = self._in_view & last[3] & (poses_now == last[2]).all(axis=(1, 2))
            counts[1 : num_parts + 1][kept] = last[4][1 : num_parts + 1][kept]
        stenciled = min(len(self._cloths), STENCIL_CLOTHS)
        if stenciled:
            # only the rectangle that holds every pixel of those cloths is read
            rects = self._cloth_rects_in(vp)[:stenciled]
            rects = rects[(rects[:, 2] > rects[:, 0]) & (rects[:, 3] > rects[:, 1])]
            if len(rects):
                x0, y0, x1, y1 = _union_rect(rects)
                stencil = np.empty((y1 - y0, x1 - x0), np.uint8)
                GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
                _raw_read_pixels(
                    x0, y0, x1 - x0, y1 - y0, GL.GL_STENCIL_INDEX, GL.GL_UNSIGNED_BYTE,
                    stencil.ctypes.data_as(ctypes.c_void_p),
                )  # fmt: skip
                pixels = np.bincount(stencil.reshape(-1), minlength=256)
                values = np.arange(256)
                for c in range(stenciled):
                    counts[num_parts + c + 1] = pixels[(values >> c) & 1 == 1].sum()
            GL.glStencilMask(0xFF)
            GL.glClear(GL.GL_STENCIL_BUFFER_BIT)
        counted = np.array([bool(meshes) for meshes in self._parts], bool) & self._in_view
        drawable = [int(i) for i in np.flatnonzero(counted & ~kept)]
        drawable += list(range(num_parts + stenciled, num_parts + len(self._cloths)))
        if not drawable:
            self._coverage = (vp, self._fbo_size, poses_now, counted, counts.copy())
            return counts
        model_loc = self._use_positions(view_proj)
        poses = _Matrices(part_poses)
        GL.glColorMask(False, False, False, False)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(False)
        GL.glEnable(GL.GL_STENCIL_TEST)
        GL.glStencilOp(GL.GL_KEEP, GL.GL_KEEP, GL.GL_REPLACE)
        queries = GL.glGenQueries(len(drawable))
        queries = np.atleast_1d(queries)
        for k, (q, index) in enumerate(zip(queries, drawable, strict=True)):
            ref = k % 255 + 1  # a value no pixel holds since the last clear
            if ref == 1:
                GL.glClear(GL.GL_STENCIL_BUFFER_BIT)
            GL.glStencilFunc(GL.GL_NOTEQUAL, ref, 0xFF)
            _begin_query(GL.GL_SAMPLES_PASSED, int(q))  # the raw calls: a part costs less
            if index < num_parts:
                self._draw_part(model_loc, poses, index)
            else:
                self._draw_cloth(model_loc, self._cloths[index - num_parts])
            _end_query(GL.GL_SAMPLES_PASSED)
        result = ctypes.c_uint(0)
        for q, index in zip(queries, drawable, strict=True):
            _get_query(int(q), GL.GL_QUERY_RESULT, ctypes.byref(result))
            counts[index + 1] = result.value
        GL.glDeleteQueries(len(queries), queries)
        GL.glDisable(GL.GL_STENCIL_TEST)
        GL.glColorMask(True, True, True, True)
        self._coverage = (vp, self._fbo_size, poses_now, counted, counts.copy())
        return counts

    def _read(self, width: int, height: int) -> Frame:
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)

        def read(attachment, fmt, gltype, dtype, channels):
            with self._timed(f"read{attachment - GL.GL_COLOR_ATTACHMENT0}"):
                GL.glReadBuffer(attachment)
                out = np.empty((height, width, channels), dtype=dtype)
                _raw_read_pixels(
                    0, 0, width, height, fmt, gltype, out.ctypes.data_as(ctypes.c_void_p)
                )
                return out[::-1]

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._post[0])
        rgba = read(GL.GL_COLOR_ATTACHMENT0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, np.uint8, 4)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo[0])
        depth_id = read(GL.GL_COLOR_ATTACHMENT1, GL.GL_RG, GL.GL_FLOAT, np.float32, 2)
        normals = read(GL.GL_COLOR_ATTACHMENT2, GL.GL_RGBA, GL.GL_HALF_FLOAT, np.float16, 4)
        uv = read(GL.GL_COLOR_ATTACHMENT3, GL.GL_RGBA, GL.GL_FLOAT, np.float32, 4)
        z = read(GL.GL_COLOR_ATTACHMENT4, GL.GL_RG, GL.GL_FLOAT, np.float32, 2)
        return Frame(
            rgb=np.ascontiguousarray(rgba[..., :3]),
            depth=np.ascontiguousarray(depth_id[..., 0]),
            instance=np.rint(depth_id[..., 1]).astype(np.uint16),
            normals=np.ascontiguousarray(normals[..., :3]),
            unoccluded_pixels=np.zeros(0, dtype=np.int64),
            uv_next_prev=uv,
            z_next_prev=z,
        )


def shadow_faces(cloth: Cloth) -> np.ndarray:
    """The faces (T, 3) of ``cloth`` that shadow maps draw: a person's region's coarsest
    level of detail, where it has fewer faces than the drawn one."""
    faces = np.asarray(cloth.mesh.faces)
    coarse = np.asarray(cloth.skin_levels[-1][1]) if cloth.skin_levels else faces
    return coarse if len(coarse) < len(faces) else faces


def closed_regions(cloths: list[Cloth]) -> np.ndarray:
    """Per cloth, whether its shadow faces (``shadow_faces``) and those of its person's
    other regions (the cloths of the same ``skin``, their vertices numbered in the whole
    body by ``skin_vertices``) bound a closed surface facing out: every edge met as often
    one way round as the other (a surface without border, where a pedestrian's clustered
    mesh may meet itself along an edge), and a positive volume at rest. Seen from
    outside, such a surface shows only its front faces, so a depth map may leave its
    back faces out."""
    closed = np.zeros(len(cloths), bool)
    people: dict[str, list[int]] = {}
    for c, cloth in enumerate(cloths):
        if cloth.skin and cloth.skin_vertices is not None:
            people.setdefault(cloth.skin, []).append(c)
    for members in people.values():
        size = 1 + max(int(np.max(cloths[c].skin_vertices)) for c in members)
        rest = np.zeros((size, 3))
        faces = []
        for c in members:
            number = np.asarray(cloths[c].skin_vertices, np.int64)
            rest[number] = np.asarray(cloths[c].mesh.vertices, float)
            faces.append(number[shadow_faces(cloths[c])])
        f = np.concatenate(faces)
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        keys, back = edges[:, 0] * size + edges[:, 1], edges[:, 1] * size + edges[:, 0]
        a, b, d = rest[f[:, 0]], rest[f[:, 1]], rest[f[:, 2]]
        volume = np.einsum("ij,ij->", a, np.cross(b, d)) / 6.0
        whole = np.array_equal(np.sort(keys), np.sort(back))
        closed[members] = whole and volume > 0
    return closed


def _use_material(locs: dict, material: Material, texture: int, time: float) -> None:
    """Give the bound shading program ``material`` (its ``shaders.MATERIAL_UNIFORMS`` at
    ``locs``, its emission at ``time``) and bind its ``texture`` to the active unit."""
    GL.glUniform4f(locs["base_color"], *material.base_color)
    GL.glUniform1f(locs["roughness"], material.roughness)
    GL.glUniform1f(locs["metallic"], material.metallic)
    GL.glUniform3f(locs["emissive"], *emission(material, time))
    GL.glUniform1f(locs["tex_scale"], material.texture_scale)
    GL.glBindTexture(GL.GL_TEXTURE_2D, texture)


def _colour_and_depth(colour_format: int, width: int, height: int) -> tuple[int, int]:
    """Renderbuffers of ``colour_format`` and of depth and stencil, attached to the bound
    framebuffer as its first colour and its depth-stencil attachments."""
    rbos = tuple(int(r) for r in np.atleast_1d(GL.glGenRenderbuffers(2)))
    for rbo, fmt, attachment in zip(
        rbos,
        (colour_format, GL.GL_DEPTH24_STENCIL8),
        (GL.GL_COLOR_ATTACHMENT0, GL.GL_DEPTH_STENCIL_ATTACHMENT),
        strict=True,
    ):
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rbo)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, fmt, width, height)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, attachment, GL.GL_RENDERBUFFER, rbo)
    return rbos


def _static_buffers(vertices: np.ndarray, indices: np.ndarray) -> tuple[int, int, int]:
    """A vertex array (left bound, for its attributes to be declared) over new static
    buffers holding ``vertices`` and ``indices``: (vao, vbo, ebo)."""
    vao = GL.glGenVertexArrays(1)
    vbo, ebo = GL.glGenBuffers(2)
    GL.glBindVertexArray(vao)
    GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
    GL.glBufferData(GL.GL_ARRAY_BUFFER, vertices.nbytes, vertices, GL.GL_STATIC_DRAW)
    GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ebo)
    GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, indices.nbytes, indices, GL.GL_STATIC_DRAW)
    return vao, vbo, ebo


def _upload_positions(meshes: list, like: _GpuMesh) -> _GpuMesh:
    """The meshes' positions alone as one vertex/index buffer (all that the shadow maps'
    program reads), with ``like``'s material."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    vertices = np.ascontiguousarray(np.concatenate([m.vertices for m in meshes]), np.float32)
    indices = np.concatenate(
        [np.asarray(m.faces, np.uint32).reshape(-1) + np.uint32(o)
         for m, o in zip(meshes, offsets, strict=True)]
    )  # fmt: skip
    vao, vbo, ebo = _static_buffers(vertices, indices)
    GL.glEnableVertexAttribArray(0)
    GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, False, 12, ctypes.c_void_p(0))
    GL.glBindVertexArray(0)
    return _GpuMesh(vao, (vbo, ebo), len(indices), like.material, like.texture)


def _cloth_buffers(cloths: list[_GpuCloth]) -> tuple[int, int, int, int] | None:
    """The cloths' vertex buffer: six blocks (``_GpuCloth``) of every cloth's rows in
    order, the rest ones written here and the others by ``_update_cloths`` each frame,
    each cloth's vertex array pointed at its rows; and for shading the cloths' pixels
    (``CLOTH_FS``) every cloth's drawn faces in order (so a triangle's number, from 1, is
    its row plus one), three rows of the vertex buffer each; with buffer textures over
    the two. None without cloths."""
    if not cloths:
        return None
    starts = np.cumsum([0] + [len(gpu.rest) for gpu in cloths])
    faces = np.concatenate([gpu.faces + start for gpu, start in zip(cloths, starts, strict=False)])
    faces = np.ascontiguousarray(faces, dtype=np.uint32)
    rest = np.concatenate([gpu.rest for gpu in cloths])
    faces_buffer, vertex_buffer = (int(b) for b in np.atleast_1d(GL.glGenBuffers(2)))
    GL.glBindBuffer(GL.GL_TEXTURE_BUFFER, faces_buffer)
    GL.glBufferData(GL.GL_TEXTURE_BUFFER, faces.nbytes, faces, GL.GL_STATIC_DRAW)
    block = len(rest) * 12
    GL.glBindBuffer(GL.GL_TEXTURE_BUFFER, vertex_buffer)
    GL.glBufferData(GL.GL_TEXTURE_BUFFER, 6 * block, None, GL.GL_DYNAMIC_DRAW)
    for loc in (2, 3):  # the rest position and normal, once
        values = np.ascontiguousarray(rest[:, 3 * (loc - 2) : 3 * (loc - 1)], np.float32)
        GL.glBufferSubData(GL.GL_TEXTURE_BUFFER, loc * block, block, values)
    GL.glBindBuffer(GL.GL_TEXTURE_BUFFER, 0)
    GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vertex_buffer)
    for gpu, start in zip(cloths, starts, strict=False):
        GL.glBindVertexArray(gpu.mesh.vao)
        for loc in range(6):
            GL.glEnableVertexAttribArray(loc)
            offset = ctypes.c_void_p(int(loc * block + start * 12))
            GL.glVertexAttribPointer(loc, 3, GL.GL_FLOAT, False, 12, offset)
    GL.glBindVertexArray(0)
    textures = tuple(int(t) for t in np.atleast_1d(GL.glGenTextures(2)))
    for tex, fmt, buffer in ((textures[0], GL.GL_RGB32UI, faces_buffer),
                             (textures[1], GL.GL_RGB32F, vertex_buffer)):  # fmt: skip
        GL.glBindTexture(GL.GL_TEXTURE_BUFFER, tex)
        GL.glTexBuffer(GL.GL_TEXTURE_BUFFER, fmt, buffer)
    GL.glBindTexture(GL.GL_TEXTURE_BUFFER, 0)
    return faces_buffer, vertex_buffer, *textures


def _cloth_layout(cloths: list[_GpuCloth], sizes: list[int]) -> tuple:
    """How ``_update_cloths`` treats every cloth at once: the rows of the cloths' stacked
    vertices (``sizes`` each) their buffers hold (None: all), each cloth's first row
    among those (C + 1,), the faces' corners as such rows (three (T,) arrays) and which
    faces meet at each row (block-diagonal, the cloths' own matrices)."""
    if not cloths:
        return None, np.zeros(1, int), (), None
    offsets = np.cumsum([0, *sizes])
    take = np.concatenate([
        (np.arange(n) if gpu.used is None else gpu.used) + offset
        for gpu, n, offset in zip(cloths, sizes, offsets[:-1], strict=True)
    ])  # fmt: skip
    starts = np.cumsum([0] + [len(gpu.rest) for gpu in cloths])
    columns = tuple(
        np.concatenate([g.columns[k] + start for g, start in zip(cloths, starts[:-1], strict=True)])
        for k in range(3)
    )
    corners = sparse.block_diag([gpu.corners for gpu in cloths], format="csr")
    return (None if len(take) == offsets[-1] else take), starts, columns, corners


def cloth_rects(lo: np.ndarray, hi: np.ndarray, view_proj: np.ndarray, size: tuple) -> np.ndarray:
    """Per box (its corners ``lo``, ``hi``: (C, 3) world), a rectangle (x0, y0, x1, y1) (C,
    4) of a frame of ``size`` (width, height; GL's pixel rows, from the bottom) that holds
    every pixel the box's contents can cover: the box projected by ``view_proj``, a pixel of
    margin, widened to whole 2x2 quads (the whole frame where the box reaches behind the
    camera or is not finite, none where it lies all behind)."""
    width, height = size
    pick = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], bool)
    corners = np.where(pick, hi[:, None, :], lo[:, None, :])  # (C, 8, 3)
    homogeneous = np.concatenate([corners, np.ones((*corners.shape[:2], 1))], axis=2)
    clip = homogeneous @ np.asarray(view_proj, float).T  # (C, 8, 4)
    w = clip[..., 3]
    whole = ~np.isfinite(corners).all(axis=(1, 2)) | ((w <= 1e-6).any(axis=1) & (w > 0).any(axis=1))
    behind = (w <= 0).all(axis=1) & ~whole
    with np.errstate(divide="ignore", invalid="ignore"):
        ndc = clip[..., :2] / clip[..., 3:]
    lo_px = np.floor((ndc.min(axis=1) + 1) / 2 * (width, height)) - 1
    hi_px = np.ceil((ndc.max(axis=1) + 1) / 2 * (width, height)) + 1
    rects = np.zeros((len(lo), 4), int)
    fine = ~(whole | behind)
    rects[fine, :2] = np.clip(lo_px[fine] // 2 * 2, 0, (width, height))
    rects[fine, 2:] = np.clip(-(-hi_px[fine] // 2) * 2, 0, (width, height))
    rects[whole] = (0, 0, width, height)
    return rects


def _union_rect(rects: np.ndarray) -> tuple[int, int, int, int]:
    """The rectangle (x0, y0, x1, y1), Python ints, that holds every one of ``rects`` (R,
    4)."""
    (x0, y0), (x1, y1) = rects[:, :2].min(axis=0), rects[:, 2:].max(axis=0)
    return int(x0), int(y0), int(x1), int(y1)


def _pixel_rays(view: np.ndarray, proj: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(3, 3) float32 matrix taking a window position (x, y, 1) (pixel centres at
    halves) to the world direction of the ray from the eye through it, for a perspective
    ``proj`` (a GL projection, no skew) after ``view``: computed in float64, where a
    float32 inverse of view-projection would move a surface's depth by ~1e-4 of itself."""
    width, height = size
    P = np.asarray(proj, float)
    # window -> NDC -> the camera-space point at z = -1 (clip w = 1) on the ray
    to_camera = np.array([
        [2.0 / width / P[0, 0], 0.0, (P[0, 2] - 1.0) / P[0, 0]],
        [0.0, 2.0 / height / P[1, 1], (P[1, 2] - 1.0) / P[1, 1]],
        [0.0, 0.0, -1.0],
    ])  # fmt: skip
    rotation = np.asarray(view, float)[:3, :3].T  # camera to world
    return np.ascontiguousarray(rotation @ to_camera, np.float32)


class _Matrices:
    """4x4 matrices as contiguous float32, for glUniformMatrix4fv by address (the raw
    entry points: PyOpenGL's converting wrappers cost several times the call)."""

    def __init__(self, matrices: np.ndarray):
        self.array = np.ascontiguousarray(np.asarray(matrices).reshape(-1, 4, 4), np.float32)
        self.base = self.array.ctypes.data

    def address(self, index: int) -> ctypes.c_void_p:
        return ctypes.c_void_p(self.base + 64 * index)


_IDENTITY = _Matrices(np.eye(4))


class _PassTimer:
    """Adds the wall and process CPU time of a block, GL work finished on both sides,
    to ``wall`` and ``cpu``."""

    def __init__(self, wall: dict[str, float], cpu: dict[str, float], name: str):
        self.wall, self.cpu, self.name = wall, cpu, name

    def __enter__(self):
        GL.glFinish()
        self.start = (perf_counter(), process_time())

    def __exit__(self, *exc):
        GL.glFinish()
        wall, cpu = perf_counter() - self.start[0], process_time() - self.start[1]
        self.wall[self.name] = self.wall.get(self.name, 0.0) + wall
        self.cpu[self.name] = self.cpu.get(self.name, 0.0) + cpu
        return False


def _bounding_sphere(vertex_sets: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """A sphere (centre, radius) around all vertices (that of their bounding box)."""
    points = [np.asarray(v, float).reshape(-1, 3) for v in vertex_sets if len(v)]
    if not points:
        return np.zeros(3), 0.0
    points = np.concatenate(points)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    return centre, float(np.linalg.norm(points - centre, axis=1).max()) * 1.01 + 1e-3


def _check_framebuffer() -> None:
    status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
    if status != GL.GL_FRAMEBUFFER_COMPLETE:
        raise RuntimeError(f"framebuffer incomplete: {status:#x}")


DEFAULT_AMBIENT = 0.35  # Sky.ambient at which the light probe sees the sky at its own level


def probe_grid(bounds: np.ndarray, count: int) -> tuple | None:
    """The irradiance grid over ``bounds`` (2, 3): ``count`` probes along x and along y
    (in the middles of equal cells) at two heights, 0.3 m above the floor (under tables)
    and at the light probe's 1.5 m; (origin, 1 / spacing, counts, positions (N, 3) in
    x-major order), or None for ``count`` 1 or cells wider than ``GRID_MAX_SPACING``
    (outdoors: the light probe alone)."""
    if count <= 1:
        return None
    lo, hi = np.asarray(bounds, float)
    size = hi - lo
    step = np.maximum(size[:2] / count, 1e-3)
    if step.max() > GRID_MAX_SPACING:
        return None
    first = lo[:2] + step / 2
    z = lo[2] + np.array([min(0.3, 0.25 * size[2]), min(1.5, 0.5 * size[2])])
    origin = np.array([first[0], first[1], z[0]])
    inv_step = np.array([1 / step[0], 1 / step[1], 1 / max(z[1] - z[0], 1e-3)])
    i, j, k = np.meshgrid(np.arange(count), np.arange(count), np.arange(2), indexing="ij")
    positions = np.stack(
        [origin[0] + i.ravel() * step[0], origin[1] + j.ravel() * step[1], z[k.ravel()]], axis=1
    )
    return origin, inv_step, np.array([count, count, 2], float), positions


def detail_kind(material: Material) -> int:
    """The procedural detail a material gets (see ``shaders.MESH_FS``): by a word of its
    name, brushed metal for metallic ones, none otherwise."""
    name = material.name.lower()
    for word, kind in DETAIL_KINDS.items():
        if word in name:
            return kind
    return 4 if material.metallic >= 0.5 else 0


def material_key(mesh: _GpuMesh, detail: bool) -> tuple[int, int]:
    """What of a mesh's material its shading program compiles in: its procedural detail
    kind (0 where ``detail`` is off) and whether it has a texture."""
    return (mesh.detail if detail else 0, int(mesh.material.texture is not None))


def material_constants(switches: dict, key: tuple[int, int]) -> dict:
    """A shading program's compiled constants: the pass's ``switches`` and its material's
    (``material_key``)."""
    return {**switches, "detail_kind": key[0], "has_texture": key[1]}


def shading_lights(points: list[tuple], point_shadow: list[int]) -> tuple[list[tuple], list[int]]:
    """The point lights in the order the shading programs take them: those with a cube
    shadow map first (in the order of their maps), then the others in their order; and
    per map the index of its light in that order (-1: no light has it)."""
    mapped = [i for i in point_shadow if i >= 0]
    order = mapped + [i for i in range(len(points)) if i not in mapped]
    slots = [order.index(i) if i >= 0 else -1 for i in point_shadow]
    return [points[i] for i in order], slots


def white_balance_gains(kelvin: float) -> tuple[float, float, float]:
    """Per-channel gains of a camera balanced for light of ``kelvin``: the colour of a
    6500 K black body divided by that of ``kelvin`` (Tanner Helland's fit), normalised
    to keep luminance; 6500 K gives (1, 1, 1)."""

    def rgb(k: float) -> np.ndarray:
        t = k / 100.0
        r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
        g = (
            99.4708025861 * np.log(t) - 161.1195681661
            if t <= 66
            else 288.1221695283 * (t - 60) ** -0.0755148492
        )
        b = (
            255.0
            if t >= 66
            else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
        )
        return (np.clip([r, g, b], 1.0, 255.0) / 255.0) ** 2.2

    gains = rgb(6500.0) / rgb(kelvin)
    gains /= gains @ np.array([0.2126, 0.7152, 0.0722])
    return tuple(float(g) for g in gains)


def _same_arrays(a: tuple, b: list | None) -> bool:
    return b is not None and len(a) == len(b) and all(map(np.array_equal, a, b))


def emission(material: Material, time: float) -> tuple[float, float, float]:
    """A material's emitted colour at ``time``: ``emissive`` until the first of its
    ``emissive_keys``, then the colour of the last key at or before ``time``."""
    colour = material.emissive
    for key_time, key_colour in material.emissive_keys:
        if key_time > time:
            break
        colour = key_colour
    return tuple(colour)


def _sun_matrix(direction: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Orthographic view-projection of the sun covering ``bounds`` (2, 3)."""
    from simfactory.sim.model.camera import CV_TO_GL, look_at

    center = bounds.mean(axis=0)
    radius = max(float(np.linalg.norm(bounds[1] - bounds[0]) / 2), 1e-3)
    d = direction / np.linalg.norm(direction)
    up = (0.0, 1.0, 0.0) if abs(d[2]) > 0.99 else (0.0, 0.0, 1.0)
    view = CV_TO_GL @ invert(look_at(center - d * 2 * radius, center, up))
    near, far = radius, 3 * radius
    proj = np.diag([1 / radius, 1 / radius, -2 / (far - near), 1.0])
    proj[2, 3] = -(far + near) / (far - near)
    return proj @ view


_RENDERER: Renderer | None = None


def process_renderer(device: int | None = None) -> Renderer:
    """The renderer of this process, created on first use and kept for its life."""
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = Renderer(device)
    return _RENDERER
