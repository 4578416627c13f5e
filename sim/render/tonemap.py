"""The tone pipeline from linear radiance to sRGB bytes, shared by every backend.

x = a * L, with a = exposure, or with auto exposure
a = exposure * 0.18 / exp(mean(log(1e-4 + Y))) clamped to [0.05, max_scale] (Y: Rec. 709
luminance over all pixels; max_scale ``render.auto_exposure_max``, a camera's longest
exposure and highest gain: a scene darker than that, a street at night, stays dark);
then the ACES fit of Narkowicz (2015), the sRGB transfer curve and rounding to bytes. The
raster's final pass (``shaders.TONEMAP``) uses the same constants.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])
MIDDLE_GREY = 0.18
LOG_EPS = 1e-4
MIN_EXPOSURE_SCALE = 0.05  # auto exposure's least scale
AUTO_EXPOSURE_MAX = 3.0  # its largest by default: above the 0.3-2.2 rooms and daylit streets need


def luminance(linear_rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB (..., 3)."""
    return np.asarray(linear_rgb, np.float64) @ LUMA


def exposure_scale(
    mean_log_luminance: float, exposure: float, auto: bool, max_scale: float = AUTO_EXPOSURE_MAX
) -> float:
    """The factor a that multiplies radiance before the tone curve."""
    if not auto:
        return float(exposure)
    a = exposure * MIDDLE_GREY / float(np.exp(mean_log_luminance))
    return float(np.clip(a, MIN_EXPOSURE_SCALE, max(max_scale, MIN_EXPOSURE_SCALE)))


def aces(x: np.ndarray) -> np.ndarray:
    """Narkowicz's fit of the ACES filmic curve, clamped to [0, 1]."""
    return np.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)


def srgb_oetf(v: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve of linear values in [0, 1]."""
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)


def tonemap(
    linear_rgb: np.ndarray, exposure: float, auto: bool, max_scale: float = AUTO_EXPOSURE_MAX
) -> np.ndarray:
    """sRGB uint8 image (H, W, 3) of linear HDR radiance ``linear_rgb`` (H, W, 3);
    ``max_scale``: auto exposure's largest scale."""
    rgb = np.maximum(np.asarray(linear_rgb, np.float64), 0.0)
    mean_log = float(np.mean(np.log(LOG_EPS + luminance(rgb))))
    a = exposure_scale(mean_log, exposure, auto, max_scale)
    out = srgb_oetf(aces(a * rgb))
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
