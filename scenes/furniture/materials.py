"""Scene palettes: a few random materials per kind, shared by the parts that pick them.

Drawing a small palette once per scene keeps texture generation cheap and makes
pieces of one room look like they belong together.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simfactory.scenes.furniture.textures import random_material
from simfactory.sim.model.spec import Material

PALETTE_COUNTS = {
    "wood": 3,
    "fabric": 3,
    "tile": 1,
    "painted": 2,
    "metal": 2,
    "plastic": 4,
    "ceramic": 3,
    "paper": 2,
    "cardboard": 2,
    "foliage": 2,
}

# material key used by pieces / clutter -> palette kind
PIECE_KEYS = {
    "wood": "wood",
    "fabric": "fabric",
    "fabric2": "fabric",
    "metal": "metal",
    "plastic": "plastic",
    "linen": "paper",
}
CLUTTER_KEYS = {k: k for k in ("plastic", "ceramic", "paper", "cardboard", "foliage", "metal")}


def make_palette(rng: np.random.Generator, size: int = 256) -> dict[str, list[Material]]:
    """``PALETTE_COUNTS`` random materials per kind, named ``<kind>_<i>``."""
    return {
        kind: [random_material(rng, kind, f"{kind}_{i}", size) for i in range(n)]
        for kind, n in PALETTE_COUNTS.items()
    }


def pick(
    rng: np.random.Generator, palette: dict[str, list[Material]], keys: dict[str, str]
) -> dict[str, Material]:
    """One palette material for each key, ``keys`` mapping key -> palette kind."""
    return {key: palette[kind][int(rng.integers(len(palette[kind])))] for key, kind in keys.items()}


def piece_materials(rng: np.random.Generator, palette: dict[str, list[Material]]) -> dict:
    """Materials for one furniture piece, plus a lamp shade that glows half of the time."""
    out = pick(rng, palette, PIECE_KEYS)
    glow = rng.uniform(0.6, 1.5) if rng.random() < 0.5 else 0.0
    warm = np.array([1.0, 0.85, 0.6]) * glow
    out["shade"] = replace(
        out["linen"], name=f"{out['linen'].name}_shade", emissive=tuple(float(v) for v in warm)
    )
    return out


def clutter_materials(rng: np.random.Generator, palette: dict[str, list[Material]]) -> dict:
    """Materials for one clutter object."""
    return pick(rng, palette, CLUTTER_KEYS)


def room_materials(rng: np.random.Generator, palette: dict[str, list[Material]]) -> dict:
    """Floor (wood or tile), walls and ceiling (paint), door, window frame and handle."""
    floor_kind = "wood" if rng.random() < 0.6 else "tile"
    frame_kind = str(rng.choice(["paper", "metal", "wood"]))
    door_kind = "wood" if rng.random() < 0.6 else "painted"
    return pick(
        rng,
        palette,
        {
            "floor": floor_kind,
            "wall": "painted",
            "ceiling": "painted",
            "door": door_kind,
            "frame": frame_kind,
            "handle": "metal",
        },
    )


def describe(material: Material) -> dict:
    """Plain-data summary of a material for ``SceneSpec.params`` (palette names start
    with their kind)."""
    out = dict(
        name=material.name,
        kind=material.name.split("_")[0],
        base_color=[float(v) for v in material.base_color],
        roughness=float(material.roughness),
        metallic=float(material.metallic),
        emissive=[float(v) for v in material.emissive],
        textured=material.texture is not None,
    )
    if material.texture is not None:
        out["texture_scale"] = float(material.texture_scale)
        out["texture_mean_srgb"] = [float(v) for v in material.texture.reshape(-1, 3).mean(0) / 255]
    return out
