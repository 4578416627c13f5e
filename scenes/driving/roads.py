"""Procedural road networks: a chain of blocks (straights, curves, junctions,
roundabouts) turned into a lane graph with sidewalks, crosswalks, signals and lots.

Each block attaches to the previous block's exit (position + heading), MetaDrive-style;
the first block is a straight at the origin heading +x. A block is made of road
*pieces* (a reference line, line or arc, with lanes on both sides) and, for junctions,
a square *zone* where connectors run. Traffic drives on the right: lanes to the right
of a piece's reference line run forward, those on the left run backward.

Building runs in three passes: sample blocks and reject those whose footprint overlaps
earlier ones; create lanes, connectors, signals and crosswalks and link lanes whose
ends meet; derive sidewalk paths, kerb spots and lots from the finished network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.affinity import affine_transform
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box
from shapely.ops import unary_union
from shapely.prepared import prep

from simfactory.scenes.driving.network import (
    Crosswalk,
    Junction,
    KerbSpot,
    Lane,
    Lot,
    RoadNetwork,
    Signal,
)

BLOCK_KINDS = ("straight", "curve", "four_way", "t", "roundabout")
ROAD_DEFAULTS = dict(
    blocks=5,
    block_types=list(BLOCK_KINDS),
    lanes_per_direction=[1, 2],
    lane_width=[3.0, 3.6],
    curve_radius=[30.0, 100.0],
    curve_angle_deg=[30.0, 90.0],
    signalled=0.8,
    speed_limit_kmh=50.0,
)

SPACING = 0.95  # most distance between centre-line or path points (m)
PARKING_WIDTH = 2.3
PARKING_PITCH = 6.5  # length of one parking bay (m)
KERB_HEIGHT = 0.15
CROSSWALK_GAP = 1.0  # junction zone edge to crosswalk (m)
STOP_GAP = 1.5  # crosswalk to stop line (m)
CLOSING = 1.5  # radius that rounds inner kerb corners and fills slivers (m)
BLOCK_TRIES = 6  # samples per block before the chain ends


# ---------------------------------------------------------------- config


def validate_road(cfg: dict) -> list[str]:
    """Messages ("key: problem (got value)") for every invalid road config key; keys left
    out take their ``ROAD_DEFAULTS``; other keys are not checked."""
    cfg = {**ROAD_DEFAULTS, **(cfg or {})}
    errors = []

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(f"{key}: {message} (got {cfg[key]!r})")

    def number(v) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)

    def span(v, lo, hi, integer=False) -> bool:
        kind = int if integer else int | float
        return (
            isinstance(v, list | tuple)
            and len(v) == 2
            and all(isinstance(x, kind) and not isinstance(x, bool) for x in v)
            and lo <= v[0] <= v[1] <= hi
        )

    blocks = cfg["blocks"]
    check(
        isinstance(blocks, int) and not isinstance(blocks, bool) and 1 <= blocks <= 12,
        "blocks",
        "must be an integer in [1, 12]",
    )
    kinds = cfg["block_types"]
    check(
        isinstance(kinds, list | tuple) and len(kinds) > 0 and all(k in BLOCK_KINDS for k in kinds),
        "block_types",
        f"must be a non-empty list of {', '.join(BLOCK_KINDS)}",
    )
    check(
        span(cfg["lanes_per_direction"], 1, 3, integer=True),
        "lanes_per_direction",
        "must be [min, max] integers with 1 <= min <= max <= 3",
    )
    check(
        span(cfg["lane_width"], 2.5, 5.0),
        "lane_width",
        "must be [min, max] metres with 2.5 <= min <= max <= 5",
    )
    check(
        span(cfg["curve_radius"], 25.0, 1000.0),
        "curve_radius",
        "must be [min, max] metres with 25 <= min <= max <= 1000",
    )
    check(
        span(cfg["curve_angle_deg"], 5.0, 180.0),
        "curve_angle_deg",
        "must be [min, max] degrees with 5 <= min <= max <= 180",
    )
    p = cfg["signalled"]
    check(number(p) and 0.0 <= p <= 1.0, "signalled", "must be a probability in [0, 1]")
    v = cfg["speed_limit_kmh"]
    check(number(v) and 0.0 < v <= 200.0, "speed_limit_kmh", "must be in (0, 200] km/h")
    return errors


# ---------------------------------------------------------------- geometry


def _dir(h: float) -> np.ndarray:
    return np.array([np.cos(h), np.sin(h)])


def _left(h) -> np.ndarray:
    """Unit normals to the left of headings ``h`` (scalar -> (2,), array -> (N, 2))."""
    return np.stack([-np.sin(h), np.cos(h)], axis=-1)


def _trace(p0: np.ndarray, h0: float, kappa: float, s: np.ndarray):
    """Points (N, 2) and headings (N,) at arc lengths ``s`` along a path of constant
    curvature ``kappa`` (0: a line) that starts at ``p0`` heading ``h0``."""
    s = np.asarray(s, dtype=float)
    h = h0 + kappa * s
    if abs(kappa) < 1e-12:
        pts = p0 + s[:, None] * _dir(h0)
    else:
        step = np.stack([np.sin(h) - np.sin(h0), np.cos(h0) - np.cos(h)], axis=1) / kappa
        pts = p0 + step
    return pts, h


def _stations(length: float, stretch: float = 1.0) -> np.ndarray:
    """Arc lengths from 0 to ``length`` so that a line ``stretch`` times longer is
    sampled at most ``SPACING`` apart."""
    n = max(1, int(np.ceil(length * stretch / SPACING)))
    return np.linspace(0.0, length, n + 1)


def _path(p0: np.ndarray, h0: float, segments: list[tuple[float, float]]) -> np.ndarray:
    """Centre line (N, 2) of consecutive (length, curvature) segments."""
    out = [p0[None]]
    p, h = np.asarray(p0, dtype=float), float(h0)
    for length, kappa in segments:
        pts, hs = _trace(p, h, kappa, _stations(length))
        out.append(pts[1:])
        p, h = pts[-1], float(hs[-1])
    return np.vstack(out)


def _resample(pts: np.ndarray, spacing: float = SPACING) -> np.ndarray:
    """The polyline resampled at equal arc-length steps of at most ``spacing``, keeping
    both end points exactly."""
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    targets = np.linspace(0.0, cum[-1], max(1, int(np.ceil(cum[-1] / spacing))) + 1)
    out = np.stack([np.interp(targets, cum, pts[:, 0]), np.interp(targets, cum, pts[:, 1])], 1)
    out[0], out[-1] = pts[0], pts[-1]
    return out


def _bezier(p0, h0: float, p1, h1: float) -> np.ndarray:
    """A smooth centre line from ``p0`` heading ``h0`` to ``p1`` heading ``h1``: a cubic
    Bezier with handles along both headings, resampled evenly."""
    p0, p1 = np.asarray(p0, dtype=float), np.asarray(p1, dtype=float)
    reach = np.linalg.norm(p1 - p0)
    c0 = p0 + 0.45 * reach * _dir(h0)
    c1 = p1 - 0.45 * reach * _dir(h1)
    t = np.linspace(0.0, 1.0, 200)[:, None]
    pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c0 + 3 * (1 - t) * t**2 * c1 + t**3 * p1
    return _resample(pts)


def _strip(line: np.ndarray, width: float) -> Polygon:
    """The area a lane of ``width`` covers around its centre line (flat ends)."""
    return LineString(line).buffer(width / 2, cap_style="flat", join_style="round")


def _close(area, radius: float = CLOSING):
    """Morphological closing: rounds inner corners and fills slivers narrower than
    ``2 * radius`` without moving outer edges."""
    return area.buffer(radius, quad_segs=8).buffer(-radius, quad_segs=8)


def _rect(center, heading: float, length: float, width: float) -> Polygon:
    """A ``length`` x ``width`` rectangle centred at ``center``, long side along ``heading``."""
    d, n = _dir(heading) * length / 2, _left(heading) * width / 2
    c = np.asarray(center, dtype=float)
    return Polygon([c - d - n, c + d - n, c + d + n, c - d + n])


def _to_world(geom, center: np.ndarray, heading: float):
    """Rotate a shapely geometry by ``heading`` and move its origin to ``center``."""
    c, s = np.cos(heading), np.sin(heading)
    return affine_transform(geom, [c, -s, s, c, float(center[0]), float(center[1])])


# ---------------------------------------------------------------- blocks


@dataclass
class _Piece:
    """A two-way road along a line or arc reference line.

    Lanes right of the reference line run forward (start to end), lanes left of it run
    backward. ``approach_start`` cuts the backward lanes short of the start: a junction
    sits there and they end at its stop line.
    """

    start: np.ndarray
    heading: float
    length: float
    curvature: float
    block: int
    half_left: float  # road surface left of the reference line, parking included
    half_right: float
    parking: tuple[bool, bool] = (False, False)  # (left, right)
    approach_start: float = 0.0
    forward: list[int] = field(default_factory=list)
    backward: list[int] = field(default_factory=list)

    def offset_line(self, offset: float, s0: float = 0.0, s1: float | None = None) -> np.ndarray:
        """Points (N, 2) of the line ``offset`` metres left of the reference, s0 -> s1."""
        s1 = self.length if s1 is None else s1
        s = s0 + _stations(s1 - s0, abs(1 - self.curvature * offset))
        pts, h = _trace(self.start, self.heading, self.curvature, s)
        return pts + offset * _left(h)

    def band(self, lo: float, hi: float) -> Polygon:
        """The area between lateral offsets ``lo`` < ``hi`` along the whole piece."""
        return Polygon(np.vstack([self.offset_line(hi), self.offset_line(lo)[::-1]]))

    def end(self) -> tuple[np.ndarray, float]:
        pts, h = _trace(self.start, self.heading, self.curvature, np.array([self.length]))
        return pts[0], float(h[0])


@dataclass
class _Connector:
    line: np.ndarray
    width: float


@dataclass
class _Zone:
    """A junction: a square zone with arms leaving from the middle of its sides."""

    kind: str
    center: np.ndarray
    heading: float  # the chain's direction through it
    size: float  # half the side of the square
    arms: dict[int, _Piece]  # 0 ahead, 1 left, 2 back (chain in), 3 right -> piece
    connectors: list[_Connector]
    signalled: bool
    crosswalk_width: float
    polygon: Polygon | None = None


@dataclass
class _Block:
    kind: str
    params: dict
    pieces: list[_Piece]
    entry: tuple[np.ndarray, float]
    exit: tuple[np.ndarray, float]
    zone: _Zone | None = None
    footprint: object = None


@dataclass
class _Context:
    """Network-wide choices sampled once."""

    lanes: int
    lane_width: float
    sidewalk_width: float
    crosswalk_width: float
    speed: float  # m/s
    cfg: dict

    @property
    def half(self) -> float:
        return self.lanes * self.lane_width


def _straight(rng, port, index: int, ctx: _Context) -> _Block:
    length = float(rng.uniform(40.0, 80.0))
    side = "none"
    if rng.random() < 0.35:
        side = str(rng.choice(["left", "right", "both"]))
    park = (side in ("left", "both"), side in ("right", "both"))
    half = ctx.half
    piece = _Piece(
        port[0],
        port[1],
        length,
        0.0,
        index,
        half + PARKING_WIDTH * park[0],
        half + PARKING_WIDTH * park[1],
        parking=park,
    )
    params = dict(kind="straight", length=length, parking=side)
    return _Block("straight", params, [piece], port, piece.end())


def _curve(rng, port, index: int, ctx: _Context) -> _Block:
    cfg = ctx.cfg
    radius = float(rng.uniform(*cfg["curve_radius"]))
    angle = float(np.deg2rad(rng.uniform(*cfg["curve_angle_deg"])))
    turn = str(rng.choice(["left", "right"]))
    kappa = (1.0 if turn == "left" else -1.0) / radius
    piece = _Piece(port[0], port[1], radius * angle, kappa, index, ctx.half, ctx.half)
    params = dict(kind="curve", radius=radius, angle_deg=float(np.rad2deg(angle)), direction=turn)
    return _Block("curve", params, [piece], port, piece.end())


def _junction(rng, port, index: int, ctx: _Context, kind: str) -> _Block:
    """A four_way, t or roundabout block: chain-in arm, zone, chain-out arm, side arms."""
    n, w, sw, half = ctx.lanes, ctx.lane_width, ctx.sidewalk_width, ctx.half
    p0, h = port
    arms = [0, 1, 2, 3]
    params: dict = dict(kind=kind)
    if kind == "t":
        side = int(rng.choice([1, 3]))
        arms = [0, 2, side]
        params["side"] = "left" if side == 1 else "right"
    lengths = {
        k: float(rng.uniform(12.0, 20.0) if k in (0, 2) else rng.uniform(30.0, 50.0)) for k in arms
    }
    if kind == "roundabout":
        ring_radius = float(max(rng.uniform(12.0, 18.0), half + 5.0))
        ring_width = w + 0.5
        size = ring_radius + ring_width / 2 + 4.0 + 0.3 * half
        params.update(ring_radius=ring_radius, ring_width=ring_width)
        signalled = False
    else:
        corner = float(sw + rng.uniform(2.0, 5.0))
        size = half + corner
        params["corner_radius"] = corner
        signalled = kind == "four_way" and bool(rng.random() < ctx.cfg["signalled"])
        params["signalled"] = signalled
    params.update(zone_size=size, **{f"arm_{k}_length": v for k, v in _arm_names(lengths).items()})
    center = p0 + (lengths[2] + size) * _dir(h)
    stop = CROSSWALK_GAP + ctx.crosswalk_width + STOP_GAP
    pieces = {}
    for k in arms:
        theta = h + k * np.pi / 2
        pieces[k] = _Piece(
            center + size * _dir(theta),
            theta,
            lengths[k],
            0.0,
            index,
            half,
            half,
            approach_start=stop,
        )
    zone = _Zone(kind, center, h, size, pieces, [], signalled, ctx.crosswalk_width)
    if kind == "roundabout":
        zone.connectors = _roundabout_connectors(zone, n, w, ring_radius, ring_width, stop)
    else:
        zone.connectors = _crossing_connectors(zone, n, w, stop)
    zone.polygon = _to_world(box(-size, -size, size, size), center, h)
    exit_port = pieces[0].end()
    ordered = [pieces[k] for k in sorted(pieces)]
    return _Block(kind, params, ordered, port, exit_port, zone)


def _arm_names(values: dict[int, float]) -> dict[str, float]:
    names = {0: "out", 1: "left", 2: "in", 3: "right"}
    return {names[k]: v for k, v in values.items()}


def _approach_end(arm: _Piece, lane: int, w: float) -> tuple[np.ndarray, float]:
    """Where approach lane ``lane`` of an arm ends (its stop line), and its heading."""
    at = arm.start + arm.approach_start * _dir(arm.heading)
    return at + (lane + 0.5) * w * _left(arm.heading), arm.heading + np.pi


def _crossing_connectors(zone: _Zone, n: int, w: float, stop: float) -> list[_Connector]:
    """Four-way and T movements: straight from every lane, left turns from the leftmost
    lane, right turns from the rightmost; turns are a straight run to the zone edge then a
    quarter circle around a zone corner. Where there is no straight on (a T's side arm),
    the left half of the lanes turns left and the right half turns right."""
    out = []
    for a in zone.arms:
        through = (a + 2) % 4 in zone.arms
        for i in range(n):
            p0, psi = _approach_end(zone.arms[a], i, w)
            moves = [((a + 2) % 4, [(stop + 2 * zone.size, 0.0)])]
            left, right = i == 0, i == n - 1
            if not through:
                left, right = i < n / 2, i >= n / 2
            if left:
                r = zone.size + (i + 0.5) * w
                moves.append(((a + 3) % 4, [(stop, 0.0), (r * np.pi / 2, 1.0 / r)]))
            if right:
                r = zone.size - (i + 0.5) * w
                moves.append(((a + 1) % 4, [(stop, 0.0), (r * np.pi / 2, -1.0 / r)]))
            for b, segments in moves:
                if b in zone.arms:
                    out.append(_Connector(_path(p0, psi, segments), w))
    return out


def _roundabout_connectors(
    zone: _Zone, n: int, w: float, radius: float, ring_width: float, stop: float
) -> list[_Connector]:
    """A counter-clockwise one-lane ring split at every arm's exit and entry point, entry
    connectors from each approach lane onto the ring and exit connectors off it."""
    c, h = zone.center, zone.heading
    delta = float(np.arcsin(min(0.5, (0.5 * n * w + 0.5 * w) / radius)))
    out = []
    for k in range(4):
        theta = h + k * np.pi / 2
        for a0, a1 in ((theta - delta, theta + delta), (theta + delta, theta + np.pi / 2 - delta)):
            start = c + radius * _dir(a0)
            line = _path(start, a0 + np.pi / 2, [(radius * (a1 - a0), 1.0 / radius)])
            out.append(_Connector(line, ring_width))
        enter = c + radius * _dir(theta + delta)
        for i in range(n):
            p0, psi = _approach_end(zone.arms[k], i, w)
            run = _path(p0, psi, [(stop, 0.0)])
            curve = _bezier(run[-1], psi, enter, theta + delta + np.pi / 2)
            out.append(_Connector(np.vstack([run, curve[1:]]), w))
        leave = c + radius * _dir(theta - delta)
        for j in range(n):
            p1 = zone.arms[k].start - (j + 0.5) * w * _left(theta)
            out.append(_Connector(_bezier(leave, theta - delta + np.pi / 2, p1, theta), w))
    return out


def _footprint(block: _Block, sidewalk: float):
    """Road and sidewalks of every piece, the junction zone, and room beyond the ends of
    side arms."""
    parts = [p.band(-p.half_right - sidewalk, p.half_left + sidewalk) for p in block.pieces]
    if block.zone is not None:
        parts.append(block.zone.polygon)
        parts += [_end_room(arm, sidewalk) for k, arm in block.zone.arms.items() if k in (1, 3)]
    return unary_union(parts)


def _end_room(piece: _Piece, sidewalk: float, at_start: bool = False) -> Polygon:
    """Clear ground beyond the end (or start) of a piece, as wide as its road and
    sidewalks: an open road end needs it for the sidewalks to stop cleanly."""
    p, h = (piece.start, piece.heading + np.pi) if at_start else piece.end()
    left, right = piece.half_left, piece.half_right
    if at_start:
        left, right = right, left
    depth = sidewalk + 2.0
    center = p + depth / 2 * _dir(h) + (left - right) / 2 * _left(h)
    return _rect(center, h, depth, left + right + 2 * sidewalk)


def _exit_piece(block: _Block) -> _Piece:
    return block.zone.arms[0] if block.zone is not None else block.pieces[0]


def _sample_block(rng, kind: str, port, index: int, ctx: _Context) -> _Block:
    if kind == "straight":
        return _straight(rng, port, index, ctx)
    if kind == "curve":
        return _curve(rng, port, index, ctx)
    return _junction(rng, port, index, ctx, kind)


def _chain(rng, ctx: _Context) -> list[_Block]:
    """Blocks attached end to end. Each block's kind and parameters are resampled until
    its footprint and the room beyond its exit clear everything taken (earlier blocks,
    the room behind the chain's start and beyond earlier exits); the chain ends when no
    sample fits."""
    sw = ctx.sidewalk_width
    port = (np.zeros(2), 0.0)
    blocks: list[_Block] = []
    taken = Polygon()
    kinds = list(ctx.cfg["block_types"])
    for index in range(int(ctx.cfg["blocks"])):
        for _ in range(BLOCK_TRIES):
            kind = "straight" if index == 0 else str(rng.choice(kinds))
            block = _sample_block(rng, kind, port, index, ctx)
            block.footprint = _footprint(block, sw)
            needed = block.footprint.union(_end_room(_exit_piece(block), sw))
            if not needed.buffer(-0.05).intersects(taken):
                break
        else:
            return blocks
        if blocks:
            taken = taken.union(_end_room(_exit_piece(blocks[-1]), sw))
        else:
            taken = _end_room(block.pieces[0], sw, at_start=True)
        blocks.append(block)
        taken = taken.union(block.footprint)
        port = block.exit
    return blocks


# ---------------------------------------------------------------- lanes


def _lanes(blocks: list[_Block], ctx: _Context) -> tuple[list, list, list, list]:
    """Lanes of every piece and connector, junctions, signals and crosswalks (whose
    lanes are filled in later)."""
    lanes: list[Lane] = []
    junctions: list[Junction] = []
    signals: list[Signal] = []
    crosswalks: list[Crosswalk] = []
    n, w = ctx.lanes, ctx.lane_width

    def add(line, width, block, **kw) -> int:
        lanes.append(Lane(len(lanes), line, float(width), speed_limit=ctx.speed, road=block, **kw))
        return len(lanes) - 1

    for block in blocks:
        for piece in block.pieces:
            for i in range(n):
                line = piece.offset_line(-(i + 0.5) * w)
                piece.forward.append(add(line, w, piece.block))
            for i in range(n):
                line = piece.offset_line((i + 0.5) * w, piece.approach_start)[::-1]
                piece.backward.append(add(line, w, piece.block))
            for ids in (piece.forward, piece.backward):
                for i, lane_id in enumerate(ids):
                    lanes[lane_id].left = ids[i - 1] if i > 0 else None
                    lanes[lane_id].right = ids[i + 1] if i < n - 1 else None
        zone = block.zone
        if zone is None:
            continue
        jid = len(junctions)
        junction = Junction(
            jid,
            zone.kind,
            (float(zone.center[0]), float(zone.center[1])),
            float(zone.size * np.sqrt(2)),
            zone.signalled,
            groups=len(zone.arms) if zone.signalled else 1,
        )
        junctions.append(junction)
        block.params["junction"] = jid
        for c in zone.connectors:
            junction.connectors.append(add(c.line, c.width, block.params["index"], junction=jid))
        for group, (k, arm) in enumerate(sorted(zone.arms.items())):
            approach = [lanes[i] for i in arm.backward]
            if zone.kind == "four_way" and zone.signalled:
                pole = arm.start + 0.5 * _dir(arm.heading) + (ctx.half + 0.6) * _left(arm.heading)
                sid = len(signals)
                signals.append(
                    Signal(
                        sid,
                        jid,
                        (float(pole[0]), float(pole[1])),
                        float(np.arctan2(np.sin(arm.heading), np.cos(arm.heading))),
                        [lane.id for lane in approach],
                        group,
                    )
                )
                for lane in approach:
                    lane.signal, lane.stop_at_end = sid, True
            elif zone.kind != "t" or k in (1, 3):
                for lane in approach:
                    lane.stop_at_end, lane.yield_at_end = True, True
            along = arm.start + (CROSSWALK_GAP + zone.crosswalk_width / 2) * _dir(arm.heading)
            across = (ctx.half + ctx.sidewalk_width / 2) * _left(arm.heading)
            a, b = along + across, along - across
            crosswalks.append(
                Crosswalk(
                    len(crosswalks),
                    (float(a[0]), float(a[1])),
                    (float(b[0]), float(b[1])),
                    float(zone.crosswalk_width),
                    [],
                    junction=jid,
                )
            )
    return lanes, junctions, signals, crosswalks


def _heading_at(line: np.ndarray, end: bool) -> float:
    d = line[-1] - line[-2] if end else line[1] - line[0]
    return float(np.arctan2(d[1], d[0]))


def _link(lanes: list[Lane]) -> None:
    """Successors: every lane starting where a lane ends (within 1 cm), heading on."""
    starts = np.array([lane.centerline[0] for lane in lanes])
    tree = cKDTree(starts)
    for lane in lanes:
        h = _heading_at(lane.centerline, end=True)
        for j in sorted(tree.query_ball_point(lane.centerline[-1], 0.01)):
            turn = _heading_at(lanes[j].centerline, end=False) - h
            if j != lane.id and abs(np.arctan2(np.sin(turn), np.cos(turn))) < 0.5:
                lane.successors.append(j)
        lane.boundary_end = not lane.successors


def _crossings(lanes: list[Lane], crosswalks: list[Crosswalk]) -> None:
    """Fill each crosswalk's (lane, s) pairs where lane centre lines cross it."""
    lines = [LineString(lane.centerline) for lane in lanes]
    tree = shapely.STRtree(lines)
    for cw in crosswalks:
        seg = LineString([cw.a, cw.b])
        for j in sorted(int(i) for i in tree.query(seg, predicate="intersects")):
            hit = lines[j].intersection(seg)
            for pt in getattr(hit, "geoms", [hit]):
                if isinstance(pt, Point):
                    cw.lanes.append((j, float(lines[j].project(pt))))


# ---------------------------------------------------------------- sidewalks


def _walking_paths(network: RoadNetwork, road) -> list[np.ndarray]:
    """Walking paths along the sidewalk centres: the kerb line pushed half a sidewalk
    width away from the road, cut at open road ends, crosswalk ends inserted as
    vertices, points at most ``SPACING`` apart."""
    solid = road.union(island_area(network))
    edge = solid.buffer(network.sidewalk_width / 2, quad_segs=16)
    rings = [r for p in getattr(edge, "geoms", [edge]) for r in (p.exterior, *p.interiors)]
    cut = MultiLineString(rings).difference(_open_ends(network))
    merged = shapely.line_merge(cut)
    lines = [g for g in getattr(merged, "geoms", [merged]) if g.length > 0.1]
    for cw in network.crosswalks:
        for pt in (cw.a, cw.b):
            k = int(np.argmin([g.distance(Point(pt)) for g in lines]))
            lines[k] = _with_vertex(lines[k], np.asarray(pt))
    return [np.asarray(shapely.segmentize(g, SPACING).coords) for g in lines]


def _open_ends(network: RoadNetwork):
    """Boxes just beyond every road end at the network's edge, where sidewalks stop: the
    ends of boundary lanes and the starts of carriageways that nothing feeds (a lane
    that is only reached by a lane change does not count)."""
    lanes = network.lanes
    fed = {j for lane in lanes for j in lane.successors}

    def carriageway(lane: Lane) -> list[int]:
        """The lane and its same-direction neighbours."""
        out = [lane.id]
        for step in ("left", "right"):
            nxt = getattr(lane, step)
            while nxt is not None:
                out.append(nxt)
                nxt = getattr(lanes[nxt], step)
        return out

    reach = network.sidewalk_width + PARKING_WIDTH + 1.0
    boxes = []
    for lane in lanes:
        ends = []
        if lane.boundary_end:
            ends.append((lane.centerline[-1], _heading_at(lane.centerline, end=True)))
        if not fed.intersection(carriageway(lane)):
            ends.append((lane.centerline[0], _heading_at(lane.centerline, end=False) + np.pi))
        for p, h in ends:
            d, n = _dir(h), (lane.width / 2 + reach) * _left(h)
            back, ahead = p - 0.01 * d, p + (network.sidewalk_width + 1.0) * d
            boxes.append(Polygon([back - n, ahead - n, ahead + n, back + n]))
    return unary_union(boxes)


def _with_vertex(line: LineString, pt: np.ndarray) -> LineString:
    """``line`` with ``pt`` (which lies on it) inserted as a vertex."""
    coords = np.asarray(line.coords)
    d = line.project(Point(pt))
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(coords, axis=0), axis=1))])
    if np.min(np.abs(cum - d)) < 1e-9:
        return line
    k = int(np.searchsorted(cum, d))
    return LineString(np.vstack([coords[:k], pt[None], coords[k:]]))


# ---------------------------------------------------------------- areas


def road_area(network: RoadNetwork):
    """The road surface: lane strips, roundabout mouths and parking strips, with inner
    corners rounded and gaps inside junctions filled (shapely geometry)."""
    parts = [_strip(lane.centerline, lane.width) for lane in network.lanes]
    parts += _parking_strips(network.kerb_spots)
    islands = []
    for junction in network.junctions:
        if junction.kind == "roundabout":
            mouths, island = _roundabout_surface(network.lanes, junction)
            parts += mouths
            islands.append(island)
    area = _close(unary_union(parts))
    # Roads of different blocks stay two sidewalks apart, so any hole is a gap between
    # the connectors of one junction: fill them all, then cut the roundabout islands.
    area = unary_union([Polygon(p.exterior) for p in shapely.get_parts(area)])
    return area.difference(unary_union(islands)) if islands else area


def roundabout_ring(lanes: list[Lane], junction: Junction) -> tuple[list[Lane], float, float]:
    """A roundabout's ring lanes (its connectors at a constant distance from the
    centre), the ring's centre-line radius and its lane width."""
    center = np.asarray(junction.center)
    ring = [
        lanes[i]
        for i in junction.connectors
        if np.ptp(np.linalg.norm(lanes[i].centerline - center, axis=1)) < 1e-3
    ]
    return ring, float(np.linalg.norm(ring[0].centerline[0] - center)), ring[0].width


def _roundabout_surface(lanes: list[Lane], junction: Junction) -> tuple[list[Polygon], Polygon]:
    """A roundabout's bell mouths and its central island. Each arm's mouth is the convex
    hull of its exit connectors (leaving where the arm's short ring lane starts) and its
    entry connectors (joining where that ring lane ends), cut off at the zone edge where
    the exits end so that it never widens the arm itself."""
    ring, radius, width = roundabout_ring(lanes, junction)
    ring_ids = {lane.id for lane in ring}
    others = [lanes[i] for i in junction.connectors if i not in ring_ids]
    center = np.asarray(junction.center)

    def meets(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.linalg.norm(a - b) < 0.01)

    mouths = []
    for arc in ring:
        exits = [c for c in others if meets(c.centerline[0], arc.centerline[0])]
        entries = [c for c in others if meets(c.centerline[-1], arc.centerline[-1])]
        if exits and entries:
            axis = _dir(_heading_at(exits[0].centerline, end=True))
            edge = float((exits[0].centerline[-1] - center) @ axis)
            strips = [_strip(c.centerline, c.width) for c in exits]
            for c in entries:
                inside = (c.centerline - center) @ axis <= edge + 1e-6
                strips.append(_strip(c.centerline[inside], c.width))
            mouths.append(unary_union(strips).convex_hull)
    island = Point(junction.center).buffer(radius - width / 2, quad_segs=32)
    return mouths, island


def _parking_strips(spots: list[KerbSpot]) -> list[Polygon]:
    """Parking strips rebuilt from runs of consecutive parking spots: each run is
    widened to ``PARKING_WIDTH`` and reaches half a bay beyond its first and last spot."""
    runs: list[list[np.ndarray]] = []
    last = None
    for spot in spots:
        if spot.kind != "parking":
            last = None
            continue
        p = np.asarray(spot.position, dtype=float)
        if last is None or spot.heading != last.heading or np.linalg.norm(p - runs[-1][-1]) > 8:
            runs.append([])
        runs[-1].append(p)
        last = spot
    strips = []
    for run in runs:
        pts = np.array(run)
        if len(pts) > 1:
            step = pts[1] - pts[0]
            pts = np.vstack([pts[0] - step / 2, pts, pts[-1] + step / 2])
            strips.append(_strip(pts, PARKING_WIDTH))
    return strips


def sidewalk_area(network: RoadNetwork, road=None):
    """The sidewalks: a band ``sidewalk_width`` wide along every kerb (not around
    roundabout islands), stopping at open road ends."""
    road = road_area(network) if road is None else road
    solid = road.union(island_area(network))
    band = solid.buffer(network.sidewalk_width, quad_segs=16).difference(solid)
    return band.difference(_open_ends(network))


def island_area(network: RoadNetwork):
    """The central islands of all roundabouts."""
    return unary_union(
        [
            _roundabout_surface(network.lanes, j)[1]
            for j in network.junctions
            if j.kind == "roundabout"
        ]
    )


def crosswalk_area(crosswalk: Crosswalk) -> Polygon:
    """The zebra rectangle from one sidewalk centre to the other."""
    a, b = np.asarray(crosswalk.a), np.asarray(crosswalk.b)
    d = b - a
    return _rect((a + b) / 2, float(np.arctan2(d[1], d[0])), np.linalg.norm(d), crosswalk.width)


# ---------------------------------------------------------------- roadside


def _parking_spots(blocks: list[_Block], ctx: _Context) -> list[KerbSpot]:
    """Parking spots along every parking strip, bays of about ``PARKING_PITCH`` that
    fill the strip from end to end, facing the adjacent lane's direction."""
    spots = []
    for block in blocks:
        for piece in block.pieces:
            for sign, park in ((1.0, piece.parking[0]), (-1.0, piece.parking[1])):
                if park:
                    count = max(1, int(round(piece.length / PARKING_PITCH)))
                    s = (np.arange(count) + 0.5) * piece.length / count
                    offset = sign * (ctx.half + PARKING_WIDTH / 2)
                    spots += _spots_at(piece, s, offset, sign, "parking")
    return spots


def _pole_spots(rng, blocks, ctx: _Context, crosswalks, signals, sidewalk) -> list[KerbSpot]:
    """Pole spots every 12-25 m, 0.5 m from the kerb, on both sides of every piece; only
    on the sidewalk and away from crosswalks and signal poles."""
    keep_out = unary_union(
        [crosswalk_area(c).buffer(0.5) for c in crosswalks]
        + [Point(s.position).buffer(1.5) for s in signals]
    )
    inside = prep(sidewalk.buffer(-0.05))
    spots = []
    for block in blocks:
        for piece in block.pieces:
            for sign, half in ((1.0, piece.half_left), (-1.0, piece.half_right)):
                s, stations = float(rng.uniform(2.0, 10.0)), []
                while s < piece.length - 1.0:
                    stations.append(s)
                    s += float(rng.uniform(12.0, 25.0))
                at = np.array(stations)
                for spot in _spots_at(piece, at, sign * (half + 0.5), sign, "pole"):
                    pt = Point(spot.position)
                    if inside.contains(pt) and not keep_out.contains(pt):
                        spots.append(spot)
    return spots


def _spots_at(piece: _Piece, s: np.ndarray, offset: float, sign: float, kind: str):
    if len(s) == 0:
        return []
    pts, h = _trace(piece.start, piece.heading, piece.curvature, s)
    pts = pts + offset * _left(h)
    h = h + (np.pi if sign > 0 else 0.0)
    h = np.arctan2(np.sin(h), np.cos(h))
    return [
        KerbSpot((float(p[0]), float(p[1])), float(a), kind) for p, a in zip(pts, h, strict=True)
    ]


def _lots(rng, blocks, ctx: _Context, blocked) -> list[Lot]:
    """Building lots beyond the sidewalks on both sides of every piece: 10-25 m wide,
    10-20 m deep, 1-4 m behind the sidewalk, clear of everything in ``blocked`` and of
    each other."""
    blocked = prep(blocked)
    taken: list[Polygon] = []
    lots = []
    for block in blocks:
        for piece in block.pieces:
            for sign, half in ((1.0, piece.half_left), (-1.0, piece.half_right)):
                s = float(rng.uniform(0.0, 4.0))
                while True:
                    width = float(rng.uniform(10.0, 25.0))
                    depth = float(rng.uniform(10.0, 20.0))
                    gap = float(rng.uniform(1.0, 4.0))
                    if s + width > piece.length:
                        break
                    pts, h = _trace(
                        piece.start, piece.heading, piece.curvature, np.array([s + width / 2])
                    )
                    lateral = sign * (half + ctx.sidewalk_width + gap + depth / 2)
                    center = pts[0] + lateral * _left(h[0])
                    rect = _rect(center, float(h[0]), width, depth)
                    if not blocked.intersects(rect) and not any(rect.intersects(t) for t in taken):
                        taken.append(rect)
                        facing = float(h[0] - sign * np.pi / 2)
                        lots.append(
                            Lot(
                                (float(center[0]), float(center[1])),
                                float(np.arctan2(np.sin(facing), np.cos(facing))),
                                width,
                                depth,
                            )
                        )
                    s += width + float(rng.uniform(0.5, 5.0))
    return lots


def lot_polygon(lot: Lot) -> Polygon:
    """A lot's rectangle (its width runs across ``heading``)."""
    return _rect(lot.center, lot.heading + np.pi / 2, lot.width, lot.depth)


# ---------------------------------------------------------------- network


def make_network(rng: np.random.Generator, cfg: dict) -> RoadNetwork:
    """A random road network from the road config (keys as in ``ROAD_DEFAULTS``)."""
    cfg = {**ROAD_DEFAULTS, **(cfg or {})}
    lo, hi = cfg["lanes_per_direction"]
    ctx = _Context(
        lanes=int(rng.integers(lo, hi + 1)),
        lane_width=float(rng.uniform(*cfg["lane_width"])),
        sidewalk_width=float(rng.uniform(2.5, 4.0)),
        crosswalk_width=float(rng.uniform(3.0, 4.0)),
        speed=float(cfg["speed_limit_kmh"]) / 3.6,
        cfg=cfg,
    )
    blocks = _chain(rng, ctx)
    for index, block in enumerate(blocks):
        p, h = block.entry
        block.params.update(
            index=index,
            start=[float(p[0]), float(p[1]), float(h)],
            lanes_per_direction=ctx.lanes,
            lane_width=ctx.lane_width,
        )
    lanes, junctions, signals, crosswalks = _lanes(blocks, ctx)
    _link(lanes)
    _crossings(lanes, crosswalks)
    network = RoadNetwork(
        lanes=lanes,
        junctions=junctions,
        signals=signals,
        crosswalks=crosswalks,
        sidewalks=[],
        lots=[],
        kerb_spots=[],
        ego_lane=blocks[0].pieces[0].forward[-1],
        blocks=[block.params for block in blocks],
        sidewalk_width=ctx.sidewalk_width,
        kerb_height=KERB_HEIGHT,
    )
    network.kerb_spots = _parking_spots(blocks, ctx)
    road = road_area(network)
    network.sidewalks = _walking_paths(network, road)
    sidewalk = sidewalk_area(network, road)
    network.kerb_spots += _pole_spots(rng, blocks, ctx, crosswalks, signals, sidewalk)
    zones = [b.zone.polygon for b in blocks if b.zone is not None]
    network.lots = _lots(rng, blocks, ctx, unary_union([road, sidewalk, *zones]))
    return network
