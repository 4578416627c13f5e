"""Traffic along the lane graph: car following (IDM), lane changes when safe, stops at
red lights, stop lines and crosswalks with pedestrians, and gap acceptance at junctions.

Vehicles are kinematic: the simulation here produces dense pose keys that the physics
rollout replays (``Motion`` with linear interpolation), so recorded velocities are the
simulated ones. A final guard holds any vehicle whose step would overlap another, so
no two vehicles ever overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simfactory.scenes.driving.network import Lane, RoadNetwork
from simfactory.scenes.driving.signals import state_at

MAX_ACCEL = 1.6  # m/s^2, IDM a
COMFORT_DECEL = 2.5  # m/s^2, IDM b
MAX_DECEL = 8.0  # m/s^2, braking limit
MIN_GAP = 2.0  # m, IDM s0
HEADWAY = 1.3  # s, IDM T
LANE_CHANGE_S = 3.0
LOOK_AHEAD = 70.0  # m


@dataclass
class LaneGeometry:
    points: np.ndarray  # (N, 2)
    cum: np.ndarray  # (N,) arc length at each point
    length: float


def lane_geometry(lane: Lane) -> LaneGeometry:
    seg = np.linalg.norm(np.diff(lane.centerline, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return LaneGeometry(np.asarray(lane.centerline, float), cum, float(cum[-1]))


def locate(g: LaneGeometry, s: float) -> tuple[np.ndarray, float]:
    """Position and heading at arc length ``s`` (extrapolated straight past the ends)."""
    k = int(np.clip(np.searchsorted(g.cum, s, side="right") - 1, 0, len(g.cum) - 2))
    d = g.points[k + 1] - g.points[k]
    span = max(g.cum[k + 1] - g.cum[k], 1e-9)
    return g.points[k] + d * (s - g.cum[k]) / span, float(np.arctan2(d[1], d[0]))


@dataclass
class Vehicle:
    name: str
    length: float
    width: float
    desired_speed: float
    route: list[int]  # lane ids, the first is the current lane
    s: float
    v: float
    a: float = 0.0
    change_from: int | None = None  # lane being left during a lane change
    change_progress: float = 1.0
    next_change_check: float = 0.0
    stop_reason: str = ""
    stop_ref: object = None
    stopped_at: int | None = None  # the stop-sign lane where it has made its full stop
    waiting_since: float | None = None  # when it began waiting at a give-way line
    active: bool = True
    keys: list = field(default_factory=list)  # (t, x, y, yaw, v, a)


@dataclass
class TrafficResult:
    times: np.ndarray  # (K,) key times (s), frame times included
    poses: dict[str, np.ndarray]  # name -> (K, 4) x, y, yaw, speed
    accel: dict[str, np.ndarray]  # name -> (K,)
    events: list[dict]
    stopped_for: dict[str, list[tuple[float, str, object]]]  # name -> (t, reason, ref)
    lanes: dict[str, np.ndarray]  # name -> (K,) lane id the vehicle is on at each key


class Traffic:
    """The state of every vehicle; ``step`` advances it by ``dt``."""

    def __init__(self, network: RoadNetwork, rng, signals, crossings):
        self.net = network
        self.rng = rng
        self.geom = {lane.id: lane_geometry(lane) for lane in network.lanes}
        self.lanes = {lane.id: lane for lane in network.lanes}
        self.signals = signals  # signal id -> keys
        self.crossings = crossings  # crosswalk id -> [(t_enter, t_exit, pedestrian)]
        self.crosswalk_at = {}  # lane id -> [(s, crosswalk id)]
        for cw in network.crosswalks:
            for lane_id, s in cw.lanes:
                self.crosswalk_at.setdefault(lane_id, []).append((s, cw.id))
        self.predecessors = {lane.id: [] for lane in network.lanes}
        for lane in network.lanes:
            for nxt in lane.successors:
                self.predecessors[nxt].append(lane.id)
        self.conflicts = _junction_conflicts(network, self.geom)
        self.vehicles: list[Vehicle] = []
        self.t = 0.0

    # -------------------------------------------------------------- geometry
    def pose(self, v: Vehicle) -> tuple[np.ndarray, float]:
        p, yaw = locate(self.geom[v.route[0]], v.s)
        if v.change_from is not None and v.change_progress < 1.0:
            g_old = self.geom[v.change_from]
            frac = v.s / max(self.geom[v.route[0]].length, 1e-9)
            q, _ = locate(g_old, frac * g_old.length)
            w = v.change_progress * v.change_progress * (3 - 2 * v.change_progress)
            lateral = p - q
            p = q + w * lateral
            # The heading turns towards the new lane while the car crosses over.
            slope = 6 * v.change_progress * (1 - v.change_progress) / LANE_CHANGE_S
            side = np.arctan2(slope * np.linalg.norm(lateral), max(v.v, 0.5)) * np.sign(
                np.cos(yaw) * lateral[1] - np.sin(yaw) * lateral[0]
            )
            yaw = yaw + side
        return p, yaw

    def footprint(self, v: Vehicle) -> np.ndarray:
        p, yaw = self.pose(v)
        return _rectangle(p, yaw, v.length, v.width)

    def extend_route(self, v: Vehicle, distance: float) -> None:
        """Pick successors at random until the route covers ``distance`` beyond s."""
        ahead = self.geom[v.route[0]].length - v.s
        for lane_id in v.route[1:]:
            ahead += self.geom[lane_id].length
        while ahead < distance:
            lane = self.lanes[v.route[-1]]
            if not lane.successors:
                break
            nxt = int(self.rng.choice(lane.successors))
            v.route.append(nxt)
            ahead += self.geom[nxt].length

    def route_positions(self, v: Vehicle):
        """(lane id, distance from v's centre to the lane's start) along v's route."""
        out, d = [], -v.s
        for lane_id in v.route:
            out.append((lane_id, d))
            d += self.geom[lane_id].length
        return out

    # -------------------------------------------------------------- placement
    def free(self, lane_id: int, s: float, length: float, clearance: float) -> bool:
        box = _rectangle(*locate(self.geom[lane_id], s), length + 2 * clearance, 2.2)
        return all(not _overlap(box, self.footprint(o)) for o in self.vehicles if o.active)

    def add(self, name, length, width, desired, lane_id, s, v0) -> Vehicle:
        v = Vehicle(name, length, width, desired, [lane_id], s, v0)
        self.extend_route(v, LOOK_AHEAD + 20)
        self.vehicles.append(v)
        return v

    # -------------------------------------------------------------- behaviour
    def obstacles(self, v: Vehicle) -> list[tuple[float, float, str, object]]:
        """(gap m to v's front, obstacle speed, reason, ref) along v's route."""
        out = []
        front = v.length / 2
        route = self.route_positions(v)
        lane_pos = {lane_id: d for lane_id, d in route}
        for o in self.vehicles:
            if o is v or not o.active:
                continue
            for lane_id in {o.route[0], o.change_from} - {None}:
                if lane_id in lane_pos:
                    d = lane_pos[lane_id] + (
                        o.s
                        if lane_id == o.route[0]
                        else o.s / self.geom[o.route[0]].length * self.geom[lane_id].length
                    )
                    gap = d - front - o.length / 2
                    if -o.length / 2 - front < gap < LOOK_AHEAD and d > 0:
                        out.append((gap, o.v, "vehicle", o.name))
        for lane_id, d0 in route:
            lane = self.lanes[lane_id]
            end = d0 + self.geom[lane_id].length
            if end - front > LOOK_AHEAD:
                break
            for s_cw, cw in self.crosswalk_at.get(lane_id, []):
                d = d0 + s_cw - 2.5  # stop short of the stripes
                if d - front <= -1.0:
                    continue
                if self._crosswalk_busy(cw, d - front, v.v):
                    out.append((d - front, 0.0, "pedestrian", cw))
                # Keep the crosswalk clear: do not drive onto it unless there is room to
                # stop beyond it.
                beyond = d - front + 5.0 + v.length + MIN_GAP
                if any(o[2] == "vehicle" and o[0] < beyond and o[1] < 3.0 for o in out):
                    out.append((d - front, 0.0, "keep_clear", cw))
            if lane.signal is not None and end - front > -0.5:
                state = state_at(self.signals[lane.signal], self.t)
                if state == "red" or (state == "amber" and self._can_stop(v, end - front)):
                    out.append((end - front, 0.0, "red_light", lane.signal))
            stop_sign = lane.stop_at_end and lane.signal is None
            if stop_sign and v.stopped_at != lane_id and end - front > -0.5:
                out.append((end - front, 0.0, "stop_sign", lane.id))
                if lane_id == v.route[0] and v.v < 0.3 and end - front < 3.0:
                    v.stopped_at = lane_id
            if lane.yield_at_end and end - front > -0.5 and lane_id == v.route[0]:
                idx = v.route.index(lane_id)
                nxt = v.route[idx + 1] if idx + 1 < len(v.route) else None
                if nxt is not None and not self._gap_ok(v, nxt, end - front):
                    out.append((end - front, 0.0, "yield", lane.id))
            if lane.boundary_end:
                out.append((end - front + 3.0, 0.0, "road_end", lane.id))
        return out

    def _can_stop(self, v: Vehicle, distance: float) -> bool:
        return distance > v.v * v.v / (2 * COMFORT_DECEL * 1.5)

    def _crosswalk_busy(self, cw: int, distance: float, speed: float) -> bool:
        reach = self.t + max(distance, 0.0) / max(speed, 1.0)
        for t_in, t_out, _ in self.crossings.get(cw, []):
            if t_in - 3.0 <= reach and self.t <= t_out + 0.5:
                return True
        return False

    def _gap_ok(self, v: Vehicle, connector: int, distance: float) -> bool:
        """A stopped-or-slow vehicle may enter a junction connector when no vehicle on a
        conflicting lane will reach the conflict within a safe time gap."""
        if distance > 8.0:
            return True  # decide only when near the line
        if v.waiting_since is None and v.v < 0.5:
            v.waiting_since = self.t
        for o in self.vehicles:
            if o is v or not o.active:
                continue
            if o.waiting_since is not None and (o.waiting_since, o.name) > (
                v.waiting_since if v.waiting_since is not None else self.t,
                v.name,
            ):
                continue  # first come, first served among vehicles waiting to enter
            for lane_id, d0 in self.route_positions(o):
                if d0 > 60.0:
                    break
                conflict = self.conflicts.get((connector, lane_id))
                if conflict is None:
                    continue
                d = d0 + conflict - o.length / 2
                if -o.length - 2.0 < d and d / max(o.v, 0.1) < 5.0:
                    return False
                if -o.length - 2.0 < d < 12.0:
                    return False
        return True

    def idm_accel(self, v: Vehicle) -> float:
        free = 1.0 - (v.v / max(v.desired_speed, 0.1)) ** 4
        acc = MAX_ACCEL * free
        v.stop_reason, v.stop_ref = "", None
        worst = np.inf
        for gap, speed, reason, ref in self.obstacles(v):
            gap = max(gap, 0.05)
            dv = v.v - speed
            s_star = MIN_GAP + max(
                0.0, v.v * HEADWAY + v.v * dv / (2 * np.sqrt(MAX_ACCEL * COMFORT_DECEL))
            )
            a = MAX_ACCEL * (free - (s_star / gap) ** 2)
            if reason != "vehicle":
                # A stop point: IDM towards a standing obstacle with a short headway, so
                # the car brakes early enough and comes to rest at the line.
                s_line = 0.5 + v.v * 0.5 + v.v * v.v / (2 * np.sqrt(MAX_ACCEL * COMFORT_DECEL))
                a = MAX_ACCEL * (free - (s_line / gap) ** 2)
            if a < worst:
                worst = a
                if reason != "vehicle" and a < 0:
                    v.stop_reason, v.stop_ref = reason, ref
        return float(np.clip(min(acc, worst), -MAX_DECEL, MAX_ACCEL))

    def maybe_change_lane(self, v: Vehicle) -> dict | None:
        if self.t < v.next_change_check or v.change_progress < 1.0:
            return None
        v.next_change_check = self.t + 1.0
        lane = self.lanes[v.route[0]]
        if lane.junction is not None or self.geom[lane.id].length - v.s < 40.0 or v.v < 3.0:
            return None
        leaders = [o for o in self.obstacles(v) if o[2] == "vehicle"]
        if not leaders or min(leaders)[0] > 35.0 or min(leaders)[1] > 0.8 * v.desired_speed:
            return None
        for side in (lane.left, lane.right):
            if side is None:
                continue
            frac = v.s / self.geom[lane.id].length
            s_new = frac * self.geom[side].length
            if self._lane_gap_ok(v, side, s_new):
                v.change_from, v.change_progress = lane.id, 0.0
                v.route, v.s = [side], s_new
                self.extend_route(v, LOOK_AHEAD + 20)
                return {
                    "from_lane": lane.id,
                    "to_lane": side,
                    "direction": "left" if side == lane.left else "right",
                }
        return None

    def _lane_gap_ok(self, v: Vehicle, lane_id: int, s: float) -> bool:
        for o in self.vehicles:
            if o is v or not o.active or lane_id not in (o.route[0], o.change_from):
                continue
            d = o.s - s
            gap = abs(d) - (o.length + v.length) / 2
            if d > 0 and gap < 15.0 + 1.0 * max(v.v - o.v, 0):
                return False
            if d <= 0 and gap < 10.0 + 1.5 * max(o.v - v.v, 0):
                return False
        return True

    def step(self, dt: float) -> list[dict]:
        """Advance every vehicle by ``dt``; returns the lane changes that started."""
        changes = []
        for v in self.vehicles:
            if v.active:
                change = self.maybe_change_lane(v)
                if change:
                    changes.append({"vehicle": v.name, **change})
        accel = [self.idm_accel(v) if v.active else 0.0 for v in self.vehicles]
        before = [(v.route[:], v.s, v.v, v.change_progress) for v in self.vehicles]
        for v, a in zip(self.vehicles, accel, strict=True):
            if not v.active:
                continue
            new_v = max(v.v + a * dt, 0.0)
            v.s += (v.v + new_v) / 2 * dt
            v.a, v.v = (new_v - v.v) / dt, new_v
            if v.change_progress < 1.0:
                v.change_progress = min(1.0, v.change_progress + dt / LANE_CHANGE_S)
                if v.change_progress >= 1.0:
                    v.change_from = None
            while v.s > self.geom[v.route[0]].length and len(v.route) > 1:
                v.s -= self.geom[v.route[0]].length
                v.route.pop(0)
                v.change_from, v.change_progress = None, 1.0
                v.waiting_since = None
            self.extend_route(v, LOOK_AHEAD + 20)
        self._hold_overlaps(before)
        self.t += dt
        return changes

    def _hold_overlaps(self, before) -> None:
        """Put back, stopped, every vehicle whose step made it overlap another."""
        while True:
            active = [i for i, v in enumerate(self.vehicles) if v.active]
            boxes = [self.footprint(self.vehicles[i]) for i in active]
            bad = set()
            for a, b in _near_pairs(boxes):
                if _overlap(boxes[a], boxes[b]):
                    bad.update((active[a], active[b]))
            moved = [
                i
                for i in bad
                if (self.vehicles[i].s, self.vehicles[i].route[0])
                != (before[i][1], before[i][0][0])
            ]
            if not bad or not moved:
                return
            for i in moved:
                v = self.vehicles[i]
                route, v.s, _, v.change_progress = before[i]
                v.route, v.v = route[:], 0.0
                if v.change_progress >= 1.0:
                    v.change_from = None
                v.a = -MAX_DECEL

    def record(self) -> None:
        for v in self.vehicles:
            p, yaw = self.pose(v)
            v.keys.append(
                (self.t, p[0], p[1], yaw, v.v, v.a, v.stop_reason, v.stop_ref, v.route[0])
            )


def _junction_conflicts(network: RoadNetwork, geom) -> dict[tuple[int, int], float]:
    """{(connector, other lane): arc length along the other lane where it comes within
    2.5 m of the connector} for connectors entered after giving way."""
    conflicts = {}
    yielding = {s for lane in network.lanes if lane.yield_at_end for s in lane.successors}
    for c in yielding:
        pc = geom[c].points
        for lane in network.lanes:
            if lane.id == c or np.allclose(lane.centerline[0], pc[0], atol=0.05):
                continue  # lanes leaving from the same point diverge
            po = geom[lane.id].points
            if len(po) == 0:
                continue
            d = np.linalg.norm(po[:, None, :] - pc[None, :, :], axis=2).min(axis=1)
            near = np.nonzero(d < 2.5)[0]
            if len(near):
                conflicts[(c, lane.id)] = float(geom[lane.id].cum[near[0]])
    return conflicts


def _rectangle(p: np.ndarray, yaw: float, length: float, width: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    fwd, left = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
    return np.array([p + fwd + left, p - fwd + left, p - fwd - left, p + fwd - left])


def _near_pairs(boxes: list[np.ndarray]) -> list[tuple[int, int]]:
    """The pairs (i < j) of rectangles whose circumscribed circles may meet: every pair
    ``_overlap`` can find overlapping, with a margin so that rounding never drops one
    (``_overlap`` itself then decides)."""
    if len(boxes) < 2:
        return []
    corners = np.stack(boxes)  # (N, 4, 2)
    centre = corners.mean(axis=1)
    radius = np.linalg.norm(corners[:, 0] - corners[:, 2], axis=1) / 2
    gap = np.linalg.norm(centre[:, None] - centre[None], axis=2)
    near = gap <= (radius[:, None] + radius[None]) * (1 + 1e-9) + 1e-9
    i, j = np.nonzero(np.triu(near, k=1))
    return list(zip(i.tolist(), j.tolist(), strict=True))


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex quadrilaterals overlap (separating axis test)."""
    if (
        np.linalg.norm(a.mean(0) - b.mean(0))
        > (np.linalg.norm(a[0] - a[2]) + np.linalg.norm(b[0] - b[2])) / 2
    ):
        return False
    for poly in (a, b):
        for k in range(2):
            edge = poly[k + 1] - poly[k]
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def footprints_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Public form of the overlap test (two (4, 2) rectangles)."""
    return _overlap(a, b)


def rectangle(p, yaw, length, width) -> np.ndarray:
    return _rectangle(np.asarray(p, float), yaw, length, width)


@dataclass
class FleetVehicle:
    name: str
    length: float
    width: float


def simulate(
    network: RoadNetwork,
    rng: np.random.Generator,
    fleet: list[FleetVehicle],
    ego: FleetVehicle,
    signals: dict[int, list[tuple[float, str]]],
    crossings: dict[int, list[tuple[float, float, str]]],
    duration: float,
    fps: float,
    warmup: float = 12.0,
) -> tuple[TrafficResult, list[str]]:
    """Drive ``fleet`` for ``warmup`` seconds so queues and gaps look natural, put the
    ego on its lane at t = 0 where it fits, then record until ``duration``.

    Returns the result and the names of fleet vehicles that found no room (left out).
    """
    traffic = Traffic(network, rng, signals, crossings)
    limit = {lane.id: lane.speed_limit for lane in network.lanes}
    sources = [
        lane.id
        for lane in network.lanes
        if lane.junction is None and not traffic.predecessors[lane.id]
    ]
    slots = []
    for lane in network.lanes:
        if lane.junction is not None:
            continue
        length = traffic.geom[lane.id].length
        # Nobody starts where it could not stop before a stop line or junction.
        controlled = lane.stop_at_end or lane.yield_at_end or lane.signal is not None
        end = length - (25.0 if controlled else 6.0)
        s = float(rng.uniform(6.0, 14.0))
        while s < end:
            slots.append((lane.id, s))
            s += float(rng.uniform(12.0, 30.0))
    order = rng.permutation(len(slots))
    left_out = []
    traffic.t = -warmup
    k = 0
    for car in fleet:
        placed = False
        while k < len(order) and not placed:
            lane_id, s = slots[order[k]]
            k += 1
            if traffic.free(lane_id, s, car.length, 3.0):
                desired = limit[lane_id] * float(rng.uniform(0.8, 1.1))
                traffic.add(car.name, car.length, car.width, desired, lane_id, s, 0.5 * desired)
                placed = True
        if not placed:
            left_out.append(car.name)

    dt_warm = 0.1
    for _ in range(int(round(warmup / dt_warm))):
        traffic.step(dt_warm)
        _respawn(traffic, sources, rng)
    traffic.t = 0.0

    _place_ego(traffic, ego, limit, rng)
    substeps = int(np.ceil(40.0 / fps))
    dt = 1.0 / (fps * substeps)
    steps = int(round(duration / dt))
    changes = []
    traffic.record()
    for n in range(1, steps + 1):
        for change in traffic.step(dt):
            changes.append({**change, "time": round(traffic.t, 6)})
        traffic.t = n * dt
        traffic.record()
    kept = [v for v in traffic.vehicles if v.active]
    left_out += [v.name for v in traffic.vehicles if not v.active]
    result = TrafficResult(
        times=np.array([key[0] for key in kept[0].keys]),
        poses={v.name: np.array([key[1:5] for key in v.keys]) for v in kept},
        accel={v.name: np.array([key[5] for key in v.keys]) for v in kept},
        events=changes,
        stopped_for={v.name: [(key[0], key[6], key[7]) for key in v.keys] for v in kept},
        lanes={v.name: np.array([key[8] for key in v.keys]) for v in kept},
    )
    return result, left_out


def _respawn(traffic: Traffic, sources: list[int], rng: np.random.Generator) -> None:
    """During the warm-up, cars that reached the edge of the network re-enter it."""
    for v in traffic.vehicles:
        lane = traffic.lanes[v.route[0]]
        if lane.boundary_end and traffic.geom[lane.id].length - v.s < 8.0 and v.v < 1.0:
            for lane_id in rng.permutation(sources):
                lane_id = int(lane_id)
                s = v.length / 2 + 1.0
                v.active = False
                ok = traffic.free(lane_id, s, v.length, 6.0)
                v.active = True
                if ok:
                    v.route, v.s, v.v = [lane_id], s, 5.0
                    v.change_from, v.change_progress = None, 1.0
                    v.waiting_since = v.stopped_at = None
                    traffic.extend_route(v, LOOK_AHEAD + 20)
                    break


def _place_ego(traffic: Traffic, ego: FleetVehicle, limit: dict, rng) -> None:
    """The ego starts on the network's ego lane, where it fits with room around it; a
    car in the way is taken off the road if there is no room at all."""
    lane_id = traffic.net.ego_lane
    length = traffic.geom[lane_id].length
    desired = limit[lane_id] * float(rng.uniform(0.85, 1.05))
    for s in np.arange(ego.length / 2 + 2.0, length - ego.length / 2, 2.0):
        if traffic.free(lane_id, float(s), ego.length, 5.0):
            traffic.add(ego.name, ego.length, ego.width, desired, lane_id, float(s), 0.6 * desired)
            return
    s = ego.length / 2 + 2.0
    box = rectangle(*locate(traffic.geom[lane_id], s), ego.length + 10.0, 3.0)
    for o in traffic.vehicles:
        if _overlap(box, traffic.footprint(o)):
            o.active = False
    traffic.add(ego.name, ego.length, ego.width, desired, lane_id, s, 0.6 * desired)
