"""Fruit, a kitchen knife and a cutting board, and cutting a fruit in two.

Fruit are watertight meshes of revolved profiles (apple, orange, pear; a lemon lies on
its side), 6-9 cm across, with a mottled peel; an apple or pear has a stem. A cut by a
plane gives two closed halves: each visual is sliced and capped (trimesh's
``slice_plane``, capped by manifold3d's triangulation), and the peel's caps become a
separate visual in the paler flesh material. Every mesh has its origin at its bottom
centre, as the other graspable objects do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as pb
import trimesh
from scipy.interpolate import PchipInterpolator
from shapely.geometry import Polygon, box

from simfactory.scenes.furniture.textures import fbm, ramp, random_material
from simfactory.scenes.hoi.objects import COLOURS
from simfactory.sim.model.motion import pos_quat_xyzw
from simfactory.sim.model.spec import Material, Visual

FRUITS = ("apple", "orange", "lemon", "pear")
DENSITY = 850.0  # kg/m^3, a fruit's flesh
SECTIONS = 48  # facets around a revolved fruit

# Peel colours (linear RGB) per kind and colour word, and the flesh's colour.
PEELS = {
    "apple": {"red": (0.45, 0.03, 0.03), "green": (0.25, 0.5, 0.06), "yellow": (0.7, 0.55, 0.08)},
    "orange": {"orange": (0.85, 0.28, 0.02)},
    "lemon": {"yellow": (0.8, 0.62, 0.04)},
    "pear": {"green": (0.38, 0.5, 0.08), "yellow": (0.66, 0.55, 0.12)},
}
FLESH = {
    "apple": (0.85, 0.72, 0.42),
    "orange": (0.95, 0.45, 0.06),
    "lemon": (0.9, 0.82, 0.3),
    "pear": (0.85, 0.8, 0.55),
}
STEM = (0.12, 0.07, 0.02)


@dataclass
class Fruit:
    """A fruit: peel (and stem) visuals, the flesh material its cut faces get, its
    extents (m), mass (kg) and the words for captions (``noun``: "red apple")."""

    kind: str
    visuals: list[Visual]
    flesh: Material
    size: tuple[float, float, float]
    mass: float
    colour: str
    noun: str
    semantic_class: str = "fruit"
    collision: str = "convex"


@dataclass
class Knife:
    """A kitchen knife in its own frame: x from the handle to the tip, z up (spine up,
    edge down), origin at the middle of the handle, where a hand holds it."""

    blade: list[Visual]
    handle: list[Visual]
    blade_length: float
    blade_height: float
    handle_length: float
    handle_width: float  # across the handle, along y (what a gripper closes on)
    handle_height: float
    edge_z: float  # the cutting edge's lowest point, below the handle's axis (< 0)
    blade_mass: float
    handle_mass: float

    @property
    def blade_middle(self) -> float:
        """x of the blade's middle: where it meets what it cuts."""
        return self.handle_length / 2 + self.blade_length / 2


@dataclass
class Board:
    """A cutting board (static), origin at its bottom centre."""

    kind: str
    visuals: list[Visual]
    size: tuple[float, float, float]
    colour: str  # "wooden" or a plastic's colour word
    semantic_class: str = "cutting board"
    mass: float = 0.0
    collision: str = "box"


def _revolve(r: np.ndarray, z: np.ndarray) -> trimesh.Trimesh:
    """A watertight solid of revolution about z of the profile (r, z), r = 0 at both
    ends, with its bottom at z = 0."""
    r, z = np.asarray(r, float), np.asarray(z, float)
    r[0] = r[-1] = 0.0
    mesh = trimesh.creation.revolve(np.c_[r, z], sections=SECTIONS)
    mesh.apply_translation((0.0, 0.0, -mesh.bounds[0][2]))
    return mesh


def _peel_texture(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A near-white sRGB mottle (streaks on an apple or pear, pores on citrus) that
    multiplies the peel's colour."""
    if kind in ("orange", "lemon"):
        noise = fbm(rng, 64, (16, 16), octaves=2)
        dark, light = np.full(3, 0.72), np.ones(3)
    else:
        noise = fbm(rng, 64, (2, 12), octaves=3)
        dark, light = np.array([0.6, 0.75, 0.6]), np.ones(3)
    return ramp(noise, dark, light)


def _profile(rng: np.random.Generator, kind: str) -> tuple[trimesh.Trimesh, float]:
    """The peel's mesh of a fruit kind and its height (m) along its revolution axis."""
    phi = np.linspace(0.0, np.pi, 40)
    if kind == "apple":
        width = rng.uniform(0.07, 0.09)
        height = width * rng.uniform(0.82, 0.95)
        wide_top = rng.uniform(0.0, 0.12)  # many apples are broader at the shoulder
        r = width / 2 * np.sin(phi) * (1.0 + wide_top * (0.5 - 0.5 * np.cos(phi)))
        r /= r.max() / (width / 2)
        dimple = height * rng.uniform(0.08, 0.14)
        z = height / 2 * (1.0 - np.cos(phi))
        z -= dimple * np.exp(-(((np.pi - phi) / 0.35) ** 2))  # the stem cavity
        z += 0.5 * dimple * np.exp(-((phi / 0.3) ** 2))  # the calyx
        return _revolve(r, z), height
    if kind == "orange":
        width = rng.uniform(0.07, 0.09)
        height = width * rng.uniform(0.9, 0.98)
        r = width / 2 * np.sin(phi)
        z = height / 2 * (1.0 - np.cos(phi))
        return _revolve(r, z), height
    if kind == "lemon":
        width = rng.uniform(0.055, 0.065)
        length = width * rng.uniform(1.3, 1.45)
        r = width / 2 * np.sin(phi) ** 1.3  # pointed ends
        z = length / 2 * (1.0 - np.cos(phi))
        return _revolve(r, z), length
    if kind == "pear":
        width = rng.uniform(0.058, 0.066)
        height = width * rng.uniform(1.2, 1.3)
        neck = rng.uniform(0.5, 0.62)  # the neck's radius, relative to the bulb's
        t = np.linspace(0.0, 1.0, 60)
        shape = PchipInterpolator(
            [0.0, 0.04, 0.14, 0.32, 0.52, 0.7, 0.84, 0.94, 0.985, 1.0],
            [0.0, 0.5, 0.88, 1.0, 0.86, 0.2 + 0.75 * neck, neck, 0.75 * neck, 0.4 * neck, 0.0],
        )(t)
        return _revolve(width / 2 * shape, height * t), height
    raise ValueError(f"unknown fruit {kind!r}; known: {', '.join(FRUITS)}")


def make_fruit(rng: np.random.Generator, kind: str | None = None) -> Fruit:
    """A fruit of ``kind`` (default: drawn from ``FRUITS``), peel colour drawn from
    those the kind comes in."""
    kind = kind or str(rng.choice(FRUITS))
    peel, height = _profile(rng, kind)
    colour = str(rng.choice(list(PEELS[kind])))
    peel_material = Material(
        f"{kind}_peel_{colour}",
        (*PEELS[kind][colour], 1.0),
        roughness=float(rng.uniform(0.35, 0.55) if kind != "apple" else rng.uniform(0.2, 0.4)),
        texture=_peel_texture(rng, kind),
        texture_scale=0.05,
    )
    flesh = Material(f"{kind}_flesh", (*FLESH[kind], 1.0), roughness=0.5)
    visuals = [Visual(peel, peel_material)]
    if kind in ("apple", "pear"):
        length = rng.uniform(0.012, 0.018)
        stem = trimesh.creation.cylinder(radius=0.0022, height=length, sections=8)
        top = peel.vertices[np.abs(peel.vertices[:, :2]).sum(1) < 1e-9, 2].max()
        stem.apply_translation((0.0, 0.0, top + length / 2 - 0.006))
        visuals.append(Visual(stem, Material("stem", (*STEM, 1.0), roughness=0.8)))
    if kind == "lemon":  # lies on its side, the long axis along x
        turn = trimesh.transformations.rotation_matrix(np.pi / 2, (0.0, 1.0, 0.0))
        for v in visuals:
            v.mesh.apply_transform(turn)
    lo, hi = trimesh.util.concatenate([v.mesh for v in visuals]).bounds
    for v in visuals:
        v.mesh.apply_translation((-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]))
    noun = kind if kind in ("orange", "lemon") else f"{colour} {kind}"
    mass = float(DENSITY * peel.volume)
    return Fruit(kind, visuals, flesh, tuple(float(v) for v in hi - lo), mass, colour, noun)


def cut_mesh(
    mesh: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray
) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """The two closed pieces of a watertight mesh on either side of the plane through
    ``origin`` with ``normal``: first the one ``normal`` points into. Either may be
    empty when the plane misses the mesh."""
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    return tuple(mesh.slice_plane(origin, n, cap=True) for n in (normal, -normal))


def split_cap(
    piece: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray, tol: float = 1e-7
) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A cut piece split into its skin and its cap: the faces lying in the cut plane."""
    distance = np.abs((piece.vertices - origin) @ (np.asarray(normal) / np.linalg.norm(normal)))
    in_plane = (distance[piece.faces] < tol).all(axis=1)
    return piece.submesh([~in_plane], append=True), piece.submesh([in_plane], append=True)


def cut_fruit(
    fruit: Fruit, origin: np.ndarray, normal: np.ndarray
) -> tuple[list[Visual], list[Visual]]:
    """The visuals of the two halves of ``fruit`` cut by a plane (in the fruit's frame),
    first the half ``normal`` points into: each visual's piece in its own material,
    and the peel's cap in the flesh material (a stem's cap stays stem)."""
    halves: tuple[list[Visual], list[Visual]] = ([], [])
    for i, visual in enumerate(fruit.visuals):
        for half, piece in zip(halves, cut_mesh(visual.mesh, origin, normal), strict=True):
            if piece.is_empty:
                continue
            if i == 0:
                skin, cap = split_cap(piece, origin, normal)
                half.append(Visual(skin, visual.material))
                half.append(Visual(cap, fruit.flesh))
            else:
                half.append(Visual(piece, visual.material))
    return halves


def make_knife(rng: np.random.Generator) -> Knife:
    """A chef's knife: a 15-19 cm steel blade, 2 mm thick, whose edge curves up to the
    tip, and a 10-12 cm handle of dark wood or black plastic."""
    blade_length = float(rng.uniform(0.15, 0.19))
    blade_height = float(rng.uniform(0.032, 0.042))
    thickness = 0.002
    handle_length = float(rng.uniform(0.10, 0.12))
    handle_width, handle_height = 0.018, float(rng.uniform(0.022, 0.026))
    spine = 0.006  # the spine is a little above the handle's axis
    edge = spine - blade_height
    u = np.linspace(1.0, 0.0, 24)  # from the tip back to the heel
    rise = np.clip((u - 0.55) / 0.45, 0.0, None) ** 2  # the edge curves up to the tip
    edge_line = np.c_[blade_length * u, edge + rise * (blade_height - 0.002)]
    outline = [(0.0, spine), (blade_length, spine), *map(tuple, edge_line)]
    blade = trimesh.creation.extrude_polygon(Polygon(outline), thickness)
    blade.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1.0, 0.0, 0.0)))
    blade.apply_translation((handle_length / 2, thickness / 2, 0.0))
    steel = Material(
        "knife_steel",
        (0.75, 0.75, 0.76, 1.0),
        roughness=float(rng.uniform(0.2, 0.35)),
        metallic=1.0,
    )
    section = box(-handle_width / 2, -handle_height / 2, handle_width / 2, handle_height / 2)
    rounded = section.buffer(-0.005).buffer(0.005, quad_segs=3)
    handle = trimesh.creation.extrude_polygon(rounded, handle_length)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (0.0, 1.0, 0.0)))
    handle.apply_translation((-handle_length / 2, 0.0, 0.0))
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1.0, 0.0, 0.0)))
    grip = (
        random_material(rng, "wood", "knife_handle", 64)
        if rng.random() < 0.5
        else Material("knife_handle", (0.02, 0.02, 0.02, 1.0), roughness=0.5)
    )
    return Knife(
        blade=[Visual(blade, steel)],
        handle=[Visual(handle, grip)],
        blade_length=blade_length,
        blade_height=blade_height,
        handle_length=handle_length,
        handle_width=handle_width,
        handle_height=handle_height,
        edge_z=edge,
        blade_mass=float(7800.0 * blade.volume),
        handle_mass=float(700.0 * handle.volume),
    )


def make_board(rng: np.random.Generator) -> Board:
    """A cutting board with rounded corners, 30-40 x 20-27 cm: wood (two times in three)
    or coloured plastic."""
    length, width = float(rng.uniform(0.30, 0.40)), float(rng.uniform(0.20, 0.27))
    thickness = float(rng.uniform(0.015, 0.022))
    outline = box(-length / 2, -width / 2, length / 2, width / 2)
    outline = outline.buffer(-0.02).buffer(0.02, quad_segs=4)
    mesh = trimesh.creation.extrude_polygon(outline, thickness)
    if rng.random() < 2 / 3:
        material = random_material(rng, "wood", "cutting_board", 128)
        colour = "wooden"
    else:
        colour = str(rng.choice(["white", "green", "blue", "grey"]))
        material = Material(
            f"cutting_board_{colour}",
            (*COLOURS[colour], 1.0),
            roughness=float(rng.uniform(0.5, 0.8)),
        )
    return Board("cutting_board", [Visual(mesh, material)], (length, width, thickness), colour)


def overlaps(
    a: list[Visual], b: list[Visual], poses_a: np.ndarray, poses_b: np.ndarray
) -> list[tuple[np.ndarray, float] | None]:
    """Per frame, where two parts' convex hulls overlap (the mean of pybullet's closest
    points, and the deepest penetration in m) or None; ``poses_*`` (F, 4, 4). For a
    blade in a fruit that lets it through, which no physics contact reports."""
    client = pb.connect(pb.DIRECT)
    try:
        uids = []
        for visuals in (a, b):
            hull = trimesh.util.concatenate([v.mesh for v in visuals]).convex_hull
            shape = pb.createCollisionShape(
                pb.GEOM_MESH, vertices=hull.vertices.tolist(), physicsClientId=client
            )
            uids.append(pb.createMultiBody(0.0, shape, physicsClientId=client))
        out = []
        for T_a, T_b in zip(poses_a, poses_b, strict=True):
            for uid, T in zip(uids, (T_a, T_b), strict=True):
                pb.resetBasePositionAndOrientation(uid, *pos_quat_xyzw(T), physicsClientId=client)
            points = pb.getClosestPoints(uids[0], uids[1], 0.0, physicsClientId=client)
            inside = [p for p in points if p[8] < 0.0]
            if not inside:
                out.append(None)
                continue
            mid = np.mean([(np.array(p[5]) + np.array(p[6])) / 2 for p in inside], axis=0)
            out.append((mid, float(-min(p[8] for p in inside))))
        return out
    finally:
        pb.disconnect(client)
