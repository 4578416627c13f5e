"""Write a dataset's manifest as a Parquet table: one row per clip, for filtering and
statistics with pandas, pyarrow, DuckDB or Hugging Face ``datasets``.

Columns, in this order:

- The ``manifest.csv`` columns (clip_id, index, seed, clip_seed, family, frames, fps,
  width, height, cameras, objects, status, path, ..., seconds per stage), each typed
  as a whole (int64, float64, bool or string; empty cells are nulls). Columns of
  randomized config values (named by their key, e.g. ``scene.num_pieces``) hold the
  values of the clip's ``annotations.json`` ``sampled`` with their own types (a list
  stays a list); ``sampled_keys`` lists which columns those are.
- ``camera_names``: the clip's cameras.
- ``caption``, ``caption_short``, ``caption_medium``: the clip's dense, short and medium
  captions (annotations ``captions``, or written from the annotations for a dataset made
  before captions were stored).
- Label statistics: ``objects.<class>`` and ``visible.<class>`` for every class of the
  class table: how many bodies of the scene have a part of that class, and how many of
  them are seen (a visible pixel in some frame of some camera); ``mean_visibility``:
  the mean ``visibility`` over every (camera, frame, object) record of an object in
  view; ``mean_object_speed`` and ``max_object_speed``: speeds (m/s) of the dynamic
  parts over the frames, from ``trajectory.npz``; per camera ``<cam>.camera_speed``
  (mean speed of the camera, m/s) and ``<cam>.mean_flow_px`` (mean length of the
  valid forward optical flow, pixels per frame).
- Files: for every file of the clip folder, ``file.<name>`` (its path relative to the
  dataset folder) and ``bytes.<name>`` (its size), with ``<name>`` relative to the clip
  folder (``cam0/rgb.mp4``); ``bytes_total``.
- ``params.<key>``: the family's sampled parameters (annotations ``params``) flattened
  to dotted keys, where the value is a scalar or a flat list of scalars.

A column that a clip lacks (a sampled key of another clip, a file of another family)
is null there. A column whose values do not share one type is written as JSON text.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from simfactory.sim.annotate.captions import clip_captions
from simfactory.sim.export import ExportError, dataset_clips, read_annotations
from simfactory.sim.write.dataset import read_manifest

SCALARS = (bool, int, float, str)


def _arrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise ExportError(
            "the parquet export needs pyarrow: pip install 'simfactory[parquet]'"
        ) from error
    return pyarrow


def _parse_cell(text: str, kind: type) -> object:
    if text == "":
        return None
    if kind is bool:
        return text == "True"
    return kind(text)


def _column_kind(texts: list[str]) -> type:
    """The narrowest of int, float, bool, str that reads every non-empty cell."""
    texts = [t for t in texts if t != ""]
    if not texts:
        return str
    if all(t in ("True", "False") for t in texts):
        return bool
    for kind in (int, float):
        try:
            for t in texts:
                kind(t)
        except ValueError:
            continue
        return kind
    return str


def typed_manifest(dataset_dir: str | Path) -> dict[str, dict]:
    """``manifest.csv`` rows by clip id, each cell typed by its column."""
    rows = read_manifest(dataset_dir)
    if not rows:
        return {}
    columns = list(rows[0])
    kinds = {c: _column_kind([r.get(c) or "" for r in rows]) for c in columns}
    return {r["clip_id"]: {c: _parse_cell(r.get(c) or "", kinds[c]) for c in columns} for r in rows}


def flatten_params(params: dict, prefix: str = "params") -> dict[str, object]:
    """Dotted keys of every scalar (or flat list of scalars) in a nested dict."""
    out = {}
    for key, value in params.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            out.update(flatten_params(value, name))
        elif value is None or isinstance(value, SCALARS):
            out[name] = value
        elif isinstance(value, list) and all(isinstance(v, SCALARS) for v in value):
            out[name] = value
    return out


def mean_flow_magnitude(flow_npz: str | Path) -> float | None:
    """Mean length (pixels) of the valid forward flow of a ``flow.npz``, read one frame
    at a time so that a large clip's flow is never in memory whole; None when no pixel
    is valid."""
    total, count = 0.0, 0
    with np.load(flow_npz) as data:  # compact flow: int16 units of flow_scale pixels
        scale = float(data["flow_scale"]) if "flow_scale" in data else None
    with zipfile.ZipFile(flow_npz) as archive:
        with archive.open("forward.npy") as flow, archive.open("forward_valid.npy") as valid:
            flow_shape, flow_dtype = _npy_header(flow)
            valid_shape, valid_dtype = _npy_header(valid)
            frame_shape = flow_shape[1:]
            for _ in range(flow_shape[0]):
                f = _read_frame(flow, frame_shape, flow_dtype)
                if scale is not None:  # compact flow is planar (2, H, W)
                    f = np.moveaxis(f, 0, -1)
                v = _read_frame(valid, valid_shape[1:], valid_dtype)
                total += float(np.linalg.norm(f[v].astype(np.float64), axis=-1).sum())
                count += int(v.sum())
    return total * (scale or 1.0) / count if count else None


def _npy_header(fh) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
    if fortran_order:
        raise ExportError("flow.npz holds a Fortran-ordered array")
    return shape, dtype


def _read_frame(fh, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    size = int(np.prod(shape)) * dtype.itemsize
    return np.frombuffer(fh.read(size), dtype=dtype).reshape(shape)


def label_statistics(clip_dir: Path, annotations: dict) -> dict[str, object]:
    """Object counts per class, visibility, object, camera and flow motion of a clip."""
    body_classes: dict[str, set[str]] = {}
    body_of = {}
    for obj in annotations["objects"]:
        body_classes.setdefault(obj["body"], set()).add(obj["class"])
        body_of[obj["id"]] = obj["body"]
    seen_bodies, visibilities = set(), []
    for cam in annotations["cameras"].values():
        for frame in cam["frames"]:
            for record in frame["objects"]:
                if record["visible_pixels"] > 0:
                    seen_bodies.add(body_of[record["id"]])
                if record["unoccluded_pixels"] > 0:
                    visibilities.append(record["visibility"])
    stats: dict[str, object] = {}
    for cls in annotations["classes"]:
        name = cls["name"]
        stats[f"objects.{name}"] = sum(name in c for c in body_classes.values())
        stats[f"visible.{name}"] = sum(name in body_classes[b] for b in seen_bodies)
    stats["mean_visibility"] = float(np.mean(visibilities)) if visibilities else None

    # the rigid parts' velocities (a cloth's or a person's region's are not in it)
    dynamic = [obj["id"] - 1 for obj in annotations["objects"]
               if obj["dynamic"] and not obj.get("deformable")]  # fmt: skip
    with np.load(clip_dir / "trajectory.npz") as trajectory:
        velocity = trajectory["linear_velocity"][:, dynamic]
    speed = np.linalg.norm(velocity, axis=-1)
    stats["mean_object_speed"] = float(speed.mean()) if speed.size else 0.0
    stats["max_object_speed"] = float(speed.max()) if speed.size else 0.0

    fps = annotations["clip"]["fps"]
    for name, cam in annotations["cameras"].items():
        position = np.asarray(cam["T_world_camera"], dtype=float)[:, :3, 3]
        steps = np.linalg.norm(np.diff(position, axis=0), axis=-1) * fps
        stats[f"{name}.camera_speed"] = float(steps.mean()) if steps.size else 0.0
        flow = clip_dir / name / "flow.npz"
        stats[f"{name}.mean_flow_px"] = mean_flow_magnitude(flow) if flow.exists() else None
    return stats


def file_columns(clip_dir: Path, dataset_dir: Path) -> dict[str, object]:
    """Path (relative to the dataset) and size of every file of a clip folder."""
    files = sorted(p for p in clip_dir.rglob("*") if p.is_file())
    out: dict[str, object] = {}
    for path in files:
        name = path.relative_to(clip_dir).as_posix()
        out[f"file.{name}"] = path.relative_to(dataset_dir).as_posix()
    for path in files:
        out[f"bytes.{path.relative_to(clip_dir).as_posix()}"] = path.stat().st_size
    out["bytes_total"] = sum(path.stat().st_size for path in files)
    return out


def clip_row(clip_dir: Path, dataset_dir: Path, manifest_row: dict | None) -> dict[str, object]:
    """The Parquet row of one clip (see the module docstring for its columns)."""
    annotations = read_annotations(clip_dir)
    cameras = annotations["cameras"]
    cam0 = next(iter(cameras.values()), {})
    sampled = annotations.get("sampled", {})
    row: dict[str, object] = dict(manifest_row or {})
    basics = {
        "clip_id": annotations["clip"]["id"],
        "index": annotations["clip"]["index"],
        "seed": annotations["clip"]["dataset_seed"],
        "clip_seed": annotations["clip"]["clip_seed"],
        "family": annotations["clip"]["family"],
        "frames": annotations["clip"]["num_frames"],
        "fps": annotations["clip"]["fps"],
        "width": cam0.get("width"),
        "height": cam0.get("height"),
        "cameras": len(cameras),
        "objects": len(annotations["objects"]),
        "path": clip_dir.relative_to(dataset_dir).as_posix(),
    }
    for key, value in basics.items():
        if row.get(key) is None:
            row[key] = value
    row.update(sampled)
    row["sampled_keys"] = sorted(sampled)
    row["camera_names"] = list(cameras)
    captions = annotations.get("captions") or clip_captions(annotations)
    row["caption"] = captions["dense"]
    row["caption_short"] = captions["short"]
    row["caption_medium"] = captions["medium"]
    row.update(label_statistics(clip_dir, annotations))
    row.update(file_columns(clip_dir, dataset_dir))
    row.update(flatten_params(annotations.get("params", {})))
    return row


def _column(pa, values: list):
    """An Arrow column of the values' common type; JSON text when they have none, and
    strings for a column of nulls (or lists of them) so that it keeps a useful type."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    if pa.types.is_null(array.type):
        return array.cast(pa.string())
    if pa.types.is_list(array.type) and pa.types.is_null(array.type.value_type):
        return array.cast(pa.list_(pa.string()))
    return array


def manifest_table(dataset_dir: str | Path):
    """The Parquet manifest of a dataset as a ``pyarrow.Table``, one row per finished clip
    in name order."""
    pa = _arrow()
    dataset_dir = Path(dataset_dir)
    manifest = typed_manifest(dataset_dir)
    rows = [clip_row(c, dataset_dir, manifest.get(c.name)) for c in dataset_clips(dataset_dir)]
    names = list(dict.fromkeys(k for row in rows for k in row))
    params = sorted(n for n in names if n.startswith("params."))
    names = [n for n in names if not n.startswith("params.")] + params
    return pa.table({n: _column(pa, [row.get(n) for row in rows]) for n in names})


def export_parquet(
    dataset_dir: str | Path, out_path: str | Path | None = None, overwrite: bool = False
) -> int:
    """Write the Parquet manifest (default ``DATASET/manifest.parquet``); returns the rows
    written. An existing file is replaced only when ``overwrite``."""
    dataset_dir = Path(dataset_dir)
    out_path = Path(out_path) if out_path is not None else dataset_dir / "manifest.parquet"
    if out_path.exists() and not overwrite:
        raise ExportError(f"{str(out_path)!r} exists (use --overwrite)")
    table = manifest_table(dataset_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        _arrow().parquet.write_table(table, tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return table.num_rows
