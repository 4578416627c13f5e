"""Third-person cameras of the hoi family that suit a person: a view across the table, a
view from a room corner that frames where the person walks, an orbit that stays inside
the room, and a hand-held camera (any view with a smooth, low-frequency shake)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from simfactory.sim.model.spec import CameraPath

MARGIN = 0.35  # m kept between a camera and the walls
KEY_HZ = 10.0  # keys per second of a hand-held camera's path
SHAKE_M = 0.025  # m: a hand-held camera's position wanders about this much ...
SHAKE_DEG = 1.2  # ... and its aim about this many degrees
SHAKE_HZ = (0.15, 0.9)  # the shake's frequencies: slow sway to hand tremor


def inside(room_rect: np.ndarray, point, margin: float = MARGIN) -> bool:
    """Whether a point lies in the room rectangle, ``margin`` from its walls."""
    p = np.asarray(point, float)[:2]
    return bool(np.all(p >= room_rect[:2] + margin) and np.all(p <= room_rect[2:] - margin))


def table_view(
    rng: np.random.Generator,
    room_rect: np.ndarray,
    target: np.ndarray,
    heading: float,
    side: float | None = None,
) -> np.ndarray:
    """An eye 1.5-1.9 m high, 1.8-2.5 m from ``target``, in front of and to the side of
    a person facing ``heading`` (so the camera sees its face and hands), on its left
    (``side`` 1), its right (-1) or either (None), inside the room; the nearest such eye
    to the person's side when none fits."""
    best, best_gap = None, -np.inf
    for _ in range(40):
        sign = rng.choice([-1.0, 1.0])
        angle = heading + (sign if side is None else side) * rng.uniform(0.5, 1.5)
        r = rng.uniform(1.8, 2.5)
        eye = np.array([*(target[:2] + r * np.array([np.cos(angle), np.sin(angle)])), 0.0])
        eye[2] = rng.uniform(1.5, 1.9)
        gap = min(np.min(eye[:2] - room_rect[:2]), np.min(room_rect[2:] - eye[:2]))
        if gap >= MARGIN:
            return eye
        if gap > best_gap:
            best, best_gap = eye, gap
    best[:2] = np.clip(best[:2], room_rect[:2] + MARGIN, room_rect[2:] - MARGIN)
    return best


def room_view(rng: np.random.Generator, room_rect: np.ndarray, points: np.ndarray) -> np.ndarray:
    """An eye 1.9-2.2 m high near one of the room's corners: of the corners from which
    the ground ``points`` (N, 2) spread over less than 70 degrees and that are at least
    1.6 m from each of them, a random one; else the one farthest from the nearest."""
    corners = [
        np.array([x, y])
        for x in (room_rect[0] + MARGIN, room_rect[2] - MARGIN)
        for y in (room_rect[1] + MARGIN, room_rect[3] - MARGIN)
    ]
    centre = points.mean(axis=0)
    spreads, nearest = [], []
    for c in corners:
        aim = np.arctan2(*(centre - c)[::-1])
        angles = np.arctan2(points[:, 1] - c[1], points[:, 0] - c[0]) - aim
        spreads.append(np.ptp((angles + np.pi) % (2 * np.pi) - np.pi))
        nearest.append(np.linalg.norm(points - c, axis=1).min())
    spreads, nearest = np.array(spreads), np.array(nearest)
    fitting = np.flatnonzero((spreads < np.radians(70.0)) & (nearest > 1.6))
    k = int(rng.choice(fitting)) if len(fitting) else int(np.argmax(nearest))
    return np.array([*corners[k], rng.uniform(1.9, 2.2)])


def orbit_radius(room_rect: np.ndarray, centre: np.ndarray, wanted: float) -> float:
    """The orbit radius nearest ``wanted`` that keeps a circle about ``centre`` inside the
    room (at least 0.8 m)."""
    room = min(np.min(centre[:2] - room_rect[:2]), np.min(room_rect[2:] - centre[:2]))
    return float(max(0.8, min(wanted, room - MARGIN)))


def _shake(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """Smooth random offsets (T, 3): per axis three sinusoids of random frequency in
    ``SHAKE_HZ`` and random phase, scaled to about ``amplitude`` (rms)."""
    out = np.zeros((len(t), 3))
    for axis in range(3):
        freq = rng.uniform(*SHAKE_HZ, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        weight = rng.uniform(0.5, 1.0, 3) / np.sqrt(freq)  # slower sway is wider
        wave = (weight[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])).sum(0)
        out[:, axis] = wave / np.sqrt((weight**2).sum() / 2)
    return amplitude * out


def handheld_path(
    rng: np.random.Generator,
    eye: np.ndarray,
    target: np.ndarray,
    duration: float,
    follow: tuple[np.ndarray, np.ndarray] | None = None,
) -> CameraPath:
    """A hand-held camera near ``eye`` looking near ``target``, its position and aim
    shaking smoothly (``SHAKE_M``, ``SHAKE_DEG``). With ``follow`` (times (T,), ground
    points (T, 2)) the aim also pans halfway towards the followed point (a camera
    operator keeping a walking person in frame), smoothed over half a second."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    n = max(4, int(np.ceil(duration * KEY_HZ)) + 1)
    t = np.linspace(0.0, max(duration, 1e-3), n)
    aim = np.tile(target, (n, 1))
    if follow is not None:
        times, xy = follow
        ground = np.stack([np.interp(t, times, xy[:, k]) for k in range(2)], axis=1)
        pan = 0.5 * (ground - target[:2])
        aim[:, :2] += gaussian_filter1d(pan, 0.5 * KEY_HZ, axis=0, mode="nearest")
    distance = float(np.linalg.norm(target - eye))
    points = eye + _shake(rng, t, SHAKE_M)
    aims = aim + _shake(rng, t, distance * np.tan(np.radians(SHAKE_DEG)))
    return CameraPath(
        kind="keyed",
        points=[tuple(map(float, p)) for p in points],
        targets=[tuple(map(float, p)) for p in aims],
        times=[float(v) for v in t],
    )
