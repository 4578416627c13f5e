import numpy as np
import pytest
from PIL import Image

from simfactory.sim.write.preview import (
    BACKGROUND,
    HEADER_HEIGHT,
    TURBO_ANCHORS,
    clip_preview,
    colorize_depth,
    colorize_ids,
    contact_sheet,
    instance_palette,
    preview_frames,
    save_png,
)


def test_colorize_depth():
    depth = np.array([[0.0, 1.0, 2.0], [4.0, 0.0, 8.0]], dtype=np.float32)
    image = colorize_depth(depth)
    assert image.shape == (2, 3, 3) and image.dtype == np.uint8
    assert not image[0, 0].any() and not image[1, 1].any()
    np.testing.assert_array_equal(image[0, 1], TURBO_ANCHORS[-1])
    np.testing.assert_array_equal(image[1, 2], TURBO_ANCHORS[0])
    assert image[0, 2].any() and not np.array_equal(image[0, 2], image[1, 0])
    clipped = colorize_depth(depth, near=2.0, far=4.0)
    np.testing.assert_array_equal(clipped[0, 1], clipped[0, 2])
    np.testing.assert_array_equal(clipped[1, 2], TURBO_ANCHORS[0])
    assert not colorize_depth(np.zeros((4, 4))).any()
    assert colorize_depth(np.full((2, 2), 3.0)).all()


def test_instance_palette_and_colorize_ids():
    palette = instance_palette(64, seed=3)
    assert palette.shape == (64, 3) and palette.dtype == np.uint8
    assert not palette[0].any()
    assert len(np.unique(palette, axis=0)) == 64
    np.testing.assert_array_equal(palette, instance_palette(64, seed=3))
    assert not np.array_equal(palette, instance_palette(64, seed=4))

    ids = np.array([[0, 1, 63], [64, 65, 127]], dtype=np.uint16)
    image = colorize_ids(ids, palette)
    assert image.shape == (2, 3, 3) and image.dtype == np.uint8
    assert not image[0, 0].any()
    np.testing.assert_array_equal(image[0, 1], palette[1])
    np.testing.assert_array_equal(image[0, 2], palette[63])
    np.testing.assert_array_equal(image[1, 0], palette[1])
    np.testing.assert_array_equal(image[1, 1], palette[2])
    np.testing.assert_array_equal(image[1, 2], palette[1])


def test_contact_sheet_layout():
    h, w, pad = 20, 30, 3
    rng = np.random.default_rng(0)
    rows = [[rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(4)] for _ in range(2)]
    labels = ["rgb", "depth", "segmentation", "flow"]
    sheet = contact_sheet(rows, labels, pad=pad)
    assert sheet.dtype == np.uint8
    assert sheet.shape == (HEADER_HEIGHT + 2 * h + 3 * pad, 4 * w + 5 * pad, 3)
    y = HEADER_HEIGHT + pad + (h + pad)
    x = pad + 2 * (w + pad)
    np.testing.assert_array_equal(sheet[y : y + h, x : x + w], rows[1][2])
    assert (sheet[HEADER_HEIGHT : HEADER_HEIGHT + pad] == BACKGROUND).all()
    assert (sheet[:HEADER_HEIGHT] != BACKGROUND).any()
    with pytest.raises(ValueError):
        contact_sheet(rows, labels[:3])
    with pytest.raises(ValueError):
        contact_sheet([rows[0], rows[1][:3]], labels)


def test_save_png_round_trip(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = tmp_path / "sheet.png"
    save_png(path, image)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)
    with pytest.raises(ValueError):
        save_png(tmp_path / "bad.png", image.astype(np.float32))


def test_clip_preview(tmp_path):
    F, H, W = 6, 24, 32
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (F, H, W, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 5.0, (F, H, W)).astype(np.float32)
    labels = (
        rng.integers(0, 4, (F, H, W)).astype(np.uint8),
        rng.normal(size=(F, H, W, 2)).astype(np.float32),
        rng.random((F, H, W)) < 0.8,
    )
    sheet = clip_preview(tmp_path / "preview.png", rgb, depth, *labels)
    assert sheet.shape == (HEADER_HEIGHT + 2 + 4 * (H + 2), 2 + 4 * (W + 2), 3)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "preview.png")), sheet)
    np.testing.assert_array_equal(sheet[HEADER_HEIGHT + 2 :][:H, 2 : 2 + W], rgb[0])
    first = [a[:1] for a in labels]
    one = clip_preview(tmp_path / "one.png", rgb[:1], depth[:1], *first, num_frames=3)
    assert one.shape[0] == HEADER_HEIGHT + 2 + H + 2


def test_clip_preview_from_the_kept_frames_only(tmp_path):
    """A worker keeps only the preview's frames of colour and flow: the contact sheet is
    the one drawn from the whole clip's arrays (wider than a tile: subsampled)."""
    F, H, W = 9, 40, 400
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (F, H, W, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 5.0, (F, H, W)).astype(np.float32)
    semantic = rng.integers(0, 4, (F, H, W)).astype(np.uint8)
    flow = rng.normal(size=(F, H, W, 2)).astype(np.float32)
    valid = rng.random((F, H, W)) < 0.8
    whole = clip_preview(tmp_path / "whole.png", rgb, depth, semantic, flow, valid)
    shown = preview_frames(F)
    assert 1 < len(shown) < F
    kept_rgb = {int(k): rgb[k].copy() for k in shown}
    kept_flow = {int(k): flow[k].copy() for k in shown}
    kept = clip_preview(tmp_path / "kept.png", kept_rgb, depth, semantic, kept_flow, valid)
    np.testing.assert_array_equal(kept, whole)
    assert (tmp_path / "kept.png").read_bytes() == (tmp_path / "whole.png").read_bytes()
