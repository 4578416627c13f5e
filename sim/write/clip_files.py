"""The write stage: one camera's frames and labels, one LiDAR's scans and the clip's
preview, as files in the clip folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simfactory.sim.render.shots import CameraShot
from simfactory.sim.write.encodings import encode_streams
from simfactory.sim.write.files import write_npz, write_video
from simfactory.sim.write.preview import clip_preview

LIDAR_ARRAYS = ("xyz", "intensity", "instance", "semantic", "ring", "offsets")


def write_camera_files(
    cam_dir: Path, shot: CameraShot, semantic: np.ndarray, fps: float, export: dict
) -> list[str]:
    """``rgb.mp4`` and one ``.npz`` per label stream of one camera into ``cam_dir``, in
    the layout ``export["label_encoding"]`` names (``write.encodings``); returns the file
    names."""
    cam_dir.mkdir()
    level, floats = int(export["compress_level"]), bool(export["compress_floats"])
    write_video(cam_dir / "rgb.mp4", shot.rgb, fps, export["video_crf"], export["video_preset"])
    streams = {
        "depth": {"depth": shot.depth},
        "instance": {"instance": shot.instance},
        "semantic": {"semantic": semantic},
        "normals": {"normals": shot.normals},
        "flow": {
            "forward": shot.flow_forward,
            "forward_valid": shot.flow_forward_valid,
            "backward": shot.flow_backward,
            "backward_valid": shot.flow_backward_valid,
        },
    }
    for stream, arrays in encode_streams(streams, export["label_encoding"]).items():
        write_npz(cam_dir / f"{stream}.npz", arrays, level, floats)
    return sorted(p.name for p in cam_dir.iterdir())


def write_preview(path: Path, shot: CameraShot, semantic: np.ndarray) -> None:
    """The clip's contact sheet: RGB, depth, semantic classes and forward flow."""
    clip_preview(path, shot.rgb, shot.depth, semantic, shot.flow_forward, shot.flow_forward_valid)


def write_lidar_files(lidar_dir: Path, points, level: int) -> list[str]:
    """One LiDAR's scans (every frame, ragged by ``offsets``) as ``points.npz``."""
    lidar_dir.mkdir()
    arrays = {k: getattr(points, k) for k in LIDAR_ARRAYS}
    write_npz(lidar_dir / "points.npz", arrays, level, compress_floats=False)
    return ["points.npz"]
