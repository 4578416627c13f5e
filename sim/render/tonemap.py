"""Linear HDR radiance to 8-bit sRGB: exposure (fixed or automatic), the ACES filmic
curve (Narkowicz 2015 fit) and the sRGB transfer function."""

from __future__ import annotations

import numpy as np


def tonemap(linear_rgb: np.ndarray, exposure: float, auto: bool) -> np.ndarray:
    """(..., 3) linear radiance -> (..., 3) uint8 sRGB.

    The scale is ``exposure * 0.18 / exp(mean(log(1e-4 + Y)))`` clamped to [0.05, 20]
    when ``auto`` (Y the Rec. 709 luminance), else ``exposure``.
    """
    rgb = np.asarray(linear_rgb, dtype=np.float32)
    if auto:
        Y = 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]
        a = exposure * 0.18 / np.exp(np.mean(np.log(1e-4 + Y)))
        a = float(np.clip(a, 0.05, 20.0))
    else:
        a = float(exposure)
    x = a * rgb
    f = np.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)
    srgb = np.where(f <= 0.0031308, 12.92 * f, 1.055 * np.power(f, 1.0 / 2.4) - 0.055)
    return np.rint(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)
