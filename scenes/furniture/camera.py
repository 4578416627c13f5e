"""Camera paths that stay inside the room and out of the furniture.

An obstacle is a convex floor area with the highest point anything reaches above it
during the clip (a piece hovering before it is lowered, or sliding in); the eye keeps
0.3 m from obstacles that reach its height and from the walls.
"""

from __future__ import annotations

import numpy as np

from simfactory.scenes.furniture.geom2d import boundary_distance, convex_distance, points_in_polygon
from simfactory.scenes.furniture.room import Room
from simfactory.sim.model.spec import CameraPath, CameraSpec

MARGIN = 0.3
EYE_HEIGHT = (1.4, 1.7)

Obstacle = tuple[np.ndarray, float]


def eye_ok(points: np.ndarray, room: Room, obstacles: list[Obstacle]) -> bool:
    """True when every eye point (N, 3) is inside the room, off the walls, below the
    ceiling and clear of obstacles that reach its height."""
    pts = np.atleast_2d(points)
    xy = pts[:, :2]
    if not points_in_polygon(xy, room.polygon).all():
        return False
    if (boundary_distance(xy, room.polygon) < MARGIN).any() or (
        pts[:, 2] > room.height - 0.2
    ).any():
        return False
    for area, top in obstacles:
        near = convex_distance(xy, area) < MARGIN
        if (near & (pts[:, 2] < top + MARGIN)).any():
            return False
    return True


def centre_rect(room: Room) -> np.ndarray:
    """The inner rectangle with the largest short side, [xmin, ymin, xmax, ymax]."""
    return max(room.rects, key=lambda r: min(r[2] - r[0], r[3] - r[1]))


def _segment(a: np.ndarray, b: np.ndarray, step: float = 0.1) -> np.ndarray:
    n = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
    return a + np.linspace(0, 1, n)[:, None] * (b - a)


def _free_eye(rng: np.random.Generator, room: Room, obstacles: list[Obstacle], tries: int = 60):
    lo, hi = room.polygon.min(axis=0), room.polygon.max(axis=0)
    for _ in range(tries):
        p = np.array([*rng.uniform(lo, hi), rng.uniform(*EYE_HEIGHT)])
        if eye_ok(p, room, obstacles):
            return p
    return None


def walkthrough(
    rng: np.random.Generator, room: Room, obstacles: list[Obstacle], targets: list[np.ndarray]
) -> CameraPath | None:
    """3-4 eye points joined by clear straight segments, each looking at a piece (or the
    room centre) at least 1 m away. None when no such path is found."""
    n = int(rng.integers(3, 5))
    for _ in range(10):
        first = _free_eye(rng, room, obstacles)
        if first is None:
            continue
        points = [first]
        for _ in range(60):
            if len(points) == n:
                break
            p = _free_eye(rng, room, obstacles, tries=10)
            if p is None or np.linalg.norm(p[:2] - points[-1][:2]) < 1.0:
                continue
            if eye_ok(_segment(points[-1], p), room, obstacles):
                points.append(p)
        if len(points) == n:
            break
    else:
        return None
    looks = []
    for p in points:
        far = [t for t in targets if np.linalg.norm(t[:2] - p[:2]) >= 1.0]
        looks.append(far[int(rng.integers(len(far)))] if far else _room_target(room, 0.8))
    return CameraPath(
        kind="waypoints",
        points=[tuple(float(v) for v in p) for p in points],
        targets=[tuple(float(v) for v in t) for t in looks],
    )


def _room_target(room: Room, z: float) -> np.ndarray:
    r = centre_rect(room)
    return np.array([(r[0] + r[2]) / 2, (r[1] + r[3]) / 2, z])


def orbit(rng: np.random.Generator, room: Room, obstacles: list[Obstacle]) -> CameraPath | None:
    """An arc around the centre of the largest inner rectangle, radius below its
    half-size minus 0.3 m. None when every sampled arc is blocked."""
    r = centre_rect(room)
    centre = np.array([(r[0] + r[2]) / 2, (r[1] + r[3]) / 2])
    r_max = min(r[2] - r[0], r[3] - r[1]) / 2 - MARGIN - 0.01
    if r_max < 0.6:
        return None
    for _ in range(60):
        radius = rng.uniform(0.6, r_max)
        height = rng.uniform(*EYE_HEIGHT)
        start = rng.uniform(0, 2 * np.pi)
        sweep = rng.uniform(0.6, 1.6) * rng.choice([-1.0, 1.0])
        a = start + np.linspace(0, sweep, 24)
        eyes = np.stack([centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)], 1)
        eyes = np.hstack([eyes, np.full((24, 1), height)])
        if eye_ok(eyes, room, obstacles):
            return CameraPath(
                kind="orbit",
                target=(float(centre[0]), float(centre[1]), float(rng.uniform(0.5, 0.9))),
                radius=float(radius),
                height=float(height),
                start_angle=float(start),
                sweep=float(sweep),
            )
    return None


def corner_view(rng: np.random.Generator, room: Room, obstacles: list[Obstacle]) -> CameraPath:
    """A static eye near a convex corner (or any free spot) looking at the room centre."""
    poly, k = room.polygon, len(room.polygon)
    target = _room_target(room, rng.uniform(0.5, 0.9))
    top = min(2.1, room.height - 0.25)
    for v in rng.permutation(k):
        e0, e1 = poly[v] - poly[v - 1], poly[(v + 1) % k] - poly[v]
        if e0[0] * e1[1] - e0[1] * e1[0] <= 0:
            continue
        n0 = np.array([-e0[1], e0[0]]) / np.linalg.norm(e0)
        n1 = np.array([-e1[1], e1[0]]) / np.linalg.norm(e1)
        bisector = (n0 + n1) / np.linalg.norm(n0 + n1)
        for inset in (0.6, 0.9, 1.2):
            eye = np.array([*(poly[v] + bisector * inset), rng.uniform(1.6, top)])
            if eye_ok(eye, room, obstacles):
                return CameraPath(
                    kind="static", eye=tuple(map(float, eye)), target=tuple(map(float, target))
                )
    eye = _free_eye(rng, room, obstacles)
    if eye is None:
        eye = np.array([target[0], target[1], room.height - 0.3])
        target = target + np.array([1.0, 0.0, -0.5])
    return CameraPath(kind="static", eye=tuple(map(float, eye)), target=tuple(map(float, target)))


def follow(
    rng: np.random.Generator,
    room: Room,
    obstacles: list[Obstacle],
    movers: list[tuple[str, np.ndarray, np.ndarray]],
) -> CameraPath | None:
    """Follow one of the pieces moving into place: ``movers`` holds (body name, start and
    end position). The eye keeps a fixed offset towards the room centre, above the piece,
    chosen so that it stays in the room over the whole move."""
    centre = centre_rect(room)
    centre = np.array([(centre[0] + centre[2]) / 2, (centre[1] + centre[3]) / 2])
    for k in rng.permutation(len(movers)):
        name, start, end = movers[k]
        away = centre - end[:2]
        away = away / max(np.linalg.norm(away), 1e-9)
        for distance in (1.8, 1.5, 1.2):
            offset = np.array([*(away * distance), rng.uniform(0.9, 1.2)])
            if eye_ok(_segment(start + offset, end + offset), room, obstacles):
                return CameraPath(
                    kind="follow",
                    body=name,
                    offset=tuple(map(float, offset)),
                    target=(0.0, 0.0, 0.4),
                )
    return None


def make_camera(
    rng: np.random.Generator,
    room: Room,
    obstacles: list[Obstacle],
    targets: list[np.ndarray],
    kind: str,
    width: int,
    height: int,
    fov_deg: float,
    movers: list[tuple[str, np.ndarray, np.ndarray]] = (),
) -> CameraSpec:
    """Camera "cam0" on a ``kind`` path (walkthrough|orbit|static|follow); falls back to
    a static corner view when the requested path cannot be fitted."""
    path = None
    if kind == "walkthrough":
        path = walkthrough(rng, room, obstacles, targets)
    elif kind == "orbit":
        path = orbit(rng, room, obstacles)
    elif kind == "follow":
        path = follow(rng, room, obstacles, list(movers))
    elif kind != "static":
        raise ValueError(f"camera must be walkthrough, orbit, static or follow, got {kind!r}")
    if path is None:
        path = corner_view(rng, room, obstacles)
    return CameraSpec(
        name="cam0", width=int(width), height=int(height), fov_y_deg=float(fov_deg), path=path
    )
