"""The person's reaching tasks: opening and closing a drawer or a door of a small cabinet
on the table, and putting things on shelves and side tables of several heights.

- open_drawer, close_drawer, open_door, close_door: the person stands at the middle of
  the table's -x edge; the cabinet (``articulated.py``'s) stands on the table facing it,
  the handle's path a little to its right. The right hand reaches out, its fingers
  pre-shape and close around the handle's bar (``Person.grips`` with the handle's
  visuals), and the hand holds the drawer or door by a point (``Attachment.pivot``): it
  pulls or pushes the drawer along its axis, or swings the door along its arc about the
  hinge, then lets go and backs off. The joint is free, so where it ends is physics.
- pick_place with ``scene.place_on`` shelf or side_table: the person stands near the
  table's -y corner; a shelf unit (bookcase) or a side table stands just beyond the
  table's -y edge, at the person's front right, its front towards the table's side (a
  shelf board below the table's top: towards the person). The hand picks the object up
  from the table and puts it on the shelf board or table top at the drawn height
  (``scene.place_height``: low, middle or high), bending at the hips and knees for low
  ones and reaching up for high ones; into a shelf it goes in from the front, under the
  board above.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simfactory.scenes.furniture.materials import piece_materials
from simfactory.scenes.furniture.pieces import HANDLE_RADIUS, Piece, make_piece, make_small_cabinet
from simfactory.scenes.furniture.shapes import pose
from simfactory.scenes.hoi.articulated import (
    FRONTS,
    _keep_clear,
    joint_task,
    joint_transform,
    link_pose,
    part_words,
    pick_joint,
)
from simfactory.scenes.hoi.human import HAND, surface_goal, table_stop
from simfactory.scenes.hoi.objects import GRASPABLE, make_graspable
from simfactory.scenes.hoi.tasks import HOVER, Placed, TaskPlan
from simfactory.sim.actors.humanoid import KEY_HZ
from simfactory.sim.actors.person import HandKey, PersonScript, Stop, person_scale, rest_hand
from simfactory.sim.actors.robot import min_jerk
from simfactory.sim.model.spec import Attachment, Body

HANDLE_GAP = 0.006  # m between the handle bar's surface and the hand sphere's
HANDLE_FORWARD = (0.44, 0.5)  # m from the person's pelvis forward to the closed handle
HANDLE_RIGHT = 0.14  # m right of the person's centre line: the handle path's middle
# (times the person's size)
MIN_FRONT = 0.2  # m from the table's edge to the cabinet's front, so a drawer pulled
# out or a door swung open stays over the table top
BEFORE = (0.08, 0.04)  # m back towards the person and up: where the hand comes from
AFTER = (0.08, 0.06)  # ... and goes to after letting go


def handle_visuals(link, metal) -> list[int]:
    """The indices of a link's visuals that make its handle (the bar and its posts, the
    only metal ones)."""
    return [i for i, v in enumerate(link.visuals) if v.material is metal]


def _hand_point(link, handle: np.ndarray, hand_radius: float) -> np.ndarray:
    """Where the hand sphere's centre holds the handle (the link's frame, which at joint
    position 0 is turned like the cabinet's): out in front of the bar, its surface
    ``HANDLE_GAP`` off the bar's."""
    out = np.array([0.0, 1.0, 0.0])  # the fronts face the cabinet's +y
    return np.asarray(handle, float) + (HANDLE_RADIUS + HANDLE_GAP + hand_radius) * out


def _world(T_world_cabinet, link, q: float, point: np.ndarray) -> np.ndarray:
    return (link_pose(T_world_cabinet, link, q) @ np.r_[point, 1.0])[:3]


def _out(T_world_cabinet, link, q: float) -> np.ndarray:
    """The direction (world) out of the link's front at joint position ``q``."""
    return link_pose(T_world_cabinet, link, q)[:3, 1]


def _cabinet_xy(s, piece: Piece, link, yaw: float, q_open: float) -> np.ndarray:
    """Where the cabinet stands (world xy) so that its closed handle is ``HANDLE_FORWARD``
    in front of the person's pelvis and the handle's path is centred ``HANDLE_RIGHT`` to
    its right, inside the table top with its front at least ``MIN_FRONT`` from the edge."""
    stand = table_stop(s.table_rect)
    scale = person_scale(s.person_height)
    R = pose(yaw=yaw)[:2, :2]
    handle = [
        (link.T_parent_link @ joint_transform(link, q) @ np.r_[piece.handles[link.name], 1.0])[:2]
        for q in (0.0, q_open)
    ]
    closed, middle = R @ handle[0], R @ (handle[0] + handle[1]) / 2
    forward = float(s.behaviour.uniform(*HANDLE_FORWARD)) * min(scale, 1.0)
    lateral = -HANDLE_RIGHT * scale + float(s.behaviour.uniform(-0.03, 0.03))
    centre = np.array([stand[0] + forward - closed[0], stand[1] + lateral - middle[1]])
    w, d = piece.footprint
    corners = np.array([[sx * w / 2, sy * d / 2] for sx in (-1, 1) for sy in (-1, 1)]) @ R.T
    lo = s.table_rect[:2] - corners.min(0) + 0.01
    lo[0] = max(lo[0], s.table_rect[0] + MIN_FRONT + d / 2)
    hi = s.table_rect[2:] - corners.max(0) - 0.01
    return np.clip(centre, lo, np.maximum(lo, hi))


def _key_times(duration: float) -> list[float]:
    """Rest, before the handle, at it, grip closed, moved, released, backed off (s)."""
    return [duration * f for f in (0.0, 0.22, 0.34, 0.42, 0.78, 0.86, 0.97)]


def articulated_setup(kind: str, opening: bool):
    """The person's setup of a task that opens (or closes) a drawer (or door)."""

    def setup(s) -> tuple[TaskPlan, list[Placed]]:
        mats = piece_materials(s.appearance, s.palette)
        for _ in range(20):  # a door hinged at the person's right: the right hand needs
            # no way round its free edge to the handle's face when it stands open
            piece = make_small_cabinet(s.appearance, mats, FRONTS[kind])
            if kind != "door" or piece.links[0].T_parent_link[0, 3] < 0:
                break
        piece, link, q_from, q_to = pick_joint(piece, kind, opening, s.behaviour)
        yaw = np.pi / 2 + float(s.behaviour.uniform(-0.08, 0.08))  # its front to the person
        xy = _cabinet_xy(s, piece, link, yaw, max(q_from, q_to))
        cabinet = Placed("cabinet", piece, xy, yaw)
        T_world_cabinet = pose(xy[0], xy[1], s.table_z, yaw)
        _keep_clear(s, T_world_cabinet, piece, link)
        plan = person_open_close(
            cabinet, T_world_cabinet, link, q_from, q_to, s, handle_visuals(link, mats["metal"])
        )
        return plan, [cabinet]

    return setup


def person_open_close(
    cabinet: Placed, T_world_cabinet, link, q_from: float, q_to: float, s, grip: list[int]
) -> TaskPlan:
    """The person's plan: reach the handle, close the fingers on it, move the link from
    ``q_from`` to ``q_to`` (the hand on the handle's path, sampled at every key of the
    person's motion), let go and back off."""
    piece: Piece = cabinet.model
    part = f"{cabinet.name}/{link.name}"
    stand = table_stop(s.table_rect)
    point = _hand_point(link, piece.handles[link.name], s.hand_radius)
    t = _key_times(s.duration)
    at_from = _world(T_world_cabinet, link, q_from, point)
    at_to = _world(T_world_cabinet, link, q_to, point)
    up = np.array([0.0, 0.0, 1.0])
    keys = [
        HandKey(0.0, rest_hand(stand, 0.0, s.person_height), 0.0),
        HandKey(t[1], at_from + BEFORE[0] * _out(T_world_cabinet, link, q_from) + BEFORE[1] * up),
        HandKey(t[2], at_from),
        HandKey(t[3], at_from),
    ]
    n = max(2, int(np.ceil(s.duration * KEY_HZ)) + 1)
    grid = np.linspace(0.0, s.duration, n)  # the person's motion keys (``plan_person``)
    for time in grid[(grid > t[3]) & (grid < t[4])]:
        q = q_from + min_jerk((time - t[3]) / (t[4] - t[3])) * (q_to - q_from)
        keys.append(HandKey(float(time), _world(T_world_cabinet, link, float(q), point)))
    keys += [
        HandKey(t[4], at_to),
        HandKey(t[5], at_to),
        HandKey(t[6], at_to + AFTER[0] * _out(T_world_cabinet, link, q_to) + AFTER[1] * up),
    ]
    task, segments, goal = joint_task(part, link, t, q_from, q_to)
    return TaskPlan(
        task,
        [],
        [Attachment(HAND, part, start=t[3], end=t[5], pivot=True)],
        segments,
        goal,
        {
            "object": cabinet,
            "part": part_words(piece, link),
            "grip_parts": {
                part: {
                    "visuals": grip,
                    "across": _bar_axis(piece, link),
                    "at": [float(v) for v in piece.handles[link.name]],
                }
            },
        },
        PersonScript(s.person_height, [Stop(stand, 0.0, 0.0, np.inf)], {"right": keys}),
    )


def _bar_axis(piece: Piece, link) -> list[float]:
    """The handle bar's axis in the link's frame: across a drawer, up a door."""
    return [0.0, 0.0, 1.0] if link.joint_type == "revolute" else [1.0, 0.0, 0.0]


def grip_parts(grips: dict, facts: dict) -> dict:
    """``grips`` (``human.grips``) with what the task says of how a hand holds a part
    (``facts["grip_parts"]``: part -> {"visuals": the indices it closes on, "across": the
    bar's axis, "at": the bar's middle}): a handle's bar, not the whole drawer."""
    chosen = facts.get("grip_parts", {})
    return {hand: {**g, **chosen.get(g["object"], {})} for hand, g in grips.items()}


# Placing on a shelf or a side table at the person's front right.

PLACE_ON = ("table", "shelf", "side_table")  # scene.place_on ("table": into a bowl on it)
PLACE_HEIGHTS = {  # scene.place_height: m, the range of the target surface's height
    "shelf": {"low": (0.5, 0.65), "middle": (0.75, 1.1), "high": (1.2, 1.5)},
    "side_table": {"low": (0.5, 0.62), "middle": (0.7, 0.9), "high": (0.95, 1.1)},
}
LEVELS = ("low", "middle", "high")
CORNER = 0.17  # m from the table's -y edge to where the person stands (times its size)
SPOT = (0.32, -0.28)  # m forward and left (negative: right) of the pelvis: where the
# object goes (times the person's size)
SURFACE_GAP = 0.03  # m between the table's -y edge and the target piece
SPOT_INSET = 0.09  # m the spot keeps inside the target surface's edges
INTO_SHELF = 0.2  # m in front of the spot: where the hand starts into a shelf
HEADROOM = 0.05  # m kept free under the board above the placed object and the hand


def _scaled_table(rng, materials, height: float) -> Piece:
    """A side table: a dining table's design scaled to a top 0.4-0.6 m across and
    ``height`` m high."""
    piece = make_piece(rng, "table", materials)
    rect, z = piece.support_surfaces[0]
    top = float(rng.uniform(0.4, 0.6))
    k = np.array([top / (rect[2] - rect[0]), top / (rect[3] - rect[1]), height / z])
    visuals = [replace(v, mesh=v.mesh.copy().apply_scale(k)) for v in piece.visuals]
    rect = np.asarray(rect) * np.tile(k[:2], 2)
    params = {**piece.params, "height": height, "width": top, "depth": top}
    fp = (piece.footprint[0] * k[0], piece.footprint[1] * k[1])
    return replace(
        piece,
        visuals=visuals,
        footprint=fp,
        height=piece.height * k[2],
        support_surfaces=[(rect, height)],
        params=params,
    )


def _shelf_level(rng, materials, heights, need: float) -> tuple[Piece, int]:
    """A bookcase and the index of a surface of it in ``heights``: the top, or a board
    with ``need`` m free above it (a few draws)."""
    for _ in range(60):
        piece = make_piece(rng, "shelf", materials)
        levels = sorted(z for _, z in piece.support_surfaces)
        gap = float(piece.params["board_gap"]) - float(piece.params["thickness"])
        for i, (_, z) in enumerate(piece.support_surfaces):
            top = z >= max(levels) - 1e-6
            if heights[0] <= z <= heights[1] and (top or gap >= need):
                return piece, i
    raise RuntimeError(f"no shelf with a board between {heights[0]} and {heights[1]} m")


def _level_words(place_on: str, piece: Piece, index: int, level: str) -> str:
    """What a caption calls the target: "top shelf", "middle shelf", "low side table"."""
    if place_on == "side_table":
        return {"low": "low side table", "middle": "side table", "high": "tall side table"}[level]
    levels = sorted(z for _, z in piece.support_surfaces)
    z = piece.support_surfaces[index][1]
    if z >= levels[-1] - 1e-6:
        return "top of the shelf unit"
    if z <= levels[0] + 1e-6:
        return "bottom shelf"
    return {"low": "lower shelf", "middle": "middle shelf", "high": "upper shelf"}[level]


def place_setup(place_on: str, level: str):
    """The person's pick_place onto a shelf or a side table (``PLACE_ON``; "random":
    drawn) at a height of ``level`` (``PLACE_HEIGHTS`` of that kind; "random": drawn)."""

    def setup(s) -> tuple[TaskPlan, list[Placed]]:
        where = str(s.behaviour.choice(PLACE_ON[1:])) if place_on == "random" else place_on
        lvl = str(s.behaviour.choice(LEVELS)) if level == "random" else level
        heights = PLACE_HEIGHTS[where][lvl]
        scale = person_scale(s.person_height)
        r = s.hand_radius
        rect = s.table_rect
        stand = np.array([table_stop(rect)[0], rect[1] + CORNER * scale])
        kind = str(s.behaviour.choice(GRASPABLE))
        model = make_graspable(s.appearance, kind, s.colours[0])
        h = model.size[2]
        mats = piece_materials(s.appearance, s.palette)
        if where == "shelf":
            piece, index = _shelf_level(s.layout, mats, heights, h + 2 * r + HEADROOM + 0.03)
        else:
            piece, index = _scaled_table(s.layout, mats, float(s.layout.uniform(*heights))), 0
        surface_rect, surface_z = piece.support_surfaces[index]
        top = surface_z >= max(z for _, z in piece.support_surfaces) - 1e-6

        # The piece stands beside the table, its front (local +y) facing the table's
        # side (+y), centred ahead of the person on the spot; a shelf board below the
        # table's top faces the person (-x) instead, so the hand goes in from beyond the
        # table's edge.
        w, d = piece.footprint
        spot = stand + np.array(SPOT) * scale
        sideways = top or surface_z > s.table_z + 0.05
        if sideways:
            T_piece = pose(spot[0], rect[1] - SURFACE_GAP - d / 2, 0.0, 0.0)
        else:
            T_piece = pose(rect[0] + 0.05 + d / 2, rect[1] - SURFACE_GAP - w / 2, 0.0, np.pi / 2)
        s.bodies.append(Body("place_target", piece.name_class, list(piece.visuals), T_piece,
                             collision="exact"))  # fmt: skip
        # The spot: ahead and to the right of the person, kept inside the surface.
        R = T_piece[:2, :2]
        local = R.T @ (spot - T_piece[:2, 3])
        lo = np.asarray(surface_rect[:2]) + SPOT_INSET
        hi = np.asarray(surface_rect[2:]) - SPOT_INSET
        local = np.clip(local, lo, np.maximum(lo, hi))
        spot = R @ local + T_piece[:2, 3]

        # The object: on the table ahead and a little left of the person.
        xy = np.array([rect[0] + float(s.behaviour.uniform(0.17, 0.27)) * scale,
                       stand[1] + float(s.behaviour.uniform(0.0, 0.12)) * scale])  # fmt: skip
        obj = s.place("object_0", model, 0.06, xy)
        s.taken.append((np.array([rect[0], rect[1]]), 0.25 + CORNER))  # the hand's way out

        t = [s.duration * f for f in (0.0, 0.14, 0.22, 0.27, 0.36, 0.56, 0.68, 0.74, 0.84, 0.97)]
        grasp = np.array([*obj.xy, s.table_z + h + r + 0.002])
        lift = grasp + [0.0, 0.0, HOVER]
        place = np.array([*spot, surface_z + 0.01 + h + r + 0.002])
        if top:  # from above
            over = place + [0.0, 0.0, HOVER]
        else:  # in from the front, under the board above
            over = place + [*(INTO_SHELF * T_piece[:2, 1]), 0.02]
        high = max(lift[2], over[2])
        out = T_piece[:3, 1] * 0.1  # out of the piece's front
        keys = [
            HandKey(0.0, rest_hand(stand, 0.0, s.person_height), 0.0),
            HandKey(t[1], lift),
            HandKey(t[2], grasp),
            HandKey(t[3], grasp),
            HandKey(t[4], [*lift[:2], high]),
            HandKey((t[4] + t[5]) / 2, [*(over[:2] + 0.5 * out[:2]), high]),  # before it
            HandKey(t[5], over),
            HandKey(t[6], place),
            HandKey(t[7], place),
            HandKey(t[8], over + [0.0, 0.0, 0.0 if not top else 0.03]),
            HandKey(t[9], over + out),
        ]
        target = "place_target"
        segments = [
            {"verb": "reach", "objects": [obj.name], "start": t[0], "end": t[2]},
            {"verb": "grasp", "objects": [obj.name], "start": t[2], "end": t[3]},
            {"verb": "lift", "objects": [obj.name], "start": t[3], "end": t[4]},
            {"verb": "move", "objects": [obj.name, target], "start": t[4], "end": t[6]},
            {"verb": "place", "objects": [obj.name, target], "start": t[6], "end": t[7]},
            {"verb": "release", "objects": [obj.name], "start": t[7], "end": t[8]},
        ]
        goal = {
            **surface_goal(obj.name, spot, surface_z),
            "surface": where,
            "surface_z": round(float(surface_z), 4),
            "level": lvl,
        }
        facts = {
            "object": obj,
            "place_on": where,
            "place_level": lvl,
            "place_height_m": float(surface_z),
            "place_words": _level_words(where, piece, index, lvl),
            "surface_piece": piece,
            "place_sideways": bool(sideways),
        }
        script = PersonScript(s.person_height, [Stop(stand, 0.0, 0.0, np.inf)], {"right": keys})
        return TaskPlan(
            "pick_place",
            [],
            [Attachment(HAND, obj.name, start=t[3], end=t[7])],
            segments,
            goal,
            facts,
            script,
        ), [obj]

    return setup


PERSON_SETUPS = {
    "open_drawer": articulated_setup("drawer", True),
    "close_drawer": articulated_setup("drawer", False),
    "open_door": articulated_setup("door", True),
    "close_door": articulated_setup("door", False),
}


def person_setup(task: str, cfg: dict):
    """The person's own setup of ``task`` for config ``cfg`` (None: the shared one)."""
    if task == "pick_place" and cfg.get("place_on", "table") != "table":
        return place_setup(cfg["place_on"], cfg.get("place_height", "random"))
    return PERSON_SETUPS.get(task)


def validate(cfg: dict) -> list[str]:
    """Messages for the placing keys (``scene.place_on``, ``scene.place_height``)."""
    errors = []
    on, height = cfg.get("place_on", "table"), cfg.get("place_height", "random")
    if on not in (*PLACE_ON, "random"):
        errors.append(f"place_on: must be one of {', '.join(PLACE_ON)} or random (got {on!r})")
    if height not in (*LEVELS, "random"):
        errors.append(
            f"place_height: must be one of {', '.join(LEVELS)} or random (got {height!r})"
        )
    if errors or on == "table":
        return errors
    if cfg.get("task") != "pick_place":
        errors.append(f"place_on: {on} is a target of scene.task=pick_place "
                      f"(got scene.task={cfg.get('task')})")  # fmt: skip
    if cfg.get("actor") != "human":
        errors.append(
            f"place_on: {on} is for scene.actor=human (got scene.actor={cfg.get('actor')})"
        )
    return errors


def camera_focus(focus: dict, facts: dict) -> dict:
    """A person camera's ``focus`` (``human.focus``) for a shelf or side table at the
    person's right: a view from the person's left front (``side`` 1 of
    ``cameras.table_view``), which sees the person's face and into the target's front,
    not the target's back or its side panel edge-on."""
    if facts.get("place_on") not in PLACE_ON[1:]:
        return focus
    return {**focus, "side": 1.0}
