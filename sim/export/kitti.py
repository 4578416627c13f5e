"""Export a dataset in the KITTI 3D object detection layout.

One KITTI sample per (clip, frame), numbered from 000000 over the clips in name order,
then frames::

    OUT/mapping.txt                  "<sample> <clip id> <frame>" per line
    OUT/training/image_2/NNNNNN.png  the camera, decoded from its rgb.mp4 (lossy H.264
                                     at the clip's crf, not the renderer's exact pixels)
    OUT/training/image_3/NNNNNN.png  the right camera of a stereo pair (if one is given)
    OUT/training/label_2/NNNNNN.txt  objects in view, one per line
    OUT/training/calib/NNNNNN.txt    P0..P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    OUT/training/velodyne/NNNNNN.bin float32 (x, y, z, intensity) per LiDAR point
    OUT/training/planes/NNNNNN.txt   the road plane under the ego (KITTI's plane format)
    OUT/testing/...                  the test split's samples (the folders above but
                                     label_2), when ``test_fraction`` > 0
    OUT/ImageSets/{train,val,trainval,test}.txt  the sample names of each split

Splits are by clip, never within one (neighbouring frames of a clip are near copies):
the clips are shuffled with ``split_seed``, then ``round(test_fraction * clips)`` go to
test and ``round(val_fraction * clips)`` to val (at least one of each when the fraction
is above 0 and a train clip is left), the rest to train. Samples are numbered over all
clips in name order whatever their split, so a name is unique across ``training/`` and
``testing/``; ``trainval.txt`` is train and val together, in name order.

Coordinate conversions:

- Rectified camera = our camera: OpenCV axes (x right, y down, z forward), so
  ``R0_rect`` is the identity and ``P2 = K [I | 0]``. There are no grey cameras:
  ``P0 = P1 = P2``. With a right camera, ``P3 = K_right [R | t]`` where ``[R | t]``
  maps the left camera frame into the right one (``T_world_right^-1 T_world_left``);
  for a rectified pair R = I and this is KITTI's ``K [I | t]``. Without one, P3 = P2.
- Pixel coordinates: KITTI's (and P2's) put pixel centres at integers; our 2D boxes
  are in pixel-edge coordinates, so 0.5 is subtracted, then boxes are clipped to
  [0, W-1] x [0, H-1].
- ``Tr_velo_to_cam`` = ``T_world_camera^-1 T_world_lidar`` of that frame (3x4): our
  lidar frame is already KITTI's velodyne frame (x forward, y left, z up), and its
  points are written unchanged. ``Tr_imu_to_velo`` = ``T_body_lidar^-1``: the IMU frame
  is the frame of the body carrying the LiDAR (x forward, y left, z up).
- Objects: one label per scene body (its base and links together). Its 3D box is
  axis-aligned in the body's upright frame: z = world up, x = the base part's x axis
  (forward) made level, y = z x x; for a vehicle on level ground (body frames are x
  forward, z up) this is its own frame, and it keeps a Y-up model (the humanoid)
  upright. Length l is along x, width w along y, height h along z: the bounds, in that
  frame, of the corners of every part's oriented box (our oriented boxes may be
  PCA/hull aligned rather than along the body's axes). ``location`` is the centre of
  the box's bottom face in camera coordinates; ``rotation_y`` is the rotation about
  camera y of the box's forward axis, 0 when it points along camera +x:
  ``atan2(-f_z, f_x)`` for the forward axis f in camera coordinates;
  ``alpha = rotation_y - atan2(x, z)`` wrapped to [-pi, pi]. KITTI boxes only turn
  about the camera's y axis: the label is exact when the camera's -y is world up (a
  level camera), otherwise the rotation is that of the forward axis projected onto
  the camera's x-z plane.
- 2D box: the union of the body's parts' amodal boxes, clipped to the image;
  ``truncated`` is the fraction of that union box outside the image (our truncation
  for a single-part body); ``occluded`` is 0 when visibility (visible / unoccluded
  pixels, summed over the parts) >= 0.8, 1 when >= 0.4, else 2 (KITTI's 3, unknown,
  is not used).
- Types: car -> Car, or Van when ``annotations["family"]["agents"][body]["kind"]``
  is "van"; truck -> Truck; bus -> Misc; person -> Pedestrian; rider -> Cyclist.
  Other classes are not written, nor is the body carrying the LiDAR (the ego vehicle).
  A body is labelled when it has visible pixels in the frame and its box centre is in
  front of the camera; with fewer than ``min_visible_pixels`` it is written as a
  ``DontCare`` region (its 2D box, every other field -1 / -10 / -1000 as in KITTI).
  3D boxes and angles are written with 6 decimals (KITTI's own labels use 2), 2D
  boxes and truncation with 2. Angles are wrapped to [-pi, pi] and stay there after
  rounding (+-3.141593 would not: they are written +-3.141592). ``DontCare`` rows come
  after every object row of a file (OpenPCDet slices the objects off the front).
- Road plane: ``a b c d`` with ``a x + b y + c z + d = 0`` for points (x, y, z) of the
  road in the rectified camera frame, (a, b, c) the unit world-up direction in camera
  coordinates (about (0, -1, 0) for a level camera) and d the camera's height above the
  road. The road is the level plane through the bottom of the ego's box (the body
  carrying the LiDAR: its wheels stand on the road), or world z = 0 when that body has
  no box.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from simfactory.sim.annotate.boxes import box_corners
from simfactory.sim.export import (
    ExportError,
    dataset_clips,
    prepare_output,
    read_annotations,
    read_video,
    staged,
)
from simfactory.sim.model.motion import invert
from simfactory.sim.write.encodings import decode

TYPES = {"car": "Car", "truck": "Truck", "bus": "Misc", "person": "Pedestrian", "rider": "Cyclist"}
FOLDERS = ("image_2", "image_3", "label_2", "calib", "velodyne", "planes")
SPLITS = ("train", "val", "trainval", "test")
ANGLE_LIMIT = np.floor(np.pi * 1e6) / 1e6  # the largest 6-decimal value <= pi


def kitti_type(class_name: str, kind: str | None) -> str | None:
    """KITTI type of one of our classes (and the family's agent kind), None if unlisted."""
    if class_name == "car" and kind == "van":
        return "Van"
    return TYPES.get(class_name)


def _upright(R_world_base: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) from a body's upright frame to its base frame: z = world up,
    x = the base's x axis (forward) made level, y = z cross x. It is the identity for
    a level body whose z is up, and keeps a Y-up model (the humanoid) upright too."""
    up = R_world_base[2, :] / np.linalg.norm(R_world_base[2, :])  # world z, base coords
    forward = np.array([1.0, 0.0, 0.0]) - up[0] * up
    if np.linalg.norm(forward) < 1e-6:  # facing straight up or down: use its y axis
        forward = np.array([0.0, 1.0, 0.0]) - up[1] * up
    forward /= np.linalg.norm(forward)
    return np.column_stack([forward, np.cross(up, forward), up])


def body_box(
    parts: list[dict], frame: int, T_world_camera: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """KITTI box of a body from its parts' annotation records (base part first):
    location (3,) (bottom-face centre, camera frame), dims (h, w, l), rotation_y and the
    box centre (3,) in the camera frame."""
    T_world_base = np.asarray(parts[0]["T_world_part"][frame], dtype=float)
    R_base_upright = _upright(T_world_base[:3, :3])
    corners = []
    for part in parts:
        size = np.asarray(part["box_size"], dtype=float)
        if not size.any():
            continue
        T_world_box = np.asarray(part["T_world_part"][frame]) @ np.asarray(part["T_part_box"])
        # A true inverse: the 6-decimal rotations in the file are not exactly
        # orthonormal, and the base's own box must come back unchanged.
        in_base = box_corners(np.linalg.solve(T_world_base, T_world_box), size)
        corners.append(in_base @ R_base_upright)
    corners = np.concatenate(corners)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    T_base_upright = np.eye(4)
    T_base_upright[:3, :3] = R_base_upright
    T_camera_upright = invert(T_world_camera) @ T_world_base @ T_base_upright
    bottom = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2], 1.0])
    centre = np.append((lo + hi) / 2, 1.0)
    forward = T_camera_upright[:3, 0]
    rotation_y = float(np.arctan2(-forward[2], forward[0]))
    dims = np.array([hi[2] - lo[2], hi[1] - lo[1], hi[0] - lo[0]])
    return (T_camera_upright @ bottom)[:3], dims, rotation_y, (T_camera_upright @ centre)[:3]


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def angle_text(angle: float) -> str:
    """An angle as 6-decimal text that reads back inside [-pi, pi]."""
    value = float(np.clip(round(_wrap(angle), 6), -ANGLE_LIMIT, ANGLE_LIMIT))
    return f"{value + 0.0:.6f}"


def _occluded(visibility: float) -> int:
    return 0 if visibility >= 0.8 else (1 if visibility >= 0.4 else 2)


def _bodies(annotations: dict, skip_body: str) -> dict[str, list[dict]]:
    """Object records grouped by body (base part first), for bodies with a KITTI type."""
    agents = annotations.get("family", {}).get("agents", {})
    bodies: dict[str, list[dict]] = {}
    for obj in annotations["objects"]:
        bodies.setdefault(obj["body"], []).append(obj)
    out = {}
    for body, parts in bodies.items():
        parts.sort(key=lambda o: o["link"] is not None)
        kind = agents.get(body, {}).get("kind")
        if body != skip_body and kitti_type(parts[0]["class"], kind):
            out[body] = parts
    return out


def label_lines(
    annotations: dict, camera: str, frame: int, skip_body: str, min_visible_pixels: int = 25
) -> list[str]:
    """The label_2 lines of one frame of one camera."""
    cam = annotations["cameras"][camera]
    W, H = cam["width"], cam["height"]
    T_world_camera = np.asarray(cam["T_world_camera"][frame])
    records = {r["id"]: r for r in cam["frames"][frame]["objects"]}
    agents = annotations.get("family", {}).get("agents", {})
    lines, dont_care = [], []
    for body, parts in _bodies(annotations, skip_body).items():
        seen = [records[p["id"]] for p in parts if p["id"] in records]
        visible = sum(r["visible_pixels"] for r in seen)
        if not visible:
            continue
        location, dims, rotation_y, centre = body_box(parts, frame, T_world_camera)
        if centre[2] <= 0:
            continue
        amodal = np.array([r["bbox_amodal"] for r in seen])
        box = np.concatenate([amodal[:, :2].min(axis=0), amodal[:, 2:].max(axis=0)])
        inside = np.clip(box, 0, [W, H, W, H])
        area = (box[2] - box[0]) * (box[3] - box[1])
        truncated = 1.0 - (inside[2] - inside[0]) * (inside[3] - inside[1]) / area
        x1, y1, x2, y2 = np.clip(box - 0.5, 0, [W - 1, H - 1, W - 1, H - 1])
        box_text = f"{x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f}"
        if visible < min_visible_pixels:
            dont_care.append(f"DontCare -1 -1 -10 {box_text} -1 -1 -1 -1000 -1000 -1000 -10")
            continue
        visibility = visible / max(sum(r["unoccluded_pixels"] for r in seen), 1)
        kind = kitti_type(parts[0]["class"], agents.get(body, {}).get("kind"))
        alpha = angle_text(rotation_y - np.arctan2(location[0], location[2]))
        numbers = " ".join(f"{v:.6f}" for v in (*dims, *location))
        lines.append(
            f"{kind} {max(truncated, 0.0):.2f} {_occluded(visibility)} {alpha} "
            f"{box_text} {numbers} {angle_text(rotation_y)}"
        )
    return lines + dont_care


def road_plane(annotations: dict, frame: int, T_world_camera: np.ndarray, ego: str) -> np.ndarray:
    """The road plane (a, b, c, d) under the ego in the camera frame of one frame."""
    T_camera_world = invert(np.asarray(T_world_camera, dtype=float))
    up = T_camera_world[:3, :3] @ np.array([0.0, 0.0, 1.0])
    parts = [o for o in annotations["objects"] if o["body"] == ego]
    parts.sort(key=lambda o: o["link"] is not None)
    if parts and any(np.any(p["box_size"]) for p in parts):
        bottom, _, _, _ = body_box(parts, frame, T_world_camera)
    else:
        bottom = (T_camera_world @ np.array([0.0, 0.0, 0.0, 1.0]))[:3]
    return np.append(up, -float(up @ bottom))


def plane_text(plane: np.ndarray) -> str:
    """A road plane file (KITTI's planes/ format: the plane on the fourth line)."""
    values = " ".join(f"{v + 0.0:.6e}" for v in np.asarray(plane, dtype=float))
    return f"# Matrix\nWIDTH 4\nHEIGHT 1\n{values}\n"


def split_clips(
    names: list[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """The split (train, val or test) of each clip name, shuffled with ``seed``."""
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not (np.isfinite(value) and 0.0 <= value < 1.0):
            raise ExportError(f"{key} must be in [0, 1): {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ExportError(
            f"val_fraction + test_fraction must leave clips to train on: "
            f"{val_fraction} + {test_fraction}"
        )
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    counts = []
    for fraction in (test_fraction, val_fraction):
        n = round(fraction * len(names))
        if fraction > 0 and n == 0 and len(order) - sum(counts) > 1:
            n = 1
        counts.append(min(n, max(len(order) - sum(counts) - 1, 0)))
    n_test, n_val = counts
    split = {name: "test" for name in order[:n_test]}
    split.update({name: "val" for name in order[n_test : n_test + n_val]})
    split.update({name: "train" for name in order[n_test + n_val :]})
    return split


def _matrix_text(name: str, M: np.ndarray) -> str:
    values = np.asarray(M, dtype=float).ravel() + 0.0  # no negative zeros
    return f"{name}: " + " ".join(f"{v:.12e}" for v in values)


def calib_text(
    K: np.ndarray,
    T_world_camera: np.ndarray,
    T_world_lidar: np.ndarray,
    T_body_lidar: np.ndarray,
    K_right: np.ndarray | None = None,
    T_world_right: np.ndarray | None = None,
) -> str:
    """The calib file of one frame (KITTI's text format)."""
    P2 = np.asarray(K) @ np.eye(3, 4)
    P3 = P2
    if K_right is not None:
        P3 = np.asarray(K_right) @ (invert(T_world_right) @ T_world_camera)[:3]
    rows = [
        _matrix_text("P0", P2),
        _matrix_text("P1", P2),
        _matrix_text("P2", P2),
        _matrix_text("P3", P3),
        _matrix_text("R0_rect", np.eye(3)),
        _matrix_text("Tr_velo_to_cam", (invert(T_world_camera) @ T_world_lidar)[:3]),
        _matrix_text("Tr_imu_to_velo", invert(T_body_lidar)[:3]),
    ]
    return "\n".join(rows) + "\n"


def _check(clips: list[Path], camera: str, right_camera: str | None, lidar: str) -> None:
    """Raise ExportError naming the first clip that lacks a camera, the LiDAR or a file."""
    for clip in clips:
        annotations = read_annotations(clip)
        for cam in filter(None, (camera, right_camera)):
            if cam not in annotations["cameras"]:
                known = ", ".join(annotations["cameras"]) or "none"
                raise ExportError(f"{clip.name}: no camera {cam!r} (cameras: {known})")
            if not (clip / cam / "rgb.mp4").exists():
                raise ExportError(f"{clip.name}: missing {cam}/rgb.mp4")
        lidars = annotations.get("lidars", {})
        if lidar not in lidars:
            known = ", ".join(lidars) or "none"
            raise ExportError(f"{clip.name}: no lidar {lidar!r} (lidars: {known})")
        if not (clip / lidar / "points.npz").exists():
            raise ExportError(f"{clip.name}: missing {lidar}/points.npz")


@staged
def export_kitti(
    dataset_dir: str | Path,
    out_dir: str | Path,
    camera: str = "cam0",
    right_camera: str | None = None,
    lidar: str = "lidar",
    min_visible_pixels: int = 25,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    split_seed: int = 0,
    overwrite: bool = False,
) -> int:
    """Write the dataset's clips in the KITTI object layout; returns the samples written.

    Every clip is checked (camera, right camera, LiDAR and their files) before anything
    is written; problems raise ``ExportError``.
    """
    clips = dataset_clips(dataset_dir)
    splits = split_clips([c.name for c in clips], val_fraction, test_fraction, split_seed)
    _check(clips, camera, right_camera, lidar)
    out = prepare_output(out_dir, overwrite, ["training", "testing", "ImageSets", "mapping.txt"])
    folders = [f for f in FOLDERS if right_camera or f != "image_3"]
    parts = ["training"] + (["testing"] if "test" in splits.values() else [])
    for part in parts:
        for folder in folders:
            if part == "training" or folder != "label_2":
                (out / part / folder).mkdir(parents=True)
    mapping, sample = [], 0
    names: dict[str, list[str]] = {split: [] for split in SPLITS}
    for clip in clips:
        annotations = read_annotations(clip)
        split = splits[clip.name]
        cam = annotations["cameras"][camera]
        K, T_wc = np.asarray(cam["K"]), np.asarray(cam["T_world_camera"])
        info = annotations["lidars"][lidar]
        T_wl, T_bl = np.asarray(info["T_world_lidar"]), np.asarray(info["T_body_lidar"])
        K_right = T_wr = None
        if right_camera:
            right = annotations["cameras"][right_camera]
            K_right, T_wr = np.asarray(right["K"]), np.asarray(right["T_world_camera"])
        with np.load(clip / lidar / "points.npz") as data:
            xyz, intensity = decode(data, "xyz"), decode(data, "intensity")
            offsets = data["offsets"]
        images = read_video(clip / camera / "rgb.mp4")
        images_right = read_video(clip / right_camera / "rgb.mp4") if right_camera else None
        folder = out / ("testing" if split == "test" else "training")
        for f in range(annotations["clip"]["num_frames"]):
            name = f"{sample:06d}"
            iio.imwrite(folder / "image_2" / f"{name}.png", next(images))
            if images_right is not None:
                iio.imwrite(folder / "image_3" / f"{name}.png", next(images_right))
            if split != "test":
                lines = label_lines(annotations, camera, f, info["body"], min_visible_pixels)
                (folder / "label_2" / f"{name}.txt").write_text("".join(s + "\n" for s in lines))
            calib = calib_text(
                K, T_wc[f], T_wl[f], T_bl, K_right, None if T_wr is None else T_wr[f]
            )
            (folder / "calib" / f"{name}.txt").write_text(calib)
            plane = road_plane(annotations, f, T_wc[f], info["body"])
            (folder / "planes" / f"{name}.txt").write_text(plane_text(plane))
            rows = slice(int(offsets[f]), int(offsets[f + 1]))
            points = np.column_stack([xyz[rows], intensity[rows]]).astype(np.float32)
            points.tofile(folder / "velodyne" / f"{name}.bin")
            mapping.append(f"{name} {clip.name} {f}\n")
            names[split].append(name)
            if split != "test":
                names["trainval"].append(name)
            sample += 1
    (out / "ImageSets").mkdir()
    for split in SPLITS:
        (out / "ImageSets" / f"{split}.txt").write_text("".join(n + "\n" for n in names[split]))
    (out / "mapping.txt").write_text("".join(mapping))
    return sample
