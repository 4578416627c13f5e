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


def write_npz(
    path: str | Path, arrays: dict[str, np.ndarray], level: int = 1, compress_floats: bool = False
) -> None:
    """Write arrays as a ``.npz`` that ``numpy.load`` reads.

    Integer, boolean and float16 arrays are deflated at ``level`` (0 stores them);
    float32/float64 arrays are stored unless ``compress_floats``: their mantissas are
    close to noise, so deflate saves little space at a high cost in time.
    """
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for key, value in arrays.items():
            value = np.asarray(value)
            if not value.flags.c_contiguous:  # (np.ascontiguousarray makes 0-d arrays 1-d)
                value = value.copy(order="C")
            wide_float = value.dtype.kind == "f" and value.dtype.itemsize >= 4
            deflate = level > 0 and (compress_floats or not wide_float)
            zf.compression = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zf.compresslevel = level if deflate else None
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                _write_npy(fh, value)


WRITE_CHUNK = 1 << 20  # bytes handed to the zip stream at a time


def _write_npy(fh, value: np.ndarray) -> None:
    """``value`` (C-contiguous) in the ``.npy`` format (version 1.0, as
    ``numpy.lib.format.write_array`` writes it) to a file-like ``fh``, its data in slices of
    the array's own memory: ``write_array`` copies 16 MiB at a time into new bytes for a
    stream that is not a file."""
    if value.dtype.hasobject:
        raise ValueError("object arrays cannot be stored")
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(value))
    data = value.reshape(-1).view(np.uint8)
    for start in range(0, len(data), WRITE_CHUNK):
        fh.write(data[start : start + WRITE_CHUNK])


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow")  # fmt: skip


class VideoWriter:
    """An H.264 (yuv420p) mp4 fed one (H, W, 3) uint8 RGB frame at a time: ffmpeg encodes
    in its own process while the caller goes on. H and W must be even (yuv420p halves
    the chroma resolution). The file is complete after ``close``."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, crf: int = 18,
        preset: str = "veryfast",
    ):  # fmt: skip
        self._writer = imageio_ffmpeg.write_frames(
            str(path),
            (width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            output_params=["-crf", str(int(crf)), "-preset", preset, "-threads", "1"],
            macro_block_size=2,
            ffmpeg_log_level="error",
        )
        self._writer.send(None)

    def send(self, frame: np.ndarray) -> None:
        self._writer.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        self._writer.close()


def write_video(
    path: str | Path, frames: np.ndarray, fps: float, crf: int = 18, preset: str = "veryfast"
) -> None:
    """Encode (F, H, W, 3) uint8 RGB frames as H.264 (yuv420p) mp4 (see ``VideoWriter``)."""
    F, H, W, _ = frames.shape
    writer = VideoWriter(path, W, H, fps, crf, preset)
    for frame in frames:
        writer.send(frame)
    writer.close()


def write_json(path: str | Path, data: dict) -> None:
    """Deterministic JSON (sorted keys) so equal inputs give byte-equal files. Encoded in
    one string: ``json.dumps`` uses the C encoder, ``json.dump`` (streaming) the pure
    Python one, the same text at a fifth of the speed."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    with open(path, "w") as fh:
        fh.write(text)
        fh.write("\n")
