"""The gallery page, opened in headless Chromium, and its contact sheets."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from simfactory.sim.export import ExportError, dataset_clips, read_annotations, read_video
from simfactory.sim.export.cli import main
from simfactory.sim.export.cosmos import seg_palette
from simfactory.sim.export.gallery import OVERLAYS, draw_boxes, export_gallery, sheet_rows


@pytest.fixture(scope="module")
def gallery(tiny_dataset, tmp_path_factory):
    _, dataset = tiny_dataset
    page = tmp_path_factory.mktemp("gallery") / "index.html"
    assert main(["gallery", str(dataset), str(page)]) == 0
    return dataset, page


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_gallery_files_and_contact_sheets(gallery):
    dataset, page = gallery
    clips = dataset_clips(dataset)
    for clip in clips:
        media = page.parent / "media" / clip.name
        num_frames = read_annotations(clip)["clip"]["num_frames"]
        for overlay in OVERLAYS:
            frames = list(read_video(media / f"{overlay}.mp4"))
            assert len(frames) == num_frames and frames[0].shape == (48, 64, 3)
        sheet = np.asarray(Image.open(media / "sheet.png"))
        rows = len(sheet_rows(num_frames))
        assert sheet.shape == (16 + 2 + rows * (48 + 2), 2 + 4 * (64 + 2), 3)
    sheet = np.asarray(Image.open(page.parent / "contact_sheet.png"))
    assert sheet.shape == (16 + 2 + len(clips) * (48 + 2), 2 + 4 * (64 + 2), 3)
    with pytest.raises(ExportError, match="not empty"):
        export_gallery(dataset, page)


def test_boxes_are_drawn_where_the_annotations_put_them():
    rgb = np.zeros((48, 64, 3), dtype=np.uint8)
    objects = [
        {"id": 7, "bbox_visible": [10.0, 5.0, 30.0, 20.0]},
        {"id": 2, "bbox_visible": [0.0, 0.0, 64.0, 48.0]},  # a wall: not drawn
        {"id": 9, "bbox_visible": None},
    ]
    out = draw_boxes(rgb, objects, {7: "cup", 2: "wall", 9: "toy"})
    colour = seg_palette()[7]
    assert (out[5, 10:30] == colour).all() and (out[19, 10:30] == colour).all()
    assert (out[5:20, 10] == colour).all() and (out[5:20, 29] == colour).all()
    assert not out[21:].any() and not out[:, 31:].any()


def test_page_shows_every_clip_and_the_toggles_switch_the_video(gallery, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH (make install-browser installs Debian's)")
    dataset, page = gallery
    clips = [c.name for c in dataset_clips(dataset)]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(page.as_uri())
        videos = tab.locator("video[data-clip]")
        assert videos.count() == len(clips)
        assert [videos.nth(i).get_attribute("data-clip") for i in range(len(clips))] == clips
        first = videos.nth(0)
        assert first.get_attribute("src") == f"media/{clips[0]}/rgb.mp4"
        tab.wait_for_function("document.querySelector('video').readyState >= 1", timeout=15000)
        assert tab.evaluate("document.querySelector('video').videoWidth") == 64  # it decodes

        tab.locator(f'input[name="overlay-{clips[0]}"][value="seg"]').click()
        assert first.get_attribute("src") == f"media/{clips[0]}/seg.mp4"
        assert videos.nth(1).get_attribute("src") == f"media/{clips[1]}/rgb.mp4"
        tab.locator('button.all[value="depth"]').click()
        for i, clip in enumerate(clips):
            assert videos.nth(i).get_attribute("src") == f"media/{clip}/depth.mp4"
            radio = tab.locator(f'input[name="overlay-{clip}"][value="depth"]')
            assert radio.is_checked()
        for src in tab.evaluate("[...document.querySelectorAll('video')].map(v => v.src)"):
            assert (page.parent / src.split(page.parent.as_uri() + "/")[1]).exists()

        summary = tab.locator(f"#{clips[0]} table").inner_text()
        annotations = read_annotations(dataset / "clips" / clips[0])
        assert f"frames\t{annotations['clip']['num_frames']}" in summary
        params = tab.locator(f"#{clips[0]} details pre").text_content()
        assert json.loads(params) == annotations["params"]
        tab.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
        browser.close()
    assert Image.open(tmp_path / "gallery.png").size[0] > 0
