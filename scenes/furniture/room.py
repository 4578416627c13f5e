"""Procedural rooms: rectangular or L-shaped floor plans with walls, doors and windows.

Walls are composed of boxes around their openings (beside a door, below and above a
window), so no mesh booleans are needed. The floor polygon is the interior face of
the walls, counter-clockwise, so each wall's inward normal is its left-hand normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from simfactory.scenes.furniture.shapes import box
from simfactory.sim.model.spec import Body, Material, Visual


@dataclass
class Opening:
    """A door or window on a wall: ``start``/``end`` are distances along the wall from
    its start point, ``bottom``/``top`` heights above the floor (m)."""

    kind: str
    start: float
    end: float
    bottom: float
    top: float


@dataclass
class WallSegment:
    """Interior face of one wall, from ``start`` to ``end`` (2,), with the inward
    unit ``normal`` (2,) and its openings."""

    start: np.ndarray
    end: np.ndarray
    normal: np.ndarray
    openings: list[Opening] = field(default_factory=list)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end - self.start))

    @property
    def direction(self) -> np.ndarray:
        return (self.end - self.start) / self.length


@dataclass
class Room:
    """A built room: static bodies, interior floor polygon (K, 2), walls, windows
    as (centre (3,), inward normal (3,)) pairs, wall height, and ``rects``: the largest
    axis-aligned rectangles [xmin, ymin, xmax, ymax] that fit inside the floor."""

    bodies: list[Body]
    polygon: np.ndarray
    walls: list[WallSegment]
    windows: list[tuple[np.ndarray, np.ndarray]]
    height: float
    shape: str = "rect"
    ceiling: bool = False
    thickness: float = 0.1
    rects: list[np.ndarray] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def floor_plan(
    rng: np.random.Generator, shape: str, size_range: tuple[float, float]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Counter-clockwise interior polygon centred on its bounding box, and the largest
    inner rectangles. "L" cuts a notch of 35-55% of each side from a random corner."""
    w, d = rng.uniform(*size_range, 2)
    if shape == "rect":
        poly = np.array([[-w, -d], [w, -d], [w, d], [-w, d]]) / 2
        return poly, [np.array([-w / 2, -d / 2, w / 2, d / 2])]
    if shape != "L":
        raise ValueError(f"room shape must be 'rect' or 'L', got {shape!r}")
    cw, cd = w * rng.uniform(0.35, 0.55), d * rng.uniform(0.35, 0.55)
    x0, y0, x1, y1 = -w / 2, -d / 2, w / 2, d / 2
    poly = np.array(
        [[x0, y0], [x1, y0], [x1, y1 - cd], [x1 - cw, y1 - cd], [x1 - cw, y1], [x0, y1]]
    )
    rects = [np.array([x0, y0, x1, y1 - cd]), np.array([x0, y0, x1 - cw, y1])]
    turns = int(rng.integers(0, 4))
    rot = np.linalg.matrix_power(np.array([[0.0, -1.0], [1.0, 0.0]]), turns)
    poly = poly @ rot.T
    turned = []
    for r in rects:
        c = np.array([[r[0], r[1]], [r[2], r[3]]]) @ rot.T
        turned.append(np.concatenate([c.min(axis=0), c.max(axis=0)]))
    return poly, turned


def walls_of(poly: np.ndarray) -> list[WallSegment]:
    """One wall per polygon edge, normals pointing into the room."""
    walls = []
    for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        t = (b - a) / np.linalg.norm(b - a)
        walls.append(WallSegment(a.copy(), b.copy(), np.array([-t[1], t[0]])))
    return walls


def add_openings(rng: np.random.Generator, walls: list[WallSegment], height: float) -> None:
    """Place one or two doors and one to three windows on walls long enough for them,
    at least 0.3 m from wall ends and from each other."""
    lengths = np.array([w.length for w in walls])
    perimeter = lengths.sum()
    n_doors = 1 + int(perimeter > 18 and rng.random() < 0.3)
    n_windows = int(rng.integers(1, 3)) + int(perimeter > 20 and rng.random() < 0.5)
    for kind in ["door"] * n_doors + ["window"] * n_windows:
        for _ in range(50):
            wall = walls[int(rng.choice(len(walls), p=lengths / perimeter))]
            if kind == "door":
                width = rng.uniform(0.8, 0.95)
                bottom, top = 0.0, min(rng.uniform(2.0, 2.1), height - 0.2)
            else:
                width = rng.uniform(0.8, 1.6)
                bottom = rng.uniform(0.8, 1.0)
                top = min(bottom + rng.uniform(1.0, 1.4), height - 0.2)
            if wall.length < width + 0.6:
                continue
            s0 = rng.uniform(0.3, wall.length - 0.3 - width)
            s1 = s0 + width
            if any(s0 < o.end + 0.3 and o.start - 0.3 < s1 for o in wall.openings):
                continue
            wall.openings.append(Opening(kind, float(s0), float(s1), float(bottom), float(top)))
            wall.openings.sort(key=lambda o: o.start)
            break


def _frame(wall: WallSegment) -> np.ndarray:
    """4x4 transform from wall coordinates (u along the wall, w inward, z up) to world."""
    t, n = wall.direction, wall.normal
    out = np.eye(4)
    out[:2, 0], out[:2, 1], out[:2, 3] = t, n, wall.start
    return out


def _wall_box(wall: WallSegment, u0, u1, w0, w1, z0, z1) -> trimesh.Trimesh:
    mesh = box((u0, w0, z0), (u1, w1, z1))
    return mesh.apply_transform(_frame(wall))


def _is_convex(poly: np.ndarray, i: int) -> bool:
    a, b, c = poly[i - 1], poly[i], poly[(i + 1) % len(poly)]
    e0, e1 = b - a, c - b
    return e0[0] * e1[1] - e0[1] * e1[0] > 0


def wall_meshes(
    poly: np.ndarray, walls: list[WallSegment], height: float, thick: float
) -> list[list[trimesh.Trimesh]]:
    """Boxes of each wall: solid stretches between openings, and the pieces below and
    above each opening. A wall runs past its end at a convex corner and starts after the
    neighbour's thickness at a reflex corner, so corners close without overlap."""
    out = []
    k = len(poly)
    for i, wall in enumerate(walls):
        u_start = thick if not _is_convex(poly, i) else 0.0
        u_end = wall.length + (thick if _is_convex(poly, (i + 1) % k) else 0.0)
        meshes, u = [], u_start
        for o in wall.openings:
            meshes.append(_wall_box(wall, u, o.start, -thick, 0, 0, height))
            if o.bottom > 0:
                meshes.append(_wall_box(wall, o.start, o.end, -thick, 0, 0, o.bottom))
            if o.top < height:
                meshes.append(_wall_box(wall, o.start, o.end, -thick, 0, o.top, height))
            u = o.end
        meshes.append(_wall_box(wall, u, u_end, -thick, 0, 0, height))
        out.append(meshes)
    return out


def door_meshes(wall: WallSegment, o: Opening, thick: float) -> tuple[list, list]:
    """A closed door leaf in the opening and a handle on the room side."""
    mid = -thick / 2
    leaf = _wall_box(wall, o.start + 0.005, o.end - 0.005, mid - 0.02, mid + 0.02, 0, o.top - 0.005)
    u = o.end - 0.09
    handle = _wall_box(wall, u - 0.06, u + 0.04, mid + 0.02, mid + 0.07, 0.98, 1.01)
    return [leaf], [handle]


def window_meshes(
    rng: np.random.Generator, wall: WallSegment, o: Opening, thick: float
) -> list[trimesh.Trimesh]:
    """Window frame bars inside the opening (left in the open for light) and a sill."""
    fw = 0.05
    bars = [
        _wall_box(wall, o.start, o.start + fw, -thick, 0, o.bottom, o.top),
        _wall_box(wall, o.end - fw, o.end, -thick, 0, o.bottom, o.top),
        _wall_box(wall, o.start, o.end, -thick, 0, o.bottom, o.bottom + fw),
        _wall_box(wall, o.start, o.end, -thick, 0, o.top - fw, o.top),
    ]
    if o.end - o.start > 1.0 or rng.random() < 0.5:
        mid = (o.start + o.end) / 2
        bars.append(_wall_box(wall, mid - fw / 2, mid + fw / 2, -thick, 0, o.bottom, o.top))
    bars.append(
        _wall_box(wall, o.start - 0.05, o.end + 0.05, -0.02, 0.05, o.bottom - 0.03, o.bottom)
    )
    return bars


def offset_polygon(poly: np.ndarray, dist: float) -> np.ndarray:
    """Move every edge of an axis-aligned CCW polygon outward by ``dist``."""

    def left(e):
        return np.stack([-e[:, 1], e[:, 0]], axis=1) / np.linalg.norm(e, axis=1, keepdims=True)

    arriving = poly - np.roll(poly, 1, axis=0)
    leaving = np.roll(poly, -1, axis=0) - poly
    return poly - dist * (left(arriving) + left(leaving))


def slab_rects(poly: np.ndarray) -> list[np.ndarray]:
    """Disjoint rectangles covering an axis-aligned polygon, one per horizontal slab."""
    ys = np.unique(poly[:, 1])
    nxt = np.roll(poly, -1, 0)
    rects = []
    for y0, y1 in zip(ys[:-1], ys[1:], strict=True):
        ym = (y0 + y1) / 2
        xs = sorted(
            a[0] + (ym - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            for a, b in zip(poly, nxt, strict=True)
            if (a[1] > ym) != (b[1] > ym)
        )
        rects += [np.array([xa, y0, xb, y1]) for xa, xb in zip(xs[::2], xs[1::2], strict=True)]
    return rects


def slab_meshes(poly: np.ndarray, z0: float, z1: float) -> list[trimesh.Trimesh]:
    return [box((r[0], r[1], z0), (r[2], r[3], z1)) for r in slab_rects(poly)]


def make_room(
    rng: np.random.Generator,
    shape: str,
    ceiling: bool,
    materials: dict[str, Material],
    size_range: tuple[float, float] = (3.5, 7.0),
    height_range: tuple[float, float] = (2.4, 2.8),
    thickness: float = 0.1,
) -> Room:
    """Build a "rect" or "L" room. ``materials`` keys: floor, wall, ceiling, door, frame."""
    height = float(rng.uniform(*height_range))
    poly, rects = floor_plan(rng, shape, size_range)
    walls = walls_of(poly)
    add_openings(rng, walls, height)
    outer = offset_polygon(poly, thickness)
    bodies = [
        Body(
            name="floor",
            semantic_class="floor",
            visuals=[Visual(m, materials["floor"]) for m in slab_meshes(outer, -0.05, 0.0)],
            collision="exact",
        )
    ]
    for i, meshes in enumerate(wall_meshes(poly, walls, height, thickness)):
        visuals = [Visual(m, materials["wall"]) for m in meshes]
        bodies.append(Body(name=f"wall_{i}", semantic_class="wall", visuals=visuals))
    if ceiling:
        visuals = [
            Visual(m, materials["ceiling"]) for m in slab_meshes(outer, height, height + 0.05)
        ]
        bodies.append(Body(name="ceiling", semantic_class="ceiling", visuals=visuals))
    windows = []
    n_doors = n_windows = 0
    for wall in walls:
        for o in wall.openings:
            if o.kind == "door":
                leaf, handle = door_meshes(wall, o, thickness)
                visuals = [Visual(m, materials["door"]) for m in leaf]
                visuals += [Visual(m, materials.get("handle", materials["frame"])) for m in handle]
                bodies.append(Body(name=f"door_{n_doors}", semantic_class="door", visuals=visuals))
                n_doors += 1
            else:
                visuals = [
                    Visual(m, materials["frame"]) for m in window_meshes(rng, wall, o, thickness)
                ]
                bodies.append(
                    Body(name=f"window_{n_windows}", semantic_class="window", visuals=visuals)
                )
                n_windows += 1
                mid = wall.start + wall.direction * (o.start + o.end) / 2
                centre = np.array([mid[0], mid[1], (o.bottom + o.top) / 2])
                windows.append((centre, np.array([wall.normal[0], wall.normal[1], 0.0])))
    params = dict(
        shape=shape,
        height=height,
        thickness=thickness,
        ceiling=bool(ceiling),
        polygon=poly.tolist(),
        size=(poly.max(axis=0) - poly.min(axis=0)).tolist(),
        openings=[
            dict(wall=i, kind=o.kind, start=o.start, end=o.end, bottom=o.bottom, top=o.top)
            for i, w in enumerate(walls)
            for o in w.openings
        ],
    )
    return Room(
        bodies, poly, walls, windows, height, shape, bool(ceiling), thickness, rects, params
    )
