"""Temporal event labels of a drive: lane changes, stops at red lights, stop lines and
crosswalks, pedestrian crossings and near misses, as frame intervals."""

from __future__ import annotations

import numpy as np
import shapely

from simfactory.scenes.driving.traffic import LANE_CHANGE_S, TrafficResult, rectangle

NEAR_MISS_VEHICLES_M = 1.0  # footprint gap between two vehicles closing in
NEAR_MISS_PEDESTRIAN_M = 1.5  # from a moving vehicle's footprint to a pedestrian
STOPPED_MPS = 0.5


def intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last)] frame runs where ``mask`` is true."""
    runs, start = [], None
    for i, on in enumerate(mask):
        if on and start is None:
            start = i
        if not on and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def frame_keys(result: TrafficResult, fps: float, num_frames: int) -> np.ndarray:
    """Index of the traffic key at each frame time."""
    frame_times = np.arange(num_frames) / fps
    return np.clip(np.searchsorted(result.times, frame_times - 1e-9), 0, len(result.times) - 1)


def drive_events(
    result: TrafficResult,
    sizes: dict[str, tuple[float, float]],
    pedestrians: dict[str, np.ndarray],
    crossings: list[dict],
    fps: float,
    num_frames: int,
) -> list[dict]:
    """Every event of the clip, sorted by start frame.

    ``sizes``: vehicle name -> (length, width); ``pedestrians``: name -> (F, 2) ground
    positions per frame; ``crossings``: {pedestrian, crosswalk, t_enter, t_exit}.
    """
    keys = frame_keys(result, fps, num_frames)
    events = []
    for change in result.events:
        start = int(np.ceil(change["time"] * fps - 1e-6))
        if start < num_frames:
            end = min(num_frames - 1, int(np.floor((change["time"] + LANE_CHANGE_S) * fps)))
            events.append(
                {
                    "type": "lane_change",
                    "actor": change["vehicle"],
                    "direction": change["direction"],
                    "from_lane": change["from_lane"],
                    "to_lane": change["to_lane"],
                    "start_frame": start,
                    "end_frame": end,
                }
            )
    kinds = {
        "red_light": "stop_at_red_light",
        "pedestrian": "stop_for_pedestrian",
        "stop_sign": "stop_at_stop_line",
        "yield": "give_way",
    }
    for name, reasons in result.stopped_for.items():
        speed = result.poses[name][keys, 3]
        for reason, kind in kinds.items():
            mask = np.array([reasons[k][1] == reason for k in keys]) & (speed < STOPPED_MPS)
            for a, b in intervals(mask):
                events.append(
                    {
                        "type": kind,
                        "actor": name,
                        "cause": _plain(reasons[keys[a]][2]),
                        "start_frame": a,
                        "end_frame": b,
                    }
                )
    for c in crossings:
        a = max(0, int(np.ceil(c["t_enter"] * fps - 1e-6)))
        b = min(num_frames - 1, int(np.floor(c["t_exit"] * fps)))
        if a <= b:
            events.append(
                {
                    "type": "pedestrian_crossing",
                    "actor": c["pedestrian"],
                    "crosswalk": c["crosswalk"],
                    "start_frame": a,
                    "end_frame": b,
                }
            )
    events += near_misses(result, sizes, pedestrians, keys)
    return sorted(events, key=lambda e: (e["start_frame"], e["type"], e["actor"]))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def near_misses(result, sizes, pedestrians, keys) -> list[dict]:
    """Frames where two vehicles closing in come within NEAR_MISS_VEHICLES_M of each
    other, or a moving vehicle within NEAR_MISS_PEDESTRIAN_M of a pedestrian."""
    names = sorted(result.poses)
    F = len(keys)
    shapes = {
        n: [
            shapely.Polygon(rectangle(result.poses[n][k, :2], result.poses[n][k, 2], *sizes[n]))
            for k in keys
        ]
        for n in names
    }
    events = []
    for i, a in enumerate(names):
        pa = result.poses[a][keys]
        for b in names[i + 1 :]:
            pb = result.poses[b][keys]
            if np.min(np.linalg.norm(pa[:, :2] - pb[:, :2], axis=1)) > 25.0:
                continue
            mask = np.zeros(F, bool)
            for f in range(F):
                gap = shapes[a][f].distance(shapes[b][f])
                va = pa[f, 3] * np.array([np.cos(pa[f, 2]), np.sin(pa[f, 2])])
                vb = pb[f, 3] * np.array([np.cos(pb[f, 2]), np.sin(pb[f, 2])])
                closing = -np.dot(vb - va, pb[f, :2] - pa[f, :2]) / max(
                    np.linalg.norm(pb[f, :2] - pa[f, :2]), 1e-6
                )
                mask[f] = gap < NEAR_MISS_VEHICLES_M and closing > 1.0
            for s, e in intervals(mask):
                events.append(
                    {"type": "near_miss", "actor": a, "other": b, "start_frame": s, "end_frame": e}
                )
        for person, xy in pedestrians.items():
            mask = np.array(
                [
                    pa[f, 3] > 1.0
                    and shapes[a][f].distance(shapely.Point(xy[f])) < NEAR_MISS_PEDESTRIAN_M
                    for f in range(F)
                ]
            )
            for s, e in intervals(mask):
                events.append(
                    {
                        "type": "near_miss",
                        "actor": a,
                        "other": person,
                        "start_frame": s,
                        "end_frame": e,
                    }
                )
    return events
