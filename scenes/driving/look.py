"""Time of day and weather: the sun (or moon), sky, ambient light, fog and road
wetness, all sampled from the "lighting" stream and recorded in the params."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simfactory.sim.model.spec import Fog, Light, Sky

WEATHERS = ("clear", "overcast", "fog", "rain")


@dataclass
class Look:
    sun: Light
    sky: Sky
    fog: Fog | None
    night: bool  # street lamps and vehicle lights on
    wet: float  # 0 dry .. 1 soaked road
    params: dict


def sun_angles(hour: float) -> tuple[float, float]:
    """Sun elevation and azimuth (degrees; azimuth from +x towards +y) for an hour of
    the day: rising in the east (+x) at 6, highest at 12, setting in the west at 18."""
    elevation = 62.0 * np.sin(np.pi * (hour - 6.0) / 12.0)
    azimuth = (hour - 6.0) * 15.0
    return float(elevation), float(azimuth)


def _mix(a, b, t: float) -> tuple[float, float, float]:
    return tuple(float(x) for x in (1 - t) * np.asarray(a) + t * np.asarray(b))


def make_look(rng: np.random.Generator, time_of_day, weather: str) -> Look:
    """``time_of_day``: an hour in [0, 24) or "random"; ``weather``: one of WEATHERS or
    "random"."""
    if time_of_day == "random":
        # Mostly daylight, some dawn/dusk and night.
        hour = float(
            rng.choice(
                [
                    rng.uniform(7.5, 17.0),
                    rng.uniform(5.5, 7.5),
                    rng.uniform(17.0, 19.5),
                    rng.uniform(20.0, 28.0) % 24,
                ]
            )
        )
    else:
        hour = float(time_of_day)
    if weather == "random":
        weather = str(rng.choice(WEATHERS, p=[0.5, 0.2, 0.15, 0.15]))
    elevation, azimuth = sun_angles(hour)
    azimuth += float(rng.uniform(-20.0, 20.0))  # roads are not aligned with the compass
    day = float(np.clip(elevation / 20.0, 0.0, 1.0))  # 0 below the horizon, 1 by 20 degrees up
    twilight = float(np.clip((elevation + 8.0) / 8.0, 0.0, 1.0)) * (1.0 - day)
    night = elevation < -2.0

    el, az = np.radians(max(elevation, 4.0)), np.radians(azimuth)
    toward_sun = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    cloud = {"clear": 0.0, "overcast": 0.85, "fog": 0.7, "rain": 0.95}[weather]
    warm = _mix((1.0, 0.55, 0.3), (1.0, 0.96, 0.9), day)
    sun_intensity = (3.2 * day + 0.9 * twilight) * (1.0 - 0.8 * cloud)
    if night:  # moonlight
        warm, sun_intensity = (0.55, 0.65, 1.0), 0.06
    sun = Light(
        kind="directional",
        color=warm,
        intensity=float(sun_intensity),
        direction=tuple(float(x) for x in -toward_sun),
        cast_shadows=cloud < 0.5,
    )

    day_zenith, day_horizon = (0.22, 0.42, 0.85), (0.70, 0.80, 0.92)
    dusk_zenith, dusk_horizon = (0.20, 0.25, 0.45), (0.95, 0.55, 0.30)
    night_zenith, night_horizon = (0.01, 0.015, 0.04), (0.04, 0.05, 0.09)
    zenith = _mix(_mix(night_zenith, dusk_zenith, twilight), day_zenith, day)
    horizon = _mix(_mix(night_horizon, dusk_horizon, twilight), day_horizon, day)
    grey = 0.72 * (0.15 + 0.85 * max(day, 0.3 * twilight)) if not night else 0.05
    zenith = _mix(zenith, (grey, grey, grey * 1.04), cloud)
    horizon = _mix(horizon, (grey * 1.05, grey * 1.05, grey * 1.08), cloud)
    ambient = (0.30 + 0.25 * cloud) * (day + 0.5 * twilight) + (0.06 if night else 0.02)
    sky = Sky(zenith=zenith, horizon=horizon, ground=(0.25, 0.24, 0.22), ambient=float(ambient))

    density = {
        "clear": float(rng.uniform(0.0, 0.002)),
        "overcast": float(rng.uniform(0.002, 0.006)),
        "fog": float(rng.uniform(0.02, 0.06)),
        "rain": float(rng.uniform(0.006, 0.015)),
    }[weather]
    fog = Fog(density=density, color=tuple(float(c) for c in np.asarray(horizon) * 0.9))
    wet = {"clear": 0.0, "overcast": float(rng.uniform(0.0, 0.3)), "fog": 0.3, "rain": 1.0}[weather]
    params = {
        "time_of_day_h": round(hour, 3),
        "sun_elevation_deg": round(elevation, 3),
        "sun_azimuth_deg": round(azimuth % 360.0, 3),
        "night": bool(night),
        "weather": weather,
        "fog_density_per_m": round(density, 5),
        "road_wetness": round(wet, 3),
        "sun_intensity": round(float(sun_intensity), 4),
        "ambient": round(float(ambient), 4),
    }
    return Look(
        sun=sun, sky=sky, fog=fog if density > 0 else None, night=night, wet=wet, params=params
    )
