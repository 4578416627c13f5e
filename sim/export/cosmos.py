"""Export a dataset as a Cosmos-Transfer control bundle: RGB chunks, their depth,
segmentation and edge control videos, captions and inference specs.

One chunk of one camera per name ``<clip id>_<chunk index:03d>``::

    OUT/videos/NAME.mp4           RGB at the resolution bucket (decoded from rgb.mp4)
    OUT/depth/NAME.mp4            inverse depth, grey: nearer is brighter, no surface black
    OUT/seg/NAME.mp4              instances, one stable colour per instance id
    OUT/seg/NAME.pickle           per-object RLE masks (Cosmos-Transfer1 SegControl training)
    OUT/edge/NAME.mp4             Canny edges of the RGB chunk, white on black
    OUT/metas/NAME.txt            the caption (Cosmos-Transfer1 training layout)
    OUT/captions/NAME.json        {"caption": ...} (Cosmos-Transfer2.5 post-training layout)
    OUT/specs/NAME.json           Cosmos-Transfer2.5 ``examples/inference.py -i`` parameters
    OUT/specs_transfer1/NAME.json Cosmos-Transfer1 ``transfer.py --controlnet_specs``
    OUT/chunks/NAME.json          where the chunk comes from: clip, source frames, padding,
                                  resolution, crop, and the segmentation colour of every id

Every video of a chunk has the same frame count, size and fps (the clip's), frame k of
each showing source frame ``source_frames[k]``.

- Resolution: ``auto`` picks 1280x704 for a landscape or square camera and 704x1280 for
  a portrait one. ``fit="crop"`` scales the frame to cover the bucket and cuts the
  excess evenly from both sides; ``fit="letterbox"`` scales it to fit inside and pads
  with black (no surface in depth, background in seg, no edge). Colour is resampled
  with area (down) or bilinear (up) filtering, depth and instance ids with nearest
  neighbour so no value is invented between surfaces.
- Chunks: ``chunk`` frames each from frame 0 on; a remainder is covered by a last chunk
  that ends on the clip's last frame (overlapping the one before). A clip shorter than
  one chunk gives one chunk that holds its last frame to ``chunk`` frames
  (``short="pad"``, the ``padded`` count in chunks/NAME.json), one shorter chunk
  (``short="keep"``, for inference only) or none (``short="skip"``: the clip is left out,
  as the clients' training datasets would refuse it).
- Depth: t = (1/d - 1/far) / (1/near - 1/far) with near and far the clip's nearest and
  farthest surface (the same scale for all its chunks), grey value 1 + 254 t; 0 where
  there is no surface (and in letterbox bars).
- Segmentation: instance id k has colour ``SEG_PALETTE[k]`` (preview.instance_palette
  with seed 0 over all uint16 ids, id 0 black), the same in every clip.
- Edges: as both Cosmos-Transfer clients compute them at inference ("medium" preset):
  ``cv2.Canny`` with thresholds 100 and 200 on the colour (RGB) frames of the resized
  chunk (the clip's rgb.mp4 decoded and resized), before the chunk's own H.264 encoding.
- Segmentation pickles: a list with one entry per instance id in the chunk (background
  left out), in id order: ``{"phrase": class name, "segmentation_mask_rle": {"data":
  RLE, "mask_shape": (T, H, W)}}``, the RLE being pycocotools' encoding of the (T, H,
  W) boolean mask flattened in C order into one (T*H*W, 1) column, as Cosmos-Transfer1's
  SAM2 preprocessing writes it and its training dataset decodes it.
- Caption: the clip's dense caption (annotations.json ``captions.dense``, see
  ``sim/annotate/captions.py``).
- Spec paths: Cosmos-Transfer2.5 resolves a spec's relative paths from the spec
  file's folder, so ``specs/NAME.json`` says ``../videos/NAME.mp4``; Cosmos-Transfer1's
  ``transfer.py`` opens them from its working folder, so ``specs_transfer1/NAME.json``
  says ``videos/NAME.mp4`` (run it with OUT as the working folder). With
  ``paths="absolute"`` both are absolute.

Videos are H.264 (yuv420p) at CRF ``crf``; the RGB chunk is re-encoded from the clip's
own mp4, so it carries that compression too.
"""

from __future__ import annotations

import json
import pickle
from functools import cache
from pathlib import Path

import numpy as np

from simfactory.sim.annotate.captions import clip_captions
from simfactory.sim.export import (
    ExportError,
    dataset_clips,
    prepare_output,
    read_annotations,
    read_video,
    staged,
)
from simfactory.sim.write.encodings import decode
from simfactory.sim.write.files import write_video
from simfactory.sim.write.preview import instance_palette

BUCKETS = {"1280x704": (1280, 704), "704x1280": (704, 1280)}
EDGE_METHOD = "canny_rgb_100_200"  # the clients' own "medium" Canny edges
MODALITIES = ("depth", "seg", "edge")
DEFAULT_WEIGHTS = {"depth": 0.5, "seg": 0.5, "edge": 1.0}
CANNY_THRESHOLDS = (100, 200)
FOLDERS = ("videos", *MODALITIES, "metas", "captions", "specs", "specs_transfer1", "chunks")


def _cv2():
    try:
        import cv2
    except ImportError as error:
        raise ExportError(
            "the cosmos export needs opencv: pip install 'simfactory[cosmos]'"
        ) from error
    return cv2


@cache
def seg_palette() -> np.ndarray:
    """Colours (65536, 3) uint8 of every instance id; id 0 (background) is black."""
    return instance_palette(65536, seed=0)


def choose_resolution(width: int, height: int, resolution: str = "auto") -> tuple[int, int]:
    """The (width, height) bucket for a camera: by aspect ratio for ``auto``."""
    if resolution == "auto":
        return BUCKETS["1280x704"] if width >= height else BUCKETS["704x1280"]
    if resolution not in BUCKETS:
        raise ExportError(f"resolution must be auto or one of {sorted(BUCKETS)}: {resolution!r}")
    return BUCKETS[resolution]


def fit_box(
    size: tuple[int, int], target: tuple[int, int], fit: str
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Scaled size (w, h) of a (w, h) frame and the offset (x, y) of the target window in
    it (crop, both >= 0) or of it in the target (letterbox, both >= 0)."""
    (w, h), (W, H) = size, target
    scale = max(W / w, H / h) if fit == "crop" else min(W / w, H / h)
    sw, sh = max(round(w * scale), 1), max(round(h * scale), 1)
    if fit == "crop":
        sw, sh = max(sw, W), max(sh, H)
        return (sw, sh), ((sw - W) // 2, (sh - H) // 2)
    sw, sh = min(sw, W), min(sh, H)
    return (sw, sh), ((W - sw) // 2, (H - sh) // 2)


def fit_frames(
    frames: np.ndarray, target: tuple[int, int], fit: str = "crop", nearest: bool = False
) -> np.ndarray:
    """Frames (F, h, w[, C]) resized to the (W, H) target by crop or letterbox."""
    cv2 = _cv2()
    F, h, w = frames.shape[:3]
    W, H = target
    (sw, sh), (x, y) = fit_box((w, h), target, fit)
    if nearest:
        interpolation = cv2.INTER_NEAREST
    else:
        interpolation = cv2.INTER_AREA if sw < w else cv2.INTER_LINEAR
    out = np.zeros((F, H, W, *frames.shape[3:]), dtype=frames.dtype)
    for k, frame in enumerate(frames):
        scaled = cv2.resize(frame, (sw, sh), interpolation=interpolation)
        if fit == "crop":
            out[k] = scaled[y : y + H, x : x + W]
        else:
            out[k, y : y + sh, x : x + sw] = scaled
    return out


def chunk_frames(num_frames: int, chunk: int, short: str = "pad") -> list[np.ndarray]:
    """Source frame indices of each chunk: full chunks from frame 0, a last one ending on
    the last frame, and for a clip shorter than a chunk one chunk holding its last frame
    (``short="pad"``), stopping there (``short="keep"``) or no chunk (``short="skip"``)."""
    if chunk < 1:
        raise ExportError(f"chunk must be a positive frame count: {chunk}")
    if num_frames < chunk:
        if short == "skip":
            return []
        frames = np.arange(num_frames)
        if short == "pad":
            frames = np.concatenate([frames, np.full(chunk - num_frames, num_frames - 1)])
        return [frames]
    starts = list(range(0, num_frames - chunk + 1, chunk))
    if starts[-1] + chunk < num_frames:
        starts.append(num_frames - chunk)
    return [np.arange(s, s + chunk) for s in starts]


def depth_control(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """Grey frames (..., 3) uint8 of inverse depth: 255 at ``near``, 1 at ``far``, 0 where
    depth is 0 (no surface)."""
    depth = np.asarray(depth, dtype=np.float64)
    hit = depth > 0
    span = 1.0 / near - 1.0 / far
    t = np.zeros_like(depth)
    if span > 0:
        t[hit] = (1.0 / depth[hit] - 1.0 / far) / span
    else:
        t[hit] = 1.0
    grey = np.where(hit, 1.0 + 254.0 * np.clip(t, 0.0, 1.0), 0.0)
    return np.repeat(np.round(grey).astype(np.uint8)[..., None], 3, axis=-1)


def seg_control(instance: np.ndarray) -> np.ndarray:
    """Colour frames (..., 3) uint8 of instance ids through ``seg_palette``."""
    return seg_palette()[np.asarray(instance, dtype=np.int64)]


def edge_control(rgb: np.ndarray) -> np.ndarray:
    """White-on-black frames (F, H, W, 3) uint8 of the Canny edges of colour frames
    (F, H, W, 3) at thresholds 100 and 200, as the Cosmos-Transfer clients compute them."""
    cv2 = _cv2()
    low, high = CANNY_THRESHOLDS
    edges = np.stack([cv2.Canny(np.ascontiguousarray(f), low, high) for f in rgb])
    return np.repeat(edges[..., None], 3, axis=-1)


def _mask_utils():
    try:
        from pycocotools import mask as mask_utils
    except ImportError as error:
        raise ExportError(
            "the cosmos export needs pycocotools for seg/*.pickle: pip install pycocotools"
        ) from error
    return mask_utils


def seg_masks(ids: np.ndarray, phrases: dict[int, str]) -> list[dict]:
    """Cosmos-Transfer1's segmentation records of instance frames (T, H, W): one per id
    present (background 0 left out), in id order.

    The runs of equal ids along the flattened frames are found in one pass; each id's
    COCO run lengths (alternating outside / inside, from outside) come from its runs and
    pycocotools compresses them, so no full-size mask is built per id."""
    mask_utils = _mask_utils()
    flat = np.ascontiguousarray(ids).reshape(-1)
    total = flat.size
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1])
    ends = np.append(starts[1:], total)
    values = flat[starts]
    records = []
    for k in np.unique(values):
        if k == 0:
            continue
        s, e = starts[values == k], ends[values == k]
        counts = np.empty(2 * len(s) + 1, dtype=np.int64)
        counts[0::2] = np.append(s, total) - np.concatenate([[0], e])  # outside runs
        counts[1::2] = e - s  # inside runs
        if counts[-1] == 0:  # ends inside: no closing outside run (as pycocotools writes)
            counts = counts[:-1]
        rle = mask_utils.frPyObjects({"counts": counts.tolist(), "size": [total, 1]}, total, 1)
        records.append(
            {
                "phrase": phrases.get(int(k), "object"),
                "segmentation_mask_rle": {"data": rle, "mask_shape": tuple(ids.shape)},
            }
        )
    return records


def decode_seg_masks(records: list[dict]) -> np.ndarray:
    """The boolean masks (N, T, H, W) of ``seg_masks`` records."""
    mask_utils = _mask_utils()
    masks = [
        mask_utils.decode(r["segmentation_mask_rle"]["data"]).reshape(
            r["segmentation_mask_rle"]["mask_shape"]
        )
        for r in records
    ]
    return np.array(masks, dtype=bool)


def clip_caption(annotations: dict) -> str:
    """The clip's dense caption (annotations ``captions``, or written from the
    annotations for a dataset made before captions were stored)."""
    captions = annotations.get("captions") or clip_captions(annotations)
    return str(captions["dense"])


def _check(clips: list[Path], camera: str) -> None:
    for clip in clips:
        annotations = read_annotations(clip)
        if camera not in annotations["cameras"]:
            raise ExportError(f"{clip.name} has no camera {camera!r}")
        for name in ("rgb.mp4", "depth.npz", "instance.npz"):
            if not (clip / camera / name).exists():
                raise ExportError(f"{clip.name}/{camera}/{name} is missing")


@staged
def export_cosmos(
    dataset_dir: str | Path,
    out_dir: str | Path,
    resolution: str = "auto",
    chunk: int = 93,
    camera: str = "cam0",
    fit: str = "crop",
    short: str = "pad",
    weights: dict[str, float] | None = None,
    paths: str = "relative",
    crf: int = 15,
    overwrite: bool = False,
) -> int:
    """Write the dataset's clips as a Cosmos-Transfer bundle; returns the chunks written.

    Every clip and option is checked before anything is written; problems raise
    ``ExportError``.
    """
    if fit not in ("crop", "letterbox"):
        raise ExportError(f"fit must be crop or letterbox: {fit!r}")
    if short not in ("pad", "keep", "skip"):
        raise ExportError(f"short must be pad, keep or skip: {short!r}")
    if paths not in ("relative", "absolute"):
        raise ExportError(f"paths must be relative or absolute: {paths!r}")
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    if set(weights) - set(MODALITIES):
        raise ExportError(f"weights are for {MODALITIES}: {sorted(weights)}")
    if resolution != "auto":
        choose_resolution(1, 1, resolution)
    chunk_frames(1, chunk)
    _cv2()
    _mask_utils()
    clips = dataset_clips(dataset_dir)
    _check(clips, camera)
    out = prepare_output(out_dir, overwrite, list(FOLDERS))
    for folder in FOLDERS:
        (out / folder).mkdir()
    absolute = Path(out_dir).resolve()
    count = 0
    for clip in clips:
        annotations = read_annotations(clip)
        cam = annotations["cameras"][camera]
        target = choose_resolution(cam["width"], cam["height"], resolution)
        fps = float(annotations["clip"]["fps"])
        rgb = np.stack(list(read_video(clip / camera / "rgb.mp4")))
        with np.load(clip / camera / "depth.npz") as data:
            depth = decode(data, "depth")
        with np.load(clip / camera / "instance.npz") as data:
            instance = data["instance"]
        hit = depth > 0
        near, far = (float(depth[hit].min()), float(depth[hit].max())) if hit.any() else (1, 1)
        caption = clip_caption(annotations)
        ids = np.unique(instance)
        names = {o["id"]: (o["name"], o["class"]) for o in annotations["objects"]}
        phrases = {k: str(cls).replace("_", " ") for k, (_, cls) in names.items()}
        colours = {
            int(i): {
                "color": seg_palette()[i].tolist(),
                "name": names.get(int(i), ("background", None))[0],
                "class": names.get(int(i), (None, None))[1],
            }
            for i in ids
        }
        (sw, sh), (x, y) = fit_box((cam["width"], cam["height"]), target, fit)
        fitting = (target, fit, True)
        for index, frames in enumerate(chunk_frames(len(rgb), chunk, short)):
            name = f"{clip.name}_{index:03d}"
            rgb_chunk = fit_frames(rgb[frames], target, fit)
            write_video(out / "videos" / f"{name}.mp4", rgb_chunk, fps, crf=crf)
            # Written one at a time: each is a full-size video.
            depth_chunk = fit_frames(depth_control(depth[frames], near, far), *fitting)
            write_video(out / "depth" / f"{name}.mp4", depth_chunk, fps, crf=crf)
            del depth_chunk
            id_chunk = fit_frames(instance[frames], *fitting)
            write_video(out / "seg" / f"{name}.mp4", seg_control(id_chunk), fps, crf=crf)
            with open(out / "seg" / f"{name}.pickle", "wb") as fh:
                pickle.dump(seg_masks(id_chunk, phrases), fh, protocol=pickle.HIGHEST_PROTOCOL)
            del id_chunk
            write_video(out / "edge" / f"{name}.mp4", edge_control(rgb_chunk), fps, crf=crf)
            del rgb_chunk
            (out / "metas" / f"{name}.txt").write_text(caption + "\n")
            _write_json(out / "captions" / f"{name}.json", {"caption": caption})
            _write_json(
                out / "specs" / f"{name}.json",
                transfer2_spec(name, weights, absolute if paths == "absolute" else ".."),
            )
            _write_json(
                out / "specs_transfer1" / f"{name}.json",
                transfer1_spec(name, caption, weights, absolute if paths == "absolute" else "."),
            )
            source = {
                "clip": clip.name,
                "camera": camera,
                "chunk": index,
                "source_frames": frames.tolist(),
                "padded": int(len(frames) - len(np.unique(frames))),
                "fps": fps,
                "width": target[0],
                "height": target[1],
                "fit": fit,
                "scaled_size": [sw, sh],
                "offset": [x, y],
                "edge": EDGE_METHOD,
                "depth_near": near,
                "depth_far": far,
                "seg_colors": colours,
            }
            _write_json(out / "chunks" / f"{name}.json", source)
            count += 1
    return count


def _join(root: str | Path, *parts: str) -> str:
    return str(Path(root, *parts)) if str(root) not in (".", "") else str(Path(*parts))


def transfer2_spec(name: str, weights: dict[str, float], root: str | Path) -> dict:
    """A Cosmos-Transfer2.5 ``examples/inference.py -i`` parameter file of a chunk; ``root``
    is the bundle folder as seen from the spec's folder (``..``) or absolute."""
    return {
        "name": name,
        "prompt_path": _join(root, "metas", f"{name}.txt"),
        "video_path": _join(root, "videos", f"{name}.mp4"),
        **{
            m: {"control_path": _join(root, m, f"{name}.mp4"), "control_weight": weights[m]}
            for m in MODALITIES
        },
    }


def transfer1_spec(name: str, caption: str, weights: dict[str, float], root: str | Path) -> dict:
    """A Cosmos-Transfer1 ``transfer.py --controlnet_specs`` file of a chunk; ``root`` is
    the bundle folder as seen from the working folder (``.``) or absolute."""
    return {
        "prompt": caption,
        "input_video_path": _join(root, "videos", f"{name}.mp4"),
        **{
            m: {"input_control": _join(root, m, f"{name}.mp4"), "control_weight": weights[m]}
            for m in MODALITIES
        },
    }


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
