"""Export a dataset as COCO instance segmentation (per frame) or YouTube-VIS (per clip).

COCO, one image per (clip, sampled frame)::

    OUT/images/<clip id>/NNNNNN.jpg      the camera's frame NNNNNN, decoded from rgb.mp4
    OUT/annotations/instances.json       images, annotations, categories

YouTube-VIS, one video per clip (``OUT`` plays the part of YouTube-VIS's ``train/``)::

    OUT/JPEGImages/<clip id>/NNNNNN.jpg
    OUT/instances.json                   videos, annotations (one per object track), categories

With several cameras (``camera="cam0,cam1"`` or ``"all"``, each clip's every camera)
each (clip, camera) is written under ``<clip id>/<camera>/`` and is one YouTube-VIS
video; instance ids are shared by a clip's cameras, so a track id follows one object
in one camera.

Conventions:

- Instances are our objects (rigid parts): instance id k in ``instance.npz`` is the
  object with ``"id": k`` in ``annotations.json``, and its class is the object's
  ``class_id``. With ``instances="bodies"`` the parts of a body that share its base
  part's class are one instance (a person's or a robot arm's links), masks united.
  Category ids are class ids of ``assets/classes.csv`` (background, id 0, is not a
  category); ``supercategory`` is the class's group.
- Segmentations are pycocotools' compressed RLE of the instance masks (``counts`` as
  text), exact to the pixel; ``area`` is the mask's pixel count and ``bbox`` the mask's
  box ``[x, y, w, h]`` in pixel-edge coordinates (our visible 2D box, as a width and
  height). ``iscrowd`` is 0.
- An instance gets an annotation in a frame when its mask there has at least
  ``min_visible_pixels`` pixels; in YouTube-VIS its ``segmentations``, ``areas`` and
  ``bboxes`` are ``None`` in the other frames, and instances never seen get no track.
- ``every`` keeps frames 0, N, 2N ... of each clip; image and video file names keep the
  clip's own frame numbers. Images are the lossy H.264 frames decoded again (JPEG at
  quality 95 adds its own loss; PNG keeps the decoded pixels).
- People: with ``instances="bodies"`` a person (its humanoid's links, or the regions of
  its skinned body) is one instance, and its COCO annotation carries ``keypoints``
  ([x, y, v] per point in the clip's layout, COCO-WholeBody's 133 or COCO-17, pixel-edge
  coordinates, 0, 0, 0 where not labelled) and ``num_keypoints``; the person category
  lists the layout's ``keypoints`` names and ``skeleton``.
- Besides the formats' own keys, images carry ``clip_id``, ``frame`` and ``camera``,
  videos ``clip_id``, ``frames`` and ``camera``, annotations ``object_ids`` (the
  instance ids it covers) and ``object_name`` (the object's, or with bodies the body's),
  to find the source again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from pycocotools import mask as mask_utils

from simfactory.sim import __version__
from simfactory.sim.export import (
    ExportError,
    dataset_clips,
    prepare_output,
    read_annotations,
    read_video,
    staged,
)
from simfactory.sim.model.classes import class_table

IMAGE_FORMATS = ("jpg", "png")
GROUPS = ("parts", "bodies")


def coco_categories() -> list[dict]:
    """COCO categories of the class table: every class but the background (id 0)."""
    table = class_table()
    return [
        {"id": i, "name": name, "supercategory": table.groups[i]}
        for i, name in enumerate(table.names)
        if i > 0
    ]


@dataclass(frozen=True)
class Instance:
    """One exported instance: the object ids (instance ids) it covers, its name and class."""

    ids: tuple[int, ...]
    name: str
    class_id: int


def clip_instances(objects: list[dict], group: str = "parts") -> list[Instance]:
    """The instances of a clip's object table. ``parts``: one per object (rigid part).
    ``bodies``: the parts of a body with the class of its base part are one instance (a
    person's links, a robot arm's links, a car), named after the body; parts of another
    class (a cabinet's drawers) stay instances of their own."""
    if group not in GROUPS:
        raise ExportError(f"instances must be one of {GROUPS}, got {group!r}")
    objects = sorted(objects, key=lambda o: o["id"])
    if group == "parts":
        return [Instance((o["id"],), o["name"], o["class_id"]) for o in objects]
    bodies: dict[str, list[dict]] = {}
    for obj in objects:
        bodies.setdefault(obj["body"], []).append(obj)
    instances = []
    for body, parts in bodies.items():
        base = next((o for o in parts if o["link"] is None), parts[0])
        same = tuple(o["id"] for o in parts if o["class_id"] == base["class_id"])
        instances.append(Instance(same, body, base["class_id"]))
        others = [o for o in parts if o["class_id"] != base["class_id"]]
        instances += [Instance((o["id"],), o["name"], o["class_id"]) for o in others]
    return sorted(instances, key=lambda i: i.ids[0])


def encode_mask(mask: np.ndarray) -> dict:
    """pycocotools RLE of a mask (H, W) bool, its ``counts`` as text for JSON."""
    rle = mask_utils.encode(np.asfortranarray(mask[..., None], dtype=np.uint8))[0]
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def frame_instances(
    instance: np.ndarray, instances: list[Instance], min_visible_pixels: int = 1
) -> list[dict]:
    """The instances seen in one instance frame (H, W): per instance with at least
    ``min_visible_pixels`` pixels, its ``instance``, ``segmentation`` (RLE), ``area`` and
    ``bbox`` ([x, y, w, h] of its mask), in the order of ``instances``."""
    index = np.full(max((max(i.ids) for i in instances), default=0) + 1, -1)
    for k, inst in enumerate(instances):
        index[list(inst.ids)] = k
    ids = np.unique(instance)
    unknown = [int(i) for i in ids if i and (i >= len(index) or index[i] < 0)]
    if unknown:
        raise ExportError(f"instance ids {unknown} are not in the object table")
    which = np.where(instance > 0, index[np.minimum(instance, len(index) - 1)], -1)
    counts = np.bincount(which.ravel() + 1, minlength=len(instances) + 1)[1:]
    out = []
    for k in np.flatnonzero(counts >= min_visible_pixels):
        rle = encode_mask(which == k)
        box = mask_utils.toBbox(rle).tolist()
        out.append({"instance": instances[k], "segmentation": rle, "area": int(counts[k]),
                    "bbox": box})  # fmt: skip
    return out


@dataclass(frozen=True)
class View:
    """One camera of one clip, and the folder its images go to (relative to the images)."""

    clip: Path
    camera: str
    folder: str


def _views(clips: list[Path], camera: str, every: int, min_visible_pixels: int) -> list[View]:
    """The (clip, camera) pairs to export: ``camera`` is one name, several separated by
    commas, or ``all``. Raises ExportError for a bad option or the first clip lacking a
    camera, its files or our class table."""
    if every < 1:
        raise ExportError(f"--every must be at least 1, got {every}")
    if min_visible_pixels < 1:
        raise ExportError(f"--min-visible-pixels must be at least 1, got {min_visible_pixels}")
    wanted = [c.strip() for c in camera.split(",")]
    if not all(wanted) or len(set(wanted)) != len(wanted):
        raise ExportError(f"--camera must name cameras once each, got {camera!r}")
    several = len(wanted) > 1 or wanted == ["all"]
    names = list(class_table().names)
    views = []
    for clip in clips:
        annotations = read_annotations(clip)
        cameras = list(annotations["cameras"]) if wanted == ["all"] else wanted
        for cam in cameras:
            if cam not in annotations["cameras"]:
                known = ", ".join(annotations["cameras"]) or "none"
                raise ExportError(f"{clip.name}: no camera {cam!r} (cameras: {known})")
            for name in ("rgb.mp4", "instance.npz"):
                if not (clip / cam / name).exists():
                    raise ExportError(f"{clip.name}: missing {cam}/{name}")
            views.append(View(clip, cam, f"{clip.name}/{cam}" if several else clip.name))
        if [c["name"] for c in annotations["classes"]] != names:
            raise ExportError(f"{clip.name}: written with another class table than ours")
    return views


def _clip_frames(
    clip: Path, camera: str, every: int, min_visible_pixels: int, group: str
) -> Iterator[tuple[int, np.ndarray, list[dict]]]:
    """(frame, RGB image, frame_instances) for frames 0, every, 2 every ... of a clip's
    camera."""
    instances = clip_instances(read_annotations(clip)["objects"], group)
    with np.load(clip / camera / "instance.npz") as data:
        instance = data["instance"]
    decoded = 0
    for f, rgb in enumerate(read_video(clip / camera / "rgb.mp4")):
        decoded += 1
        if f < len(instance) and f % every == 0:
            try:
                seen = frame_instances(instance[f], instances, min_visible_pixels)
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
    text = json.dumps(content, separators=(",", ":"))  # the C encoder (see write_json)
    with open(path, "w") as fh:
        fh.write(text)


def _info(fmt: str, camera: str) -> dict:
    which = "every camera" if camera == "all" else f"camera {camera}"
    return {
        "description": f"simfactory synthetic clips as {fmt} ({which})",
        "version": __version__,
    }


def _per_frame(items: list[dict | None], key: str) -> list:
    return [None if item is None else item[key] for item in items]


def _clip_keypoints(clip: Path, camera: str) -> tuple[dict, tuple | None]:
    """A clip camera's people keypoints (name -> xy, visibility) and the layout's names and
    skeleton (None without people)."""
    ann = read_annotations(clip)
    if "keypoints" not in ann:
        return {}, None
    entry = ann["keypoints"]
    return ann["cameras"][camera].get("keypoints", {}), (entry["names"], entry["skeleton"])


def _keypoints(people: dict, name: str, frame: int) -> dict:
    """COCO's ``keypoints`` ([x, y, v] per point, pixel-edge coordinates; 0, 0, 0 where
    not labelled) and ``num_keypoints`` of a person instance (with ``instances="bodies"``
    an instance is the person)."""
    if name not in people:
        return {}
    xy = np.asarray(people[name]["xy"][frame], dtype=float)
    v = np.asarray(people[name]["visibility"][frame], dtype=int)
    xy = np.where(v[:, None] > 0, xy + 0.5, 0.0)
    flat = np.concatenate([np.round(xy, 3), v[:, None]], axis=1).ravel()
    return {"keypoints": [float(x) if i % 3 < 2 else int(x) for i, x in enumerate(flat)],
            "num_keypoints": int((v > 0).sum())}  # fmt: skip


def _with_keypoints(categories: list[dict], layout: tuple | None) -> list[dict]:
    """The person category with the keypoint names and skeleton of the exported clips'
    layout (COCO-WholeBody's 133 or COCO-17), when they have people."""
    if layout is None:
        return categories
    names, skeleton = layout
    return [
        {**c, "keypoints": list(names), "skeleton": skeleton} if c["name"] == "person" else c
        for c in categories
    ]


def _source(instance: Instance) -> dict:
    """The keys that lead back from an exported instance to our objects."""
    return {"object_ids": list(instance.ids), "object_name": instance.name}


def _prepare(
    dataset_dir,
    out_dir,
    camera,
    every,
    min_visible_pixels,
    image_format,
    instances,
    overwrite,
    written,
) -> tuple[list[View], Path]:
    clips = dataset_clips(dataset_dir)
    if image_format not in IMAGE_FORMATS:
        raise ExportError(f"image format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    if instances not in GROUPS:
        raise ExportError(f"instances must be one of {GROUPS}, got {instances!r}")
    views = _views(clips, camera, every, min_visible_pixels)
    return views, prepare_output(out_dir, overwrite, written)


@staged
def export_coco(
    dataset_dir: str | Path,
    out_dir: str | Path,
    camera: str = "cam0",
    every: int = 1,
    min_visible_pixels: int = 1,
    image_format: str = "jpg",
    instances: str = "parts",
    overwrite: bool = False,
) -> int:
    """Write the dataset's frames as COCO instance segmentation; returns the images written.
    ``camera`` is one camera, several (``"cam0,cam1"``) or ``"all"``; ``instances`` is
    ``parts`` or ``bodies`` (see ``clip_instances``).

    Every clip is checked (camera, its files, the class table) before anything is
    written; problems raise ``ExportError``.
    """
    options = (camera, every, min_visible_pixels, image_format, instances)
    views, out = _prepare(dataset_dir, out_dir, *options, overwrite, ["images", "annotations"])
    images, annotations = [], []
    layout = None
    for view in views:
        frames = _clip_frames(view.clip, view.camera, every, min_visible_pixels, instances)
        people, names = _clip_keypoints(view.clip, view.camera)
        layout = layout or names
        for f, rgb, seen in frames:
            file_name = f"{view.folder}/{f:06d}.{image_format}"
            _write_image(out / "images" / file_name, rgb)
            image_id = len(images) + 1
            height, width = rgb.shape[:2]
            images.append(
                {"id": image_id, "file_name": file_name, "width": width, "height": height,
                 "clip_id": view.clip.name, "frame": f, "camera": view.camera}
            )  # fmt: skip
            for item in seen:
                annotations.append(
                    {"id": len(annotations) + 1, "image_id": image_id,
                     "category_id": item["instance"].class_id,
                     "segmentation": item["segmentation"], "area": item["area"],
                     "bbox": item["bbox"], "iscrowd": 0, **_source(item["instance"]),
                     **_keypoints(people, item["instance"].name, f)}
                )  # fmt: skip
    content = {
        "info": _info("COCO", camera),
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": _with_keypoints(coco_categories(), layout),
    }
    _write_json(out / "annotations" / "instances.json", content)
    return len(images)


@staged
def export_youtube_vis(
    dataset_dir: str | Path,
    out_dir: str | Path,
    camera: str = "cam0",
    every: int = 1,
    min_visible_pixels: int = 1,
    image_format: str = "jpg",
    instances: str = "parts",
    overwrite: bool = False,
) -> int:
    """Write the dataset's clips as YouTube-VIS videos (one per clip and camera) with one
    track per instance; returns the frames written. Options, checks and errors as
    ``export_coco``."""
    options = (camera, every, min_visible_pixels, image_format, instances)
    written = ["JPEGImages", "instances.json"]
    views, out = _prepare(dataset_dir, out_dir, *options, overwrite, written)
    videos, tracks, count = [], [], 0
    for view in views:
        video_id = len(videos) + 1
        file_names, frames, per_instance = [], [], {}
        height = width = 0
        clip_frames = _clip_frames(view.clip, view.camera, every, min_visible_pixels, instances)
        for f, rgb, seen in clip_frames:
            file_name = f"{view.folder}/{f:06d}.{image_format}"
            _write_image(out / "JPEGImages" / file_name, rgb)
            height, width = rgb.shape[:2]
            for item in seen:
                per_instance.setdefault(item["instance"], {})[len(frames)] = item
            file_names.append(file_name)
            frames.append(f)
        count += len(frames)
        videos.append(
            {"id": video_id, "file_names": file_names, "length": len(frames), "width": width,
             "height": height, "clip_id": view.clip.name, "frames": frames,
             "camera": view.camera}
        )  # fmt: skip
        for instance in sorted(per_instance, key=lambda i: i.ids[0]):
            items = [per_instance[instance].get(t) for t in range(len(frames))]
            tracks.append(
                {"id": len(tracks) + 1, "video_id": video_id,
                 "category_id": instance.class_id, "iscrowd": 0, "width": width,
                 "height": height, "length": len(frames),
                 "segmentations": _per_frame(items, "segmentation"),
                 "areas": _per_frame(items, "area"), "bboxes": _per_frame(items, "bbox"),
                 **_source(instance)}
            )  # fmt: skip
    content = {
        "info": _info("YouTube-VIS", camera),
        "licenses": [],
        "videos": videos,
        "annotations": tracks,
        "categories": coco_categories(),
    }
    _write_json(out / "instances.json", content)
    return count
