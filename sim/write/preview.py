"""Quick-look images of a clip: coloured depth, instances and a labelled contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from simfactory.sim.annotate.flow import flow_to_rgb, hsv_to_rgb
from simfactory.sim.model.classes import class_table

# Turbo colormap anchors at t = 0, 1/16, ..., 1 (low = far, high = near).
TURBO_ANCHORS = np.array(
    [
        [48, 18, 59],
        [73, 62, 175],
        [68, 106, 238],
        [50, 149, 247],
        [38, 189, 225],
        [41, 221, 187],
        [64, 243, 146],
        [102, 253, 109],
        [150, 250, 80],
        [198, 235, 59],
        [238, 208, 45],
        [255, 171, 36],
        [255, 128, 29],
        [238, 84, 21],
        [201, 45, 12],
        [161, 18, 2],
        [122, 4, 3],
    ],
    dtype=np.float64,
)

HEADER_HEIGHT = 16
PREVIEW_TILE_WIDTH = 320
BACKGROUND = 24
TEXT_COLOR = (255, 255, 255)


def apply_colormap(t: np.ndarray, anchors: np.ndarray = TURBO_ANCHORS) -> np.ndarray:
    """Colours (..., 3) uint8 of values t in [0, 1], interpolating between anchor colours."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    xp = np.linspace(0.0, 1.0, len(anchors))
    rgb = np.stack([np.interp(t, xp, anchors[:, c]) for c in range(3)], axis=-1)
    return np.round(rgb).astype(np.uint8)


def colorize_depth(
    depth: np.ndarray, near: float | None = None, far: float | None = None
) -> np.ndarray:
    """Turbo image (H, W, 3) uint8 of inverse depth between near and far; depth 0 is black.

    near and far default to the nearest and farthest valid depth.
    """
    depth = np.asarray(depth, dtype=np.float64)
    hit = depth > 0
    image = np.zeros(depth.shape + (3,), dtype=np.uint8)
    if not hit.any():
        return image
    near = float(depth[hit].min()) if near is None else near
    far = float(depth[hit].max()) if far is None else far
    inv_depth = 1.0 / depth[hit]
    span = 1.0 / near - 1.0 / far
    t = (inv_depth - 1.0 / far) / span if span > 0 else np.ones_like(inv_depth)
    image[hit] = apply_colormap(t)
    return image


def instance_palette(n: int, seed: int = 0) -> np.ndarray:
    """Distinct colours (n, 3) uint8 for ids 0..n-1; id 0 is black.

    Hues step by the golden ratio from a seeded offset; saturation and value vary a little.
    """
    rng = np.random.default_rng(seed)
    k = np.arange(1, max(n, 1))
    hue = rng.random() + k * 0.6180339887498949
    sat = rng.uniform(0.55, 1.0, size=len(k))
    val = rng.uniform(0.7, 1.0, size=len(k))
    palette = np.zeros((max(n, 1), 3), dtype=np.uint8)
    palette[1:] = np.round(hsv_to_rgb(hue, sat, val) * 255.0).astype(np.uint8)
    return palette[:n]


def colorize_ids(ids: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Colour image (H, W, 3) uint8 of an id image; ids past the palette wrap over 1..N-1."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(palette)
    if n > 1:
        ids = np.where(ids > 0, (ids - 1) % (n - 1) + 1, 0)
    else:
        ids = np.zeros_like(ids)
    return np.asarray(palette, dtype=np.uint8)[ids]


def contact_sheet(rows: list[list[np.ndarray]], labels: list[str], pad: int = 2) -> np.ndarray:
    """Grid image (Hs, Ws, 3) uint8: one row per frame, one labelled column per view.

    All tiles must be (H, W, 3) uint8 of one size. The sheet is ``HEADER_HEIGHT + pad +
    rows * (H + pad)`` high and ``pad + columns * (W + pad)`` wide.
    """
    if not rows or not rows[0]:
        raise ValueError("contact_sheet needs at least one row and one column")
    height, width = rows[0][0].shape[:2]
    num_cols = len(rows[0])
    if len(labels) != num_cols:
        raise ValueError(f"{len(labels)} labels for {num_cols} columns")
    for row in rows:
        if len(row) != num_cols:
            raise ValueError("every row needs the same number of tiles")
        for tile in row:
            if tile.shape != (height, width, 3) or tile.dtype != np.uint8:
                raise ValueError(f"tiles must be ({height}, {width}, 3) uint8")

    sheet = np.full(
        (HEADER_HEIGHT + pad + len(rows) * (height + pad), pad + num_cols * (width + pad), 3),
        BACKGROUND,
        dtype=np.uint8,
    )
    for r, row in enumerate(rows):
        y = HEADER_HEIGHT + pad + r * (height + pad)
        for c, tile in enumerate(row):
            x = pad + c * (width + pad)
            sheet[y : y + height, x : x + width] = tile

    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for c, label in enumerate(labels):
        draw.text((pad + c * (width + pad) + 2, 2), label, fill=TEXT_COLOR, font=font)
    return np.array(image)


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write an (H, W) or (H, W, 3) uint8 image as PNG."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_png expects uint8, got {image.dtype}")
    Image.fromarray(image).save(Path(path), format="PNG")


def preview_frames(num: int, num_frames: int = 4) -> np.ndarray:
    """The frames of a clip of ``num`` frames that its contact sheet shows: spread over
    the clip, the last left out (it has no forward flow)."""
    last = max(num - 2, 0)
    return np.unique(np.round(np.linspace(0, last, min(num_frames, last + 1))).astype(int))


def clip_preview(
    path: str | Path,
    rgb: np.ndarray,
    depth: np.ndarray,
    semantic: np.ndarray,
    flow: np.ndarray,
    flow_valid: np.ndarray,
    num_frames: int = 4,
) -> np.ndarray:
    """Save and return a contact sheet of a few frames of one camera.

    rgb (F, H, W, 3) uint8 (or a mapping of ``preview_frames`` to their (H, W, 3)),
    depth (F, H, W), semantic (F, H, W), forward flow (F, H, W, 2) (or a mapping as
    rgb's, of (H, W, 2)) and its valid mask (F, H, W). Rows are frames
    spread over the clip (the last frame is skipped, having no forward flow); columns are
    RGB | depth | semantic | forward flow, with depth and flow scaled alike over the rows.
    Tiles are subsampled to at most ``PREVIEW_TILE_WIDTH`` pixels wide.
    """
    frames = preview_frames(len(depth), num_frames)
    step = -(-np.shape(depth)[2] // PREVIEW_TILE_WIDTH)
    sub = (frames, slice(None, None, step), slice(None, None, step))

    depth = np.asarray(depth)[sub]
    hit = depth > 0
    near, far = (depth[hit].min(), depth[hit].max()) if hit.any() else (None, None)
    flow = np.stack([np.asarray(flow[k]) for k in frames])[:, sub[1], sub[2]]
    valid = np.asarray(flow_valid)[sub]
    mag = np.hypot(flow[..., 0], flow[..., 1])[valid]
    max_mag = float(np.percentile(mag, 99)) if mag.size else None
    colors = class_table().colors

    rows = [
        [
            np.ascontiguousarray(np.asarray(rgb[frame])[sub[1:]]),
            colorize_depth(depth[k], near, far),
            colorize_ids(np.asarray(semantic)[sub][k], colors),
            flow_to_rgb(flow[k], valid[k], max_mag),
        ]
        for k, frame in enumerate(frames)
    ]
    sheet = contact_sheet(rows, ["rgb", "depth", "semantic", "flow (forward)"])
    save_png(path, sheet)
    return sheet
