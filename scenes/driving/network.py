"""The road network as plain data: a lane graph plus what stands around it.

Coordinates are world metres, Z up, the road surface at z = 0. A lane's centre line
runs in its driving direction; vehicles move along it and on to one of its
successors. Lanes inside a junction are *connectors* (``junction`` is set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Lane:
    id: int
    centerline: np.ndarray  # (N, 2) xy, in the driving direction, points <= 1 m apart
    width: float
    successors: list[int] = field(default_factory=list)
    left: int | None = None  # neighbour in the same direction on the left (lane change)
    right: int | None = None
    speed_limit: float = 13.9  # m/s
    junction: int | None = None  # set on connectors inside a junction
    signal: int | None = None  # signal controlling the stop line at this lane's end
    stop_at_end: bool = False  # a stop line at the end (signal, or a stop/yield sign)
    yield_at_end: bool = False  # give way to conflicting traffic before entering
    road: int = 0  # the block this lane belongs to
    boundary_end: bool = False  # ends at the edge of the network (traffic leaves there)


@dataclass
class Signal:
    """A signal head on a pole, controlling the stop lines of ``lanes``."""

    id: int
    junction: int
    position: tuple[float, float]  # pole foot, on the sidewalk corner
    heading: float  # radians; the direction the lamps face (towards approaching traffic)
    lanes: list[int]
    group: int  # phase group within its junction: groups get green one after another


@dataclass
class Junction:
    id: int
    kind: str  # four_way | t | roundabout
    center: tuple[float, float]
    radius: float  # the junction area fits in this circle
    signalled: bool
    connectors: list[int] = field(default_factory=list)
    groups: int = 1  # number of signal phase groups


@dataclass
class Crosswalk:
    """A zebra crossing from sidewalk point ``a`` to ``b`` across the lanes in ``lanes``."""

    id: int
    a: tuple[float, float]
    b: tuple[float, float]
    width: float
    lanes: list[tuple[int, float]]  # (lane id, arc length s where the lane meets it)
    junction: int | None = None


@dataclass
class Lot:
    """Free roadside ground for a building: a rectangle whose front faces the road."""

    center: tuple[float, float]
    heading: float  # radians; the direction from the building towards the road
    width: float  # along the road
    depth: float  # away from the road


@dataclass
class KerbSpot:
    """A place on the sidewalk next to the kerb for a pole, lamp, sign or tree, or
    (``parking``) in the outer lane edge for a parked car."""

    position: tuple[float, float]
    heading: float  # radians; along the road, in the nearest lane's direction
    kind: str  # pole | parking


@dataclass
class RoadNetwork:
    lanes: list[Lane]
    junctions: list[Junction]
    signals: list[Signal]
    crosswalks: list[Crosswalk]
    sidewalks: list[np.ndarray]  # (N, 2) walking paths along sidewalk centres
    lots: list[Lot]
    kerb_spots: list[KerbSpot]
    ego_lane: int  # the lane the ego vehicle starts on
    blocks: list[dict]  # per block: kind and its sampled parameters (for the annotations)
    sidewalk_width: float = 3.0
    kerb_height: float = 0.15


def lane_length(lane: Lane) -> float:
    """Arc length of a lane's centre line."""
    return float(np.linalg.norm(np.diff(lane.centerline, axis=0), axis=1).sum())


def point_at(lane: Lane, s: float) -> tuple[np.ndarray, float]:
    """Position (2,) and heading (radians) at arc length ``s`` along a lane (clamped)."""
    pts = lane.centerline
    seg = np.diff(pts, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    s = float(np.clip(s, 0.0, cum[-1]))
    k = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1))
    u = (s - cum[k]) / lengths[k] if lengths[k] > 0 else 0.0
    p = pts[k] + u * seg[k]
    return p, float(np.arctan2(seg[k, 1], seg[k, 0]))
