"""Opening and closing furniture: a drawer or a door of a small cabinet on the table.

The cabinet (``furniture.pieces.make_small_cabinet``) stands on the table facing the
robot, the handle to move within the arm's reach. The hand approaches the handle
pitched down, closes on its bar and is attached to the drawer or door (a link of the
cabinet), then moves with it: straight along a drawer's axis, or along the arc about a
door's hinge with its orientation turning with the door. It lets go and backs off. The
links are free joints with a little friction, so where the drawer or door ends up is
the physics' answer, and the outcome is read from its joint position.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from simfactory.scenes.furniture.materials import piece_materials
from simfactory.scenes.furniture.pieces import HANDLE_RADIUS, Piece, make_small_cabinet
from simfactory.scenes.furniture.shapes import pose
from simfactory.scenes.hoi.tasks import Placed, TaskPlan
from simfactory.sim.actors.robot import EeKey
from simfactory.sim.model.spec import Attachment, Body, Link

# m back along the approach and up: where the hand comes from before the grasp, and
# goes to after letting go
BEFORE = (0.07, 0.05)
AFTER = (0.04, 0.08)
OPENED = {"drawer": 0.85, "door": 0.8}  # fraction of the travel an opening ends at
CLOSED = 0.02  # ... and a closing (short of the stop, which the hand would push into)
OPEN_AT_START = (0.6, 0.85)  # fraction of the travel a closing starts from
OPEN_ENOUGH, SHUT_ENOUGH = 0.7, 0.1  # success: open beyond, or shut below, these fractions
TABLE_LENGTH = 1.35  # m: the table must hold the robot, the drawer's sweep and the cabinet
# A single door: the Panda's hand, 20 cm across, would reach the second door's handle.
FRONTS = {"drawer": "drawers", "door": "door"}


@dataclass
class HandleGrasp:
    """How an arm takes a bar handle: its approach pitched ``pitch`` (rad) below the
    horizontal, the EE ``standoff`` (m) short of the bar's axis, the gripper's opening
    while approaching (wide enough for the bar, narrow enough to keep the fingers off
    the front) and while holding (closed on the bar), and how far in front of the
    robot's base the closed handle stands (m, a range to draw from)."""

    pitch: float
    standoff: float
    approach: float
    hold: float
    distance: tuple[float, float]


PANDA_HOLD = HANDLE_RADIUS / 0.04  # fingers 4 cm apart at gripper 1
# The Panda's hand is long along its fingers' closing direction, so on a drawer (whose
# bar it closes on vertically) it comes in flatter, keeping the hand off the fronts
# above. The bare flange of the iiwa (no fingers) stops short of the bar, facing it
# squarely, so its rim stays off the front; the iiwa cannot bend close in.
GRASPS = {
    ("panda", "drawer"): HandleGrasp(np.radians(30.0), 0.0, 0.45, PANDA_HOLD, (0.8, 0.86)),
    ("panda", "door"): HandleGrasp(np.radians(60.0), 0.0, 0.45, PANDA_HOLD, (0.72, 0.8)),
    ("kuka", "drawer"): HandleGrasp(np.radians(20.0), 0.016, 0.0, 0.0, (0.8, 0.86)),
    ("kuka", "door"): HandleGrasp(np.radians(20.0), 0.016, 0.0, 0.0, (0.76, 0.82)),
}


def joint_transform(link: Link, q: float) -> np.ndarray:
    """How a link's frame moves (4x4, in its own frame) at joint position ``q``."""
    T = np.eye(4)
    axis = np.asarray(link.joint_axis, dtype=float)
    if link.joint_type == "prismatic":
        T[:3, 3] = q * axis
    elif link.joint_type == "revolute":
        T[:3, :3] = Rotation.from_rotvec(q * axis).as_matrix()
    return T


def link_pose(T_world_body: np.ndarray, link: Link, q: float) -> np.ndarray:
    """World pose of a link of the base (``parent`` -1) at joint position ``q``."""
    return T_world_body @ link.T_parent_link @ joint_transform(link, q)


def grasp_in_link(link: Link, handle: np.ndarray, grasp: HandleGrasp) -> np.ndarray:
    """The hand's grasp pose in the link's frame: ``grasp.standoff`` short of the
    handle, approaching the front (-y) pitched down by ``grasp.pitch``, the fingers
    closing across the bar (horizontal on a drawer, vertical on a door)."""
    p = grasp.pitch
    approach = np.array([0.0, -np.cos(p), -np.sin(p)])
    if link.joint_type == "revolute":
        closing = np.array([-1.0, 0.0, 0.0])
    else:
        closing = np.array([0.0, np.sin(p), -np.cos(p)])
    T = np.eye(4)
    T[:3, :3] = np.column_stack([np.cross(closing, approach), closing, approach])
    T[:3, 3] = np.asarray(handle, dtype=float) - grasp.standoff * approach
    return T


def part_words(piece: Piece, link: Link) -> str:
    """What a caption calls the link: "top drawer", "left door" (as seen from the front)."""
    count, i = int(piece.params["count"]), int(link.name.rsplit("_", 1)[1])
    if link.semantic_class == "drawer":
        rows = ["bottom", "top"] if count == 2 else ["bottom", "middle", "top"]
        return f"{rows[i]} drawer"
    if count == 1:
        return "door"
    return f"{('right', 'left')[i]} door"  # door_0 is hinged at the cabinet's -x


def _key(t: float, T: np.ndarray, gripper: float, pivot=None) -> EeKey:
    quat = Rotation.from_matrix(T[:3, :3]).as_quat()
    return EeKey(float(t), T[:3, 3].copy(), quat, float(gripper), pivot)


def _backed_off(T: np.ndarray, back: float, rise: float = 0.0) -> np.ndarray:
    """The pose ``back`` back along the approach, and ``rise`` higher."""
    out = T.copy()
    out[:3, 3] += rise * np.array([0.0, 0.0, 1.0]) - back * T[:3, 2]
    return out


def open_close(
    cabinet: Placed,
    T_world_cabinet: np.ndarray,
    link: Link,
    q_from: float,
    q_to: float,
    hand: str,
    start: np.ndarray,
    duration: float,
    grasp: HandleGrasp,
) -> TaskPlan:
    """Move ``link`` of the placed cabinet from joint position ``q_from`` to ``q_to``
    by its handle: reach, grasp, pull or push along the drawer's axis or the door's
    arc, release, back off."""
    piece: Piece = cabinet.model
    part = f"{cabinet.name}/{link.name}"
    T_link_ee = grasp_in_link(link, piece.handles[link.name], grasp)
    T_from = link_pose(T_world_cabinet, link, q_from) @ T_link_ee
    T_to = link_pose(T_world_cabinet, link, q_to) @ T_link_ee
    hinge = link_pose(T_world_cabinet, link, 0.0)[:3, 3] if link.joint_type == "revolute" else None
    t = [duration * f for f in (0.0, 0.22, 0.34, 0.42, 0.78, 0.86, 0.97)]
    keys = [
        _key(0.0, start, 1.0),
        _key(t[1], _backed_off(T_from, *BEFORE), grasp.approach),
        _key(t[2], T_from, grasp.approach),
        _key(t[3], T_from, grasp.hold),
        _key(t[4], T_to, grasp.hold, hinge),
        _key(t[5], T_to, 1.0),
        _key(t[6], _backed_off(T_to, *AFTER), 1.0),
    ]
    task, segments, goal = joint_task(part, link, t, q_from, q_to)
    return TaskPlan(
        task,
        keys,
        [Attachment(hand, part, start=t[3], end=t[5])],
        segments,
        goal,
        {"object": cabinet, "part": part_words(piece, link)},
    )


def joint_task(part: str, link, t, q_from: float, q_to: float) -> tuple[str, list, dict]:
    """The task name, action segments (reach, grasp, open or close, release, retreat at
    the times ``t``) and goal of moving ``part``'s joint from ``q_from`` to ``q_to``."""
    opening = q_to > q_from
    verb = "open" if opening else "close"
    segments = [
        {"verb": "reach", "objects": [part], "start": t[0], "end": t[2]},
        {"verb": "grasp", "objects": [part], "start": t[2], "end": t[3]},
        {"verb": verb, "objects": [part], "start": t[3], "end": t[4]},
        {"verb": "release", "objects": [part], "start": t[4], "end": t[5]},
        {"verb": "retreat", "objects": [], "start": t[5], "end": t[6]},
    ]
    goal = {
        "kind": "joint",
        "object": part,
        "joint": part,
        "travel": float(link.joint_limits[1]),
        "open": opening,
        "fraction": OPEN_ENOUGH if opening else SHUT_ENOUGH,
        "start_position": float(q_from),
        "planned_position": float(q_to),
    }
    return f"{verb}_{link.semantic_class}", segments, goal


def _cabinet_centre(
    s, piece: Piece, link: Link, yaw: float, q_open: float, distance: tuple[float, float]
) -> np.ndarray:
    """Where the cabinet stands (world xy) so that its closed handle is at a reachable
    distance in front of the robot and the handle's path is centred on the robot's
    line of sight, inside the table top."""
    R_base = s.T_base[:2, :2]
    R = pose(yaw=yaw)[:2, :2]
    handle = [
        link.T_parent_link @ joint_transform(link, q) @ np.r_[piece.handles[link.name], 1.0]
        for q in (0.0, q_open)
    ]
    closed = R_base.T @ R @ handle[0][:2]
    middle = R_base.T @ R @ (handle[0][:2] + handle[1][:2]) / 2
    forward = float(s.behaviour.uniform(*distance))
    lateral = float(s.behaviour.uniform(-0.04, 0.04))
    centre = s.T_base[:2, 3] + R_base @ np.array([forward - closed[0], lateral - middle[1]])
    w, d = piece.footprint
    corners = np.array([[sx * w / 2, sy * d / 2] for sx in (-1, 1) for sy in (-1, 1)]) @ R.T
    lo = s.table_rect[:2] - corners.min(0) + 0.01
    hi = s.table_rect[2:] - corners.max(0) - 0.01
    return np.clip(centre, lo, np.maximum(lo, hi))


def _keep_clear(s, T_world_cabinet: np.ndarray, piece: Piece, link: Link) -> None:
    """Mark the cabinet and the space its link sweeps (and the hand with it) as taken,
    so no distractor stands there."""
    s.taken.append((T_world_cabinet[:2, 3], float(np.hypot(*piece.footprint) / 2)))
    mesh = link.visuals[0].mesh
    centre, size = mesh.bounds.mean(0), mesh.extents
    for q in np.linspace(0.0, link.joint_limits[1], 5):
        T = link_pose(T_world_cabinet, link, q)
        s.taken.append(((T[:3, :3] @ centre + T[:3, 3])[:2], float(max(size[:2]) / 2 + 0.03)))
        handle = T[:3, :3] @ piece.handles[link.name] + T[:3, 3]
        s.taken.append((handle[:2], 0.1))


def pick_joint(piece, kind: str, opening: bool, rng: np.random.Generator) -> tuple:
    """A drawer or door of ``piece`` drawn from ``rng`` and where its joint goes: (the
    piece, with that link standing open at the start when it is to be closed, the link,
    its start and planned positions)."""
    k = int(rng.integers(len(piece.links)))
    link = piece.links[k]
    travel = link.joint_limits[1]
    if opening:
        return piece, link, 0.0, OPENED[kind] * travel
    q_from = float(rng.uniform(*OPEN_AT_START)) * travel
    link = replace(link, initial_position=q_from)
    piece = replace(piece, links=[*piece.links[:k], link, *piece.links[k + 1 :]])
    return piece, link, q_from, CLOSED * travel


def _setup(kind: str, opening: bool):
    """The setup of a task that opens (or closes) a drawer (or door)."""

    def setup(s) -> tuple[TaskPlan, list[Placed]]:
        mats = piece_materials(s.appearance, s.palette)
        piece = make_small_cabinet(s.appearance, mats, FRONTS[kind])
        piece, link, q_from, q_to = pick_joint(piece, kind, opening, s.behaviour)
        base_yaw = float(np.arctan2(s.T_base[1, 0], s.T_base[0, 0]))
        yaw = base_yaw + np.pi / 2 + float(s.behaviour.uniform(-0.1, 0.1))  # front to the robot
        grasp = GRASPS[(s.actor, kind)]
        xy = _cabinet_centre(s, piece, link, yaw, max(q_from, q_to), grasp.distance)
        cabinet = Placed("cabinet", piece, xy, yaw)
        T_world_cabinet = pose(xy[0], xy[1], s.table_z, yaw)
        _keep_clear(s, T_world_cabinet, piece, link)
        plan = open_close(
            cabinet,
            T_world_cabinet,
            link,
            q_from,
            q_to,
            s.hand,
            s.start,
            s.duration,
            grasp,
        )
        return plan, [cabinet]

    return setup


def furniture_body(placed: Placed, table_z: float) -> Body:
    """A placed piece with drawers or doors: static on the table top, its links free."""
    m = placed.model
    T = pose(placed.xy[0], placed.xy[1], table_z, placed.yaw)
    return Body(placed.name, m.name_class, m.visuals, T, collision="boxes", links=m.links)


ARTICULATED_SETUPS = {
    "open_drawer": _setup("drawer", True),
    "close_drawer": _setup("drawer", False),
    "open_door": _setup("door", True),
    "close_door": _setup("door", False),
}
