"""How each placed piece enters the clip: lowered from above or slid along the floor.

Pieces move one after another during the first 60% of the clip and hold their start
pose until their move begins. A slide path is kept inside the room, off every other
piece's final footprint and off the spots where later pieces wait, so no two pieces
ever pass through each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.scenes.furniture.geom2d import convex_hull, convex_inside, convex_overlap
from simfactory.scenes.furniture.layout import Placement, footprint, front_of
from simfactory.scenes.furniture.pieces import Piece
from simfactory.scenes.furniture.room import Room
from simfactory.scenes.furniture.shapes import pose
from simfactory.sim.model.spec import Motion

PLACE_FRACTION = 0.6
SLIDE_DISTANCES = (1.5, 1.1, 0.7)


@dataclass
class Entry:
    """One piece's move: ``mode`` lower|slide, key times ``t0`` < ``t1``, 4x4 start and
    end poses, and ``swept`` (M, 2): the floor area it covers before and while moving."""

    mode: str
    t0: float
    t1: float
    start: np.ndarray
    end: np.ndarray
    swept: np.ndarray

    @property
    def motion(self) -> Motion:
        return Motion(times=np.array([self.t0, self.t1]), poses=np.stack([self.start, self.end]))


def _slide(
    rng: np.random.Generator,
    room: Room,
    rect: np.ndarray,
    placement: Placement,
    others: list[np.ndarray],
    moved_before: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray] | None:
    """A start offset and swept hull for a slide, or None when no direction is free."""
    front = front_of(placement.yaw)
    side = np.array([front[1], -front[0]])
    first = -front if placement.rule == "facing" else front
    rest = [-first, side, -side]
    dirs = [first] + [rest[j] for j in rng.permutation(3)]
    for dist in SLIDE_DISTANCES:
        for d in dirs:
            start = rect + d * dist
            hull = convex_hull(np.vstack([start, rect]))
            if not convex_inside(hull, room.polygon):
                continue
            if any(convex_overlap(hull, o) for o in others):
                continue
            if any(convex_overlap(start, m) for m in moved_before):
                continue
            return d * dist, hull
    return None


def plan_entries(
    rng: np.random.Generator,
    room: Room,
    pieces: list[Piece],
    placements: list[Placement],
    mode: str,
    duration: float,
    tops: list[float],
) -> list[Entry]:
    """Entries for ``placements`` in order. ``mode``: lower|slide|random (per piece);
    ``tops[k]``: highest point of placed piece k including objects riding on it."""
    m = len(placements)
    if m == 0:
        return []
    slot = PLACE_FRACTION * duration / m
    rects = [footprint(pieces[p.index], p) for p in placements]
    entries: list[Entry] = []
    for k, p in enumerate(placements):
        move = min(rng.uniform(0.5, 1.0), 0.9 * slot)
        t0 = k * slot + rng.uniform(0.0, slot - move)
        want = str(rng.choice(["lower", "slide"])) if mode == "random" else mode
        hover = rng.uniform(1.1, 1.3)
        if room.ceiling:
            hover = min(hover, room.height - tops[k] - 0.05)
        end = p.pose
        slide = None
        if want == "slide" or hover < 0.25:
            others = rects[:k] + rects[k + 1 :]
            moved = [e.swept for e in entries if e.mode == "slide"]
            slide = _slide(rng, room, rects[k], p, others, moved)
        if slide is not None:
            offset, swept = slide
            start = pose(p.x + offset[0], p.y + offset[1], 0.0, p.yaw)
            entries.append(Entry("slide", t0, t0 + move, start, end, swept))
        else:
            start = pose(p.x, p.y, max(hover, 0.0), p.yaw)
            entries.append(Entry("lower", t0, t0 + move, start, end, rects[k]))
    return entries


def hover_top(entry: Entry, top: float) -> float:
    """Highest point the piece (with its riders) reaches during the clip."""
    return float(entry.start[2, 3] + top)
