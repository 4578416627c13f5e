"""Cloths in the physics rollout: pybullet's deformable world, mass-spring soft bodies,
anchors that hold a cloth vertex to a part for a while, and the vertices read back.

A rollout uses the deformable world (``RESET_USE_DEFORMABLE_WORLD``) only when its spec
has cloths. In that world soft bodies collide with convex shapes only (a concave
triangle mesh gives them no contact and the cloth blows up), so static bodies that would
get an exact mesh get one convex hull per visual instead (``convex_parts_shape``).

Anchors are pybullet soft-body anchors (``createSoftBodyAnchor``): the vertex keeps the
offset it has in the part's frame when the anchor is made; ``removeConstraint`` on the
anchor's id lets the vertex go again (checked: a released vertex falls). A cloth never
collides with a body that holds it: a kinematic gripper closing on a cloth's nodes
flings them away (the cloth blows up).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np
import pybullet as pb
import trimesh

from simfactory.sim.model.spec import Cloth, SceneSpec

_EPS_T = 1e-9  # s: a step "at" a time despite rounding
# Physics rate (Hz) a world with cloths runs at least at: at 240 Hz a mass-spring cloth
# damped along its springs only blows up when lifted by a corner (see the README).
CLOTH_PHYSICS_HZ = 480.0


@contextmanager
def _obj_file(vertices: np.ndarray, faces: np.ndarray | None = None) -> Iterator[str]:
    """A temporary Wavefront .obj of a mesh, named by its content (pybullet caches meshes
    by file name, so a name is never reused for other content)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in vertices]
    if faces is not None:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces)]
    text = "\n".join(lines) + "\n"
    digest = hashlib.sha1(text.encode()).hexdigest()[:20]
    folder = tempfile.mkdtemp(prefix="simfactory-mesh-")
    path = os.path.join(folder, f"{digest}.obj")
    with open(path, "w") as fh:
        fh.write(text)
    try:
        yield path
    finally:
        os.remove(path)
        os.rmdir(folder)


def convex_parts_shape(client: int, meshes: list[trimesh.Trimesh]) -> int:
    """One collision shape made of the convex hull of every mesh (-1 without meshes)."""
    if not meshes:
        return -1
    with ExitStack() as stack:  # pybullet hulls a mesh file's vertices by itself
        paths = [stack.enter_context(_obj_file(m.vertices, m.faces)) for m in meshes]
        return pb.createCollisionShapeArray(
            [pb.GEOM_MESH] * len(paths), fileNames=paths, physicsClientId=client
        )


def add_cloth(client: int, cloth: Cloth) -> int:
    """Load a cloth as a mass-spring soft body at its pose; returns its pybullet id.

    Springs along edges and bending springs across triangle pairs, damped along the
    springs only (damping in all directions couples every node to its neighbours' speed:
    a lifted corner then drags the whole cloth across the table); contacts are node and
    face contacts (``useFaceContact``), so rigid edges do not slip between nodes.
    """
    T = np.asarray(cloth.pose, dtype=np.float64)
    vertices = np.asarray(cloth.mesh.vertices, dtype=np.float64) @ T[:3, :3].T + T[:3, 3]
    with _obj_file(vertices, cloth.mesh.faces) as path:
        uid = pb.loadSoftBody(
            path,
            mass=float(cloth.mass),
            collisionMargin=float(cloth.collision_margin),
            useMassSpring=1,
            useBendingSprings=1,
            useNeoHookean=0,
            springElasticStiffness=float(cloth.stretch_stiffness),
            springDampingStiffness=float(cloth.damping),
            springDampingAllDirections=0,
            springBendingStiffness=float(cloth.bend_stiffness),
            frictionCoeff=float(cloth.friction),
            useFaceContact=1,
            useSelfCollision=int(cloth.self_collision),
            physicsClientId=client,
        )
    if uid < 0:
        raise ValueError(f"cloth {cloth.name!r}: pybullet could not load it")
    count = len(cloth_vertices(client, uid))
    if count != len(vertices):
        raise ValueError(
            f"cloth {cloth.name!r}: pybullet made {count} nodes of its {len(vertices)} vertices"
        )
    return uid


def cloth_vertices(client: int, uid: int) -> np.ndarray:
    """World positions (V, 3) of a soft body's nodes, in the order of its mesh."""
    _, vertices = pb.getMeshData(
        uid, -1, flags=pb.MESH_DATA_SIMULATION_MESH, physicsClientId=client
    )
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 3)


def cloth_sound(vertices: np.ndarray, first: np.ndarray, reach: float = 100.0) -> bool:
    """Whether a cloth's vertices are finite and within ``reach`` m of where they were in
    the first frame (a mass-spring cloth that blows up flings nodes far away)."""
    return bool(
        np.isfinite(vertices).all() and np.linalg.norm(vertices - first, axis=1).max() < reach
    )


@dataclass
class ClothHold:
    """A ``ClothAnchor`` in the rollout: the soft body, the holding part's pybullet body
    and link, its window and the anchor's id while held."""

    uid: int
    vertex: int
    part: str
    body: int
    link: int
    start: float
    end: float
    anchor: int = -1
    released: bool = False


def cloth_holds(spec: SceneSpec, uids: list[int], parts: dict[str, tuple[int, int]]) -> list:
    """The anchors of every cloth matched to parts ({name: (pybullet body, link)});
    raises ValueError naming unknown parts or vertices."""
    holds = []
    for cloth, uid in zip(spec.cloths, uids, strict=True):
        for a in cloth.anchors:
            if a.part not in parts:
                raise ValueError(
                    f"cloth {cloth.name!r}: anchor names unknown part {a.part!r}; "
                    f"parts are {sorted(parts)}"
                )
            if not 0 <= a.vertex < len(cloth.mesh.vertices):
                raise ValueError(f"cloth {cloth.name!r}: anchor vertex {a.vertex} out of range")
            end = np.inf if a.end is None else float(a.end)
            if end < a.start:
                raise ValueError(
                    f"cloth {cloth.name!r}: anchor on {a.part!r} ends before it starts"
                )
            body, link = parts[a.part]
            holds.append(ClothHold(uid, int(a.vertex), a.part, body, link, float(a.start), end))
    return holds


def ignore_holders(client: int, holds: list[ClothHold]) -> None:
    """Switch off collisions between each cloth and every link of the bodies holding it."""
    for uid, body in sorted({(h.uid, h.body) for h in holds}):
        for link in range(-1, pb.getNumJoints(body, physicsClientId=client)):
            pb.setCollisionFilterPair(body, uid, link, -1, 0, physicsClientId=client)


def update_cloth_holds(client: int, holds: list[ClothHold], t: float) -> None:
    """Before the physics step that starts at ``t``: anchor each vertex whose window has
    begun, let go of those whose window has ended."""
    for h in holds:
        if h.anchor < 0 and not h.released and h.start - _EPS_T <= t < h.end - _EPS_T:
            h.anchor = pb.createSoftBodyAnchor(
                h.uid, h.vertex, h.body, h.link, physicsClientId=client
            )
        elif h.anchor >= 0 and t >= h.end - _EPS_T:
            pb.removeConstraint(h.anchor, physicsClientId=client)
            h.anchor, h.released = -1, True
