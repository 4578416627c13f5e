"""Exporters from a simfactory dataset to other datasets' layouts (``kitti``), and the
helpers they share: finding clips, decoding their videos, preparing the output folder."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np


class ExportError(ValueError):
    """A dataset or an output folder that cannot be exported; the message names why."""


def dataset_clips(dataset_dir: str | Path, check: bool = True) -> list[Path]:
    """The finished clip folders of a dataset (``clips/clip_*`` with an annotations file),
    in name order; with ``check`` (the default), every clip is checked first
    (``check_clips``) and a damaged one raises ExportError naming clip and file."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise ExportError(f"dataset folder {str(dataset_dir)!r} does not exist")
    clips = sorted(p.parent for p in dataset_dir.glob("clips/clip_*/annotations.json"))
    if not clips:
        raise ExportError(f"no clips in {str(dataset_dir)!r} (expected clips/clip_*/)")
    if check:
        problems = [p for clip in clips for p in clip_problems(clip)]
        if problems:
            shown = "; ".join(problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise ExportError(
                f"damaged dataset, nothing written: {shown}{more}. Regenerate the clip "
                "(delete its folder and rerun simfactory) or remove it; simfactory-validate "
                "lists every problem"
            )
    return clips


def clip_problems(clip_dir: Path) -> list[str]:
    """What makes a clip unreadable ("clip_000003/cam0/depth.npz: truncated"): an
    ``annotations.json`` that does not parse or lacks its sections, a file it lists that
    is missing or empty, an ``.npz`` archive whose directory does not read or whose
    members run past the end of the file. Cheap: reads no array data."""
    name = clip_dir.name
    try:
        annotations = read_annotations(clip_dir)
    except (OSError, ValueError) as exc:
        return [f"{name}/annotations.json: {exc}"]
    if not isinstance(annotations, dict) or not all(
        isinstance(annotations.get(k), dict) for k in ("clip", "cameras", "files")
    ):
        return [f"{name}/annotations.json: lacks its clip, cameras or files section"]
    problems = []
    for folder, names in annotations["files"].items():
        for file in names if isinstance(names, list) else []:
            rel = file if folder == "clip" else f"{folder}/{file}"
            path = clip_dir / rel
            if not path.is_file():
                problems.append(f"{name}/{rel}: missing")
            elif path.stat().st_size == 0:
                problems.append(f"{name}/{rel}: empty")
            elif path.suffix == ".npz":
                problem = _archive_problem(path)
                if problem:
                    problems.append(f"{name}/{rel}: {problem}")
    return problems


def _archive_problem(path: Path) -> str:
    """Why an .npz (a zip archive) cannot be read, or ""."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.header_offset + info.compress_size > size:
                    return f"member {info.filename} runs past the end of the file (truncated)"
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"not a readable archive ({exc})"
    return ""


def read_annotations(clip_dir: Path) -> dict:
    with open(clip_dir / "annotations.json") as fh:
        return json.load(fh)


_STAGED: dict[Path, tuple[Path, bool, list[str]]] = {}


def prepare_output(out_dir: str | Path, overwrite: bool, written: list[str]) -> Path:
    """Check that ``out_dir`` is empty (or, with ``overwrite``, that the ``written``
    entries of a previous export may be replaced), and return a new staging folder
    beside it to write into; ``commit_output`` (or the ``staged`` decorator) moves the
    staged entries into ``out_dir`` when the export is complete."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"output {str(out_dir)!r} is a file")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ExportError(f"output folder {str(out_dir)!r} is not empty (use --overwrite)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.export-*"):  # left by a killed export
        pid = stale.name.rsplit(".export-", 1)[1].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    prefix = f".{out_dir.name}.export-{os.getpid()}-"
    try:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    except OSError as exc:
        raise ExportError(f"cannot write beside {str(out_dir)!r}: {exc.strerror}") from exc
    _STAGED[staging] = (out_dir, overwrite, list(written))
    return staging


def commit_output(staging: Path) -> Path:
    """Move a finished staging folder's entries into its output folder (replacing the
    previous export's entries when overwriting) and remove it; returns the output."""
    out_dir, overwrite, written = _STAGED.pop(staging)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(staging.iterdir())
    if overwrite:
        for name in {*written, *(e.name for e in entries)}:
            path = out_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    for entry in entries:
        os.replace(entry, out_dir / entry.name)
    staging.rmdir()
    return out_dir


def discard_output(staging: Path) -> None:
    """Remove a staging folder whose export failed."""
    _STAGED.pop(staging, None)
    shutil.rmtree(staging, ignore_errors=True)


def staged(export: Callable) -> Callable:
    """Make an exporter all-or-nothing: the staging folders it prepared are committed
    when it returns and removed when it raises (or is interrupted)."""

    @functools.wraps(export)
    def run(*args, **kwargs):
        before = set(_STAGED)
        try:
            result = export(*args, **kwargs)
        except BaseException:
            for staging in set(_STAGED) - before:
                discard_output(staging)
            raise
        for staging in set(_STAGED) - before:
            commit_output(staging)
        return result

    return run


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Decode an mp4 into (H, W, 3) uint8 RGB frames with the bundled ffmpeg."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    for data in reader:
        yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
