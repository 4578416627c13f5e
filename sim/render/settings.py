"""The raster's effect settings (the ``render.*`` config keys), their checks and the
record of them written into each clip's annotations."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from simfactory.sim.render.tonemap import AUTO_EXPOSURE_MAX, MIN_EXPOSURE_SCALE


@dataclass(frozen=True)
class RenderSettings:
    """Every effect of the raster, each switchable on its own. Labels never depend on
    these: they change the colour image only."""

    exposure: float = 1.0  # multiplies scene radiance before the tone curve
    auto_exposure: bool = True  # scale the frame's log-average luminance to middle grey
    auto_exposure_max: float = AUTO_EXPOSURE_MAX  # at most by this (darker scenes stay dark)
    ibl: bool = True  # image-based light from the sky and a light probe of the scene
    sky_model: str = "preetham"  # preetham (physical, needs a sun) | gradient
    turbidity: float = 3.0  # haze of the physical sky, 2 (clear) to 10 (hazy)
    probe_grid: int = 5  # indoor irradiance probes per axis of the view (x 2 heights), 1: one
    ao: bool = True  # screen-space ambient occlusion of the indirect light
    ao_radius: float = 0.4  # metres
    ao_strength: float = 0.3  # 0: none, 1: full occlusion
    shadow_softness: float = 1.5  # PCF radius of the sun's shadows in shadow-map texels
    point_shadows: int = 2  # point lights (the strongest) with cube shadow maps, 0 to 2
    specular: bool = True  # GGX highlights of every light (off: diffuse point lights)
    detail: bool = True  # procedural normal and roughness detail from the material
    anisotropy: int = 1  # anisotropic texture filtering (samples along the slant), 1: off
    fxaa: bool = True  # anti-aliasing of the colour image
    motion_blur: float = 0.0  # fraction of the frame interval the shutter is open
    noise: float = 0.0  # sensor noise, standard deviation in linear units at mid grey
    vignette: float = 0.0  # darkening of the corners, 0 to 1
    white_balance_k: float = 6500.0  # colour temperature the camera is balanced for
    bloom: float = 0.0  # strength of the glow around bright pixels

    @classmethod
    def from_config(cls, render: dict | None) -> RenderSettings:
        """The settings of a config's ``render`` group (missing keys: defaults)."""
        render = render or {}
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in render.items() if k in names})

    @classmethod
    def off(cls, exposure: float = 1.0) -> RenderSettings:
        """Every effect off: direct light, hemisphere ambient, hard shadows, no AA."""
        return cls(
            exposure=exposure, auto_exposure=False, ibl=False, ao=False, shadow_softness=0.0,
            point_shadows=0, specular=False, detail=False, fxaa=False, anisotropy=1,
        )  # fmt: skip

    def record(self) -> dict:
        """The effective settings, as written into annotations.json."""
        return asdict(self)


# key: (kind, low, high); kind "bool", "int" or "float" (closed range) or a tuple of choices
RANGES: dict[str, tuple] = {
    "exposure": ("float", 1e-3, 1e3),
    "auto_exposure": ("bool",),
    "auto_exposure_max": ("float", MIN_EXPOSURE_SCALE, 1000.0),
    "ibl": ("bool",),
    "sky_model": (("preetham", "gradient"),),
    "turbidity": ("float", 1.7, 10.0),
    "probe_grid": ("int", 1, 6),
    "ao": ("bool",),
    "ao_radius": ("float", 0.01, 5.0),
    "ao_strength": ("float", 0.0, 1.0),
    "shadow_softness": ("float", 0.0, 8.0),
    "point_shadows": ("int", 0, 2),
    "specular": ("bool",),
    "detail": ("bool",),
    "anisotropy": ("int", 1, 16),
    "fxaa": ("bool",),
    "motion_blur": ("float", 0.0, 1.0),
    "noise": ("float", 0.0, 1.0),
    "vignette": ("float", 0.0, 1.0),
    "white_balance_k": ("float", 1500.0, 15000.0),
    "bloom": ("float", 0.0, 1.0),
}


def check_render(render: dict | None) -> list[str]:
    """Messages naming each ``render.*`` effect key whose value cannot work."""
    errors = []
    for key, value in (render or {}).items():
        if key not in RANGES:
            continue
        spec = RANGES[key]
        name = f"render.{key}"
        if spec[0] == "bool":
            if not isinstance(value, bool):
                errors.append(f"{name}: must be true or false (got {value!r})")
        elif spec[0] == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok or not spec[1] <= value <= spec[2]:
                errors.append(
                    f"{name}: must be an integer in [{spec[1]}, {spec[2]}] (got {value!r})"
                )
        elif spec[0] == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or not spec[1] <= value <= spec[2]:
                errors.append(f"{name}: must be a number in [{spec[1]}, {spec[2]}] (got {value!r})")
        elif value not in spec[0]:
            errors.append(f"{name}: must be one of {', '.join(spec[0])} (got {value!r})")
    return errors
