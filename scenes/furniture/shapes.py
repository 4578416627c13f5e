"""Small mesh and pose builders shared by the furniture generators.

Every piece, room and clutter object is a union of these primitives, so no mesh
booleans are needed and each part keeps its own material.
"""

from __future__ import annotations

import numpy as np
import trimesh


def box(lo, hi) -> trimesh.Trimesh:
    """Axis-aligned box between corners ``lo`` and ``hi`` (3,)."""
    return trimesh.creation.box(bounds=np.array([lo, hi], dtype=float))


def box_at(size, center) -> trimesh.Trimesh:
    """Axis-aligned box of ``size`` (3,) centred at ``center`` (3,)."""
    size = np.asarray(size, dtype=float)
    center = np.asarray(center, dtype=float)
    return box(center - size / 2, center + size / 2)


def cylinder(
    radius: float, z0: float, z1: float, xy=(0.0, 0.0), sections: int = 24
) -> trimesh.Trimesh:
    """Vertical cylinder from ``z0`` to ``z1`` with its axis at ``xy``."""
    mesh = trimesh.creation.cylinder(radius=radius, height=z1 - z0, sections=sections)
    mesh.apply_translation([xy[0], xy[1], (z0 + z1) / 2])
    return mesh


def cylinder_along(radius: float, a, b, sections: int = 16) -> trimesh.Trimesh:
    """Cylinder whose axis runs from point ``a`` to point ``b`` (3,)."""
    segment = np.array([a, b], dtype=float)
    return trimesh.creation.cylinder(radius=radius, segment=segment, sections=sections)


def revolve(profile, sections: int = 32) -> trimesh.Trimesh:
    """Solid of revolution about Z from a (radius, z) profile that starts and ends on the axis."""
    return trimesh.creation.revolve(np.asarray(profile, dtype=float), sections=sections)


def sphere(radius: float, center, subdivisions: int = 2) -> trimesh.Trimesh:
    """Icosphere of ``radius`` at ``center``."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    mesh.apply_translation(np.asarray(center, dtype=float))
    return mesh


def pose(x: float = 0.0, y: float = 0.0, z: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    """4x4 transform: rotation ``yaw`` about Z, then translation (x, y, z)."""
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    out[:3, 3] = (x, y, z)
    return out


def yaw_facing(direction) -> float:
    """Yaw that turns the local +y axis to point along the 2D ``direction``."""
    return float(np.arctan2(-direction[0], direction[1]))


def bounds_of(meshes) -> np.ndarray:
    """(2, 3) bounds of a list of meshes together."""
    lows = np.array([m.bounds[0] for m in meshes])
    highs = np.array([m.bounds[1] for m in meshes])
    return np.array([lows.min(axis=0), highs.max(axis=0)])
