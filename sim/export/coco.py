"""Export a dataset as COCO instance segmentation (per frame) or YouTube-VIS (per clip).

COCO, one image per (clip, sampled frame)::

    OUT/images/<clip id>/NNNNNN.jpg      the camera's frame NNNNNN, decoded from rgb.mp4
    OUT/annotations/instances.json       images, annotations, categories

YouTube-VIS, one video per clip (``OUT`` plays the part of YouTube-VIS's ``train/``)::

    OUT/JPEGImages/<clip id>/NNNNNN.jpg
    OUT/instances.json                   videos, annotations (one per object track), categories

Conventions:

- Instances are our objects (rigid parts): instance id k in ``instance.npz`` is the
  object with ``"id": k`` in ``annotations.json``, and its class is the object's
  ``class_id``. Category ids are class ids of ``assets/classes.csv`` (background, id 0,
  is not a category); ``supercategory`` is the class's group.
- Segmentations are pycocotools' compressed RLE of the instance masks (``counts`` as
  text), exact to the pixel; ``area`` is the mask's pixel count and ``bbox`` the mask's
  box ``[x, y, w, h]`` in pixel-edge coordinates (our visible 2D box, as a width and
  height). ``iscrowd`` is 0.
- An object gets an annotation in a frame when its mask there has at least
  ``min_visible_pixels`` pixels; in YouTube-VIS its ``segmentations``, ``areas`` and
  ``bboxes`` are ``None`` in the other frames, and objects never seen get no track.
- ``every`` keeps frames 0, N, 2N ... of each clip; image and video file names keep the
  clip's own frame numbers. Images are the lossy H.264 frames decoded again (JPEG at
  quality 95 adds its own loss; PNG keeps the decoded pixels).
- Besides the formats' own keys, images carry ``clip_id``, ``frame`` and ``camera``,
  videos ``clip_id``, ``frames`` and ``camera``, annotations ``object_id`` and
  ``object_name``, to find the source again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from pycocotools import mask as mask_utils

from .. import __version__
from ..classes import class_table
from . import ExportError, dataset_clips, prepare_output, read_annotations, read_video

IMAGE_FORMATS = ("jpg", "png")


def coco_categories() -> list[dict]:
    """COCO categories of the class table: every class but the background (id 0)."""
    table = class_table()
    return [
        {"id": i, "name": name, "supercategory": table.groups[i]}
        for i, name in enumerate(table.names)
        if i > 0
    ]


def encode_masks(instance: np.ndarray, ids: np.ndarray) -> list[dict]:
    """pycocotools RLEs of the masks ``instance == id`` for each of ``ids``, with the
    ``counts`` decoded to text so that they can be written as JSON."""
    if len(ids) == 0:
        return []
    masks = np.asfortranarray(np.stack([instance == i for i in ids], axis=-1), dtype=np.uint8)
    rles = mask_utils.encode(masks)
    return [{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in rles]


def frame_instances(
    instance: np.ndarray, objects: dict[int, dict], min_visible_pixels: int = 1
) -> list[dict]:
    """The objects seen in one instance frame (H, W): per object with at least
    ``min_visible_pixels`` pixels, its record (``object``), ``segmentation`` (RLE),
    ``area`` and ``bbox`` ([x, y, w, h] of its mask), in id order."""
    ids, counts = np.unique(instance, return_counts=True)
    keep = (ids != 0) & (counts >= min_visible_pixels)
    ids, counts = ids[keep], counts[keep]
    unknown = [int(i) for i in ids if int(i) not in objects]
    if unknown:
        raise ExportError(f"instance ids {unknown} are not in the object table")
    out = []
    for i, count, rle in zip(ids, counts, encode_masks(instance, ids), strict=True):
        box = mask_utils.toBbox(rle).tolist()
        out.append({"object": objects[int(i)], "segmentation": rle, "area": int(count),
                    "bbox": box})  # fmt: skip
    return out


def _check(clips: list[Path], camera: str, every: int, min_visible_pixels: int) -> None:
    """Raise ExportError for a bad option or the first clip lacking the camera, its files
    or our class table."""
    if every < 1:
        raise ExportError(f"--every must be at least 1, got {every}")
    if min_visible_pixels < 1:
        raise ExportError(f"--min-visible-pixels must be at least 1, got {min_visible_pixels}")
    names = list(class_table().names)
    for clip in clips:
        annotations = read_annotations(clip)
        if camera not in annotations["cameras"]:
            known = ", ".join(annotations["cameras"]) or "none"
            raise ExportError(f"{clip.name}: no camera {camera!r} (cameras: {known})")
        for name in ("rgb.mp4", "instance.npz"):
            if not (clip / camera / name).exists():
                raise ExportError(f"{clip.name}: missing {camera}/{name}")
        if [c["name"] for c in annotations["classes"]] != names:
            raise ExportError(f"{clip.name}: written with another class table than ours")


def _clip_frames(
    clip: Path, camera: str, every: int, min_visible_pixels: int
) -> Iterator[tuple[int, np.ndarray, list[dict]]]:
    """(frame, RGB image, frame_instances) for frames 0, every, 2 every ... of a clip."""
    annotations = read_annotations(clip)
    objects = {o["id"]: o for o in annotations["objects"]}
    with np.load(clip / camera / "instance.npz") as data:
        instance = data["instance"]
    decoded = 0
    for f, rgb in enumerate(read_video(clip / camera / "rgb.mp4")):
        decoded += 1
        if f < len(instance) and f % every == 0:
            try:
                seen = frame_instances(instance[f], objects, min_visible_pixels)
            except ExportError as error:
                raise ExportError(f"{clip.name} frame {f}: {error}") from None
            yield f, rgb, seen
    if decoded != len(instance):
        raise ExportError(
            f"{clip.name}: {camera}/rgb.mp4 has {decoded} frames, instance.npz {len(instance)}"
        )


def _write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        iio.imwrite(path, rgb, quality=95)
    else:
        iio.imwrite(path, rgb)


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(content, fh, separators=(",", ":"))


def _info(fmt: str, camera: str) -> dict:
    return {
        "description": f"simfactory synthetic clips as {fmt} (camera {camera})",
        "version": __version__,
    }


def _per_frame(items: list[dict | None], key: str) -> list:
    return [None if item is None else item[key] for item in items]


def _prepare(
    dataset_dir, out_dir, camera, every, min_visible_pixels, image_format, overwrite, written
) -> tuple[list[Path], Path]:
    clips = dataset_clips(dataset_dir)
    if image_format not in IMAGE_FORMATS:
        raise ExportError(f"image format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    _check(clips, camera, every, min_visible_pixels)
    return clips, prepare_output(out_dir, overwrite, written)


def export_coco(
    dataset_dir: str | Path,
    out_dir: str | Path,
    camera: str = "cam0",
    every: int = 1,
    min_visible_pixels: int = 1,
    image_format: str = "jpg",
    overwrite: bool = False,
) -> int:
    """Write the dataset's frames as COCO instance segmentation; returns the images written.

    Every clip is checked (camera, its files, the class table) before anything is
    written; problems raise ``ExportError``.
    """
    clips, out = _prepare(dataset_dir, out_dir, camera, every, min_visible_pixels,
                          image_format, overwrite, ["images", "annotations"])  # fmt: skip
    images, annotations = [], []
    for clip in clips:
        for f, rgb, seen in _clip_frames(clip, camera, every, min_visible_pixels):
            file_name = f"{clip.name}/{f:06d}.{image_format}"
            _write_image(out / "images" / file_name, rgb)
            image_id = len(images) + 1
            height, width = rgb.shape[:2]
            images.append({"id": image_id, "file_name": file_name, "width": width,
                           "height": height, "clip_id": clip.name, "frame": f,
                           "camera": camera})  # fmt: skip
            for item in seen:
                obj = item["object"]
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id,
                    "category_id": obj["class_id"], "segmentation": item["segmentation"],
                    "area": item["area"], "bbox": item["bbox"], "iscrowd": 0,
                    "object_id": obj["id"], "object_name": obj["name"],
                })  # fmt: skip
    content = {
        "info": _info("COCO", camera),
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    _write_json(out / "annotations" / "instances.json", content)
    return len(images)


def export_youtube_vis(
    dataset_dir: str | Path,
    out_dir: str | Path,
    camera: str = "cam0",
    every: int = 1,
    min_visible_pixels: int = 1,
    image_format: str = "jpg",
    overwrite: bool = False,
) -> int:
    """Write the dataset's clips as YouTube-VIS videos with one track per object; returns
    the frames written. Checks and errors as ``export_coco``."""
    clips, out = _prepare(dataset_dir, out_dir, camera, every, min_visible_pixels,
                          image_format, overwrite, ["JPEGImages", "instances.json"])  # fmt: skip
    videos, tracks, count = [], [], 0
    for clip in clips:
        video_id = len(videos) + 1
        file_names, frames, per_object = [], [], {}
        height = width = 0
        for f, rgb, seen in _clip_frames(clip, camera, every, min_visible_pixels):
            file_name = f"{clip.name}/{f:06d}.{image_format}"
            _write_image(out / "JPEGImages" / file_name, rgb)
            height, width = rgb.shape[:2]
            for item in seen:
                per_object.setdefault(item["object"]["id"], {})[len(frames)] = item
            file_names.append(file_name)
            frames.append(f)
        count += len(frames)
        videos.append({"id": video_id, "file_names": file_names, "length": len(frames),
                       "width": width, "height": height, "clip_id": clip.name,
                       "frames": frames, "camera": camera})  # fmt: skip
        for object_id in sorted(per_object):
            items = [per_object[object_id].get(t) for t in range(len(frames))]
            obj = next(item for item in items if item)["object"]
            tracks.append({
                "id": len(tracks) + 1, "video_id": video_id, "category_id": obj["class_id"],
                "iscrowd": 0, "width": width, "height": height, "length": len(frames),
                "segmentations": _per_frame(items, "segmentation"),
                "areas": _per_frame(items, "area"),
                "bboxes": _per_frame(items, "bbox"),
                "object_id": obj["id"], "object_name": obj["name"],
            })  # fmt: skip
    content = {
        "info": _info("YouTube-VIS", camera),
        "licenses": [],
        "videos": videos,
        "annotations": tracks,
        "categories": coco_categories(),
    }
    _write_json(out / "instances.json", content)
    return count
