"""PyTorch datasets over a simfactory dataset: ``ClipDataset`` (map-style, over the clip
folders) and ``shard_dataset`` (iterable, over its WebDataset shards from
``simfactory-export webdataset``). Both give the same items: one per clip, or one per
window of ``clip_length`` frames, holding the requested modalities of one camera as
tensors, frames first:

=================  ==========================  =========================================
key                dtype, shape                content
=================  ==========================  =========================================
``rgb``            uint8 (T, 3, H, W)          decoded ``rgb.mp4`` (float32 in [0, 1]
                                               with ``rgb_dtype="float32"``)
``depth``          float32 (T, 1, H, W)        metres; 0 = no surface
``instance``       int32 (T, H, W)             instance ids (``objects[].id``)
``semantic``       uint8 (T, H, W)             class ids (``.long()`` for a loss)
``flow``           float32 (T, 2, H, W)        forward flow (du, dv) in pixels, with
                                               ``flow_valid`` bool (T, H, W)
``flow_backward``  float32 (T, 2, H, W)        backward flow, ``flow_backward_valid``
``normals``        float32 (T, 3, H, W)        unit normals, camera frame
=================  ==========================  =========================================

whichever ``export.label_encoding`` wrote the files (compact arrays are decoded with
their scale), plus ``clip_id``, ``frames`` (int64 (T,): the frame numbers in the clip) and, unless
``annotations=False``, ``annotations`` (the clip's whole ``annotations.json`` as a
dict; per-frame lists in it are indexed by ``frames``). Batch items with
``collate_clips``, which stacks the tensors and lists the rest.

PyTorch is an optional extra (``pip install 'simfactory[torch]'``), and the shards
need ``webdataset`` too (``simfactory[webdataset]``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from io import BytesIO
from pathlib import Path

import numpy as np

from simfactory.sim.export import dataset_clips, read_video
from simfactory.sim.write.dataset import read_manifest
from simfactory.sim.write.encodings import decode

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as error:
    raise ImportError(
        "simfactory.sim.data needs PyTorch: pip install 'simfactory[torch]'"
    ) from error

MODALITIES = ("rgb", "depth", "instance", "semantic", "flow", "flow_backward", "normals")

# A clip's file by name ("cam0/depth.npz"): a path on disk or the bytes of a shard member.
Source = Callable[[str], "Path | bytes"]


def check_options(
    modalities: Sequence[str], frames: slice | None, clip_length: int | None, rgb_dtype: str
) -> None:
    """Raise ValueError naming the first option that cannot be used."""
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise ValueError(f"modalities: unknown {unknown} (known: {', '.join(MODALITIES)})")
    if frames is not None and clip_length is not None:
        raise ValueError("frames and clip_length: give one of them, not both")
    if clip_length is not None and clip_length < 1:
        raise ValueError(f"clip_length must be at least 1, got {clip_length}")
    if rgb_dtype not in ("uint8", "float32"):
        raise ValueError(f"rgb_dtype must be 'uint8' or 'float32', got {rgb_dtype!r}")


def windows(
    num_frames: int, frames: slice | None, clip_length: int | None, stride: int | None
) -> list[range]:
    """The frame ranges a clip of ``num_frames`` gives as items: the whole clip, its
    ``frames`` slice, or every window of ``clip_length`` frames ``stride`` apart."""
    if clip_length is None:
        return [range(num_frames)[frames or slice(None)]]
    step = stride or clip_length
    return [range(s, s + clip_length) for s in range(0, num_frames - clip_length + 1, step)]


def _npz(source: Path | bytes, key: str, frames: range) -> np.ndarray:
    with np.load(BytesIO(source) if isinstance(source, bytes) else source) as data:
        return decode(data, key, np.asarray(frames, dtype=np.intp))


def _video(source: Path | bytes, frames: range) -> np.ndarray:
    """The frames (T, H, W, 3) of an mp4 given as a path or as bytes."""
    if isinstance(source, bytes):
        with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
            fh.write(source)
            fh.flush()
            return _video(Path(fh.name), frames)
    wanted, images = set(frames), {}
    reader = read_video(source)
    try:
        for index, image in enumerate(reader):
            if index in wanted:
                images[index] = image
            if index >= max(frames, default=-1):
                break
    finally:
        reader.close()
    if len(images) != len(frames):
        raise ValueError(f"{source}: video has fewer frames than {frames}")
    return np.stack([images[i] for i in frames])


def load_item(
    source: Source,
    camera: str,
    frames: range,
    modalities: Sequence[str],
    rgb_dtype: str = "uint8",
) -> dict[str, torch.Tensor]:
    """The requested modalities of ``frames`` of one camera as tensors (see the module
    docstring for keys, dtypes and shapes)."""
    out = {"frames": torch.tensor(list(frames), dtype=torch.int64)}
    for modality in modalities:
        if modality == "rgb":
            rgb = torch.from_numpy(_video(source(f"{camera}/rgb.mp4"), frames)).permute(0, 3, 1, 2)
            out["rgb"] = rgb.float() / 255.0 if rgb_dtype == "float32" else rgb.contiguous()
        elif modality == "depth":
            depth = _npz(source(f"{camera}/depth.npz"), "depth", frames)
            out["depth"] = torch.from_numpy(depth.astype(np.float32))[:, None]
        elif modality == "instance":
            instance = _npz(source(f"{camera}/instance.npz"), "instance", frames)
            out["instance"] = torch.from_numpy(instance.astype(np.int32))
        elif modality == "semantic":
            semantic = _npz(source(f"{camera}/semantic.npz"), "semantic", frames)
            out["semantic"] = torch.from_numpy(np.ascontiguousarray(semantic))
        elif modality in ("flow", "flow_backward"):
            direction = "forward" if modality == "flow" else "backward"
            flow_file = source(f"{camera}/flow.npz")
            flow = _npz(flow_file, direction, frames).astype(np.float32)
            valid = _npz(flow_file, f"{direction}_valid", frames)
            out[modality] = torch.from_numpy(flow).permute(0, 3, 1, 2).contiguous()
            out[f"{modality}_valid"] = torch.from_numpy(np.ascontiguousarray(valid))
        elif modality == "normals":
            normals = _npz(source(f"{camera}/normals.npz"), "normals", frames)
            out["normals"] = torch.from_numpy(normals.astype(np.float32)).permute(0, 3, 1, 2)
    return out


class ClipDataset(Dataset):
    """Map-style dataset over a generated dataset's clip folders (see the module
    docstring for the items).

    ``frames`` (a slice) keeps those frames of every clip; ``clip_length`` instead makes
    one item per window of that many frames, ``stride`` apart (default: not
    overlapping); frame counts come from ``manifest.csv`` (or the annotations).
    """

    def __init__(
        self,
        dataset_dir: str | Path,
        modalities: Sequence[str] = ("rgb",),
        camera: str = "cam0",
        frames: slice | None = None,
        clip_length: int | None = None,
        stride: int | None = None,
        rgb_dtype: str = "uint8",
        annotations: bool = True,
    ):
        check_options(modalities, frames, clip_length, rgb_dtype)
        self.modalities, self.camera = list(modalities), camera
        self.rgb_dtype, self.with_annotations = rgb_dtype, annotations
        counts = {r["clip_id"]: int(r["frames"]) for r in read_manifest(dataset_dir)}
        self.items: list[tuple[Path, range]] = []
        for clip in dataset_clips(dataset_dir, check=False):
            num_frames = counts.get(clip.name)
            if num_frames is None:
                num_frames = _read_json(clip / "annotations.json")["clip"]["num_frames"]
            for window in windows(num_frames, frames, clip_length, stride):
                self.items.append((clip, window))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        clip, frames = self.items[index]
        if not (clip / self.camera).is_dir():
            raise ValueError(f"{clip.name}: no camera {self.camera!r}")
        item = load_item(
            lambda name: clip / name, self.camera, frames, self.modalities, self.rgb_dtype
        )
        item["clip_id"] = clip.name
        if self.with_annotations:
            item["annotations"] = _read_json(clip / "annotations.json")
        return item


def _read_json(path: Path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _shard_items(
    samples: Iterator[dict],
    modalities: Sequence[str],
    camera: str,
    frames: slice | None,
    clip_length: int | None,
    stride: int | None,
    rgb_dtype: str,
    annotations: bool,
) -> Iterator[dict]:
    for sample in samples:
        ann = json.loads(sample["annotations.json"])
        if f"{camera}.rgb.mp4" not in sample and f"{camera}.depth.npz" not in sample:
            raise ValueError(f"{sample['__key__']}: no camera {camera!r} in the shard")
        source = partial(_member, sample)
        for window in windows(ann["clip"]["num_frames"], frames, clip_length, stride):
            item = load_item(source, camera, window, modalities, rgb_dtype)
            item["clip_id"] = sample["__key__"]
            if annotations:
                item["annotations"] = ann
            yield item


def _member(sample: dict, name: str) -> bytes:
    return sample[name.replace("/", ".")]


def shard_dataset(
    urls: str | Sequence[str],
    modalities: Sequence[str] = ("rgb",),
    camera: str = "cam0",
    frames: slice | None = None,
    clip_length: int | None = None,
    stride: int | None = None,
    rgb_dtype: str = "uint8",
    annotations: bool = True,
):
    """Iterable dataset (a ``webdataset.WebDataset`` pipeline) over WebDataset shards,
    giving the same items as ``ClipDataset``. ``urls`` is a list of shards or a brace
    pattern (``"out/shard-{000000..000009}.tar"``); with DataLoader workers, each
    worker reads its own share of the shards."""
    check_options(modalities, frames, clip_length, rgb_dtype)
    try:
        import webdataset
    except ImportError as error:
        raise ImportError(
            "shard_dataset needs webdataset: pip install 'simfactory[webdataset]'"
        ) from error
    urls = urls if isinstance(urls, str) else [str(u) for u in urls]
    pipeline = webdataset.WebDataset(urls, shardshuffle=False, empty_check=False)
    return pipeline.compose(
        partial(
            _shard_items,
            modalities=list(modalities),
            camera=camera,
            frames=frames,
            clip_length=clip_length,
            stride=stride,
            rgb_dtype=rgb_dtype,
            annotations=annotations,
        )  # fmt: skip
    )


def collate_clips(batch: list[dict]) -> dict:
    """DataLoader ``collate_fn``: stacks the tensors of equally long items, lists the
    rest (clip ids, annotations)."""
    return {
        key: torch.stack([item[key] for item in batch])
        if isinstance(batch[0][key], torch.Tensor)
        else [item[key] for item in batch]
        for key in batch[0]
    }
