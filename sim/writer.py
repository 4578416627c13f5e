"""Writers for the files of one clip: H.264 video, label arrays, JSON.

Label streams are ``.npz`` archives (read with ``numpy.load``) holding one
(frames, H, W, ...) array per key; they are lossless and deflate-compressed at a
configurable level (1 is fast, 0 stores).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], level: int = 1) -> None:
    """Write arrays as a ``.npz`` with the given deflate level (0 = stored)."""
    compression = zipfile.ZIP_DEFLATED if level > 0 else zipfile.ZIP_STORED
    kwargs = {"compresslevel": level} if level > 0 else {}
    with zipfile.ZipFile(path, "w", compression=compression, **kwargs) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(value), allow_pickle=False)


def write_video(path: str | Path, frames: np.ndarray, fps: float, crf: int = 18) -> None:
    """Encode (F, H, W, 3) uint8 RGB frames as H.264 (yuv420p) mp4.

    H and W must be even (yuv420p halves the chroma resolution).
    """
    F, H, W, _ = frames.shape
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (W, H),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        output_params=["-crf", str(int(crf)), "-preset", "veryfast", "-threads", "1"],
        macro_block_size=2,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def write_json(path: str | Path, data: dict) -> None:
    """Deterministic JSON (sorted keys) so equal inputs give byte-equal files."""
    with open(path, "w") as fh:
        json.dump(data, fh, sort_keys=True, separators=(",", ":"), allow_nan=False)
        fh.write("\n")
