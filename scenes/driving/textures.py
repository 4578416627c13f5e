"""Procedural textures for the street: facades, bark, leaves, roofs and sign faces.

Every image is sRGB uint8 (H, W, 3), stored the way the renderer's box mapping samples
it: row 0 at v = 0, the *bottom* of a tile (height grows with the row index), columns
along u. On a face whose normal is +x, u runs along +y, which is the viewer's right, so
an image drawn for such a face reads correctly. Noise is periodic so images tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from simfactory.scenes.furniture.textures import fbm, hsv, ramp, to_uint8, value_noise

FACADE_KINDS = ("brick", "plaster", "glass")


@dataclass
class Facade:
    """One window bay of a facade: a storey high and a bay wide (the same length).

    ``window`` is (u0, v0, u1, v1), the window opening as fractions of the tile, v
    measured up from the floor, so lit panes can be laid over it at night.
    ``roughness`` and ``metallic`` suit the material the image goes on.
    """

    kind: str
    image: np.ndarray
    window: tuple[float, float, float, float]
    roughness: float
    metallic: float


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre tile coordinates: u (1, size) across, v (size, 1) up."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    return t[None, :], t[:, None]


def _inside(u, v, rect) -> np.ndarray:
    u0, v0, u1, v1 = rect
    return (u >= u0) & (u < u1) & (v >= v0) & (v < v1)


def _paint(img: np.ndarray, mask: np.ndarray, color) -> None:
    img[mask] = color


def _glass(rng: np.random.Generator, size: int, tint) -> np.ndarray:
    """Window glass: dark, tinted, brighter towards the top (sky reflection), mottled."""
    _, v = _grid(size)
    mottle = fbm(rng, size, (4, 4), octaves=3)[..., None]
    sky = (0.15 + 0.55 * v**2)[..., None]
    return np.asarray(tint) * (0.55 + 0.6 * sky + 0.25 * (mottle - 0.5))


def _window_layers(
    rng: np.random.Generator, img: np.ndarray, rect, frame_color, glass_tint, mullion: bool
) -> None:
    """Draw a framed window into ``img`` (float sRGB, rows = v): frame, glass, mullion."""
    size = img.shape[0]
    u, v = _grid(size)
    frame = 0.02
    u0, v0, u1, v1 = rect
    _paint(img, _inside(u, v, rect), frame_color)
    pane = (u0 + frame, v0 + frame, u1 - frame, v1 - frame)
    glass = _glass(rng, size, glass_tint)
    inside = _inside(u, v, pane)
    img[inside] = glass[inside]
    if mullion:
        mid = (u0 + u1) / 2
        _paint(img, _inside(u, v, (mid - frame / 2, v0, mid + frame / 2, v1)), frame_color)
        transom = v0 + 0.72 * (v1 - v0)
        _paint(img, _inside(u, v, (u0, transom - frame / 2, u1, transom + frame / 2)), frame_color)


def brick_facade(rng: np.random.Generator, size: int = 256) -> Facade:
    """Running-bond brick with mortar joints, a stone sill and a soldier-course lintel."""
    u, v = _grid(size)
    courses, bricks = 42, 14
    row = np.floor(v * courses)
    shifted = u * bricks + 0.5 * (row % 2)
    col = np.floor(shifted) % bricks
    mortar = ((v * courses) % 1 < 0.16) | (shifted % 1 < 0.05)
    base = hsv(rng.uniform(0.0, 0.07), rng.uniform(0.45, 0.7), rng.uniform(0.4, 0.65))
    if rng.random() < 0.25:  # yellow or grey brick
        base = hsv(rng.uniform(0.08, 0.12), rng.uniform(0.2, 0.45), rng.uniform(0.55, 0.75))
    jitter = rng.uniform(0.8, 1.15, (courses, bricks))
    shade = jitter[row.astype(int) % courses, col.astype(int)]
    grain = fbm(rng, size, (16, 16), octaves=2)
    img = base * (shade * (0.9 + 0.2 * grain))[..., None]
    img[mortar] = hsv(0.1, 0.08, rng.uniform(0.55, 0.75))
    w = rng.uniform(0.45, 0.6)
    window = ((1 - w) / 2, 0.28, (1 + w) / 2, 0.8)
    _paint(img, _inside(u, v, (window[0] - 0.03, 0.25, window[2] + 0.03, 0.28)), (0.72,) * 3)
    lintel = _inside(u, v, (window[0] - 0.02, 0.8, window[2] + 0.02, 0.86))
    img[lintel] = img[lintel] * 0.75
    frame = (0.9, 0.9, 0.88) if rng.random() < 0.6 else (0.15, 0.15, 0.16)
    _window_layers(rng, img, window, frame, (0.22, 0.26, 0.3), mullion=True)
    return Facade("brick", to_uint8(img), window, float(rng.uniform(0.8, 0.9)), 0.0)


def plaster_facade(rng: np.random.Generator, size: int = 256) -> Facade:
    """Painted render in a light colour, a floor band, framed windows, sometimes shutters."""
    u, v = _grid(size)
    color = hsv(rng.random(), rng.uniform(0.05, 0.3), rng.uniform(0.65, 0.92))
    blotch = fbm(rng, size, (4, 4), octaves=4)
    img = ramp(blotch, color * 0.9, color * 1.05).astype(np.float32) / 255
    _paint(img, v[:, 0] < 0.04, color * 0.8)
    w = rng.uniform(0.3, 0.45)
    window = ((1 - w) / 2, 0.3, (1 + w) / 2, 0.8)
    surround = (window[0] - 0.04, window[1] - 0.03, window[2] + 0.04, window[3] + 0.04)
    _paint(img, _inside(u, v, surround), np.minimum(color * 1.12, 1.0))
    if rng.random() < 0.35:
        shutter = hsv(rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.6), rng.uniform(0.25, 0.5))
        sw = w / 2 + 0.01
        louvres = np.broadcast_to(0.85 + 0.15 * ((v * 90) % 1 < 0.5), (size, size))
        for u0 in (window[0] - 0.045 - sw, window[2] + 0.045):
            slats = _inside(u, v, (u0, window[1], u0 + sw, window[3]))
            img[slats] = shutter * louvres[slats][:, None]
    frame = (0.92, 0.92, 0.9) if rng.random() < 0.7 else (0.35, 0.25, 0.18)
    _window_layers(rng, img, window, frame, (0.2, 0.24, 0.28), mullion=rng.random() < 0.6)
    return Facade("plaster", to_uint8(img), window, float(rng.uniform(0.75, 0.9)), 0.0)


def glass_facade(rng: np.random.Generator, size: int = 256) -> Facade:
    """Curtain wall: a mullion grid over tinted reflective glass with opaque spandrels."""
    u, v = _grid(size)
    tint = hsv(rng.uniform(0.45, 0.62), rng.uniform(0.15, 0.5), rng.uniform(0.45, 0.75))
    img = _glass(rng, size, tint)
    spandrel = hsv(rng.uniform(0.5, 0.65), rng.uniform(0.05, 0.3), rng.uniform(0.15, 0.35))
    _paint(img, v[:, 0] < 0.22, spandrel)
    mullion = hsv(0.6, 0.05, rng.uniform(0.2, 0.7))
    edge = 0.015
    bars = (u < edge) | (u > 1 - edge) | (np.abs(u - 0.5) < edge / 2)
    _paint(img, np.broadcast_to(bars, img.shape[:2]), mullion)
    _paint(img, np.abs(v[:, 0] - 0.22) < edge, mullion)
    _paint(img, v[:, 0] > 1 - edge, mullion)
    window = (edge, 0.22 + edge, 1 - edge, 1 - edge)
    return Facade("glass", to_uint8(img), window, float(rng.uniform(0.15, 0.3)), 0.3)


FACADES = {"brick": brick_facade, "plaster": plaster_facade, "glass": glass_facade}


def facade(rng: np.random.Generator, kind: str, size: int = 256) -> Facade:
    """A random facade bay of ``kind`` (brick, plaster or glass)."""
    if kind not in FACADES:
        raise ValueError(f"unknown facade kind {kind!r}; expected one of {FACADE_KINDS}")
    return FACADES[kind](rng, size)


def bark(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """Bark: vertical furrows (slow along v, fast along u) in grey-brown."""
    light = hsv(rng.uniform(0.05, 0.1), rng.uniform(0.2, 0.45), rng.uniform(0.35, 0.55))
    furrows = value_noise(rng, size, (4, 24))
    grain = fbm(rng, size, (16, 16), octaves=2)
    return ramp(0.7 * furrows + 0.3 * grain, light * 0.35, light)


def leaves(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """Foliage: clumps of light and dark green with dark gaps between them."""
    light = hsv(rng.uniform(0.2, 0.33), rng.uniform(0.45, 0.8), rng.uniform(0.4, 0.65))
    clumps = fbm(rng, size, (12, 12), octaves=3)
    speckle = value_noise(rng, size, (size // 4, size // 4))
    t = np.clip((clumps - 0.5) * 3 + 0.5, 0, 1) * 0.75 + 0.25 * speckle
    return ramp(t, light * 0.2, light * 1.1)


def roof(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """Flat roof: gravel or bitumen grey with stains."""
    grey = hsv(rng.uniform(0.0, 0.1), rng.uniform(0.0, 0.1), rng.uniform(0.25, 0.45))
    stains = fbm(rng, size, (4, 4), octaves=4)
    gravel = value_noise(rng, size, (size // 2, size // 2))
    return ramp(0.6 * stains + 0.4 * gravel, grey * 0.7, grey * 1.2)


def _drawn(draw_fn, size: int) -> np.ndarray:
    """Render with PIL at twice the size (antialiasing), then flip to the bottom-up layout."""
    big = Image.new("RGB", (2 * size, 2 * size), (255, 255, 255))
    draw_fn(ImageDraw.Draw(big), 2 * size)
    img = np.asarray(big.resize((size, size), Image.Resampling.LANCZOS))[::-1]
    img = np.ascontiguousarray(img)
    img.flags.writeable = False
    return img


def _centred_text(
    draw: ImageDraw.ImageDraw, n: int, text: str, height: float, fill, bold: float
) -> None:
    """Text centred in an n x n image, thickened by a stroke of ``bold`` x its height."""
    font = ImageFont.load_default(size=int(height))
    stroke = int(height * bold)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    pos = ((n - (x1 - x0)) / 2 - x0, (n - (y1 - y0)) / 2 - y0)
    draw.text(pos, text, font=font, fill=fill, stroke_width=stroke, stroke_fill=fill)


@lru_cache(maxsize=1)
def stop_sign_face(size: int = 256) -> np.ndarray:
    """A stop sign filling its tile: red octagon (flats on the tile edges), white rim,
    white STOP. Cached and read-only: every stop sign shares one image."""
    red, white = (200, 16, 30), (255, 255, 255)

    def draw(d: ImageDraw.ImageDraw, n: int) -> None:
        d.rectangle((0, 0, n, n), fill=red)
        for inset, color in ((0.0, white), (0.04, red)):
            r = (0.5 - inset) * n / np.cos(np.pi / 8)
            angles = np.pi / 8 + np.arange(8) * np.pi / 4
            pts = [(n / 2 + r * np.cos(a), n / 2 + r * np.sin(a)) for a in angles]
            d.polygon(pts, fill=color)
        _centred_text(d, n, "STOP", 0.3 * n, white, bold=0.06)

    return _drawn(draw, size)


@lru_cache(maxsize=8)
def speed_limit_face(kmh: int, size: int = 256) -> np.ndarray:
    """A round speed-limit sign filling its tile: white disc, red ring, black number.
    Cached and read-only per limit."""

    def draw(d: ImageDraw.ImageDraw, n: int) -> None:
        d.ellipse((0, 0, n - 1, n - 1), fill=(200, 16, 30))
        ring = 0.11 * n
        d.ellipse((ring, ring, n - 1 - ring, n - 1 - ring), fill=(255, 255, 255))
        height = (0.42 if kmh < 100 else 0.32) * n
        _centred_text(d, n, str(int(kmh)), height, (10, 10, 10), bold=0.025)

    return _drawn(draw, size)
