"""The write stage: one camera's frames and labels, one LiDAR's scans and the clip's
preview, as files in the clip folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simfactory.sim.render.shots import CameraShot
from simfactory.sim.write.encodings import NORMALS_UNIT, encode_lidar, encode_streams
from simfactory.sim.write.files import VideoWriter, write_npz
from simfactory.sim.write.preview import clip_preview

LIDAR_ARRAYS = ("xyz", "intensity", "instance", "semantic", "ring", "offsets")


def open_video(cam_dir: Path, width: int, height: int, fps: float, export: dict) -> VideoWriter:
    """``rgb.mp4`` of one camera, fed frame by frame as they are rendered."""
    return VideoWriter(
        cam_dir / "rgb.mp4", width, height, fps, export["video_crf"], export["video_preset"]
    )


def geometry_streams(shot: CameraShot) -> dict[str, dict[str, np.ndarray]]:
    """The label streams that need nothing but the render: depth, normals, flow (a
    compact shot's normals and flow as they will be stored, with their scales)."""
    streams = {
        "depth": {"depth": shot.depth},
        "normals": {"normals": shot.normals},
        "flow": {
            "forward": shot.flow_forward,
            "forward_valid": shot.flow_forward_valid,
            "backward": shot.flow_backward,
            "backward_valid": shot.flow_backward_valid,
        },
    }
    if shot.encoding == "compact":
        streams["normals"]["normals_scale"] = np.array(np.float32(NORMALS_UNIT))
        streams["flow"]["flow_scale"] = np.array(np.float32(shot.flow_scale))
    return streams


def id_streams(shot: CameraShot, semantic: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The id label streams: instance ids and semantic classes."""
    return {"instance": {"instance": shot.instance}, "semantic": {"semantic": semantic}}


def write_label_files(cam_dir: Path, streams: dict, export: dict) -> list[str]:
    """One ``.npz`` per stream (file stem -> arrays), in the layout
    ``export["label_encoding"]`` names (``write.encodings``); returns the file names."""
    level, floats = int(export["compress_level"]), bool(export["compress_floats"])
    names = []
    for stream, arrays in encode_streams(streams, export["label_encoding"]).items():
        write_npz(cam_dir / f"{stream}.npz", arrays, level, floats)
        names.append(f"{stream}.npz")
    return names


def write_camera_files(
    cam_dir: Path, shot: CameraShot, semantic: np.ndarray, fps: float, export: dict
) -> list[str]:
    """``rgb.mp4`` and one ``.npz`` per label stream of one camera into ``cam_dir``, in
    one go; returns the file names (``run.clip`` writes the same files overlapped with
    rendering)."""
    cam_dir.mkdir()
    _, height, width, _ = shot.rgb.shape
    video = open_video(cam_dir, width, height, fps, export)
    for frame in shot.rgb:
        video.send(frame)
    video.close()
    write_label_files(cam_dir, geometry_streams(shot), export)
    write_label_files(cam_dir, id_streams(shot, semantic), export)
    return sorted(p.name for p in cam_dir.iterdir())


def write_preview(path: Path, shot: CameraShot, semantic: np.ndarray, rgb=None) -> None:
    """The clip's contact sheet: RGB (the shot's, or ``rgb``: a mapping of
    ``preview_frames`` to their colour), depth, semantic classes and forward flow (a
    compact shot's from the float flow it kept of ``preview_frames``)."""
    flow = shot.flow_forward if shot.encoding == "float32" else shot.kept_flow
    rgb = shot.rgb if rgb is None else rgb
    clip_preview(path, rgb, shot.depth, semantic, flow, shot.flow_forward_valid)


def write_lidar_files(lidar_dir: Path, points, level: int, encoding: str = "float32") -> list[str]:
    """One LiDAR's scans (every frame, ragged by ``offsets``) as ``points.npz`` in
    ``lidar_dir`` (made if missing); ``compact`` stores xyz and intensity fixed-point
    (``write.encodings.encode_lidar``)."""
    lidar_dir.mkdir(exist_ok=True)
    arrays = {k: getattr(points, k) for k in LIDAR_ARRAYS}
    if encoding == "compact":
        arrays = encode_lidar(arrays)
    write_npz(lidar_dir / "points.npz", arrays, level, compress_floats=False)
    return ["points.npz"]
