"""Procedural low-poly vehicles: sedans, SUVs, vans, box trucks and buses.

Body frame: origin on the ground under the centre of the footprint, x forward, y left,
z up. Every model is assembled from extruded side profiles (x-z polygons pushed along
y) and boxes, then re-centred, so its mesh bounds are exactly the vehicle's 3D box:
``[-length/2, length/2] x [-width/2, width/2] x [0, height]`` with the tyres touching
z = 0. Visuals are grouped by material (one draw each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from shapely.geometry import Polygon

from simfactory.scenes.furniture.shapes import box
from simfactory.scenes.furniture.textures import srgb_to_linear
from simfactory.sim.model.spec import Material, Visual

KINDS = ("sedan", "suv", "van", "truck", "bus")
VEHICLE_CLASS = {"sedan": "car", "suv": "car", "van": "car", "truck": "truck", "bus": "bus"}

# kind: (length, width, height, wheel radius) ranges in metres
DIMENSIONS = {
    "sedan": ((4.2, 4.9), (1.75, 1.9), (1.4, 1.5), (0.30, 0.33)),
    "suv": ((4.4, 5.0), (1.8, 1.98), (1.65, 1.85), (0.35, 0.39)),
    "van": ((4.8, 5.6), (1.85, 2.0), (1.9, 2.3), (0.32, 0.35)),
    "truck": ((7.0, 10.0), (2.4, 2.55), (3.0, 3.6), (0.45, 0.5)),
    "bus": ((10.5, 12.5), (2.5, 2.55), (3.0, 3.3), (0.47, 0.5)),
}

# Car shapes as fractions of length (l) or height (h): rocker height z0 (m), belt line,
# hood, boot, windscreen and rear-window runs, front and rear overhangs, tumblehome (m).
CAR_SHAPES = {
    "sedan": dict(z0=0.24, belt_h=0.6, hood_l=0.27, boot_l=0.17, ws_l=0.16, rw_l=0.12,
                  front_l=0.2, rear_l=0.22, tumble=0.1),
    "suv": dict(z0=0.33, belt_h=0.58, hood_l=0.24, boot_l=0.035, ws_l=0.14, rw_l=0.05,
                front_l=0.19, rear_l=0.2, tumble=0.08),
    "van": dict(z0=0.3, belt_h=0.5, hood_l=0.14, boot_l=0.03, ws_l=0.14, rw_l=0.015,
                front_l=0.18, rear_l=0.2, tumble=0.06),
}  # fmt: skip

# Paint palette: sRGB colour and weight (many white, black, grey and silver cars).
PAINTS = (
    ((0.92, 0.92, 0.92), 22),
    ((0.03, 0.03, 0.035), 18),
    ((0.35, 0.36, 0.38), 14),
    ((0.7, 0.71, 0.73), 16),
    ((0.08, 0.14, 0.35), 7),
    ((0.6, 0.05, 0.05), 7),
    ((0.15, 0.3, 0.6), 4),
    ((0.1, 0.25, 0.15), 3),
    ((0.7, 0.62, 0.48), 3),
    ((0.3, 0.18, 0.1), 2),
    ((0.85, 0.7, 0.1), 2),
    ((0.85, 0.35, 0.05), 2),
)

HEADLIGHT_GLOW = (9.0, 8.2, 6.5)
TAILLIGHT_GLOW = (4.0, 0.04, 0.02)


@dataclass
class VehicleModel:
    """A vehicle's visuals in its body frame, with its box size and paint colour.

    ``headlights`` (2, 3): body-frame centres of the headlights' front faces, where a
    scene can attach spot lights at night.
    """

    kind: str
    semantic_class: str
    visuals: list[Visual]
    length: float
    width: float
    height: float
    wheelbase: float
    color: tuple
    headlights: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


def side_extrusion(profile, y0: float, y1: float) -> trimesh.Trimesh:
    """Prism of the x-z polygon ``profile`` (N, 2) between y = y0 and y = y1."""
    mesh = trimesh.creation.extrude_polygon(Polygon(profile), y1 - y0)
    to_side = np.array([[1, 0, 0, 0], [0, 0, -1, y1], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    return mesh.apply_transform(to_side)


def span_box(xs, ys, zs) -> trimesh.Trimesh:
    """Box spanning the intervals ``xs``, ``ys`` and ``zs``, each given in either order."""
    spans = np.array([xs, ys, zs], dtype=float)
    return box(spans.min(axis=1), spans.max(axis=1))


def bar(a, b, thickness: float) -> trimesh.Trimesh:
    """Square beam of side ``thickness`` from point ``a`` to point ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    mesh = trimesh.creation.box(extents=(np.linalg.norm(d), thickness, thickness))
    T = trimesh.geometry.align_vectors([1.0, 0.0, 0.0], d / np.linalg.norm(d))
    T[:3, 3] = (a + b) / 2
    return mesh.apply_transform(T)


def wheel(x: float, y: float, radius: float, width: float) -> list[tuple[str, trimesh.Trimesh]]:
    """Tyre and rim centred at (x, y, radius), axle along y; the tyre touches z = 0."""
    parts = []
    for key, r, w in (("tyre", radius, width), ("rim", radius * 0.62, width + 0.01)):
        mesh = trimesh.creation.cylinder(radius=r, height=w, sections=16)
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
        parts.append((key, mesh.apply_translation([x, y, radius])))
    return parts


def arched_bottom(x0: float, x1: float, z0: float, arches) -> list[tuple[float, float]]:
    """Bottom edge of a side profile from x0 to x1 at height z0, notched by wheel arches
    ``arches`` = [(x centre, z centre, radius)] (in increasing x)."""
    pts = [(x0, z0)]
    for xc, zc, ra in arches:
        alpha = np.arcsin(np.clip((zc - z0) / ra, -1, 1))
        for phi in np.linspace(np.pi + alpha, -alpha, 9):
            pts.append((xc + ra * np.cos(phi), zc + ra * np.sin(phi)))
    pts.append((x1, z0))
    return pts


def greenhouse(x_rear, x_front, ws_run, rw_run, z_base, z_top, width, roof_t=0.05):
    """Glass cabin with a painted roof slab and A/B/C pillars, between ``x_rear`` and
    ``x_front`` at the belt line ``z_base``; the roof top is exactly at ``z_top``."""
    zg = z_top - roof_t
    glass = [(x_rear, z_base), (x_front, z_base), (x_front - ws_run, zg), (x_rear + rw_run, zg)]
    xa, xc = x_front - ws_run, x_rear + rw_run
    roof = [(xc - 0.03, zg - 0.01), (xa + 0.03, zg - 0.01), (xa, z_top), (xc, z_top)]
    parts = [
        ("glass", side_extrusion(glass, -width / 2, width / 2)),
        ("paint", side_extrusion(roof, -width / 2 - 0.01, width / 2 + 0.01)),
    ]
    y = width / 2 - 0.02
    xb = (xa + xc) / 2 + 0.1 * (x_front - x_rear) / 2
    for s in (-1, 1):
        parts.append(("paint", bar((x_front, s * y, z_base), (xa, s * y, zg), 0.07)))
        parts.append(("paint", bar((x_rear, s * y, z_base), (xc, s * y, zg), 0.07)))
        parts.append(
            ("paint", box((xb - 0.05, s * y - 0.035, z_base), (xb + 0.05, s * y + 0.035, zg)))
        )
    return parts


def car_parts(rng: np.random.Generator, kind: str, L, W, H, r):
    """Sedan, SUV or van: arched lower body, greenhouse, wheels, bumpers, lights."""
    p = {k: v * (1 + rng.uniform(-0.05, 0.05)) for k, v in CAR_SHAPES[kind].items()}
    xf, xr = L / 2, -L / 2
    z0, belt = p["z0"], p["belt_h"] * H
    nose = belt - (0.15 if kind == "sedan" else 0.08)
    tail = belt - 0.03
    x_front_axle, x_rear_axle = xf - p["front_l"] * L, xr + p["rear_l"] * L
    x_ws, x_rw = xf - p["hood_l"] * L, xr + max(p["boot_l"] * L, 0.16)
    bf, br = xf - 0.03, xr + 0.03  # front and rear faces of the body shell
    arches = [(x_rear_axle, r, r + 0.05), (x_front_axle, r, r + 0.05)]
    shell = arched_bottom(br + 0.06, bf - 0.06, z0, arches) + [
        (bf, z0 + 0.15), (bf, nose - 0.1), (bf - 0.12, nose), (x_ws, belt),
        (x_rw, belt), (br + 0.1, tail), (br, tail - 0.1), (br, z0 + 0.15),
    ]  # fmt: skip
    parts = [("paint", side_extrusion(shell, -W / 2, W / 2))]
    ws_run, rw_run = p["ws_l"] * L, p["rw_l"] * L
    gw = W - 2 * p["tumble"]
    parts += greenhouse(x_rw, x_ws, ws_run, rw_run, belt - 0.02, H, gw)
    if kind == "van" and rng.random() < 0.5:  # panel van: no rear side windows
        for s in (-1, 1):
            y = (s * (gw / 2 - 0.01), s * (gw / 2 + 0.015))
            parts.append(
                ("paint", span_box((x_rw, x_ws - ws_run - 1.1), y, (belt - 0.02, H - 0.05)))
            )
    # Bumpers, number plates and lamps at both ends; lamps stand 1.5 cm proud of the shell.
    for sign, face, top, lamp, (inner, outer) in (
        (1, bf, nose, "headlight", (W / 2 - 0.42, W / 2 - 0.07)),
        (-1, br, tail, "taillight", (W / 2 - 0.35, W / 2 - 0.05)),
    ):
        end = sign * L / 2
        parts.append(
            (
                "trim",
                span_box(
                    (end - sign * 0.2, end - sign * 0.01),
                    (-W / 2 + 0.02, W / 2 - 0.02),
                    (z0 - 0.04, z0 + 0.28),
                ),
            )
        )
        parts.append(
            ("plate", span_box((end - sign * 0.05, end), (-0.26, 0.26), (z0 + 0.08, z0 + 0.19)))
        )
        for s in (-1, 1):
            xs = (face - sign * 0.08, face + sign * 0.015)
            parts.append((lamp, span_box(xs, (s * inner, s * outer), (top - 0.2, top - 0.06))))
    grille_y = W / 2 - 0.46
    parts.append(
        ("trim", span_box((bf - 0.05, bf + 0.01), (-grille_y, grille_y), (nose - 0.2, nose - 0.08)))
    )
    tw = 0.2 if kind == "sedan" else 0.23
    yw = W / 2 - tw / 2 - 0.03
    for x in (x_rear_axle, x_front_axle):
        for s in (-1, 1):
            parts += wheel(x, s * yw, r, tw)
    heads = np.array([[xf - 0.015, s * (W / 2 - 0.25), nose - 0.13] for s in (1, -1)])
    return parts, x_front_axle - x_rear_axle, heads


def truck_parts(rng: np.random.Generator, L, W, H, r):
    """Cab-over box truck: cab with windscreen, chassis, cargo box, 2 or 3 axles."""
    xf, xr = L / 2, -L / 2
    cab_l = rng.uniform(1.9, 2.3)
    cab_h = rng.uniform(2.6, min(3.0, H - 0.1))
    cab_w = W - 0.08
    x_cab = xf - cab_l
    x_front_axle = xf - 1.25
    rear_axles = [xr + 1.6] + ([xr + 2.95] if L > 8.5 else [])
    z0, belt = 0.55, 1.55
    bf = xf - 0.03
    shell = arched_bottom(x_cab, bf, z0, [(x_front_axle, r, r + 0.06)]) + [
        (bf, belt),
        (x_cab, belt),
    ]
    parts = [("paint", side_extrusion(shell, -cab_w / 2, cab_w / 2))]
    x_glass = xf - 1.05
    parts += greenhouse(x_glass, bf, 0.15, 0.0, belt - 0.02, cab_h, cab_w - 0.04, roof_t=0.12)
    parts.append(
        ("paint", box((x_cab, -cab_w / 2, belt - 0.02), (x_glass + 0.02, cab_w / 2, cab_h)))
    )
    parts.append(
        ("trim", box((bf - 0.02, -(cab_w / 2 - 0.3), 0.9), (bf + 0.01, cab_w / 2 - 0.3, 1.4)))
    )
    parts.append(("trim", box((xf - 0.15, -W / 2 + 0.05, 0.45), (xf - 0.003, W / 2 - 0.05, 0.78))))
    parts.append(("trim", box((xr + 0.3, -0.45, 0.55), (x_cab + 0.3, 0.45, 1.0))))
    parts.append(
        ("trim", box((x_cab - 1.3, -W / 2 + 0.25, 0.5), (x_cab - 0.2, -W / 2 + 0.75, 0.95)))
    )
    parts.append(("cargo", box((xr + 0.01, -W / 2, 1.1), (x_cab - 0.15, W / 2, H))))
    parts.append(("trim", box((xr, -0.02, 1.15), (xr + 0.02, 0.02, H - 0.05))))
    parts.append(("trim", box((xr + 0.05, -W / 2 + 0.1, 0.45), (xr + 0.15, W / 2 - 0.1, 0.6))))
    for s in (-1, 1):
        parts.append(
            (
                "headlight",
                span_box((xf - 0.05, xf), (s * (W / 2 - 0.45), s * (W / 2 - 0.1)), (0.55, 0.7)),
            )
        )
        parts.append(
            (
                "taillight",
                span_box(
                    (xr + 0.02, xr + 0.15), (s * (W / 2 - 0.4), s * (W / 2 - 0.1)), (0.62, 0.76)
                ),
            )
        )
    for x, tw in [(x_front_axle, 0.3)] + [(x, 0.45) for x in rear_axles]:
        for s in (-1, 1):
            parts += wheel(x, s * (W / 2 - tw / 2 - 0.05), r, tw)
    heads = np.array([[xf, s * (W / 2 - 0.27), 0.625] for s in (1, -1)])
    return parts, x_front_axle - np.mean(rear_axles), heads


def bus_parts(rng: np.random.Generator, L, W, H, r):
    """City bus: long box shell, glazed window band, windscreen, doors, destination sign."""
    xf, xr = L / 2, -L / 2
    x_front_axle, x_rear_axle = xf - rng.uniform(0.215, 0.235) * L, xr + rng.uniform(0.26, 0.28) * L
    z0 = 0.3
    bf, br = xf - 0.02, xr + 0.02
    arches = [(x_rear_axle, r, r + 0.07), (x_front_axle, r, r + 0.07)]
    shell = arched_bottom(br, bf, z0, arches) + [
        (bf, H - 0.2),
        (bf - 0.2, H),
        (br + 0.15, H),
        (br, H - 0.15),
    ]
    yw = W / 2 - 0.012
    parts = [("paint", side_extrusion(shell, -yw, yw))]
    band = (1.15, H - 0.4)
    for s in (-1, 1):  # window band with mullions; the driver's window reaches lower
        pane = (s * (W / 2 - 0.03), s * (W / 2 - 0.005))
        parts.append(("glass", span_box((xr + 0.5, xf - 0.15), pane, band)))
        parts.append(("glass", span_box((xf - 1.2, xf - 0.15), pane, (0.95, band[0]))))
        for x in np.arange(xr + 0.5, xf - 1.2, 1.45)[1:]:
            parts.append(
                ("trim", span_box((x - 0.04, x + 0.04), (s * (W / 2 - 0.02), s * W / 2), band))
            )
    y0, y1 = -W / 2, -W / 2 + 0.03
    for x_door in (xf - 1.25, x_front_axle - 2.6):
        parts.append(("glass", box((x_door - 1.1, y0, 0.35), (x_door, y1, band[1]))))
        parts.append(("trim", box((x_door - 0.57, y0, 0.35), (x_door - 0.53, y1 + 0.005, band[1]))))
    parts.append(("glass", box((xf - 0.03, -W / 2 + 0.1, 0.9), (xf, W / 2 - 0.1, H - 0.32))))
    parts.append(("display", box((xf - 0.03, -W / 2 + 0.2, H - 0.29), (xf, W / 2 - 0.2, H - 0.08))))
    parts.append(("glass", box((xr, -W / 2 + 0.2, H - 1.2), (xr + 0.03, W / 2 - 0.2, H - 0.3))))
    for end in (xf, xr):
        bumper = (end - np.sign(end) * 0.1, end - np.sign(end) * 0.003)
        parts.append(("trim", span_box(bumper, (-W / 2 + 0.03, W / 2 - 0.03), (0.2, 0.42))))
    for s in (-1, 1):
        parts.append(
            (
                "headlight",
                span_box((xf - 0.05, xf), (s * (W / 2 - 0.45), s * (W / 2 - 0.1)), (0.45, 0.62)),
            )
        )
        parts.append(
            (
                "taillight",
                span_box((xr, xr + 0.05), (s * (W / 2 - 0.2), s * (W / 2 - 0.05)), (0.6, 1.1)),
            )
        )
    for x in (x_rear_axle, x_front_axle):
        for s in (-1, 1):
            parts += wheel(x, s * (W / 2 - 0.2), r, 0.3)
    heads = np.array([[xf, s * (W / 2 - 0.27), 0.535] for s in (1, -1)])
    return parts, x_front_axle - x_rear_axle, heads


def paint_color(rng: np.random.Generator) -> np.ndarray:
    """A linear-RGB paint colour drawn from the weighted palette, slightly jittered."""
    weights = np.array([w for _, w in PAINTS], float)
    srgb = np.array(PAINTS[int(rng.choice(len(PAINTS), p=weights / weights.sum()))][0])
    return srgb_to_linear(np.clip(srgb * rng.uniform(0.93, 1.05), 0, 1))


def vehicle_materials(
    rng: np.random.Generator, kind: str, paint: np.ndarray, lights_on: bool, wet: float
) -> dict[str, Material]:
    """Materials of one vehicle; ``wet`` (0-1) lowers the roughness of outer surfaces."""
    dry = 1 - 0.6 * float(np.clip(wet, 0, 1))
    glossy = float(0.3 * dry)

    def mat(name, color, roughness, metallic=0.0, emissive=(0.0, 0.0, 0.0)):
        rgba = (*(float(c) for c in color), 1.0)
        return Material(name, rgba, float(roughness), float(metallic), emissive=emissive)

    cargo = srgb_to_linear([0.9, 0.9, 0.9]) if rng.random() < 0.7 else paint_color(rng)
    return {
        "paint": mat(f"{kind}_paint", paint, glossy, rng.uniform(0.5, 0.9)),
        "glass": mat(f"{kind}_glass", (0.015, 0.018, 0.022), 0.05 * dry + 0.02),
        "tyre": mat(f"{kind}_tyre", (0.02, 0.02, 0.02), 0.9 * dry),
        "rim": mat(f"{kind}_rim", (0.55, 0.56, 0.58), 0.35, 1.0),
        "trim": mat(f"{kind}_trim", (0.025, 0.025, 0.028), 0.6 * dry),
        "plate": mat(f"{kind}_plate", (0.8, 0.8, 0.75), 0.4),
        "cargo": mat(f"{kind}_cargo", cargo, 0.5 * dry, 0.2),
        "headlight": mat(
            f"{kind}_headlight",
            (0.8, 0.8, 0.8),
            0.1,
            0.0,
            HEADLIGHT_GLOW if lights_on else (0, 0, 0),
        ),
        "taillight": mat(
            f"{kind}_taillight",
            (0.45, 0.015, 0.015),
            0.2,
            0.0,
            TAILLIGHT_GLOW if lights_on else (0, 0, 0),
        ),  # fmt: skip
        "display": mat(
            f"{kind}_display",
            (0.02, 0.02, 0.02),
            0.2,
            0.0,
            (2.0, 0.35, 0.0) if lights_on else (0, 0, 0),
        ),
    }


def make_vehicle(
    rng: np.random.Generator, kind: str, lights_on: bool = False, wet: float = 0.0
) -> VehicleModel:
    """A random vehicle of ``kind`` (see ``KINDS``) in its body frame.

    ``lights_on`` makes the headlights glow warm white and the tail lights red (night);
    otherwise they are plain plastic. Size, proportions and paint are drawn from ``rng``.
    """
    if kind not in DIMENSIONS:
        raise ValueError(f"unknown vehicle kind {kind!r}; expected one of {KINDS}")
    L, W, H, r = (float(rng.uniform(*span)) for span in DIMENSIONS[kind])
    if kind == "truck":
        parts, wheelbase, heads = truck_parts(rng, L, W, H, r)
    elif kind == "bus":
        parts, wheelbase, heads = bus_parts(rng, L, W, H, r)
    else:
        parts, wheelbase, heads = car_parts(rng, kind, L, W, H, r)
    paint = paint_color(rng)
    materials = vehicle_materials(rng, kind, paint, lights_on, wet)
    grouped: dict[str, list[trimesh.Trimesh]] = {}
    for key, mesh in parts:
        grouped.setdefault(key, []).append(mesh)
    meshes = {key: trimesh.util.concatenate(ms) for key, ms in grouped.items()}
    lo = np.min([m.bounds[0] for m in meshes.values()], axis=0)
    hi = np.max([m.bounds[1] for m in meshes.values()], axis=0)
    shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    visuals = []
    for key, mesh in meshes.items():
        mesh.apply_translation(shift)
        visuals.append(Visual(mesh, materials[key]))
    length, width, height = (float(v) for v in hi - lo)
    return VehicleModel(
        kind=kind,
        semantic_class=VEHICLE_CLASS[kind],
        visuals=visuals,
        length=length,
        width=width,
        height=height,
        wheelbase=float(wheelbase),
        color=tuple(float(c) for c in paint),
        headlights=heads + shift,
    )
