"""Room lighting: a sun shining in through a window, ceiling point lights, and sky."""

from __future__ import annotations

import numpy as np

from simfactory.scenes.furniture.geom2d import boundary_distance, points_in_polygon
from simfactory.scenes.furniture.room import Room
from simfactory.sim.model.spec import Light, Sky


def kelvin_rgb(kelvin: float) -> tuple[float, float, float]:
    """Approximate colour of a black body at ``kelvin`` (Tanner Helland's fit), scaled so
    the largest channel is 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    if t <= 66:
        g = 99.4708025861 * np.log(t) - 161.1195681661
    else:
        g = 288.1221695283 * (t - 60) ** -0.0755148492
    if t >= 66:
        b = 255.0
    elif t <= 19:
        b = 0.0
    else:
        b = 138.5177312231 * np.log(t - 10) - 305.0447927307
    rgb = np.clip([r, g, b], 0, 255)
    return tuple(float(v) for v in rgb / rgb.max())


def sun(rng: np.random.Generator, room: Room) -> Light:
    """Directional light entering through a random window, tilted down 30-60 degrees."""
    if room.windows:
        _, normal = room.windows[int(rng.integers(len(room.windows)))]
        heading = np.arctan2(normal[1], normal[0]) + np.radians(rng.uniform(-25, 25))
    else:
        heading = rng.uniform(0, 2 * np.pi)
    elevation = np.radians(rng.uniform(30, 60))
    direction = np.array(
        [
            np.cos(elevation) * np.cos(heading),
            np.cos(elevation) * np.sin(heading),
            -np.sin(elevation),
        ]
    )
    color = (1.0, float(rng.uniform(0.88, 0.96)), float(rng.uniform(0.72, 0.88)))
    return Light(
        kind="directional",
        color=color,
        intensity=float(rng.uniform(2.0, 4.0)),
        direction=tuple(float(v) for v in direction),
        cast_shadows=True,
    )


def ceiling_lights(rng: np.random.Generator, room: Room) -> list[Light]:
    """1-3 point lights just under the ceiling height, spread over the floor plan."""
    n = int(rng.integers(1, 4))
    lo, hi = room.polygon.min(axis=0), room.polygon.max(axis=0)
    spots: list[np.ndarray] = []
    for _ in range(100):
        if len(spots) == n:
            break
        xy = rng.uniform(lo, hi)
        if (
            not points_in_polygon(xy, room.polygon)[0]
            or boundary_distance(xy, room.polygon)[0] < 0.5
        ):
            continue
        if any(np.linalg.norm(xy - q) < 1.2 for q in spots):
            continue
        spots.append(xy)
    lights = []
    for xy in spots:
        z = room.height - rng.uniform(0.15, 0.3)
        lights.append(
            Light(
                kind="point",
                color=kelvin_rgb(rng.uniform(2700, 6000)),
                intensity=float(rng.uniform(1.0, 3.0)),
                position=(float(xy[0]), float(xy[1]), float(z)),
            )
        )
    return lights


def make_lighting(rng: np.random.Generator, room: Room) -> tuple[list[Light], Sky]:
    """Sun, ceiling lights and a sky with ambient 0.2-0.5."""
    lights = [sun(rng, room), *ceiling_lights(rng, room)]
    jitter = rng.uniform(-0.05, 0.05, 3)
    sky = Sky(
        zenith=tuple(float(v) for v in np.clip(np.array([0.30, 0.50, 0.85]) + jitter, 0, 1)),
        horizon=tuple(float(v) for v in np.clip(np.array([0.75, 0.82, 0.90]) + jitter, 0, 1)),
        ambient=float(rng.uniform(0.2, 0.5)),
    )
    return lights, sky
