"""The ``simfactory-validate`` command: check a dataset for completeness and for labels
that agree with each other, clip by clip.

    simfactory-validate data/rooms

Completeness: the manifest's finished rows and the clip folders are the same clips and
agree on frames, size, cameras and objects; every file a clip's ``annotations.json``
lists under ``files`` is present and readable; every per-frame array has the clip's
frame count and its camera's size; ``rgb.mp4`` decodes to that many frames of that size.

Label consistency, per camera and frame: the visible 2D boxes and pixel counts are
those of the instance masks; semantic ids are the instance ids' classes in
``assets/classes.csv``; depth is finite, and positive wherever there is a surface;
flow is finite, valid only on surfaces and where it lands inside the image, and never
valid in the last forward and first backward frame; each 3D box lying in front of the
camera projects around its visible 2D box (within ``BOX3D_TOLERANCE`` pixels). LiDAR
points come in one block per frame of the annotated sizes, finite, with semantic ids
that are their instance ids' classes.

Identity: every clip records the fingerprint of the config it was made with; a clip
whose fingerprint is not the dataset's (``identity.json``) is a ``mixed-config`` problem.

Problems are printed grouped by kind with their clip and frame. Exit status: 0 when
clean, 1 when problems were found, 2 when the argument is not a dataset.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from simfactory.sim.export import read_annotations, read_video
from simfactory.sim.model.classes import class_table
from simfactory.sim.run.guard import IDENTITY_FILE, read_identity
from simfactory.sim.write.dataset import read_manifest
from simfactory.sim.write.encodings import SCALE_KEYS, decode

BOX3D_TOLERANCE = 2.0
LISTED_PER_KIND = 20
# File -> key -> (trailing shape, dtype in the float32 layout, dtype in the compact one).
ARRAYS = {
    "depth.npz": {"depth": ((), np.float32, np.uint16)},
    "instance.npz": {"instance": ((), np.uint16, np.uint16)},
    "semantic.npz": {"semantic": ((), np.uint8, np.uint8)},
    "normals.npz": {"normals": ((3,), np.float16, np.int8)},
    "flow.npz": {
        "forward": ((2,), np.float32, np.int16),
        "backward": ((2,), np.float32, np.int16),
        "forward_valid": ((), np.bool_, np.bool_),
        "backward_valid": ((), np.bool_, np.bool_),
    },
}


@dataclass(frozen=True)
class Problem:
    kind: str  # missing-clip, missing-file, manifest, frame-count, video, box, ...
    clip: str
    frame: int | None
    detail: str

    def __str__(self) -> str:
        where = self.clip + ("" if self.frame is None else f" frame {self.frame}")
        return f"{self.kind:<16} {where:<24} {self.detail}"


def _load_arrays(clip: Path, camera: str, problems: list[Problem]) -> dict[str, np.ndarray]:
    """The camera's label arrays that exist and load, by key, as stored, with the scales
    of compact ones (``depth_scale``, ...)."""
    arrays = {}
    for name, keys in ARRAYS.items():
        path = clip / camera / name
        if not path.exists():
            continue
        try:
            with np.load(path) as data:
                for key in keys:
                    arrays[key] = data[key]
                    scale = SCALE_KEYS.get(key)
                    if scale in data:
                        arrays[scale] = data[scale]
        except Exception as error:
            problems.append(
                Problem("unreadable-file", clip.name, None, f"{camera}/{name}: {error}")
            )
    return arrays


def _check_shapes(clip, camera, arrays, frames, width, height, problems) -> bool:
    """Frame counts, sizes and dtypes of the arrays; False if any is off (the label checks
    then skip this camera)."""
    ok = True
    for name, keys in ARRAYS.items():
        for key, (tail, float_dtype, compact_dtype) in keys.items():
            if key not in arrays:
                continue
            a = arrays[key]
            where = f"{camera}/{name} {key}"
            scale = arrays.get(SCALE_KEYS.get(key))
            dtype = float_dtype if scale is None else compact_dtype
            shape = (height, width, *tail)
            if scale is not None and SCALE_KEYS[key] == "flow_scale":
                shape = (*tail, height, width)  # compact flow is planar
            if scale is not None and not (scale.shape == () and np.isfinite(scale) and scale > 0):
                detail = f"{where}: scale {SCALE_KEYS[key]} is {scale}, expected one number > 0"
                problems.append(Problem("shape", clip, None, detail))
                ok = False
            if a.ndim != 3 + len(tail) or a.shape[0] != frames:
                count = a.shape[0] if a.ndim else 0
                detail = f"{where}: {count} frames, expected {frames}"
                problems.append(Problem("frame-count", clip, None, detail))
                ok = False
            elif a.shape[1:] != shape or a.dtype != dtype:
                detail = f"{where}: {a.dtype} {a.shape[1:]}, expected {np.dtype(dtype)} {shape}"
                problems.append(Problem("shape", clip, None, detail))
                ok = False
    return ok


def _check_video(clip: Path, camera: str, frames: int, width: int, height: int) -> list[Problem]:
    path = clip / camera / "rgb.mp4"
    if not path.exists():
        return []
    count, size = 0, None
    try:
        for image in read_video(path):
            count += 1
            size = image.shape[:2]
    except Exception as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        return [Problem("video", clip.name, None, f"{camera}/rgb.mp4 does not decode: {detail}")]
    problems = []
    if count != frames:
        detail = f"{camera}/rgb.mp4 decodes to {count} frames, expected {frames}"
        problems.append(Problem("video", clip.name, None, detail))
    if size is not None and size != (height, width):
        detail = f"{camera}/rgb.mp4 frames are {size[1]}x{size[0]}, expected {width}x{height}"
        problems.append(Problem("video", clip.name, None, detail))
    return problems


def mask_boxes(instance: np.ndarray) -> dict[int, tuple[int, list[float]]]:
    """Pixel count and box [x_min, y_min, x_max, y_max] (pixel edges) of each nonzero id
    of one instance frame (H, W)."""
    counts = np.bincount(instance.ravel())
    out = {}
    for i, found in enumerate(ndimage.find_objects(instance), start=1):
        if found is not None:
            rows, cols = found
            box = [cols.start, rows.start, cols.stop, rows.stop]
            out[i] = (int(counts[i]), [float(v) for v in box])
    return out


def _check_boxes(clip, f, instance, records, names, problems) -> None:
    """Visible boxes and pixel counts of the frame's records against its masks."""
    masks = mask_boxes(instance)
    for i, (pixels, box) in masks.items():
        record = records.get(i)
        what = f"object {i} ({names.get(i, 'not in the object table')})"
        if record is None:
            problems.append(Problem("box", clip, f, f"{what} is in the mask but has no record"))
        elif record["visible_pixels"] != pixels or record["bbox_visible"] != box:
            detail = (
                f"{what}: mask has {pixels} pixels in {box}, "
                f"annotation {record['visible_pixels']} in {record['bbox_visible']}"
            )
            problems.append(Problem("box", clip, f, detail))
    for i, record in records.items():
        if i not in masks and (record["visible_pixels"] or record["bbox_visible"] is not None):
            detail = (
                f"object {i} ({names.get(i)}): annotation has {record['visible_pixels']} "
                "visible pixels, the mask none"
            )
            problems.append(Problem("box", clip, f, detail))


def _check_box3d(clip, f, K, records, names, near, problems) -> None:
    """Each 3D box wholly in front of the camera projects around its visible box."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) / 2
    for i, record in records.items():
        box = record.get("box3d")
        if record["bbox_visible"] is None or not box:
            continue
        corners = (signs * box["size"]) @ np.asarray(box["rotation_camera"]).T
        corners += box["center_camera"]
        if corners[:, 2].min() <= near:
            continue
        uv = corners @ np.asarray(K).T
        uv = uv[:, :2] / uv[:, 2:] + 0.5  # pixel-edge coordinates
        lo, hi = uv.min(axis=0) - BOX3D_TOLERANCE, uv.max(axis=0) + BOX3D_TOLERANCE
        x0, y0, x1, y1 = record["bbox_visible"]
        if x0 < lo[0] or y0 < lo[1] or x1 > hi[0] or y1 > hi[1]:
            projected = np.round(np.concatenate([uv.min(axis=0), uv.max(axis=0)]), 1).tolist()
            detail = (
                f"object {i} ({names[i]}): visible box {record['bbox_visible']} outside "
                f"its 3D box's projection {projected}"
            )
            problems.append(Problem("box3d", clip, f, detail))


def _check_frame_labels(clip, f, arrays, lut, problems) -> None:
    """Semantic, depth and flow of one frame against its instance mask."""
    instance = arrays["instance"][f]
    surface = instance > 0
    if "semantic" in arrays:
        wrong = arrays["semantic"][f] != lut[np.minimum(instance, len(lut) - 1)]
        if wrong.any():
            detail = f"{int(wrong.sum())} pixels disagree with the instance ids' classes"
            problems.append(Problem("semantic", clip, f, detail))
    if "depth" in arrays:
        depth = decode(arrays, "depth", f)
        bad = ~np.isfinite(depth) | (surface & ~(depth > 0))
        if bad.any():
            detail = f"{int(bad.sum())} pixels not finite, or not positive on a surface"
            problems.append(Problem("depth", clip, f, detail))
    height, width = instance.shape
    v, u = np.mgrid[0:height, 0:width]
    last = len(arrays["instance"]) - 1
    for direction, never in (("forward", last), ("backward", 0)):
        if direction not in arrays or f"{direction}_valid" not in arrays:
            continue
        flow, valid = decode(arrays, direction, f), arrays[f"{direction}_valid"][f]
        j = np.floor(u + flow[..., 0] + 0.5)
        i = np.floor(v + flow[..., 1] + 0.5)
        inside = (j >= 0) & (j < width) & (i >= 0) & (i < height)
        bad = ~np.isfinite(flow).all(axis=-1) | (valid & ~(inside & surface))
        if f == never:
            bad |= valid
        if bad.any():
            detail = (
                f"{direction}: {int(bad.sum())} pixels not finite, or valid off a surface, "
                "outside the image or at the clip's end"
            )
            problems.append(Problem("flow", clip, f, detail))


def _check_lidar(clip: Path, name: str, info: dict, frames: int, lut) -> list[Problem]:
    """A LiDAR's points: one block per frame of the annotated sizes, finite, and semantic
    ids that are the instance ids' classes."""
    path = clip / name / "points.npz"
    if not path.exists():
        return []
    try:
        with np.load(path) as data:
            points = {key: data[key] for key in ("instance", "semantic", "offsets")}
            points["xyz"] = decode(data, "xyz")
    except Exception as error:
        return [Problem("unreadable-file", clip.name, None, f"{name}/points.npz: {error}")]
    offsets, counts = points["offsets"], np.asarray(info.get("points_per_frame", []))
    total = len(points["xyz"])
    if len(offsets) != frames + 1 or offsets[-1] != total or len(counts) != frames:
        detail = f"{name}/points.npz: {len(offsets) - 1} frames, expected {frames}"
        return [Problem("frame-count", clip.name, None, detail)]
    problems = []
    if not np.array_equal(np.diff(offsets), counts):
        detail = f"{name}: offsets disagree with points_per_frame in annotations.json"
        problems.append(Problem("lidar", clip.name, None, detail))
    ids = np.minimum(points["instance"], len(lut) - 1)
    bad = ~np.isfinite(points["xyz"]).all(axis=1) | (points["semantic"] != lut[ids])
    for f in np.unique(np.searchsorted(offsets, np.flatnonzero(bad), side="right") - 1):
        rows = bad[offsets[f] : offsets[f + 1]]
        detail = f"{name}: {int(rows.sum())} points not finite or of another class"
        problems.append(Problem("lidar", clip.name, int(f), detail))
    return problems


def _class_lut(clip: str, objects: list[dict], problems: list[Problem]) -> np.ndarray:
    """Class id of each instance id, from the objects' class names and the class table."""
    table = class_table()
    lut = np.zeros(max([o["id"] for o in objects], default=0) + 2, dtype=np.int64)
    lut[-1] = -1  # ids beyond the object table match no class
    for obj in objects:
        try:
            class_id = table.id_of(obj["class"])
        except KeyError as error:
            problems.append(Problem("class", clip, None, str(error).strip("\"'")))
            continue
        if obj["class_id"] != class_id:
            detail = (
                f"object {obj['id']} ({obj['name']}): class_id {obj['class_id']}, "
                f"class table {class_id}"
            )
            problems.append(Problem("class", clip, None, detail))
        lut[obj["id"]] = class_id
    return lut


def _check_manifest_row(clip: str, row: dict, annotations: dict) -> list[Problem]:
    cameras = annotations["cameras"]
    sizes = {(c["width"], c["height"]) for c in cameras.values()}
    expected = {
        "clip_id": clip,
        "path": f"clips/{clip}",
        "family": annotations["clip"]["family"],
        "frames": annotations["clip"]["num_frames"],
        "cameras": len(cameras),
        "objects": len(annotations["objects"]),
    }
    problems = [
        Problem("manifest", clip, None, f"{key} is {row.get(key)!r}, the clip has {value!r}")
        for key, value in expected.items()
        if str(row.get(key)) != str(value)
    ]
    size = (row.get("width"), row.get("height"))
    if cameras and all((str(w), str(h)) != size for w, h in sizes):
        detail = f"size {size[0]}x{size[1]} is no camera's"
        problems.append(Problem("manifest", clip, None, detail))
    return problems


def validate_clip(clip_dir: str | Path, row: dict | None = None) -> list[Problem]:
    """Every problem of one clip folder (and of its manifest ``row`` when given)."""
    clip_dir = Path(clip_dir)
    clip = clip_dir.name
    try:
        annotations = read_annotations(clip_dir)
    except FileNotFoundError:
        return [Problem("missing-file", clip, None, "annotations.json")]
    except ValueError as error:
        return [Problem("unreadable-file", clip, None, f"annotations.json: {error}")]
    problems = [] if row is None else _check_manifest_row(clip, row, annotations)
    for folder, names in annotations.get("files", {}).items():
        for name in names:
            path = clip_dir / name if folder == "clip" else clip_dir / folder / name
            if not path.exists():
                where = name if folder == "clip" else f"{folder}/{name}"
                problems.append(Problem("missing-file", clip, None, where))
    frames = annotations["clip"]["num_frames"]
    names = {o["id"]: o["name"] for o in annotations["objects"]}
    lut = _class_lut(clip, annotations["objects"], problems)
    for name, info in annotations.get("lidars", {}).items():
        problems += _check_lidar(clip_dir, name, info, frames, lut)
    for camera, cam in annotations["cameras"].items():
        width, height = cam["width"], cam["height"]
        if len(cam["frames"]) != frames or len(cam["T_world_camera"]) != frames:
            detail = (
                f"{camera}: {len(cam['frames'])} frame records and "
                f"{len(cam['T_world_camera'])} poses, expected {frames}"
            )
            problems.append(Problem("frame-count", clip, None, detail))
            continue
        problems += _check_video(clip_dir, camera, frames, width, height)
        arrays = _load_arrays(clip_dir, camera, problems)
        if not _check_shapes(clip, camera, arrays, frames, width, height, problems):
            continue
        if "instance" not in arrays:
            continue
        for f in range(frames):
            records = {r["id"]: r for r in cam["frames"][f]["objects"]}
            _check_boxes(clip, f, arrays["instance"][f], records, names, problems)
            _check_box3d(clip, f, cam["K"], records, names, cam["near"], problems)
            _check_frame_labels(clip, f, arrays, lut, problems)
    return problems


@dataclass
class Report:
    checked: int  # clip folders checked
    failed: list[str]  # clips the manifest lists as failed at generation (not problems)
    problems: list[Problem]


def validate_dataset(dataset_dir: str | Path) -> Report:
    """Check every clip of a dataset. Raises ``ValueError`` when ``dataset_dir`` is not a
    dataset."""
    dataset_dir = Path(dataset_dir)
    folders = {p.name: p for p in sorted(dataset_dir.glob("clips/clip_*")) if p.is_dir()}
    has_manifest = (dataset_dir / "manifest.csv").exists()
    if not dataset_dir.is_dir() or not (has_manifest or folders):
        raise ValueError(f"{str(dataset_dir)!r} is not a dataset (no manifest.csv, no clips/)")
    manifest = read_manifest(dataset_dir)
    rows = {r["clip_id"]: r for r in manifest if r.get("status") == "ok"}
    failed = [r["clip_id"] for r in manifest if r.get("status") != "ok"]
    problems = []
    if not has_manifest:
        problems.append(Problem("missing-file", "dataset", None, "manifest.csv"))
    for clip in sorted(rows.keys() - folders.keys()):
        detail = f"in manifest.csv but {rows[clip]['path']} is missing"
        problems.append(Problem("missing-clip", clip, None, detail))
    if has_manifest:
        for clip in sorted(folders.keys() - rows.keys()):
            detail = "clip folder has no finished row in manifest.csv"
            problems.append(Problem("manifest", clip, None, detail))
    problems += check_configs(dataset_dir, folders)
    for clip, folder in folders.items():
        problems += validate_clip(folder, rows.get(clip))
    return Report(len(folders), failed, problems)


def check_configs(dataset_dir: Path, folders: dict[str, Path]) -> list[Problem]:
    """Clips made with another config than the dataset's (a mixed dataset): each clip's
    ``clip.config_fingerprint`` against ``identity.json``'s, or, without one, against
    the fingerprint most clips share. Clips that record none are not judged."""
    problems = []
    identity = dataset_dir / IDENTITY_FILE
    recorded = read_identity(dataset_dir)
    if identity.exists() and recorded is None:
        problems.append(Problem("unreadable-file", "dataset", None, IDENTITY_FILE))
    prints: dict[str, str] = {}
    for clip, folder in folders.items():
        try:
            value = read_annotations(folder)["clip"].get("config_fingerprint")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # reported by validate_clip
        if value:
            prints[clip] = value
    if recorded is not None and recorded.get("fingerprint"):
        expected = recorded["fingerprint"]
    elif prints:
        expected = Counter(prints.values()).most_common(1)[0][0]
    else:
        return problems
    for clip, value in sorted(prints.items()):
        if value != expected:
            detail = f"made with config {value}, the dataset's is {expected}"
            problems.append(Problem("mixed-config", clip, None, detail))
    return problems


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def summary(dataset_dir: str | Path, report: Report) -> str:
    """Clips checked, problems by kind, then each problem (at most ``LISTED_PER_KIND`` per
    kind)."""
    problems = report.problems
    counts = Counter(p.kind for p in problems)
    found = _count(len(problems), "problem") if problems else "no problems"
    lines = [f"checked {_count(report.checked, 'clip')} in {dataset_dir}: {found}"]
    if report.failed:
        listed = ", ".join(report.failed)
        failed = _count(len(report.failed), "clip")
        lines.append(f"  ({failed} failed at generation: {listed})")
    lines += [f"  {kind}: {count}" for kind, count in sorted(counts.items())]
    for kind in sorted(counts):
        listed = [p for p in problems if p.kind == kind]
        lines += [str(p) for p in listed[:LISTED_PER_KIND]]
        if len(listed) > LISTED_PER_KIND:
            lines.append(f"{kind:<16} ... and {len(listed) - LISTED_PER_KIND} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="simfactory-validate",
        description="Check a simfactory dataset for missing files and inconsistent labels.",
    )
    p.add_argument("dataset", help="simfactory dataset folder (holding manifest.csv, clips/)")
    args = p.parse_args(argv)
    try:
        report = validate_dataset(args.dataset)
    except ValueError as error:
        print(f"simfactory-validate: error: {error}", file=sys.stderr)
        return 2
    print(summary(args.dataset, report))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
