"""Sky radiance: the analytic daylight model of Preetham, Shirley and Smits (1999) for a
sun above the horizon, the scene's colour gradient otherwise.

The model gives the sky's luminance and chromaticity in any direction from the sun's
zenith angle and the atmosphere's turbidity (Perez et al.'s five-parameter luminance
distribution, with the paper's fits of its parameters and of the zenith values). Its
absolute scale is set so that the zenith has the luminance of the scene's ``Sky.zenith``
colour, so the families keep control of how bright their skies are.
"""

from __future__ import annotations

import numpy as np

from simfactory.sim.model.spec import Sky

# Perez parameters (A..E) as (slope, offset) in turbidity, for Y, x and y
_PEREZ_Y = np.array(
    [[0.1787, -1.4630], [-0.3554, 0.4275], [-0.0227, 5.3251], [0.1206, -2.5771], [-0.0670, 0.3703]]
)
_PEREZ_X = np.array(
    [
        [-0.0193, -0.2592],
        [-0.0665, 0.0008],
        [-0.0004, 0.2125],
        [-0.0641, -0.8989],
        [-0.0033, 0.0452],
    ]
)
_PEREZ_YC = np.array(
    [
        [-0.0167, -0.2608],
        [-0.0950, 0.0092],
        [-0.0079, 0.2102],
        [-0.0441, -1.6537],
        [-0.0109, 0.0529],
    ]
)
# zenith chromaticity: [T^2, T, 1] @ M @ [theta^3, theta^2, theta, 1]
_ZENITH_X = np.array(
    [
        [0.00166, -0.00375, 0.00209, 0.0],
        [-0.02903, 0.06377, -0.03202, 0.00394],
        [0.11693, -0.21196, 0.06052, 0.25886],
    ]
)
_ZENITH_Y = np.array(
    [
        [0.00275, -0.00610, 0.00317, 0.0],
        [-0.04214, 0.08970, -0.04153, 0.00516],
        [0.15346, -0.26756, 0.06670, 0.26688],
    ]
)
_XYZ_TO_RGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)
_LUMA = np.array([0.2126, 0.7152, 0.0722])


def _perez(theta, gamma, coeffs):
    A, B, C, D, E = coeffs
    cos_t = np.maximum(np.cos(theta), 0.01)
    return (1 + A * np.exp(B / cos_t)) * (1 + C * np.exp(D * gamma) + E * np.cos(gamma) ** 2)


def preetham_xyY(directions: np.ndarray, to_sun: np.ndarray, turbidity: float) -> np.ndarray:
    """(N, 3) chromaticity x, y and relative luminance Y of the sky in unit
    ``directions`` (N, 3), Z up, for the unit vector ``to_sun``; below the horizon the
    horizon's values."""
    T = float(turbidity)
    d = np.asarray(directions, float).copy()
    d[:, 2] = np.maximum(d[:, 2], 0.0)
    d /= np.linalg.norm(d, axis=1, keepdims=True).clip(1e-9)
    s = np.asarray(to_sun, float) / np.linalg.norm(to_sun)
    theta_s = float(np.arccos(np.clip(s[2], 0.0, 1.0)))
    theta = np.arccos(np.clip(d[:, 2], -1.0, 1.0))
    gamma = np.arccos(np.clip(d @ s, -1.0, 1.0))
    chi = (4.0 / 9.0 - T / 120.0) * (np.pi - 2 * theta_s)
    Yz = (4.0453 * T - 4.9710) * np.tan(chi) - 0.2155 * T + 2.4192
    tv = np.array([theta_s**3, theta_s**2, theta_s, 1.0])
    Tv = np.array([T * T, T, 1.0])
    out = np.empty((len(d), 3))
    for k, (coeffs, zenith) in enumerate(
        ((_PEREZ_X, Tv @ _ZENITH_X @ tv), (_PEREZ_YC, Tv @ _ZENITH_Y @ tv), (_PEREZ_Y, Yz))
    ):
        c = coeffs[:, 0] * T + coeffs[:, 1]
        out[:, k] = zenith * _perez(theta, gamma, c) / _perez(0.0, theta_s, c)
    return out


def xyY_to_rgb(xyY: np.ndarray) -> np.ndarray:
    """Linear sRGB (Rec. 709 primaries) of CIE xyY values (N, 3)."""
    x, y, Y = xyY[:, 0], np.maximum(xyY[:, 1], 1e-6), xyY[:, 2]
    XYZ = np.stack([x * Y / y, Y, (1 - x - y) * Y / y], axis=1)
    return np.maximum(XYZ @ _XYZ_TO_RGB.T, 0.0)


def gradient(directions: np.ndarray, sky: Sky) -> np.ndarray:
    """The scene's own sky: zenith to horizon above, horizon to ground below."""
    z = np.asarray(directions, float)[:, 2:3]
    up = np.asarray(sky.horizon) + (np.asarray(sky.zenith) - sky.horizon) * np.abs(z) ** 0.6
    down = np.asarray(sky.horizon) + (np.asarray(sky.ground) - sky.horizon) * np.abs(z) ** 0.4
    return np.where(z >= 0, up, down)


def sky_radiance(
    directions: np.ndarray,
    sky: Sky,
    to_sun: np.ndarray | None,
    turbidity: float = 3.0,
    model: str = "preetham",
) -> np.ndarray:
    """Linear RGB radiance (N, 3) of the sky seen along unit ``directions`` (N, 3).

    With ``model`` "preetham" and a sun above the horizon (``to_sun`` points at it),
    the upper hemisphere follows the physical model, scaled so the zenith has the
    luminance of ``sky.zenith``; the ground (below the horizon) and every other case
    use the scene's gradient."""
    base = gradient(directions, sky)
    if model != "preetham" or to_sun is None or to_sun[2] <= 0.02:
        return base
    d = np.asarray(directions, float)
    xyY = preetham_xyY(d, to_sun, turbidity)
    zenith = preetham_xyY(np.array([[0.0, 0.0, 1.0]]), to_sun, turbidity)
    rgb = xyY_to_rgb(xyY) * (float(np.dot(sky.zenith, _LUMA)) / max(zenith[0, 2], 1e-9))
    return np.where(d[:, 2:3] >= 0, rgb, base)  # the ground keeps the scene's colour
