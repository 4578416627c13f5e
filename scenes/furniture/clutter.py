"""Small household objects that are dropped onto furniture and the floor.

Each object is built in its local frame with the origin at the centre of its bottom
face, so placing it at a surface point with z = surface height rests it there.
Materials come from a dict with keys plastic, ceramic, paper, cardboard, foliage, metal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import trimesh

from simfactory.scenes.furniture.shapes import bounds_of, box, box_at, cylinder, revolve, sphere
from simfactory.sim.model.spec import Material, Visual

CLUTTER_KINDS = ("book", "box", "cup", "bowl", "bottle", "plant", "toy")


@dataclass
class Clutter:
    """One small object: parts in its local frame, mass (kg) and extents (x, y, z) m."""

    name_class: str
    visuals: list[Visual]
    mass: float
    extents: tuple[float, float, float]
    params: dict = field(default_factory=dict)


Part = tuple[trimesh.Trimesh, Material]


def _finish(name_class: str, parts: list[Part], mass: float, params: dict) -> Clutter:
    """Put the origin at the bottom centre of the bounds and package."""
    meshes = [m for m, _ in parts]
    lo, hi = bounds_of(meshes)
    shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    for m in meshes:
        m.apply_translation(shift)
    size = hi - lo
    return Clutter(
        name_class=name_class,
        visuals=[Visual(m, mat) for m, mat in parts],
        mass=float(mass),
        extents=(float(size[0]), float(size[1]), float(size[2])),
        params={k: (v if isinstance(v, bool | str | int) else float(v)) for k, v in params.items()},
    )


def make_book(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A closed book lying flat: two covers and a spine around a block of pages."""
    w, d, t = rng.uniform(0.12, 0.22), rng.uniform(0.17, 0.3), rng.uniform(0.015, 0.06)
    c = 0.003
    cover, pages = materials["plastic"], materials["paper"]
    parts: list[Part] = [
        (box((-w / 2, -d / 2, 0), (w / 2, d / 2, c)), cover),
        (box((-w / 2, -d / 2, t - c), (w / 2, d / 2, t)), cover),
        (box((-w / 2, -d / 2, c), (-w / 2 + c, d / 2, t - c)), cover),
        (box((-w / 2 + c, -d / 2 + 0.004, c), (w / 2 - 0.004, d / 2 - 0.004, t - c)), pages),
    ]
    mass = np.clip(w * d * t * rng.uniform(600, 800), 0.3, 1.0)
    return _finish("book", parts, mass, dict(width=w, depth=d, thickness=t))


def make_box(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A closed cardboard box, sometimes with a strip of tape across the top."""
    size = rng.uniform(0.08, 0.3, 3)
    size[2] = min(size[2], 0.25)
    parts: list[Part] = [(box_at(size, (0, 0, size[2] / 2)), materials["cardboard"])]
    tape = rng.random() < 0.5
    if tape:
        tape_size = (0.05, size[1] + 0.002, 0.002)
        parts.append((box_at(tape_size, (0, 0, size[2] + 0.001)), materials["plastic"]))
    mass = np.clip(np.prod(size) * rng.uniform(40, 150), 0.1, 1.5)
    return _finish("box", parts, mass, dict(sx=size[0], sy=size[1], sz=size[2], tape=tape))


def make_cup(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A mug: open hollow cylinder on a bottom disc, with a C-shaped handle on +x."""
    r, h = rng.uniform(0.035, 0.045), rng.uniform(0.08, 0.105)
    wall = rng.uniform(0.004, 0.006)
    mat = materials["ceramic"]
    shell = trimesh.creation.annulus(r - wall, r, h, sections=32)
    shell.apply_translation([0, 0, h / 2])
    reach, hw, bar = rng.uniform(0.022, 0.032), 0.01, 0.009
    z0, z1 = h * 0.2, h * 0.85
    parts: list[Part] = [
        (shell, mat),
        (cylinder(r - wall / 2, 0, 0.008, sections=32), mat),
        (box((r + reach - bar, -hw / 2, z0), (r + reach, hw / 2, z1)), mat),
        (box((r - wall / 2, -hw / 2, z0), (r + reach, hw / 2, z0 + bar)), mat),
        (box((r - wall / 2, -hw / 2, z1 - bar), (r + reach, hw / 2, z1)), mat),
    ]
    return _finish("cup", parts, rng.uniform(0.25, 0.35), dict(radius=r, height=h))


def make_bowl(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A bowl: thin-walled revolved profile with a flat foot."""
    big_r, h = rng.uniform(0.06, 0.11), rng.uniform(0.04, 0.08)
    foot = big_r * rng.uniform(0.4, 0.6)
    t = 0.005
    s = np.linspace(0, 1, 10) * np.pi / 2
    outer = np.stack([foot + (big_r - foot) * np.sin(s), h * (1 - np.cos(s))], axis=1)
    inner = np.stack([foot - t + (big_r - foot) * np.sin(s), t + (h - t) * (1 - np.cos(s))], 1)
    profile = np.vstack([[0, 0], outer, inner[::-1], [0, t]])
    parts: list[Part] = [(revolve(profile, sections=32), materials["ceramic"])]
    return _finish("bowl", parts, rng.uniform(0.2, 0.5), dict(radius=big_r, height=h))


def make_bottle(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A bottle: revolved body with shoulder and neck, and a cap."""
    r, h = rng.uniform(0.028, 0.045), rng.uniform(0.18, 0.3)
    neck = rng.uniform(0.011, 0.016)
    cap_h = rng.uniform(0.015, 0.025)
    z_sh, z_neck = h * rng.uniform(0.55, 0.7), h * rng.uniform(0.75, 0.85)
    s = np.linspace(0, 1, 8)
    shoulder = np.stack(
        [neck + (r - neck) * 0.5 * (1 + np.cos(np.pi * s)), z_sh + (z_neck - z_sh) * s], axis=1
    )
    profile = np.vstack([[0, 0], [r, 0], shoulder, [neck, h - cap_h], [0, h - cap_h]])
    cap_mat = materials["metal"] if rng.random() < 0.5 else materials["plastic"]
    parts: list[Part] = [
        (revolve(profile, sections=24), materials["plastic"]),
        (cylinder(neck + 0.002, h - cap_h, h, sections=16), cap_mat),
    ]
    mass = np.clip(np.pi * r**2 * h * 1000 * rng.uniform(0.6, 0.9), 0.2, 1.5)
    return _finish("bottle", parts, mass, dict(radius=r, height=h, neck=neck))


def make_plant(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A potted plant: straight or tapered pot, soil, and one to three leafy spheres."""
    r, ph = rng.uniform(0.06, 0.1), rng.uniform(0.08, 0.15)
    tapered = rng.random() < 0.5
    pot_mat = materials["ceramic"]
    if tapered:
        rb = r * rng.uniform(0.7, 0.85)
        pot = revolve([(0, 0), (rb, 0), (r, ph), (0, ph)], sections=24)
    else:
        pot = cylinder(r, 0, ph, sections=24)
    parts: list[Part] = [
        (pot, pot_mat),
        (cylinder(r - 0.01, ph, ph + 0.004), materials["cardboard"]),
    ]
    n = int(rng.integers(1, 4))
    for _ in range(n):
        fr = rng.uniform(0.06, 0.14)
        offset = rng.uniform(-0.4, 0.4, 2) * fr
        center = (offset[0], offset[1], ph + fr * rng.uniform(0.6, 0.9))
        parts.append((sphere(fr, center), materials["foliage"]))
    params = dict(pot_radius=r, pot_height=ph, tapered=tapered, spheres=n)
    return _finish("plant", parts, rng.uniform(0.8, 2.5), params)


def make_toy(rng: np.random.Generator, materials: dict[str, Material]) -> Clutter:
    """A toy: a ball, or a capsule lying along x."""
    if rng.random() < 0.5:
        r = rng.uniform(0.03, 0.1)
        parts: list[Part] = [(sphere(r, (0, 0, r), subdivisions=3), materials["plastic"])]
        return _finish("toy", parts, rng.uniform(0.05, 0.3), dict(shape="ball", radius=r))
    r, length = rng.uniform(0.02, 0.05), rng.uniform(0.05, 0.15)
    cap = trimesh.creation.capsule(height=length, radius=r, count=[16, 16])
    cap.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    cap.apply_translation([0, 0, r])
    parts = [(cap, materials["plastic"])]
    return _finish("toy", parts, rng.uniform(0.05, 0.2), dict(shape="capsule", radius=r))


MAKERS: dict[str, Callable[[np.random.Generator, dict[str, Material]], Clutter]] = {
    "book": make_book,
    "box": make_box,
    "cup": make_cup,
    "bowl": make_bowl,
    "bottle": make_bottle,
    "plant": make_plant,
    "toy": make_toy,
}


def make_clutter(rng: np.random.Generator, kind: str, materials: dict[str, Material]) -> Clutter:
    """Build one object of ``kind`` (one of ``CLUTTER_KINDS``)."""
    return MAKERS[kind](rng, materials)
