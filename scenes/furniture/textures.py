"""Procedural textures in numpy and the materials that use them.

Each texture function is ``fn(rng, size=256) -> (size, size, 3) uint8`` sRGB. Noise is
periodic, so the images tile when the renderer repeats them every ``texture_scale``
metres. Everything is vectorized: a 256x256 texture takes a few milliseconds.
"""

from __future__ import annotations

import colorsys

import numpy as np

from simfactory.sim.model.spec import Material


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Resample the rows of ``grid`` (n, m) to (size, m), periodic, smoothstep weights."""
    n = grid.shape[0]
    u = np.arange(size, dtype=np.float32) * (n / size)
    i0 = np.floor(u).astype(int)
    f = u - i0
    f = (f * f * (3 - 2 * f))[:, None]
    out = grid[i0 % n]
    out *= 1 - f
    nxt = grid[(i0 + 1) % n]
    nxt *= f
    out += nxt
    return out


def value_noise(rng: np.random.Generator, size: int, cells: tuple[int, int]) -> np.ndarray:
    """Smooth periodic noise in [0, 1] (float32): a random (rows, cols) grid upsampled
    with smoothstep-weighted bilinear interpolation and wrap-around, so the result tiles."""
    grid = rng.random(cells, dtype=np.float32)
    return _upsample(_upsample(grid, size).T, size).T


def fbm(
    rng: np.random.Generator, size: int, cells: tuple[int, int], octaves: int = 4
) -> np.ndarray:
    """Fractal sum of value-noise octaves (cells doubling, amplitude halving), in [0, 1]."""
    total = np.zeros((size, size), dtype=np.float32)
    amp, norm = 1.0, 0.0
    rows, cols = cells
    for _ in range(octaves):
        octave = value_noise(rng, size, (min(rows, size), min(cols, size)))
        octave *= amp
        total += octave
        norm += amp
        amp *= 0.5
        rows, cols = rows * 2, cols * 2
    total /= norm
    return total


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """One sRGB colour in [0, 1] from hue, saturation, value."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def ramp(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Colour each pixel of the weight map ``t`` (H, W) between colours ``a`` (t=0) and
    ``b`` (t=1) through a 256-entry lookup table (much cheaper than per-pixel blending)."""
    lut = to_uint8(a + (b - a) * np.linspace(0.0, 1.0, 256)[:, None])
    return lut[(np.clip(t, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)]


def _low_pass(img: np.ndarray, keep: int, keep_x: int) -> np.ndarray:
    """A periodic image with only its ``keep`` lowest frequencies along y and ``keep_x``
    along x: smooth, still tiling (bends without wiggles)."""
    spectrum = np.fft.rfft2(img)
    rows = np.abs(np.fft.fftfreq(img.shape[0]) * img.shape[0]) > keep
    spectrum[rows, :] = 0
    spectrum[:, keep_x + 1 :] = 0
    return np.fft.irfft2(spectrum, s=img.shape).astype(np.float32)


def wood(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Wood: glued boards of flat-sawn grain, in a brown hue. Each board has its growth
    rings as thin dark latewood lines (a ring darkens gradually and ends sharply), bent
    into long arches by a smooth warp, its own shade and ring offset, and fine pores
    streaking along the grain. The tile's x axis runs along the grain."""
    hue, sat, val = rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.7), rng.uniform(0.4, 0.8)
    light = hsv(hue, sat, val)
    dark = light * rng.uniform(0.45, 0.7)
    rings = int(rng.integers(5, 14))
    warp = fbm(rng, size, (2, 3), octaves=3)
    bend = rng.uniform(0.15, 0.4)
    sharpness = rng.uniform(1.0, 2.5)
    pores = value_noise(rng, size, (size // 2, 4))
    # boards across the tile (12-25 cm wide at the 0.5 m tile), each with an offset of
    # its rings and a shade of its own, taken from the pores' noise (same draws)
    boards = 2 + rings % 3
    y = np.arange(size)[:, None] / size
    board = np.minimum((y * boards).astype(int), boards - 1)
    board_noise = pores[:: max(1, size // 16), 0]
    offset = board_noise[(board * 3) % len(board_noise)] * 7.0
    shade = 0.92 + 0.16 * board_noise[(board * 5 + 1) % len(board_noise)]
    # 25-65 rings per tile: 8-20 mm apart at 0.5 m
    phase = 5 * rings * (y + bend * (_low_pass(warp, 3, 1) - 0.5)) + offset
    t = phase - np.floor(phase)
    latewood = t ** (4.0 * sharpness)  # dark at a ring's end, sharp back to light
    grain = 0.55 * latewood + 0.3 * (warp - 0.5) + 0.25 * pores
    img = ramp(grain, light, dark).astype(np.float32) * shade[..., None]
    return to_uint8(img / 255.0)


def fabric(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Fabric: a plain weave of alternating over/under threads, with mottling."""
    color = hsv(rng.random(), rng.uniform(0.15, 0.7), rng.uniform(0.3, 0.85))
    period = int(rng.choice([4, 8]))
    i = np.arange(size)
    over = ((i[:, None] // period + i[None, :] // period) % 2) == 0
    thread = np.sin(np.pi * ((i % period) + 0.5) / period)
    thread = np.where(over, thread[:, None], thread[None, :])
    mottle = fbm(rng, size, (4, 4), octaves=3)
    shade = 0.7 + 0.25 * thread + 0.15 * (mottle - 0.5)  # within [0.6, 1.1]
    return ramp((shade - 0.6) / 0.5, color * 0.6, color * 1.1)


def tile(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Tiles: a 2x2 grid of tiles (plain, or a checker of a light and a dark tile of
    near hues) with per-tile colour jitter and grout lines."""
    n = 2
    hue, sat, val = rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.45, 0.95)
    base = hsv(hue, sat, val)
    # a checker's second tile: a near hue, greyer, a quarter to 0.6 as light
    shift, sat2, darker = rng.random(), rng.uniform(0.0, 0.15), rng.uniform(0.25, 0.6)
    second = hsv(hue + 0.1 * (shift - 0.5), sat2, val * darker)
    checker = rng.random() < 0.3
    jitter = rng.uniform(-0.06, 0.06, n * n)
    tiles = np.arange(n * n)
    colors = np.where((((tiles // n + tiles % n) % 2 == 1) & checker)[:, None], second, base)
    colors = colors * (1 + jitter)[:, None]
    levels = np.linspace(0.95, 1.05, 256)
    lut = to_uint8(colors[:, None, :] * levels[None, :, None])  # (tiles, 256, 3)
    cell = size / n
    i = np.arange(size)
    k = (i // cell).astype(int)
    which = k[:, None] * n + k[None, :]
    mottle = (fbm(rng, size, (8, 8), octaves=3) * 255 + 0.5).astype(np.uint8)
    img = lut[which, mottle]
    half = size * rng.uniform(0.006, 0.014)
    line = (i % cell < half) | (i % cell > cell - half)
    img[line[:, None] | line[None, :]] = int(rng.uniform(0.25, 0.85) * 255)
    return img


def painted(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Wall paint: a near-uniform light colour with faint roller streaks."""
    color = hsv(rng.random(), rng.uniform(0.02, 0.25), rng.uniform(0.7, 0.95))
    streaks = value_noise(rng, size, (4, size // 4))
    blotch = fbm(rng, size, (4, 4), octaves=3)
    shade = 1 + 0.02 * (streaks - 0.5) + 0.04 * (blotch - 0.5)  # within [0.97, 1.03]
    return ramp((shade - 0.97) / 0.06, color * 0.97, color * 1.03)


def foliage(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Leaves: high-contrast blotches of two greens."""
    light = hsv(rng.uniform(0.22, 0.36), rng.uniform(0.5, 0.85), rng.uniform(0.45, 0.75))
    dark = light * rng.uniform(0.3, 0.5)
    t = fbm(rng, size, (16, 16), octaves=3)
    return ramp((t - 0.5) * 4 + 0.5, light, dark)


TEXTURES = {
    "wood": wood,
    "fabric": fabric,
    "tile": tile,
    "painted": painted,
    "foliage": foliage,
}

# kind: (texture scale in metres, roughness range, metallic)
TEXTURED = {
    "wood": (0.5, (0.5, 0.7), 0.0),
    "tile": (0.6, (0.2, 0.4), 0.0),
    "fabric": (0.3, (0.8, 0.95), 0.0),
    "painted": (1.0, (0.7, 0.9), 0.0),
    "foliage": (0.2, (0.6, 0.8), 0.0),
}

MATERIAL_KINDS = (*TEXTURED, "metal", "plastic", "ceramic", "paper", "cardboard")


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to linear RGB (the space of ``Material.base_color``)."""
    c = np.asarray(c, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _rgba(srgb: np.ndarray) -> tuple[float, float, float, float]:
    r, g, b = (float(v) for v in srgb_to_linear(srgb))
    return (r, g, b, 1.0)


def random_material(rng: np.random.Generator, kind: str, name: str, size: int = 256) -> Material:
    """A random material of ``kind``: textured kinds (wood, tile, fabric, painted, foliage)
    get a white base colour and a texture; metal, plastic, ceramic, paper and cardboard
    are plain colours."""
    if kind in TEXTURED:
        scale, (r0, r1), metallic = TEXTURED[kind]
        return Material(
            name=name,
            base_color=(1.0, 1.0, 1.0, 1.0),
            roughness=float(rng.uniform(r0, r1)),
            metallic=metallic,
            texture=TEXTURES[kind](rng, size),
            texture_scale=scale,
        )
    if kind == "metal":
        grey = rng.uniform(0.45, 0.9)
        tint = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.25), 1.0)
        color, roughness, metallic = grey * tint, rng.uniform(0.3, 0.5), 1.0
    elif kind == "plastic":
        color = hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.35, 0.95))
        roughness, metallic = rng.uniform(0.3, 0.6), 0.0
    elif kind == "ceramic":
        color = hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.6, 0.95))
        roughness, metallic = rng.uniform(0.1, 0.3), 0.0
    elif kind == "paper":
        color = hsv(rng.uniform(0.1, 0.16), rng.uniform(0.0, 0.12), rng.uniform(0.85, 0.97))
        roughness, metallic = rng.uniform(0.85, 0.95), 0.0
    elif kind == "cardboard":
        color = hsv(rng.uniform(0.07, 0.1), rng.uniform(0.35, 0.55), rng.uniform(0.55, 0.75))
        roughness, metallic = rng.uniform(0.85, 0.95), 0.0
    else:
        raise ValueError(f"unknown material kind {kind!r}; expected one of {MATERIAL_KINDS}")
    return Material(
        name=name, base_color=_rgba(color), roughness=float(roughness), metallic=metallic
    )
