"""Path-traced colour frames with Mitsuba 3, from the same meshes, poses, materials,
lights, sky, fog and cameras as the raster renderer.

The Mitsuba scene is built once per clip: one mesh per part and material (as the raster
draws them, not merged), one per cloth, with vertices written in world space every frame
through ``mi.traverse`` (a part absent from a frame collapses to a point and is hit by no
ray). Units follow the raster's shading exactly: a sun of colour ``c`` and intensity
``I`` is a directional emitter of irradiance ``c I``, a point light one of radiant
intensity ``c I``, a spot light has full intensity inside ``cone_deg / 2`` and none
beyond ``cone_deg / 2 + 10`` degrees, an emissive material is an area emitter of its
emitted radiance, and the sky is an environment emitter (``sky_radiance``). Fog is the
raster's analytic blend, applied to the primary ray's radiance with its hit distance.
Materials become a two-sided principled BSDF (base colour times texture, roughness,
metallic; specular 0.5, i.e. a 0.04 reflectance at normal incidence), textures keep the
raster's box mapping.

Pixels are sampled with multi-jittered samples and a box filter (a Gaussian leaves noise
the denoiser cannot remove) and denoised with Open Image Denoise from albedo and normal
AOVs, which are treated as clean (first-hit values averaged over the pixel's samples).
Next-event estimation picks a light in proportion to the irradiance it delivers
(``emitter_weights``); this changes the noise, not the converged image.

The CUDA backend (``cuda_ad_rgb``) is used where a CUDA GPU is present, the LLVM backend
(``llvm_ad_rgb``, needs libLLVM >= 16: ``DRJIT_LIBLLVM_PATH`` is pointed at Debian's
libLLVM-19 when not set) otherwise.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import time as clock

import numpy as np

from simfactory.sim.model.spec import Cloth, Fog, Light, Material, Sky, Visual
from simfactory.sim.render.tonemap import AUTO_EXPOSURE_MAX, tonemap

INSTALL_HINT = "pip install 'simfactory[pathtrace]'"
LLVM_HINT = "apt-get install libllvm19 (or set DRJIT_LIBLLVM_PATH to a libLLVM >= 16)"
LLVM_PATTERNS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM-{v}.so",
    "/usr/lib/aarch64-linux-gnu/libLLVM-{v}.so",
    "/usr/lib/llvm-{v}/lib/libLLVM-{v}.so",
    "/usr/lib/llvm-{v}/lib/libLLVM.so",
    "/usr/lib64/libLLVM-{v}.so",
)
LLVM_VERSIONS = (19, 20, 18, 17, 16)
MAX_LANES = 1 << 22  # samples traced in one wavefront (memory), the rest in further passes
SKY_SIZE = (64, 128)  # rows, columns of the sky's latitude-longitude map
SHAPE_PREFIX = "shape"
DEFAULT_AMBIENT = 0.35  # Sky.ambient at which the sky lights the scene at its own radiance
SAMPLER = "multijitter"  # pixel samples of the colour pass
LIGHT_DISTANCE = 2.0  # m: local lights' irradiance is estimated at this distance
SKY_NEE_SHARE = 0.25  # the sky's light-sampling weight per unit of its irradiance


def llvm_library() -> str | None:
    """A libLLVM that Mitsuba's CPU backend accepts: ``DRJIT_LIBLLVM_PATH`` if set, else
    the newest of versions 16-20 found in the usual Debian paths; None if none."""
    if os.environ.get("DRJIT_LIBLLVM_PATH"):
        return os.environ["DRJIT_LIBLLVM_PATH"]
    for version in LLVM_VERSIONS:
        for pattern in LLVM_PATTERNS:
            found = sorted(glob.glob(pattern.format(v=version)))
            if found:
                return found[0]
    return None


def _cuda_present() -> bool:
    return any(os.path.exists(p) for p in ("/dev/nvidia0", "/proc/driver/nvidia/version"))


def missing(denoise: bool = True) -> str | None:
    """Why the path tracer cannot run here (a one-line hint), or None if it can."""
    if importlib.util.find_spec("mitsuba") is None:
        return f"mitsuba is not installed ({INSTALL_HINT})"
    if denoise and importlib.util.find_spec("pyoidn") is None:
        return f"pyoidn (Open Image Denoise) is not installed ({INSTALL_HINT})"
    if not _cuda_present() and llvm_library() is None:
        return f"Mitsuba's CPU backend needs libLLVM >= 16: {LLVM_HINT}"
    return None


_MI = None


def mitsuba():
    """The ``mitsuba`` module with its variant set: ``cuda_ad_rgb`` where a CUDA GPU is
    present, ``llvm_ad_rgb`` otherwise (with ``DRJIT_LIBLLVM_PATH`` set first)."""
    global _MI
    if _MI is not None:
        return _MI
    library = llvm_library()
    if library and "DRJIT_LIBLLVM_PATH" not in os.environ:
        os.environ["DRJIT_LIBLLVM_PATH"] = library
    import drjit as dr
    import mitsuba as mi

    variant = "llvm_ad_rgb"
    if _cuda_present() and dr.has_backend(dr.JitBackend.CUDA):
        variant = "cuda_ad_rgb"
    elif not dr.has_backend(dr.JitBackend.LLVM):
        raise RuntimeError(f"Mitsuba's CPU backend found no usable libLLVM: {LLVM_HINT}")
    mi.set_variant(variant)
    threads = os.environ.get("LP_NUM_THREADS")  # the executor's share of the cores
    if variant.startswith("llvm") and threads and threads.isdigit():
        dr.set_thread_count(max(1, int(threads)))
    _MI = mi
    return mi


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear (the raster's GL_SRGB8 textures)."""
    c = np.asarray(image[..., :3], dtype=np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def sky_gradient(sky: Sky, directions: np.ndarray) -> np.ndarray:
    """The spec's sky colour (zenith, horizon, ground) along unit world ``directions``
    (..., 3), as the raster's gradient sky draws it."""
    z = np.clip(directions[..., 2:3], -1.0, 1.0)
    zenith, horizon, ground = (np.asarray(c, dtype=np.float64) for c in sky_colours(sky))
    up = horizon + (zenith - horizon) * np.power(np.maximum(z, 0.0), 0.6)
    down = horizon + (ground - horizon) * np.power(np.maximum(-z, 0.0), 0.4)
    return np.where(z >= 0.0, up, down)


def sky_colours(sky: Sky):
    return sky.zenith, sky.horizon, sky.ground


def sky_radiance(
    sky: Sky, directions: np.ndarray, sun: Light | None = None, render: dict | None = None
) -> np.ndarray:
    """Radiance of the sky emitter along unit world ``directions`` (..., 3).

    The sky is the raster's model of it: ``sim.render.sky.sky_radiance`` (Preetham's
    daylight from the sun's direction, ``render.sky_model`` and ``render.turbidity``)
    where the raster has one, the spec's gradient otherwise; it lights the scene scaled
    by ``sky.ambient / DEFAULT_AMBIENT``, as the raster's light probe sees it.
    """
    scale = sky.ambient / DEFAULT_AMBIENT
    try:
        from simfactory.sim.render import sky as raster_sky
    except ImportError:
        return (scale * sky_gradient(sky, directions)).astype(np.float32)
    render = render or {}
    to_sun = None if sun is None else -np.asarray(sun.direction, dtype=float)
    model = render.get("sky_model", "preetham") if render.get("ibl", True) else "gradient"
    flat = np.asarray(directions, dtype=float).reshape(-1, 3)
    rgb = raster_sky.sky_radiance(flat, sky, to_sun, render.get("turbidity", 3.0), model)
    return (scale * np.asarray(rgb)).reshape(directions.shape).astype(np.float32)


def sky_map(
    sky: Sky, sun: Light | None = None, render: dict | None = None, size=SKY_SIZE
) -> np.ndarray:
    """The sky as a latitude-longitude map (rows from the zenith down) for Mitsuba's
    ``envmap`` with ``SKY_TO_WORLD``: row centre v looks at world z = cos(pi v)."""
    rows, cols = size
    theta = (np.arange(rows) + 0.5) / rows * np.pi
    phi = (np.arange(cols) + 0.5) / cols * 2.0 * np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(t) * np.sin(p), np.sin(t) * np.cos(p), np.cos(t)], axis=-1)
    return np.ascontiguousarray(sky_radiance(sky, d, sun, render), dtype=np.float32)


def sky_irradiance(sky_rgb: np.ndarray) -> float:
    """Luminance of the irradiance a latitude-longitude sky map (``sky_map``) delivers
    to an upward-facing, unoccluded surface."""
    from simfactory.sim.render.tonemap import luminance

    rows, cols = sky_rgb.shape[:2]
    theta = (np.arange(rows) + 0.5) / rows * np.pi
    cos_sin = np.maximum(np.cos(theta), 0.0) * np.sin(theta) * (np.pi / rows) * (2 * np.pi / cols)
    return float((luminance(sky_rgb) * cos_sin[:, None]).sum())


def emitter_weights(
    lights: list[Light], sky_rgb: np.ndarray, areas: list[tuple[Material, float]] = ()
) -> tuple[list[float], float, list[float]]:
    """Light-sampling weights (``sampling_weight``) of the lights, the sky and the
    emissive surfaces ``areas`` (material, area in m^2): the luminance of the irradiance
    each delivers, unoccluded, facing it: a sun its irradiance, a point or spot light
    and an emissive surface (at its brightest key) as seen from ``LIGHT_DISTANCE``. The
    sky gets ``SKY_NEE_SHARE`` of its irradiance: paths find it by sampling the BSDF
    too, while the sun and point lights can only be found by picking them. Mitsuba
    picks a light with probability proportional to its weight, so the weights change
    the noise only, not the image the samples converge to."""
    from simfactory.sim.render.tonemap import luminance

    def lum(colour) -> float:
        return float(luminance(np.asarray(colour, dtype=float)[:3]))

    light_w = []
    for light in lights:
        power = lum(np.asarray(light.color, dtype=float) * light.intensity)
        light_w.append(power if light.kind == "directional" else power / LIGHT_DISTANCE**2)
    area_w = []
    for mat, area in areas:
        brightest = max([lum(mat.emissive)] + [lum(c) for _, c in mat.emissive_keys])
        area_w.append(brightest * area / LIGHT_DISTANCE**2)
    sky_w = SKY_NEE_SHARE * sky_irradiance(sky_rgb)
    # a floor keeps every light reachable by light sampling
    floor = 1e-3 * max(light_w + area_w + [sky_w, 1e-6])
    return (
        [max(w, floor) for w in light_w],
        max(sky_w, floor),
        [max(w, floor) for w in area_w],
    )


# Mitsuba's envmap is y-up: its local axes x, y, z are world x, z, -y.
SKY_TO_WORLD = np.array([[1.0, 0, 0, 0], [0, 0, -1.0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1.0]])
CV_TO_MITSUBA = np.diag([-1.0, -1.0, 1.0, 1.0])  # OpenCV camera axes -> Mitsuba's (x left, y up)


def box_uv(positions: np.ndarray, normals: np.ndarray, scale: float) -> np.ndarray:
    """The raster's box mapping: the position divided by ``scale``, projected along the
    local axis the normal faces most (y z for x, x z for y, x y for z)."""
    a = np.abs(normals)
    p = positions / scale
    use_x = (a[:, 0] >= a[:, 1]) & (a[:, 0] >= a[:, 2])
    use_y = ~use_x & (a[:, 1] >= a[:, 2])
    uv = p[:, 0:2].copy()
    uv[use_x] = p[use_x][:, [1, 2]]
    uv[use_y] = p[use_y][:, [0, 2]]
    return uv.astype(np.float32)


def _part_arrays(visuals: list[Visual], textured: bool, scale: float):
    """World-independent (positions, normals, uvs or None, faces) of one part's visuals
    sharing a material, with the raster's vertices and normals; a textured mesh gets its
    own vertices per triangle, mapped along the axis its corners' normals face most."""
    from simfactory.sim.render.raster import mesh_arrays

    arrays = [mesh_arrays(v) for v in visuals]
    offsets = np.cumsum([0] + [len(vertices) for vertices, _ in arrays[:-1]])
    vertices = np.concatenate([vertices for vertices, _ in arrays]).astype(np.float64)
    faces = np.concatenate(
        [idx.reshape(-1, 3) + o for (_, idx), o in zip(arrays, offsets, strict=True)]
    ).astype(np.uint32)
    positions, normals = vertices[:, :3], vertices[:, 3:]
    if not textured:
        return positions, normals, None, faces
    corners = faces.reshape(-1)
    positions, normals = positions[corners], normals[corners]
    face_normal = normals.reshape(-1, 3, 3).sum(axis=1)
    uv = box_uv(positions, np.repeat(face_normal, 3, axis=0), scale)
    return positions, normals, uv, np.arange(len(corners), dtype=np.uint32).reshape(-1, 3)


def _emits(mat: Material) -> bool:
    return bool(any(mat.emissive) or mat.emissive_keys)


def mesh_area(positions: np.ndarray, faces: np.ndarray) -> float:
    """Surface area of a triangle mesh (m^2)."""
    a, b, c = (positions[faces[:, k]] for k in range(3))
    return float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())


class _Mesh:
    """A Mitsuba mesh and its vertices in its own frame (a part's, or a cloth's rest)."""

    def __init__(self, key, part, cloth, positions, normals, faces, material):
        self.key, self.part, self.cloth = key, part, cloth
        self.positions, self.normals, self.faces = positions, normals, faces
        self.material = material


class PathTracer:
    """Owns one clip's Mitsuba scene and renders its frames.

    ``samples`` per pixel, denoised when ``denoise``; ``max_depth`` bounds the path
    length (Russian roulette ends most paths earlier).
    """

    def __init__(self, samples: int = 64, denoise: bool = True, max_depth: int = 8):
        self.mi = mitsuba()
        self.samples, self.denoise, self.max_depth = int(samples), bool(denoise), int(max_depth)
        self.device_name = f"Mitsuba {self.mi.__version__} {self.mi.variant()}"
        self._integrator = self.mi.load_dict(
            {
                "type": "aov",
                "aovs": "albedo:albedo,normal:sh_normal",
                "integrator": {"type": "path", "max_depth": self.max_depth},
            }
        )
        self._aux_integrator = self.mi.load_dict(
            {"type": "aov", "aovs": "distance:depth,shape:shape_index"}
        )
        self._sensors: dict[tuple, tuple] = {}
        self.scene = None

    # ----------------------------------------------------------------- scene
    def load_scene(
        self,
        part_visuals: list[list[Visual]],
        lights: list[Light],
        sky: Sky,
        fog: Fog | None = None,
        light_parts: list[int] | None = None,
        cloths: list[Cloth] | None = None,
        render: dict | None = None,
    ) -> None:
        """Build the Mitsuba scene of a clip (replacing the previous one); ``render``: the
        config's ``render`` settings (the sky model)."""
        from simfactory.sim.simulate.cloth import vertex_normals

        mi = self.mi
        self.sky, self.fog = sky, fog or Fog()
        self.lights = list(lights)
        self.light_parts = list(light_parts) if light_parts else [-1] * len(lights)
        self.num_parts = len(part_visuals)
        self._meshes: list[_Mesh] = []
        self._bsdfs: dict[int, object] = {}
        pending = []  # (key, positions, normals, uv, faces, material, part, cloth)
        for p, visuals in enumerate(part_visuals):
            groups: dict[int, list[Visual]] = {}
            for v in visuals:
                groups.setdefault(id(v.material), []).append(v)
            for k, group in enumerate(groups.values()):
                mat = group[0].material
                pos, nrm, uv, faces = _part_arrays(
                    group, mat.texture is not None, mat.texture_scale
                )
                pending.append((f"{SHAPE_PREFIX}_p{p}_{k}", pos, nrm, uv, faces, mat, p, -1))
        for c, cloth in enumerate(cloths or []):
            faces = np.asarray(cloth.mesh.faces, dtype=np.uint32)
            rest = np.asarray(cloth.mesh.vertices, dtype=np.float64)
            rest_normals = vertex_normals(rest, faces)
            mat = cloth.material
            uv = box_uv(rest, rest_normals, mat.texture_scale) if mat.texture is not None else None
            pending.append((f"{SHAPE_PREFIX}_c{c}", rest, rest_normals, uv, faces, mat, -1, c))
        suns = [light for light in self.lights if light.kind == "directional"]
        sky_rgb = sky_map(sky, suns[0] if suns else None, render)
        emissive = [m for m in pending if _emits(m[5])]
        light_w, sky_w, area_w = emitter_weights(
            self.lights, sky_rgb, [(m[5], mesh_area(m[1], m[4])) for m in emissive]
        )
        weight_of = {m[0]: w for m, w in zip(emissive, area_w, strict=True)}
        scene: dict = {"type": "scene"}
        for key, pos, nrm, uv, faces, mat, p, c in pending:
            scene[key] = self._mesh(key, pos, nrm, uv, faces, mat, weight_of.get(key, 1.0))
            self._meshes.append(_Mesh(key, p, c, pos, nrm, faces, mat))
        for i, light in enumerate(self.lights):
            emitter = self._light(light)
            if emitter is not None:
                scene[f"light_{i}"] = emitter | {"sampling_weight": light_w[i]}
        scene["sky"] = {
            "type": "envmap",
            "bitmap": mi.Bitmap(sky_rgb),
            "to_world": mi.ScalarTransform4f(SKY_TO_WORLD),
            "sampling_weight": sky_w,
        }
        self.scene = mi.load_dict(scene)
        self.params = mi.traverse(self.scene)
        self._shape_ids = self._id_table()

    def _bsdf(self, mat: Material):
        key = id(mat)
        if key not in self._bsdfs:
            base = np.clip(np.asarray(mat.base_color[:3], dtype=np.float32), 0.0, 1.0)
            if mat.texture is not None:
                texture = np.ascontiguousarray(srgb_to_linear(mat.texture) * base)
                colour = {"type": "bitmap", "bitmap": self.mi.Bitmap(texture), "raw": True}
            else:
                colour = {"type": "rgb", "value": base.tolist()}
            self._bsdfs[key] = self.mi.load_dict(
                {
                    "type": "twosided",
                    "bsdf": {
                        "type": "principled",
                        "base_color": colour,
                        "roughness": float(np.clip(mat.roughness, 0.0, 1.0)),
                        "metallic": float(np.clip(mat.metallic, 0.0, 1.0)),
                    },
                }
            )
        return self._bsdfs[key]

    def _mesh(self, key, positions, normals, uv, faces, mat: Material, weight: float = 1.0):
        mi = self.mi
        props = mi.Properties()
        props["bsdf"] = self._bsdf(mat)
        if _emits(mat):
            props["emitter"] = mi.load_dict(
                {
                    "type": "area",
                    "radiance": {"type": "rgb", "value": list(mat.emissive)},
                    "sampling_weight": float(weight),
                }
            )
        mesh = mi.Mesh(
            key,
            len(positions),
            len(faces),
            props,
            has_vertex_normals=True,
            has_vertex_texcoords=uv is not None,
        )
        params = mi.traverse(mesh)
        params["vertex_positions"] = mi.Float(positions.astype(np.float32).ravel())
        params["vertex_normals"] = mi.Float(normals.astype(np.float32).ravel())
        params["faces"] = mi.UInt32(faces.ravel())
        if uv is not None:
            params["vertex_texcoords"] = mi.Float(uv.ravel())
        params.update()
        return mesh

    def _light(self, light: Light) -> dict | None:
        colour = (np.asarray(light.color, dtype=float) * light.intensity).tolist()
        if light.kind == "directional":
            return {
                "type": "directional",
                "direction": [float(v) for v in light.direction],
                "irradiance": {"type": "rgb", "value": colour},
            }
        if light.kind != "point":
            return None
        if light.cone_deg > 0:
            return {
                "type": "spot",
                "to_world": self.mi.ScalarTransform4f(
                    _spot_to_world(np.asarray(light.position), np.asarray(light.direction))
                ),
                "beam_width": light.cone_deg / 2.0,
                "cutoff_angle": light.cone_deg / 2.0 + 10.0,
                "intensity": {"type": "rgb", "value": colour},
            }
        return {
            "type": "point",
            "position": [float(v) for v in light.position],
            "intensity": {"type": "rgb", "value": colour},
        }

    def _id_table(self) -> np.ndarray:
        """Instance id (part p: p + 1, cloth c: P + c + 1) by Mitsuba shape registry id."""
        import drjit as dr

        by_key = {m.key: m for m in self._meshes}
        pairs = []
        for shape in self.scene.shapes():
            m = by_key[shape.id()]
            rid = int(dr.reinterpret_array(self.mi.UInt32, self.mi.ShapePtr(shape))[0])
            pairs.append((rid, m.part + 1 if m.part >= 0 else self.num_parts + m.cloth + 1))
        table = np.zeros(max([r for r, _ in pairs], default=0) + 1, dtype=np.uint16)
        for rid, instance in pairs:
            table[rid] = instance
        return table

    # ---------------------------------------------------------------- frames
    def set_frame(self, part_poses, time: float = 0.0, present=None, cloths=None) -> None:
        """Move every part and cloth, carried light and timed emission to a frame."""
        from simfactory.sim.render.raster import emission
        from simfactory.sim.simulate.cloth import vertex_normals

        mi, params = self.mi, self.params
        part_poses = np.asarray(part_poses, dtype=float)
        drawn = np.ones(self.num_parts, bool) if present is None else np.asarray(present, bool)
        if any(m.cloth >= 0 for m in self._meshes) and cloths is None:
            raise ValueError("the scene has cloths: set_frame() needs their vertices")
        for m in self._meshes:
            if m.part >= 0:
                T = part_poses[m.part]
                if drawn[m.part]:
                    pos = m.positions @ T[:3, :3].T + T[:3, 3]
                    nrm = m.normals @ T[:3, :3].T
                else:  # absent: collapsed to a point, hit by no ray
                    pos = np.broadcast_to(T[:3, 3], m.positions.shape)
                    nrm = m.normals
            else:
                pos = np.asarray(cloths[m.cloth], dtype=float)
                nrm = vertex_normals(pos, m.faces)
            params[f"{m.key}.vertex_positions"] = mi.Float(
                np.ascontiguousarray(pos, dtype=np.float32).ravel()
            )
            params[f"{m.key}.vertex_normals"] = mi.Float(
                np.ascontiguousarray(nrm, dtype=np.float32).ravel()
            )
            key = f"{m.key}.emitter.radiance.value"
            if m.material.emissive_keys and key in params:
                on = m.part < 0 or drawn[m.part]
                params[key] = mi.Color3f(*(emission(m.material, time) if on else (0, 0, 0)))
        for i, (light, part) in enumerate(zip(self.lights, self.light_parts, strict=True)):
            if part < 0 or light.kind != "point":
                continue
            T = part_poses[part]
            pos = T[:3, :3] @ np.asarray(light.position, float) + T[:3, 3]
            direction = T[:3, :3] @ np.asarray(light.direction, float)
            if light.cone_deg > 0:
                params[f"light_{i}.to_world"] = mi.Transform4f(_spot_to_world(pos, direction))
            else:
                params[f"light_{i}.position"] = mi.Point3f(*pos)
        params.update()

    def _sensor(self, K, T_world_camera, width, height, near, far, aux: bool):
        """A pinhole sensor matching ``K`` (pixel centres at integers) at the pose."""
        mi = self.mi
        key = (width, height, tuple(np.round(K, 9).ravel()), near, far, aux)
        if key not in self._sensors:
            fy, cx, cy = float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
            # Multi-jittered samples per pixel for colour; one unjittered sample at the
            # pixel centre for the id and distance pass.
            sampler = (
                {"type": "stratified", "sample_count": 1, "jitter": False}
                if aux
                else {"type": SAMPLER, "sample_count": 1}
            )
            sensor = mi.load_dict(
                {
                    "type": "perspective",
                    "fov": float(np.degrees(2.0 * np.arctan(height / (2.0 * fy)))),
                    "fov_axis": "y",
                    # Mitsuba measures the principal point from the image centre, in
                    # pixel-edge coordinates, as a fraction of the image size.
                    "principal_point_offset_x": (width / 2.0 - (cx + 0.5)) / width,
                    "principal_point_offset_y": (height / 2.0 - (cy + 0.5)) / height,
                    "near_clip": float(near),
                    "far_clip": float(far),
                    "film": {
                        "type": "hdrfilm",
                        "width": int(width),
                        "height": int(height),
                        "pixel_format": "rgba",
                        "rfilter": {"type": "box"},
                    },
                    "sampler": sampler,
                }
            )
            self._sensors[key] = (sensor, mi.traverse(sensor))
        sensor, params = self._sensors[key]
        params["to_world"] = mi.Transform4f(np.asarray(T_world_camera, float) @ CV_TO_MITSUBA)
        params.update()
        return sensor

    def _aux(self, K, T_world_camera, width, height, near, far) -> tuple[np.ndarray, np.ndarray]:
        """(hit distance, instance id) along each pixel centre's ray; 0 where none."""
        sensor = self._sensor(K, T_world_camera, width, height, near, far, aux=True)
        out = np.array(
            self.mi.render(self.scene, sensor=sensor, integrator=self._aux_integrator, spp=1)
        )
        distance, shape = out[..., -2], np.rint(out[..., -1]).astype(np.int64)
        shape = np.clip(shape, 0, len(self._shape_ids) - 1)
        return distance, self._shape_ids[shape]

    def instance_ids(self, K, T_world_camera, width, height, near, far) -> np.ndarray:
        """(H, W) uint16 instance id of the surface at each pixel centre (0: none), for the
        frame last set with ``set_frame``."""
        return self._aux(K, T_world_camera, width, height, near, far)[1]

    def render(self, K, T_world_camera, width, height, near, far, seed: int = 0) -> np.ndarray:
        """(H, W, 3) float32 linear radiance of the frame last set with ``set_frame``,
        ``samples`` per pixel, denoised if asked, with fog."""
        traced = self.trace(K, T_world_camera, width, height, near, far, seed)
        return self.develop(traced, K, T_world_camera)

    def trace(self, K, T_world_camera, width, height, near, far, seed: int = 0) -> dict:
        """The raw pass of ``render``: the mean over ``samples`` per pixel of radiance
        ("rgb"), albedo and normal (H, W, 3) float32 each, "samples", and "distance"
        (H, W) along the pixel centres' rays when the scene has fog. Traces of the same
        frame with other seeds average into more samples (``combine``)."""
        mi = self.mi
        sensor = self._sensor(K, T_world_camera, width, height, near, far, aux=False)
        total = None
        for k, spp in enumerate(pass_sizes(self.samples, MAX_LANES // max(width * height, 1))):
            out = mi.render(
                self.scene,
                sensor=sensor,
                integrator=self._integrator,
                spp=spp,
                seed=int(seed) * 1009 + k,
            )
            out = np.array(out, dtype=np.float64) * spp
            total = out if total is None else total + out
        image = (total / self.samples).astype(np.float32)
        rgb = np.nan_to_num(np.maximum(image[..., :3], 0.0), nan=0.0, posinf=0.0)
        traced = {
            "rgb": rgb,
            "albedo": image[..., 4:7],
            "normal": image[..., 7:10],
            "samples": self.samples,
        }
        if self.fog.density > 0:
            traced["distance"] = self._aux(K, T_world_camera, width, height, near, far)[0]
        return traced

    def develop(self, traced: dict, K, T_world_camera) -> np.ndarray:
        """Linear radiance of a ``trace``: denoised (when ``denoise``), with fog."""
        return develop(traced, self.fog, K, T_world_camera, self.denoise)

    def render_camera(
        self,
        cam,
        K,
        T_wc,
        poses,
        exposure: float,
        auto_exposure: bool = True,
        times=None,
        present=None,
        cloth_vertices=(),
        progress: bool = True,
        auto_exposure_max: float = AUTO_EXPOSURE_MAX,
    ) -> np.ndarray:
        """(F, H, W, 3) uint8 frames of one camera over the clip, tone mapped (auto
        exposure scaling by at most ``auto_exposure_max``); one line per frame on stderr
        when ``progress``."""
        F = len(poses)
        frames = np.zeros((F, cam.height, cam.width, 3), np.uint8)
        for i in range(F):
            t0 = clock.perf_counter()
            self.set_frame(
                poses[i],
                0.0 if times is None else float(times[i]),
                None if present is None else present[i],
                [v[i] for v in cloth_vertices] if len(cloth_vertices) else None,
            )
            linear = self.render(K, T_wc[i], cam.width, cam.height, cam.near, cam.far, seed=i)
            frames[i] = tonemap(
                linear, float(exposure), bool(auto_exposure), float(auto_exposure_max)
            )
            if progress:
                print(
                    f"pathtrace {cam.name} frame {i + 1}/{F}: {clock.perf_counter() - t0:.1f} s "
                    f"({self.samples} spp, {self.mi.variant()})",
                    file=sys.stderr,
                    flush=True,
                )
        return frames


def combine(traces: list[dict]) -> dict:
    """One trace of a frame from several (other seeds): their sample-weighted mean."""
    total = sum(t["samples"] for t in traces)
    out = {"samples": total}
    for key in ("rgb", "albedo", "normal"):
        out[key] = (sum(t[key] * (t["samples"] / total) for t in traces)).astype(np.float32)
    if "distance" in traces[0]:
        out["distance"] = traces[0]["distance"]
    return out


def develop(traced: dict, fog: Fog, K, T_world_camera, denoise: bool = True) -> np.ndarray:
    """(H, W, 3) float32 linear radiance of a trace (``PathTracer.trace``): denoised with
    Open Image Denoise from its albedo and normal when ``denoise`` (marked clean: first-hit
    values averaged over the pixel's samples, noisy only along edges), then the raster's
    fog: surfaces blend into the fog colour by their distance, the sky as if seen
    through a 100 m layer, thicker towards the horizon."""
    rgb = traced["rgb"]
    if denoise:
        import pyoidn

        rgb = pyoidn.denoise(
            np.ascontiguousarray(rgb),
            np.ascontiguousarray(np.clip(traced["albedo"], 0.0, 1.0)),
            np.ascontiguousarray(np.clip(traced["normal"], -1.0, 1.0)),
            hdr=True,
            clean_aux=True,
        )
        rgb = np.maximum(np.asarray(rgb, dtype=np.float32), 0.0)
    if fog is None or fog.density <= 0:
        return np.asarray(rgb, dtype=np.float32)
    distance = traced["distance"]
    height, width = distance.shape
    j, i = np.meshgrid(np.arange(width), np.arange(height))
    rays = np.stack([j, i, np.ones_like(j)], axis=-1).astype(float) @ np.linalg.inv(K).T
    world = rays @ np.asarray(T_world_camera, float)[:3, :3].T
    dz = np.abs(world[..., 2]) / np.linalg.norm(world, axis=-1)
    depth = np.where(distance > 0, distance, 100.0 / np.maximum(dz, 0.05))
    keep = np.exp(-fog.density * depth)[..., None]
    colour = np.asarray(fog.color, dtype=np.float32)
    return (rgb * keep + colour * (1.0 - keep)).astype(np.float32)


def pass_sizes(samples: int, cap: int) -> list[int]:
    """Samples per pixel of each render pass: powers of 4 (square sample
    grids), each at most ``cap`` (memory) unless 1, adding up to ``samples``."""
    sizes, left = [], int(samples)
    while left > 0:
        size = 1
        while size * 4 <= min(left, cap):
            size *= 4
        sizes.append(size)
        left -= size
    return sizes


def _spot_to_world(position: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """A spot light's frame: at ``position``, its z axis along ``direction``."""
    z = direction / max(np.linalg.norm(direction), 1e-12)
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, position
    return T
