"""Exporters from a simfactory dataset to other datasets' layouts (``kitti``), and the
helpers they share: finding clips, decoding their videos, preparing the output folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np


class ExportError(ValueError):
    """A dataset or an output folder that cannot be exported; the message names why."""


def dataset_clips(dataset_dir: str | Path) -> list[Path]:
    """The finished clip folders of a dataset (``clips/clip_*`` with an annotations file),
    in name order."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise ExportError(f"dataset folder {str(dataset_dir)!r} does not exist")
    clips = sorted(p.parent for p in dataset_dir.glob("clips/clip_*/annotations.json"))
    if not clips:
        raise ExportError(f"no clips in {str(dataset_dir)!r} (expected clips/clip_*/)")
    return clips


def read_annotations(clip_dir: Path) -> dict:
    with open(clip_dir / "annotations.json") as fh:
        return json.load(fh)


def prepare_output(out_dir: str | Path, overwrite: bool, written: list[str]) -> Path:
    """Check that ``out_dir`` is empty (or remove the ``written`` entries of a previous
    export when ``overwrite``) and create it."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"output {str(out_dir)!r} is a file")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise ExportError(f"output folder {str(out_dir)!r} is not empty (use --overwrite)")
        for name in written:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Decode an mp4 into (H, W, 3) uint8 RGB frames with the bundled ffmpeg."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    for data in reader:
        yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
