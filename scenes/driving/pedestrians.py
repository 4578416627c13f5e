"""Pedestrians of a driving scene: ground tracks along sidewalks and across crosswalks.

A pedestrian walks (or runs) at a constant speed along the network's sidewalk centre
lines, keeping a personal distance to the right of the centre line (clear of the
poles and trees by the kerb), and moves on to another sidewalk that starts where its
sidewalk ends (or stops at a dead end). Some cross the road on a crosswalk during the
clip. Pedestrians have priority and never wait: their crossing times (when each is on
the road surface of a crosswalk) are planned here, and the traffic simulation stops
vehicles for them. Sidewalks are raised by ``network.kerb_height`` above the road;
``PedestrianPlan.ground_z`` follows that, stepping down over a short ramp at the kerb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from simfactory.scenes.driving.network import Crosswalk, RoadNetwork
from simfactory.sim.actors.humanoid import pedestrian_body
from simfactory.sim.model.spec import Body

WALK_SPEED = (1.1, 1.6)  # m/s
RUN_SPEED = (2.5, 3.5)  # m/s
RUN_FRACTION = 0.15
HEIGHT = (1.55, 1.95)  # m, standing height
MIN_SEPARATION = 1.0  # m between any two pedestrians at any time, when it can be had
ATTEMPTS = 30  # tracks tried per pedestrian for that separation
KERB_RAMP = 0.5  # m over which the ground steps from the sidewalk down to the road
MARGIN = 0.4  # m kept from the sides of a crosswalk
KERB_CLEARANCE = 1.0  # m kept from the kerb, where poles and trees stand 0.5 m from it


@dataclass
class PedestrianPlan:
    name: str
    times: np.ndarray  # (T,) s, from 0 to the clip duration
    xy: np.ndarray  # (T, 2) ground track
    gait: str  # humanoid clip: walk | run
    height: float  # standing height, m
    crossings: list[tuple[int, float, float]]  # (crosswalk id, t_enter, t_exit) on the road
    ground_z: np.ndarray | None = None  # (T,) ground height under the track (raised sidewalks)
    phase: float = 0.0  # gait phase at t = 0, fraction of a cycle


@dataclass
class _Polyline:
    points: np.ndarray  # (N, 2)
    cum: np.ndarray  # (N,) arc length at each point

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    @property
    def closed(self) -> bool:
        return bool(np.linalg.norm(self.points[0] - self.points[-1]) < 1e-6)

    def at(self, s: float) -> np.ndarray:
        return np.array([np.interp(s, self.cum, self.points[:, k]) for k in range(2)])

    def piece(self, s_from: float, s_to: float) -> list[np.ndarray]:
        """Points from arc length ``s_from`` to ``s_to`` (either way), corners included."""
        lo, hi = sorted((s_from, s_to))
        inner = [p for p, c in zip(self.points, self.cum, strict=True) if lo < c < hi]
        if s_to < s_from:
            inner = inner[::-1]
        return [self.at(s_from), *inner, self.at(s_to)]

    def project(self, xy) -> float:
        return float(LineString(self.points).project(Point(xy)))


def _polyline(points: np.ndarray) -> _Polyline:
    points = np.asarray(points, dtype=float)
    keep = np.r_[True, np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-9]
    points = points[keep]
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    return _Polyline(points, cum)


def _walk(
    rng: np.random.Generator,
    sidewalks: list[_Polyline],
    link: float,
    k: int,
    s: float,
    direction: int,
    distance: float,
) -> list[np.ndarray]:
    """Points walked from arc length ``s`` of sidewalk ``k`` in ``direction`` (+1 along
    it, -1 against it) for ``distance`` metres: around a closed sidewalk, on to one
    that starts within ``link`` metres of where this one ends, or up to a dead end."""
    points = [sidewalks[k].at(s)]
    left = distance
    for _ in range(100):
        side = sidewalks[k]
        end = side.length if direction > 0 else 0.0
        if abs(end - s) >= left:
            points += side.piece(s, s + direction * left)[1:]
            break
        points += side.piece(s, end)[1:]
        left -= abs(end - s)
        if side.closed:
            s = side.length - end
            continue
        here = points[-1]
        nexts = [
            (j, at_start)
            for j, other in enumerate(sidewalks)
            if j != k
            for at_start, p in ((True, other.points[0]), (False, other.points[-1]))
            if np.linalg.norm(p - here) < link
        ]
        if not nexts:
            break
        k, at_start = nexts[rng.integers(len(nexts))]
        s, direction = (0.0, 1) if at_start else (sidewalks[k].length, -1)
        left -= float(np.linalg.norm(sidewalks[k].at(s) - here))
        points.append(sidewalks[k].at(s))
    return points


def _offset(points: np.ndarray, distance: float) -> np.ndarray:
    """A polyline moved sideways by ``distance`` (positive: to the left of its
    direction); inner corners lose the bits that would fold back."""
    moved = LineString(points).offset_curve(distance, join_style="mitre", mitre_limit=2.0)
    if moved.geom_type != "LineString" or moved.length < 1e-6:
        return points
    return np.asarray(moved.coords)


def _road_surface(network: RoadNetwork, cw: Crosswalk) -> Polygon:
    """The part of a crosswalk's zebra that is road: where there is no sidewalk (the
    band ``sidewalk_width`` wide around each sidewalk centre line)."""
    zebra = LineString([cw.a, cw.b]).buffer(cw.width / 2, cap_style="flat")
    walks = [LineString(p).buffer(network.sidewalk_width / 2) for p in network.sidewalks]
    return zebra.difference(unary_union(walks))


def _route(rng, network, sidewalks, speed, distance) -> tuple[list[np.ndarray], float, int]:
    """A walk along sidewalks: points, arc length at t = 0, and -1 (no crosswalk)."""
    lengths = np.array([side.length for side in sidewalks])
    k = int(rng.choice(len(sidewalks), p=lengths / lengths.sum()))
    s = rng.uniform(0, sidewalks[k].length)
    direction = 1 if rng.random() < 0.5 else -1
    link = network.sidewalk_width
    return _walk(rng, sidewalks, link, k, s, direction, distance), 0.0, -1


def _crossing_route(rng, network, sidewalks, speed, distance):
    """Along a sidewalk to a crosswalk, across it and on: points, arc length at t = 0,
    and the crosswalk's index. The crossing starts at a random time that lets it end
    within ``distance / speed`` seconds when it can."""
    c = int(rng.integers(len(network.crosswalks)))
    cw = network.crosswalks[c]
    start, end = np.asarray(cw.a, dtype=float), np.asarray(cw.b, dtype=float)
    if rng.random() < 0.5:
        start, end = end, start
    across = float(np.linalg.norm(end - start))
    spare = (distance - across) / speed
    t_start = rng.uniform(min(0.0, spare), max(0.0, spare))  # reaches the crosswalk then
    before = speed * max(t_start, 0.0)
    link = network.sidewalk_width

    def nearest(xy) -> tuple[int, float]:
        k = int(np.argmin([LineString(side.points).distance(Point(xy)) for side in sidewalks]))
        return k, sidewalks[k].project(xy)

    k, s = nearest(start)
    back = _walk(rng, sidewalks, link, k, s, rng.choice([-1, 1]), before + 3.0)  # spare
    k, s = nearest(end)
    on = _walk(rng, sidewalks, link, k, s, rng.choice([-1, 1]), max(distance - before - across, 0))
    approach = np.array([*back[::-1], start])
    to_start = float(np.linalg.norm(np.diff(approach, axis=0), axis=1).sum())
    return [*approach, end, *on], max(0.0, to_start - speed * t_start), c


def _candidate(rng, network, sidewalks, crossing: bool, speed: float, times: np.ndarray):
    """One try at a track: positions (T, 2), crosswalk index (-1: none), and whether
    the pedestrian keeps moving to the end (no dead end on the way)."""
    make = _crossing_route if crossing else _route
    distance = speed * times[-1] + 5.0  # spare: offset corners cut the route a little
    points, s0, c = make(rng, network, sidewalks, speed, distance)
    points = np.asarray(points, dtype=float)
    points = points[np.r_[True, np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-6]]
    if len(points) < 2:
        return np.tile(points[0], (len(times), 1)), c, False
    room = network.sidewalk_width / 2 - KERB_CLEARANCE
    if c >= 0:
        room = min(room, network.crosswalks[c].width / 2 - MARGIN)
    side = rng.uniform(0.2, max(room, 0.2))
    line = _polyline(_offset(points, -side))  # keeps to the right
    s = s0 + speed * times
    xy = np.stack([np.interp(s, line.cum, line.points[:, k]) for k in range(2)], axis=1)
    return xy, c, bool(s[-1] <= line.length)


def plan_pedestrians(
    rng: np.random.Generator,
    network: RoadNetwork,
    count: int,
    duration: float,
    crossing_fraction: float = 0.4,
    sample_hz: float = 30,
) -> list[PedestrianPlan]:
    """``count`` pedestrians for a clip of ``duration`` s; a ``crossing_fraction`` of
    them cross the road on a crosswalk during the clip. Tracks are sampled at
    ``sample_hz``; of a few tries, the first one at least ``MIN_SEPARATION`` from every
    earlier pedestrian at all times and without a dead end is kept (else the best)."""
    sidewalks = [_polyline(p) for p in network.sidewalks if len(p) > 1]
    sidewalks = [side for side in sidewalks if side.length > 0]
    if not sidewalks or count <= 0:
        return []
    times = np.linspace(0.0, duration, max(2, round(duration * sample_hz) + 1))
    crossers = round(count * crossing_fraction) if network.crosswalks else 0
    crossing_set = set(rng.choice(count, crossers, replace=False).tolist())
    plans: list[PedestrianPlan] = []
    for index in range(count):
        running = rng.random() < RUN_FRACTION
        speed = rng.uniform(*(RUN_SPEED if running else WALK_SPEED))
        best, best_score = None, None
        for _ in range(ATTEMPTS):
            xy, c, moving = _candidate(rng, network, sidewalks, index in crossing_set, speed, times)
            gaps = [np.linalg.norm(xy - other.xy, axis=1).min() for other in plans]
            gap = min(gaps, default=np.inf)
            score = (gap >= MIN_SEPARATION, moving, gap)
            if best_score is None or score > best_score:
                best, best_score = (xy, c), score
            if score[:2] == (True, True):
                break
        xy, c = best
        crossings, ground = [], np.full(len(times), network.kerb_height)
        if c >= 0:
            cw = network.crosswalks[c]
            road = _road_surface(network, cw)
            on_road = shapely.contains_xy(road, xy[:, 0], xy[:, 1])
            if on_road.any():
                crossings.append((cw.id, float(times[on_road][0]), float(times[on_road][-1])))
            ramp = np.clip(shapely.distance(road, shapely.points(xy)) / KERB_RAMP, 0.0, 1.0)
            ground = network.kerb_height * ramp * ramp * (3.0 - 2.0 * ramp)
        plans.append(
            PedestrianPlan(
                name=f"pedestrian_{index}",
                times=times.copy(),
                xy=xy,
                gait="run" if running else "walk",
                height=float(rng.uniform(*HEIGHT)),
                crossings=crossings,
                ground_z=ground,
                phase=float(rng.random()),
            )
        )
    return plans


def pedestrian_bodies(plans: list[PedestrianPlan]) -> list[Body]:
    """The humanoid bodies (class "person") that walk the planned tracks."""
    return [
        pedestrian_body(
            p.name,
            p.xy,
            p.times,
            p.gait,
            p.height,
            phase=p.phase,
            ground_z=0.0 if p.ground_z is None else p.ground_z,
        )
        for p in plans
    ]
