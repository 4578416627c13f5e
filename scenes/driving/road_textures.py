"""Procedural ground textures: asphalt, sidewalk paving and grass.

Each function is ``fn(rng, size=256) -> (size, size, 3) uint8`` sRGB. Every ingredient
is periodic (value noise with wrap-around, patches and joints drawn modulo the tile),
so the images tile seamlessly when the renderer repeats them every ``texture_scale``
metres (2-4 m for these).
"""

from __future__ import annotations

import numpy as np

from simfactory.scenes.furniture.textures import fbm, hsv, to_uint8, value_noise


def _wrapped_boxes(rng: np.random.Generator, size: int, count: int, lo: float, hi: float):
    """A (size, size) mask of ``count`` random axis-aligned boxes (sides ``lo``..``hi``
    of the tile) that wrap around the tile's edges."""
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(count):
        y, x = rng.integers(0, size, 2)
        h, w = (rng.uniform(lo, hi, 2) * size).astype(int) + 1
        rows = np.arange(y, y + h) % size
        cols = np.arange(x, x + w) % size
        mask[np.ix_(rows, cols)] = True
    return mask


def asphalt(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Asphalt: dark grey with aggregate grain and light specks, soft mottling, darker
    repair patches and thin branching cracks."""
    base = rng.uniform(0.24, 0.34)
    tint = hsv(rng.uniform(0.05, 0.65), rng.uniform(0.0, 0.08), 1.0)
    shade = np.full((size, size), base, dtype=np.float32)
    shade += 0.07 * (fbm(rng, size, (4, 4), octaves=4) - 0.5)
    shade += 0.05 * (rng.random((size, size), dtype=np.float32) - 0.5)
    shade[rng.random((size, size)) > 0.985] += 0.12
    patches = _wrapped_boxes(rng, size, int(rng.integers(0, 2)), 0.2, 0.5)
    shade[patches] *= rng.uniform(0.88, 0.95)
    ridge = fbm(rng, size, (8, 8), octaves=4)
    crack = np.exp(-(((ridge - 0.5) / 0.008) ** 2))
    crack *= value_noise(rng, size, (4, 4)) > rng.uniform(0.45, 0.7)
    shade *= 1 - 0.45 * crack
    return to_uint8(shade[..., None] * tint[None, None, :])


def paving(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Sidewalk paving: square slabs or running-bond bricks with per-piece colour
    jitter, dirt and dark joints."""
    color = hsv(rng.uniform(0.05, 0.12), rng.uniform(0.0, 0.15), rng.uniform(0.55, 0.75))
    i = np.arange(size)
    if rng.random() < 0.5:
        rows, cols = 4, 4
        row = i * rows // size
        col = i[None, :] * cols // size + 0 * row[:, None]
    else:
        rows, cols = 8, 4
        row = i * rows // size
        shift = (row % 2)[:, None] * (size // (2 * cols))
        col = ((i[None, :] + shift) % size) * cols // size
    piece = row[:, None] * cols + col
    jitter = 1 + rng.uniform(-0.07, 0.07, rows * cols).astype(np.float32)
    shade = jitter[piece] * (1 + 0.15 * (fbm(rng, size, (8, 8), octaves=3) - 0.5))
    shade *= 1 + 0.06 * (rng.random((size, size), dtype=np.float32) - 0.5)
    joint_v = (i % (size // rows)) < max(1, size // 128)
    edge = np.zeros((size, size), dtype=bool)
    edge[joint_v, :] = True
    edge |= np.diff(piece, axis=1, append=piece[:, :1]) != 0
    shade[edge] *= 0.55
    return to_uint8(shade[..., None] * color[None, None, :])


def grass(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Grass: two greens in fine streaky blades over soft patches, some dry yellow areas
    and bare dirt."""
    green = hsv(rng.uniform(0.22, 0.3), rng.uniform(0.35, 0.6), rng.uniform(0.32, 0.45))
    dry = hsv(rng.uniform(0.12, 0.16), rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.6))
    dirt = hsv(rng.uniform(0.06, 0.09), rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.42))
    blades = value_noise(rng, size, (size // 2, size // 8))
    blades = 0.5 * blades + 0.5 * value_noise(rng, size, (size // 8, size // 2))
    patch = fbm(rng, size, (4, 4), octaves=4)
    bare = np.clip((fbm(rng, size, (3, 3), octaves=3) - 0.68) * 8, 0, 1)
    dryness = 0.6 * np.clip((patch - 0.6) * 4, 0, 1)[..., None]
    img = green * (1 - dryness) + dry * dryness
    img = img * (0.75 + 0.5 * blades[..., None])
    img = img * (1 - bare[..., None]) + dirt * bare[..., None]
    return to_uint8(img)
