"""Objects a robot can grasp (blocks, cans, fruit), cloths it can fold (napkins,
towels) and plain colour names for captions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from simfactory.sim.model.spec import Cloth, Material, Visual
from simfactory.sim.simulate.cloth import grid, outline_mesh

# Named colours (linear RGB) for objects and for the words of captions.
COLOURS = {
    "red": (0.60, 0.04, 0.04),
    "green": (0.06, 0.40, 0.08),
    "blue": (0.04, 0.10, 0.55),
    "yellow": (0.80, 0.60, 0.04),
    "orange": (0.85, 0.25, 0.02),
    "purple": (0.25, 0.05, 0.40),
    "white": (0.80, 0.80, 0.78),
    "black": (0.03, 0.03, 0.03),
    "grey": (0.25, 0.25, 0.25),
    "brown": (0.20, 0.09, 0.03),
}
GRASPABLE = ("block", "can", "fruit")
# Square cloths: side range (m). A towel is a thick (heavy) one.
CLOTHS = {"napkin": (0.3, 0.34), "towel": (0.34, 0.38)}
CLOTH_DENSITY = {"napkin": 0.5, "towel": 0.7}  # kg/m^2
CLOTH_SPACING = 0.025  # m between the grid's vertices
# Garments: a T-shirt laid flat (one sheet in its outline), body width and length ranges (m).
GARMENTS = {"tshirt": ((0.32, 0.36), (0.40, 0.46))}
CLOTH_KINDS = (*CLOTHS, *GARMENTS)
TSHIRT_DENSITY = 0.9  # kg/m^2 of the outline (front and back of a light T-shirt)


@dataclass
class Graspable:
    """An object small enough for a parallel gripper, origin at its bottom centre."""

    kind: str  # block | can | fruit
    semantic_class: str
    visuals: list[Visual]
    size: tuple[float, float, float]  # x, y, z extents (m)
    mass: float
    colour: str
    collision: str


def colour_name(rgb) -> str:
    """The nearest named colour to a linear RGB colour."""
    rgb = np.asarray(rgb[:3], dtype=float)
    return min(COLOURS, key=lambda name: np.linalg.norm(np.asarray(COLOURS[name]) - rgb))


def make_graspable(
    rng: np.random.Generator, kind: str, colour: str | None = None, scale: float = 1.0
) -> Graspable:
    """A block (cube-ish box), a can (cylinder) or a fruit (slightly squashed sphere),
    3.5-6 cm across so the Panda's 8 cm gripper closes on it; ``scale`` times that (a
    box or tin a person's hand pushes)."""
    colour = colour or str(rng.choice(list(COLOURS)))
    material = Material(
        f"{kind}_{colour}", (*COLOURS[colour], 1.0), roughness=float(rng.uniform(0.3, 0.7))
    )
    if kind == "block":
        side = float(rng.uniform(0.04, 0.055))
        height = side * float(rng.uniform(0.9, 1.3))
        mesh = trimesh.creation.box((side, side, height))
        size, cls, collision = (side, side, height), "box", "box"
    elif kind == "can":
        radius, height = float(rng.uniform(0.02, 0.028)), float(rng.uniform(0.07, 0.11))
        mesh = trimesh.creation.cylinder(radius=radius, height=height, sections=24)
        size, cls, collision = (2 * radius, 2 * radius, height), "bottle", "cylinder"
    elif kind == "fruit":
        radius = float(rng.uniform(0.022, 0.03))
        mesh = trimesh.creation.icosphere(2, radius=radius)
        mesh.apply_scale((1.0, 1.0, 0.92))
        size, cls, collision = (2 * radius, 2 * radius, 1.84 * radius), "fruit", "convex"
    else:
        raise ValueError(f"unknown graspable kind {kind!r}; known: {', '.join(GRASPABLE)}")
    mesh.apply_scale(scale)
    size = tuple(scale * v for v in size)
    mesh.apply_translation((0.0, 0.0, -mesh.bounds[0][2]))
    density = {"block": 500.0, "can": 700.0, "fruit": 900.0}[kind]
    mass = float(max(0.02, density * np.prod(size) * (0.6 if kind != "block" else 1.0)))
    return Graspable(kind, cls, [Visual(mesh, material)], size, mass, colour, collision)


def make_cloth(
    rng: np.random.Generator, kind: str, name: str, material: Material, T_world_cloth: np.ndarray
) -> Cloth:
    """A square napkin or towel of a random size lying flat at ``T_world_cloth`` (its
    centre, z up), a grid of vertices ``CLOTH_SPACING`` apart; or a T-shirt laid flat
    (``tshirt_outline``: its collar towards the cloth frame's +y).

    Its mass-spring parameters (a stable set for pybullet at 480 Hz, see the README):
    stretch springs stiff enough that it barely stretches when held by a corner, soft
    bending so that a fold lies down, friction 1 (0.6 with the table's 0.6) so that the
    part left on the table stays put while the other part is folded over it.
    """
    if kind not in CLOTH_KINDS:
        raise ValueError(f"unknown cloth kind {kind!r}; known: {', '.join(CLOTH_KINDS)}")
    if kind in GARMENTS:
        width, length = (float(rng.uniform(*r)) for r in GARMENTS[kind])
        mesh = outline_mesh(tshirt_outline(width, length), CLOTH_SPACING)
        mass = TSHIRT_DENSITY * float(mesh.area)
    else:
        side = float(rng.uniform(*CLOTHS[kind]))
        mesh, mass = grid(side, side, CLOTH_SPACING), CLOTH_DENSITY[kind] * side * side
    return Cloth(
        name=name,
        semantic_class="cloth",
        mesh=mesh,
        material=material,
        pose=np.asarray(T_world_cloth, dtype=float),
        mass=mass,
        stretch_stiffness=100.0,
        bend_stiffness=0.1,
        damping=0.1,
        friction=1.0,
        collision_margin=0.002,
    )


def tshirt_outline(width: float, length: float) -> np.ndarray:
    """A T-shirt's flat outline (N, 2), counter-clockwise, centred at the origin, the
    collar towards +y: a body ``width`` by ``length`` m with short sleeves out of its
    shoulders (each 0.3 of the width long, 0.3 of the length deep, sloping down) and a
    scooped neckline."""
    w, h = width / 2, length / 2
    sleeve, deep = 0.3 * width, 0.3 * length
    neck, scoop = 0.16 * width, 0.06 * length
    shoulder = h - 0.03 * length  # the shoulder seam slopes down from the neck
    return np.array([
        (-w, -h), (w, -h),  # the hem
        (w, shoulder - deep), (w + sleeve, shoulder - deep + 0.25 * sleeve),  # right sleeve
        (w + sleeve, shoulder + 0.25 * sleeve - 0.02), (w, shoulder),
        (neck, h), (0.5 * neck, h - 0.7 * scoop), (0.0, h - scoop),  # the neckline
        (-0.5 * neck, h - 0.7 * scoop), (-neck, h),
        (-w, shoulder), (-w - sleeve, shoulder + 0.25 * sleeve - 0.02),  # left sleeve
        (-w - sleeve, shoulder - deep + 0.25 * sleeve), (-w, shoulder - deep),
    ])  # fmt: skip
