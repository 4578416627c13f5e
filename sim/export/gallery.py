"""A static HTML gallery of a dataset: every clip's video with switchable overlays, its
labels summarised, and contact sheets.

    OUT/index.html                 one card per clip: a <video>, overlay toggles, summary
    OUT/contact_sheet.png          one row per clip, RGB with boxes at a few frames (clips
                                   of another size or length than the first are left out)
    OUT/media/CLIP/rgb.mp4         the clip's own video (copied)
    OUT/media/CLIP/boxes.mp4       visible 2D boxes drawn onto the RGB
    OUT/media/CLIP/seg.mp4         instances (the Cosmos export's colours)
    OUT/media/CLIP/depth.mp4       turbo inverse depth over the clip's depth range
    OUT/media/CLIP/flow.mp4        forward flow, colour wheel (last frame has none: black)
    OUT/media/CLIP/sheet.png       rows of frames: boxes | seg | depth | flow

The page needs no server or script from elsewhere: open index.html from disk. Boxes are
drawn for objects, furniture and agents, not for structure (floor, walls, doors,
windows, sky) or the street (road, sidewalk, buildings, terrain), whose boxes cover
most of the frame.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from simfactory.sim.annotate.captions import amount
from simfactory.sim.annotate.flow import flow_to_rgb
from simfactory.sim.export import (
    ExportError,
    dataset_clips,
    prepare_output,
    read_annotations,
    read_video,
    staged,
)
from simfactory.sim.export.cosmos import seg_palette
from simfactory.sim.write.encodings import decode
from simfactory.sim.write.files import write_video
from simfactory.sim.write.preview import colorize_depth, colorize_ids, contact_sheet, save_png

OVERLAYS = ("rgb", "boxes", "seg", "depth", "flow")
NO_BOX_CLASSES = frozenset(
    ["background", "sky", "floor", "wall", "ceiling", "door", "window", "road", "sidewalk",
     "building", "fence", "vegetation", "terrain"]
)  # fmt: skip
SHEET_FRAMES = 4


def draw_boxes(rgb: np.ndarray, frame_objects: list[dict], classes: dict[int, str]) -> np.ndarray:
    """The frame (H, W, 3) uint8 with the visible 2D box of each listed object drawn in its
    segmentation colour, skipping ``NO_BOX_CLASSES``."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    for obj in frame_objects:
        box = obj.get("bbox_visible")
        if box is None or classes.get(obj["id"]) in NO_BOX_CLASSES:
            continue
        x0, y0, x1, y1 = box
        colour = tuple(int(c) for c in seg_palette()[obj["id"]])
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=1)
    return np.array(image)


def overlay_frames(clip_dir: Path, annotations: dict, camera: str) -> dict[str, np.ndarray]:
    """The clip's frames (F, H, W, 3) uint8 for every overlay of ``OVERLAYS``."""
    rgb = np.stack(list(read_video(clip_dir / camera / "rgb.mp4")))
    with np.load(clip_dir / camera / "depth.npz") as data:
        depth = decode(data, "depth")
    with np.load(clip_dir / camera / "instance.npz") as data:
        instance = data["instance"]
    with np.load(clip_dir / camera / "flow.npz") as data:
        flow, valid = decode(data, "forward"), data["forward_valid"]
    hit = depth > 0
    near, far = (depth[hit].min(), depth[hit].max()) if hit.any() else (None, None)
    mag = np.hypot(flow[..., 0], flow[..., 1])[valid]
    max_mag = float(np.percentile(mag, 99)) if mag.size else None
    classes = {o["id"]: o["class"] for o in annotations["objects"]}
    frames = annotations["cameras"][camera]["frames"]
    palette = seg_palette()
    return {
        "rgb": rgb,
        "boxes": np.stack(
            [draw_boxes(f, frames[t]["objects"], classes) for t, f in enumerate(rgb)]
        ),
        "seg": np.stack([colorize_ids(i, palette) for i in instance]),
        "depth": np.stack([colorize_depth(d, near, far) for d in depth]),
        "flow": np.stack([flow_to_rgb(f, v, max_mag) for f, v in zip(flow, valid, strict=True)]),
    }


def sheet_rows(num_frames: int, count: int = SHEET_FRAMES) -> np.ndarray:
    """Frame indices spread evenly over a clip for a contact sheet."""
    return np.unique(np.round(np.linspace(0, num_frames - 1, min(count, num_frames))).astype(int))


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(tile))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 6 * len(text) + 3, 11], fill=(0, 0, 0))
    draw.text((2, 0), text, fill=(255, 255, 255))
    return np.array(image)


def clip_summary(annotations: dict, camera: str) -> dict:
    """What the page says about a clip: family, size, objects by class, labels' counts."""
    clip, cam = annotations["clip"], annotations["cameras"][camera]
    bodies: dict[str, int] = {}
    for obj in annotations["objects"]:
        if obj.get("link") is None:
            bodies[obj["class"]] = bodies.get(obj["class"], 0) + 1
    visible = [sum(o.get("bbox_visible") is not None for o in f["objects"]) for f in cam["frames"]]
    summary = {
        "family": clip.get("family"),
        "frames": clip["num_frames"],
        "fps": clip["fps"],
        "size": f"{cam['width']}x{cam['height']}",
        "clip seed": clip.get("clip_seed"),
        "parts": len(annotations["objects"]),
        "bodies by class": ", ".join(f"{k} {v}" for k, v in sorted(bodies.items())),
        "visible objects per frame": f"{np.mean(visible):.1f}" if visible else "0",
        "contacts (frame, pair)": len(annotations.get("contacts", [])),
        "joints": len(annotations.get("joints", {}).get("names", [])),
    }
    caption = annotations.get("family", {}).get("caption")
    if caption:
        summary["caption"] = caption
    return summary


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; background: #181818; color: #eee; margin: 1em; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
         gap: 1em; }}
.clip {{ background: #262626; padding: 0.6em; border-radius: 6px; margin: 0; }}
.clip video {{ width: 100%; image-rendering: pixelated; background: #000; }}
.toggles label {{ margin-right: 0.6em; font-size: 0.9em; }}
table {{ font-size: 0.8em; border-collapse: collapse; }}
td {{ padding: 1px 6px; vertical-align: top; }}
pre {{ font-size: 0.7em; max-height: 20em; overflow: auto; }}
a {{ color: #9cf; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{count}, camera {camera}. Show on every clip:
{global_buttons}
<a href="contact_sheet.png">contact sheet</a></p>
<div class="grid">
{cards}
</div>
<script>
function show(clip, overlay) {{
  const video = document.querySelector('video[data-clip="' + clip + '"]');
  const time = video.currentTime;
  video.src = video.dataset[overlay];
  video.dataset.overlay = overlay;
  video.currentTime = time;
  video.play().catch(() => {{}});
  const radio = document.querySelector(
    'input[name="overlay-' + clip + '"][value="' + overlay + '"]');
  if (radio) radio.checked = true;
}}
document.querySelectorAll('.toggles input').forEach(input =>
  input.addEventListener('change', () => show(input.dataset.clip, input.value)));
document.querySelectorAll('button.all').forEach(button =>
  button.addEventListener('click', () => document.querySelectorAll('video[data-clip]')
    .forEach(video => show(video.dataset.clip, button.value))));
</script>
</body>
</html>
"""

CARD = """<figure class="clip" id="{clip}">
<video data-clip="{clip}" data-overlay="rgb" {sources} src="{rgb}"
 controls loop muted autoplay playsinline></video>
<div class="toggles">{toggles}</div>
<figcaption><b>{clip}</b> <a href="{sheet}">sheet</a>
<table>{rows}</table>
<details><summary>sampled parameters</summary><pre>{params}</pre></details>
</figcaption>
</figure>"""


def _card(clip: str, summary: dict, params: dict) -> str:
    media = f"media/{clip}"
    sources = " ".join(f'data-{o}="{media}/{o}.mp4"' for o in OVERLAYS)
    toggles = "".join(
        f'<label><input type="radio" name="overlay-{clip}" value="{o}" data-clip="{clip}"'
        f"{' checked' if o == 'rgb' else ''}> {o}</label>"
        for o in OVERLAYS
    )
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
    )
    return CARD.format(
        clip=clip, sources=sources, rgb=f"{media}/rgb.mp4", toggles=toggles,
        sheet=f"{media}/sheet.png", rows=rows,
        params=html.escape(json.dumps(params, indent=1, sort_keys=True)),
    )  # fmt: skip


@staged
def export_gallery(
    dataset_dir: str | Path,
    out_page: str | Path | None = None,
    camera: str = "cam0",
    overwrite: bool = False,
) -> Path:
    """Write the gallery page (default ``DATASET/gallery/index.html``) with its videos and
    contact sheets; returns the page's path."""
    clips = dataset_clips(dataset_dir)
    for clip in clips:
        annotations = read_annotations(clip)
        if camera not in annotations["cameras"]:
            raise ExportError(f"{clip.name} has no camera {camera!r}")
        for name in ("rgb.mp4", "depth.npz", "instance.npz", "flow.npz"):
            if not (clip / camera / name).exists():
                raise ExportError(f"{clip.name}/{camera}/{name} is missing")
    out_page = Path(dataset_dir) / "gallery" / "index.html" if out_page is None else Path(out_page)
    if out_page.suffix != ".html":
        raise ExportError(f"the gallery page must be an .html file: {str(out_page)!r}")
    out = prepare_output(out_page.parent, overwrite, [out_page.name, "media", "contact_sheet.png"])
    cards, sheet_rows_all, labels, shape = [], [], None, None
    for clip in clips:
        annotations = read_annotations(clip)
        fps = float(annotations["clip"]["fps"])
        media = out / "media" / clip.name
        media.mkdir(parents=True)
        overlays = overlay_frames(clip, annotations, camera)
        shutil.copyfile(clip / camera / "rgb.mp4", media / "rgb.mp4")
        for name in OVERLAYS[1:]:
            write_video(media / f"{name}.mp4", overlays[name], fps)
        rows = sheet_rows(len(overlays["rgb"]))
        sheet = contact_sheet(
            [[overlays[o][t] for o in OVERLAYS[1:]] for t in rows], list(OVERLAYS[1:])
        )
        save_png(media / "sheet.png", sheet)
        tiles = [overlays["boxes"][t] for t in rows]
        if labels is None:
            labels, shape = [f"frame {t}" for t in rows], tiles[0].shape
        if len(tiles) == len(labels) and tiles[0].shape == shape:
            sheet_rows_all.append([_label(tiles[0], clip.name), *tiles[1:]])
        cards.append(_card(clip.name, clip_summary(annotations, camera), annotations["params"]))
    save_png(out / "contact_sheet.png", contact_sheet(sheet_rows_all, labels))
    buttons = " ".join(f'<button class="all" value="{o}">{o}</button>' for o in OVERLAYS)
    title = html.escape(f"simfactory dataset {Path(dataset_dir).resolve().name}")
    (out / out_page.name).write_text(
        PAGE.format(
            title=title,
            count=amount(len(clips), "clip"),
            camera=html.escape(camera),
            global_buttons=buttons,
            cards="\n".join(cards),
        )  # fmt: skip
    )
    return out_page.resolve()
