"""Image-based light from a cube map of radiance: diffuse irradiance as nine spherical
harmonic coefficients, specular radiance prefiltered for a few roughnesses (GGX).

Cube maps follow OpenGL's layout: faces +X, -X, +Y, -Y, +Z, -Z; texel (row v, column
u) of an N x N face looks along ``face_directions``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# per face: the directions of s (columns), t (rows) and the face's major axis
FACE_AXES = np.array(
    [
        [[0, 0, -1], [0, -1, 0], [1, 0, 0]],
        [[0, 0, 1], [0, -1, 0], [-1, 0, 0]],
        [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
        [[1, 0, 0], [0, 0, -1], [0, -1, 0]],
        [[1, 0, 0], [0, -1, 0], [0, 0, 1]],
        [[-1, 0, 0], [0, -1, 0], [0, 0, -1]],
    ],
    dtype=float,
)
SPECULAR_LEVELS = 5  # mip m holds roughness m / (SPECULAR_LEVELS - 1)


def face_directions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (6, n, n, 3) of every cube texel and their solid angles (6, n, n)."""
    c = (np.arange(n) + 0.5) / n * 2 - 1
    t, s = np.meshgrid(c, c, indexing="ij")
    d = (
        s[None, ..., None] * FACE_AXES[:, None, None, 0]
        + t[None, ..., None] * FACE_AXES[:, None, None, 1]
        + FACE_AXES[:, None, None, 2]
    )
    r2 = 1 + s * s + t * t
    d = d / np.sqrt(r2)[None, ..., None]
    omega = np.broadcast_to(4.0 / (n * n) / r2**1.5, (6, n, n))
    return d, omega


def face_view_proj(face: int, center: np.ndarray, near: float, far: float) -> np.ndarray:
    """OpenGL view-projection that draws cube ``face`` seen from ``center`` so that the
    framebuffer's row 0 (as glReadPixels returns it) is the face's row 0."""
    s_axis, t_axis, major = FACE_AXES[face]
    a, b = (far + near) / (far - near), 2 * far * near / (near - far)
    M = np.zeros((4, 4))
    for row, axis in enumerate((s_axis, t_axis)):
        M[row, :3], M[row, 3] = axis, -axis @ center
    M[2, :3], M[2, 3] = a * major, -a * (major @ center) + b
    M[3, :3], M[3, 3] = major, -major @ center
    return M


def sh9_basis(d: np.ndarray) -> np.ndarray:
    """Real spherical harmonics up to band 2 of unit directions (..., 3) -> (..., 9)."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack(
        [
            np.full_like(x, 0.282095),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        axis=-1,
    )


@lru_cache(maxsize=4)
def _sh9_texels(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``sh9_basis`` (6 n n, 9) of every texel of an n x n cube map and their solid
    angles (6 n n,), kept per size (read-only)."""
    d, omega = face_directions(n)
    Y, omega = sh9_basis(d).reshape(-1, 9), np.ascontiguousarray(omega.reshape(-1))
    Y.flags.writeable = omega.flags.writeable = False
    return Y, omega


def irradiance_sh9(cube: np.ndarray) -> np.ndarray:
    """(9, 3) coefficients whose sum with ``sh9_basis(n)`` is the irradiance E(n) / pi
    (the radiance of a white Lambertian surface) of radiance ``cube`` (6, N, N, 3)."""
    Y, omega = _sh9_texels(cube.shape[1])
    L = np.einsum("ik,i,ic->kc", Y, omega, cube.reshape(-1, 3))
    band = np.array([np.pi, *[2 * np.pi / 3] * 3, *[np.pi / 4] * 5])
    return L * band[:, None] / np.pi


def downsample(cube: np.ndarray) -> np.ndarray:
    """Halve a cube map's faces by averaging 2 x 2 texels."""
    f, n = cube.shape[0], cube.shape[1] // 2
    return cube.reshape(f, n, 2, n, 2, -1).mean(axis=(2, 4))


def prefilter_specular(cube: np.ndarray) -> list[np.ndarray]:
    """Mip chain for specular light: level 0 is ``cube`` (mirror), level m (faces halved
    each time) the radiance convolved with the GGX lobe of roughness
    m / (SPECULAR_LEVELS - 1), with normal = view = reflection direction."""
    source = cube
    while source.shape[1] > 16:
        source = downsample(source)
    src_c = source.reshape(-1, 3)
    levels = [cube]
    n = cube.shape[1]
    for m in range(1, SPECULAR_LEVELS):
        n = max(n // 2, 1)
        w, total = _specular_weights(source.shape[1], m, n)
        out = (w @ src_c) / total
        levels.append(out.reshape(6, n, n, 3))
    return levels


@lru_cache(maxsize=8)
def _specular_weights(source_n: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The GGX weights (6 n n, 6 source_n source_n) of ``prefilter_specular``'s level
    ``m`` (faces n texels a side) over a source cube of faces source_n a side, and their
    row sums (at least 1e-12); they depend on the sizes alone: kept (read-only)."""
    src_d, src_w = face_directions(source_n)
    src_d, src_w = src_d.reshape(-1, 3), src_w.reshape(-1)
    alpha = (m / (SPECULAR_LEVELS - 1)) ** 2
    out_d, _ = face_directions(n)
    R = out_d.reshape(-1, 3)
    cos = np.clip(R @ src_d.T, 0.0, 1.0)  # N.L
    noh2 = (1 + cos) / 2  # (N.H)^2 with H halfway between N = R and L
    a2 = alpha * alpha
    D = a2 / (np.pi * (noh2 * (a2 - 1) + 1) ** 2)
    w = D * cos * src_w[None, :]
    total = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    w.flags.writeable = total.flags.writeable = False
    return w, total
