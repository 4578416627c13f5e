"""Constraint-based furniture placement by rejection sampling.

Rules: "wall" (back against a wall, front facing into the room), "corner" (back and
side against two walls), "middle" (away from walls, e.g. tables) and "facing" (chairs
around a placed table, turned towards its centre). Footprints never overlap, stay
inside the floor polygon, keep door zones free and keep ``clearance`` (at least the
drawers' travel) free in front of wall and corner pieces. Pieces that find no spot are
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simfactory.scenes.furniture.geom2d import convex_inside, convex_overlap, rect_corners
from simfactory.scenes.furniture.pieces import Piece
from simfactory.scenes.furniture.room import Room
from simfactory.scenes.furniture.shapes import pose, yaw_facing

RULES = {"table": "middle", "chair": "facing", "lamp": "corner"}
FALLBACKS = {"wall": ("wall",), "corner": ("corner", "wall"), "middle": ("middle",)}
FALLBACKS["facing"] = ("facing", "wall")
WALL_GAP = 0.015
DOOR_ZONE = 0.9


@dataclass
class Placement:
    """Where piece ``index`` went: floor position (x, y), ``yaw`` turning its local +y
    front into the room, and the rule that placed it."""

    index: int
    x: float
    y: float
    yaw: float
    rule: str

    @property
    def pose(self) -> np.ndarray:
        """4x4 ``T_world_piece`` on the floor."""
        return pose(self.x, self.y, 0.0, self.yaw)


@dataclass
class _Plan:
    room: Room
    pieces: list[Piece]
    clearance: float
    tries: int
    occupied: list[np.ndarray] = field(default_factory=list)
    reserved: list[np.ndarray] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    chairs_at: dict[int, int] = field(default_factory=dict)
    rings: dict[int, np.ndarray] = field(default_factory=dict)


def rule_for(piece: Piece) -> str:
    """The placement rule of a piece class."""
    return RULES.get(piece.name_class, "wall")


def footprint(piece: Piece, placement: Placement, grow: float = 0.0) -> np.ndarray:
    """World corners (4, 2) of a placed piece's footprint, grown by ``grow`` each side."""
    w, d = piece.footprint
    return rect_corners(placement.x, placement.y, w + 2 * grow, d + 2 * grow, placement.yaw)


def front_of(yaw: float) -> np.ndarray:
    """World direction of the local +y axis after turning by ``yaw``."""
    return np.array([-np.sin(yaw), np.cos(yaw)])


def door_zones(room: Room) -> list[np.ndarray]:
    """A 0.9 m deep zone inside each door, at least 0.9 m wide."""
    zones = []
    for wall in room.walls:
        for o in wall.openings:
            if o.kind == "door":
                mid = wall.start + wall.direction * (o.start + o.end) / 2
                c = mid + wall.normal * DOOR_ZONE / 2
                width = max(DOOR_ZONE, o.end - o.start)
                zones.append(rect_corners(c[0], c[1], width, DOOR_ZONE, yaw_facing(wall.normal)))
    return zones


def blocks_opening(room: Room, corners: np.ndarray, height: float) -> bool:
    """True when a footprint near a wall covers a door, or a window it is not lower than."""
    for wall in room.walls:
        rel = corners - wall.start
        depth = rel @ wall.normal
        along = rel @ wall.direction
        if depth.min() > 0.15:
            continue
        for o in wall.openings:
            if along.min() < o.end and o.start < along.max():
                if o.kind == "door" or height >= o.bottom - 0.05:
                    return True
    return False


def _free(plan: _Plan, shape: np.ndarray, reserved: bool = True, table: int = -1) -> bool:
    """No overlap with footprints, and (when ``reserved``) with door zones, front
    clearances and the chair rings of tables other than ``table``."""
    if any(convex_overlap(shape, other) for other in plan.occupied):
        return False
    if not reserved:
        return True
    if any(convex_overlap(shape, other) for other in plan.reserved):
        return False
    return not any(convex_overlap(shape, r) for k, r in plan.rings.items() if k != table)


def _try(
    plan: _Plan, i: int, xy: np.ndarray, yaw: float, rule: str, front: bool, table: int = -1
) -> bool:
    """Accept piece ``i`` at (xy, yaw) if every constraint holds, and record it."""
    piece = plan.pieces[i]
    w, d = piece.footprint
    rect = rect_corners(xy[0], xy[1], w, d, yaw)
    if not _free(plan, rect, table=table) or not convex_inside(rect, plan.room.polygon):
        return False
    if blocks_opening(plan.room, rect, piece.height):
        return False
    zone = None
    if front:
        depth = max(plan.clearance, piece.reach)
        c = xy + front_of(yaw) * (d + depth) / 2
        zone = rect_corners(c[0], c[1], w, depth, yaw)
        if not _free(plan, zone, reserved=False) or not convex_inside(zone, plan.room.polygon):
            return False
        plan.reserved.append(zone)
    plan.occupied.append(rect)
    plan.placements.append(Placement(i, float(xy[0]), float(xy[1]), float(yaw), rule))
    return True


def _wall(rng: np.random.Generator, plan: _Plan, i: int) -> bool:
    w, d = plan.pieces[i].footprint
    walls = [wall for wall in plan.room.walls if wall.length > w + 0.04]
    if not walls:
        return False
    lengths = np.array([wall.length for wall in walls])
    for _ in range(plan.tries):
        wall = walls[int(rng.choice(len(walls), p=lengths / lengths.sum()))]
        s = rng.uniform(w / 2 + 0.02, wall.length - w / 2 - 0.02)
        xy = wall.start + wall.direction * s + wall.normal * (d / 2 + WALL_GAP)
        if _try(plan, i, xy, yaw_facing(wall.normal), "wall", front=True):
            return True
    return False


def _corner(rng: np.random.Generator, plan: _Plan, i: int) -> bool:
    w, d = plan.pieces[i].footprint
    poly, walls = plan.room.polygon, plan.room.walls
    k = len(poly)
    options = []
    for v in range(k):
        e0, e1 = poly[v] - poly[v - 1], poly[(v + 1) % k] - poly[v]
        if e0[0] * e1[1] - e0[1] * e1[0] > 0:
            options += [
                (v, walls[v], walls[v].direction),
                (v, walls[v - 1], -walls[v - 1].direction),
            ]
    for j in rng.permutation(len(options)):
        v, wall, away = options[j]
        xy = poly[v] + away * (w / 2 + WALL_GAP) + wall.normal * (d / 2 + WALL_GAP)
        if _try(plan, i, xy, yaw_facing(wall.normal), "corner", front=True):
            return True
    return False


def _middle(rng: np.random.Generator, plan: _Plan, i: int) -> bool:
    w, d = plan.pieces[i].footprint
    c = plan.clearance
    lo, hi = plan.room.polygon.min(axis=0), plan.room.polygon.max(axis=0)
    for _ in range(plan.tries):
        xy = rng.uniform(lo, hi)
        yaw = float(rng.choice([0.0, np.pi / 2]))
        grown = rect_corners(xy[0], xy[1], w + 2 * c, d + 2 * c, yaw)
        if not convex_inside(grown, plan.room.polygon) or not _free(plan, grown, reserved=False):
            continue
        if any(convex_overlap(grown, r) for r in plan.rings.values()):
            continue
        if _try(plan, i, xy, yaw, "middle", front=False):
            plan.rings[i] = grown
            return True
    return False


def _facing(rng: np.random.Generator, plan: _Plan, i: int) -> bool:
    tables = [p for p in plan.placements if plan.pieces[p.index].name_class == "table"]
    if not tables:
        return False
    cw, cd = plan.pieces[i].footprint
    for _ in range(plan.tries):
        counts = np.array([plan.chairs_at.get(t.index, 0) for t in tables])
        fewest = np.flatnonzero(counts == counts.min())
        table = tables[int(rng.choice(fewest))]
        tp = plan.pieces[table.index]
        tw, td = tp.footprint
        gap = rng.uniform(0.05, 0.2)
        side = int(rng.integers(4))
        normal = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]][side], dtype=float)
        half_n, half_t = (tw / 2, td / 2) if side % 2 == 0 else (td / 2, tw / 2)
        if tp.params.get("shape") == "round":
            offset = 0.0
        else:
            offset = rng.uniform(-1, 1) * max(half_t - cw / 2, 0.0)
        local = normal * (half_n + gap + cd / 2) + np.array([-normal[1], normal[0]]) * offset
        c, s = np.cos(table.yaw), np.sin(table.yaw)
        xy = np.array([table.x, table.y]) + np.array([[c, -s], [s, c]]) @ local
        yaw = yaw_facing(np.array([table.x, table.y]) - xy)
        if _try(plan, i, xy, yaw, "facing", front=False, table=table.index):
            plan.chairs_at[table.index] = plan.chairs_at.get(table.index, 0) + 1
            return True
    return False


SAMPLERS = {"wall": _wall, "corner": _corner, "middle": _middle, "facing": _facing}


def _priority(piece: Piece) -> int:
    rule = rule_for(piece)
    big = piece.footprint[0] * piece.footprint[1] > 1.0
    return {"wall": 0 if big else 3, "middle": 1, "facing": 2, "corner": 4}[rule]


def place_pieces(
    rng: np.random.Generator,
    room: Room,
    pieces: list[Piece],
    clearance: float = 0.6,
    tries: int = 150,
) -> list[Placement]:
    """Place pieces one by one: the first piece of the list (the room's anchor), then big
    wall pieces, tables, chairs, smaller wall pieces and corner pieces. A placed table
    keeps a ring of ``clearance`` around it for chairs. Returns the placed pieces in
    placement order."""
    plan = _Plan(room, pieces, clearance, tries, reserved=door_zones(room))
    areas = [p.footprint[0] * p.footprint[1] for p in pieces]
    order = sorted(range(len(pieces)), key=lambda i: (i != 0, _priority(pieces[i]), -areas[i], i))
    for i in order:
        for rule in FALLBACKS[rule_for(pieces[i])]:
            if SAMPLERS[rule](rng, plan, i):
                break
    return plan.placements
