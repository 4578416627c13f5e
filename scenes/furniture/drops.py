"""Where clutter is dropped from, and when it is let go.

An object on a piece rides in with that piece (its drop pose is fixed in the piece's
frame), holds there after the piece lands and is released a moment later. An object on
the floor waits at its drop pose, away from every piece and slide path, and is released
after the last piece has landed. Release happens where the object's Motion ends: the
engine switches a dynamic body to free physics after its last key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.scenes.furniture.clutter import Clutter
from simfactory.scenes.furniture.entry import Entry
from simfactory.scenes.furniture.geom2d import boundary_distance, convex_distance, points_in_polygon
from simfactory.scenes.furniture.layout import Placement
from simfactory.scenes.furniture.pieces import Piece
from simfactory.scenes.furniture.room import Room
from simfactory.scenes.furniture.shapes import pose
from simfactory.sim.model.spec import Motion

FLOOR = -1
DROP_HEIGHT = (0.15, 0.4)


@dataclass
class Drop:
    """One object's drop: ``support`` is the index into the placements (``FLOOR`` for the
    floor), ``local`` the 4x4 drop pose in the support's frame (world for the floor)."""

    clutter: Clutter
    support: int
    local: np.ndarray | None = None
    release: float = 0.0


def radius(clutter: Clutter) -> float:
    """Radius of the object's footprint under any yaw."""
    return 0.5 * float(np.hypot(clutter.extents[0], clutter.extents[1]))


def headroom(piece: Piece, index: int) -> float:
    """Free height above support surface ``index``: up to the next surface of the same
    piece that covers it (minus a board's thickness), or unlimited."""
    rect, z = piece.support_surfaces[index]
    room = np.inf
    for other, z2 in piece.support_surfaces:
        covers = (
            other[0] < rect[2] and rect[0] < other[2] and other[1] < rect[3] and rect[1] < other[3]
        )
        if z2 > z + 1e-3 and covers:
            room = min(room, z2 - z - 0.03)
    return room


def _drop_height(rng: np.random.Generator, cap: float) -> float:
    lo, hi = DROP_HEIGHT
    return float(rng.uniform(min(lo, cap), min(hi, cap)))


def choose_supports(
    rng: np.random.Generator,
    pieces: list[Piece],
    placements: list[Placement],
    clutters: list[Clutter],
    ceiling: float = np.inf,
    floor_chance: float = 0.15,
) -> list[Drop]:
    """Pick a support surface and a drop pose for each object, or the floor (posed later
    by ``place_on_floor``). Objects on one surface keep apart, and below ``ceiling``."""
    surfaces = [
        (k, s)
        for k, p in enumerate(placements)
        for s in range(len(pieces[p.index].support_surfaces))
    ]
    taken: dict[tuple[int, int], list[tuple[np.ndarray, float]]] = {}
    drops = []
    for obj in clutters:
        r, ez = radius(obj), obj.extents[2]
        drop = Drop(obj, FLOOR)
        if surfaces and rng.random() >= floor_chance:
            for _ in range(20):
                k, s = surfaces[int(rng.integers(len(surfaces)))]
                piece = pieces[placements[k].index]
                rect, z = piece.support_surfaces[s]
                cap = min(headroom(piece, s), ceiling - z - 0.05) - ez - 0.02
                lo, hi = rect[:2] + r, rect[2:] - r
                if cap < 0.03 or np.any(lo >= hi):
                    continue
                xy = rng.uniform(lo, hi)
                if any(np.linalg.norm(xy - q) < r + rq + 0.01 for q, rq in taken.get((k, s), [])):
                    continue
                taken.setdefault((k, s), []).append((xy, r))
                h = _drop_height(rng, cap)
                drop = Drop(obj, k, pose(xy[0], xy[1], z + h, rng.uniform(0, 2 * np.pi)))
                break
        drops.append(drop)
    return drops


def place_on_floor(
    rng: np.random.Generator, room: Room, drops: list[Drop], keep_out: list[np.ndarray]
) -> list[Drop]:
    """Pose the floor drops clear of walls, of the ``keep_out`` convex areas and of each
    other. Returns the drops that found a spot (all non-floor drops are kept)."""
    lo, hi = room.polygon.min(axis=0), room.polygon.max(axis=0)
    spots: list[tuple[np.ndarray, float]] = []
    kept = []
    for drop in drops:
        if drop.support != FLOOR:
            kept.append(drop)
            continue
        r = radius(drop.clutter)
        for _ in range(60):
            xy = rng.uniform(lo, hi)
            if not points_in_polygon(xy, room.polygon)[0]:
                continue
            if boundary_distance(xy, room.polygon)[0] < r + 0.05:
                continue
            if any(convex_distance(xy, area)[0] < r + 0.03 for area in keep_out):
                continue
            if any(np.linalg.norm(xy - q) < r + rq + 0.02 for q, rq in spots):
                continue
            spots.append((xy, r))
            h = _drop_height(rng, DROP_HEIGHT[1])
            drop.local = pose(xy[0], xy[1], h, rng.uniform(0, 2 * np.pi))
            kept.append(drop)
            break
    return kept


def set_releases(
    rng: np.random.Generator, drops: list[Drop], entries: list[Entry], duration: float
) -> None:
    """Release each object shortly after its support lands; floor objects after the
    last piece lands."""
    scale = min(1.0, duration / 4.0)
    landed = max((e.t1 for e in entries), default=0.0)
    for drop in drops:
        after = entries[drop.support].t1 if drop.support != FLOOR else landed
        t = after + rng.uniform(0.15, 0.4) * scale
        drop.release = float(max(min(t, 0.85 * duration), after + 0.02))


def drop_motion(drop: Drop, entries: list[Entry]) -> Motion:
    """Hold (or carry with the support) until the release, then end the motion."""
    if drop.support == FLOOR:
        return Motion(times=np.array([0.0, drop.release]), poses=np.stack([drop.local] * 2))
    e = entries[drop.support]
    times = np.array([e.t0, e.t1, drop.release])
    poses = np.stack([e.start @ drop.local, e.end @ drop.local, e.end @ drop.local])
    return Motion(times=times, poses=poses)
