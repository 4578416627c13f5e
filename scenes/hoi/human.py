"""The hoi family's human actor: a person (``sim.person``) who stands at the table for the
table tasks and walks for the tasks only a person does.

- Table tasks (pick_place, push, stack): the person stands at the middle of the table's
  -x edge, facing +x; its right hand follows the task's end-effector keys, as a sphere
  that holds objects from above and pushes with its side.
- carry: walk to the table, pick an object up, carry it to a second surface (a side
  table, a cabinet or a low shelf against a side wall) and put it down there.
- push_chair: walk to a chair that stands away from the table, grip its backrest with
  both hands (the right one holds it: an attachment), push it up to the table and let go.

Also the person's labels (actor entry, per-frame actions) and the cameras that need a
person (head-mounted) or suit one (a corner view for walking tasks).
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString, Polygon, box

from simfactory.scenes.furniture.layout import blocks_opening
from simfactory.scenes.furniture.materials import piece_materials
from simfactory.scenes.furniture.pieces import make_piece
from simfactory.scenes.hoi.objects import GRASPABLE, make_graspable
from simfactory.scenes.hoi.tasks import HOVER, Placed, TaskPlan
from simfactory.sim.actors.humanoid import MODEL_SCALE
from simfactory.sim.actors.person import (
    HANDS,
    HandKey,
    PersonPlan,
    PersonScript,
    Stop,
    person_scale,
    rest_hand,
)
from simfactory.sim.model.motion import motion_pose
from simfactory.sim.model.spec import Attachment, Body, Visual

HUMAN = "human"
BODY = "person"
HAND = f"{BODY}/{HANDS['right']}"
WALKING_TASKS = ("carry", "push_chair")
MIN_DURATION = {"carry": 5.0, "push_chair": 4.0}  # s: time to walk, reach and walk again
STAND_OFF = 0.14  # m from a surface's edge to where the person stands (its pelvis)
CLEARANCE = 0.3  # m kept between a walked path and furniture or walls
START_CLEARANCE = 0.5  # m between furniture and where a person starts (arms swing)
CARRY_OFF = 0.45  # m from a surface's edge to a person carrying something to it
BEHIND = 0.4  # m from a chair's backrest to the pelvis of the person pushing it
WALK_SPEED = (0.8, 1.2)  # m/s, cruising


def hand_radius(height: float) -> float:
    """Radius (m) of the person's hand sphere (the wrist link's collision sphere)."""
    return 0.16 * MODEL_SCALE * person_scale(height)


def table_stop(table_rect: np.ndarray) -> np.ndarray:
    """Where the person stands for the table tasks: ``STAND_OFF`` before the middle of
    the table top's -x edge (``table_rect`` world [xmin, ymin, xmax, ymax])."""
    return np.array([table_rect[0] - STAND_OFF, (table_rect[1] + table_rect[3]) / 2])


def reach_region(table_rect: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
    """Where on the table the right hand of a person at ``table_stop`` picks things up
    with a comfortable lean: lo and hi corners (2,) of a rectangle."""
    stand = table_stop(table_rect)
    scale = person_scale(height)
    lo = np.array([table_rect[0] + 0.08, max(table_rect[1] + 0.08, stand[1] - 0.4 * scale)])
    hi = np.array(
        [
            min(table_rect[0] + 0.34 * scale, table_rect[2] - 0.08),
            min(table_rect[3] - 0.08, stand[1] + 0.12 * scale),
        ]
    )
    return lo, hi


def table_script(plan: TaskPlan, table_rect: np.ndarray, height: float) -> PersonScript:
    """A person standing at the table for the whole clip, its right hand on the task's
    end-effector positions (the first key, the arm at rest, with weight 0)."""
    stand = table_stop(table_rect)
    keys = [
        HandKey(k.time, np.asarray(k.position, float), 0.0 if i == 0 else 1.0)
        for i, k in enumerate(plan.keys)
    ]
    # The hand rises by the body before it goes out over the table.
    first, second = keys[0], keys[1]
    raised = first.position + [0.1, 0.0, max(0.0, second.position[2] - first.position[2])]
    keys.insert(1, HandKey((first.time + second.time) / 2, raised))
    return PersonScript(height, [Stop(stand, 0.0, 0.0, np.inf)], {"right": keys})


def start_pose(table_rect: np.ndarray, height: float) -> np.ndarray:
    """The right hand's pose at t = 0 (arm down) for a person at ``table_stop``."""
    T = np.eye(4)
    T[:3, 3] = rest_hand(table_stop(table_rect), 0.0, height)
    return T


def _forward(heading: float) -> np.ndarray:
    return np.array([np.cos(heading), np.sin(heading)])


def _to_body(point: np.ndarray, xy: np.ndarray, heading: float) -> np.ndarray:
    """A world point in the body frame of a person at ``xy`` facing ``heading``."""
    c, s = np.cos(heading), np.sin(heading)
    d = np.asarray(point[:2], float) - xy
    return np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], point[2]])


def _pose2d(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    T = np.eye(4)
    T[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    T[:3, 3] = (x, y, z)
    return T


def _clear(
    points: list[np.ndarray], obstacles: list[Polygon], room: np.ndarray, margin=CLEARANCE
) -> bool:
    """Whether the polyline through ``points`` keeps ``CLEARANCE`` from the walls of the
    room rectangle ``room`` and ``margin`` from every obstacle (a walk's last step into
    a stop by furniture is left out of it)."""
    line = LineString([tuple(p) for p in points])
    inside = box(*room).buffer(-CLEARANCE)
    if not inside.contains(line):
        return False
    return all(line.distance(o) >= margin for o in obstacles)


def _length(points: list[np.ndarray]) -> float:
    return float(sum(np.linalg.norm(b - a) for a, b in zip(points[:-1], points[1:], strict=True)))


def _start_spot(
    rng: np.random.Generator,
    stop: np.ndarray,
    heading: float,
    obstacles: list[Polygon],
    room: np.ndarray,
    walk_time: float,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A spot in the room from which the person walks to ``stop`` (arriving along
    ``heading``) in ``walk_time`` s at a cruising speed in ``WALK_SPEED``: the spot and
    the via points of the walk."""
    approach = stop - 0.5 * _forward(heading)
    wanted = rng.uniform(*WALK_SPEED) * max(walk_time - 0.5, 0.5)
    best, best_miss = None, np.inf
    for _ in range(300):
        spot = rng.uniform(room[:2] + CLEARANCE, room[2:] - CLEARANCE)
        if np.dot(approach - spot, _forward(heading)) < 0.2:  # it walks on, not back
            continue
        if not _clear([spot, approach], obstacles, room, START_CLEARANCE):
            continue
        miss = abs(_length([spot, approach, stop]) - wanted)
        if miss < best_miss:
            best, best_miss = spot, miss
        if miss < 0.15:
            break
    if best is None:
        best = approach - 0.3 * _forward(heading)
    return best, [approach]


def _footprint(T: np.ndarray, size: tuple[float, float], grow: float = 0.0) -> Polygon:
    w, d = size[0] / 2 + grow, size[1] / 2 + grow
    corners = np.array([[-w, -d], [w, -d], [w, d], [-w, d]])
    return Polygon(corners @ T[:2, :2].T + T[:2, 3])


def _solid(piece) -> list[Visual]:
    """A piece's visuals with its moving links (drawers) merged in, closed."""
    visuals = list(piece.visuals)
    for link in piece.links:
        for v in link.visuals:
            visuals.append(Visual(v.mesh.copy().apply_transform(link.T_parent_link), v.material))
    return visuals


SURFACE_KINDS = ("table", "cabinet", "shelf")


def _surface_piece(rng, kind: str, materials):
    """A second surface to put things on, its top between 0.5 and 1.3 m high (a few
    draws; a cabinet when no shelf is low enough)."""
    for _ in range(40):
        piece = make_piece(rng, kind, materials)
        rect, z = piece.support_surfaces[0]
        if 0.5 <= z <= 1.3 and rect[2] - rect[0] >= 0.3 and rect[3] - rect[1] >= 0.25:
            return piece
    return _surface_piece(rng, "cabinet", materials) if kind != "cabinet" else piece


def _phase_times(duration: float, fractions: dict[str, float]) -> dict[str, float]:
    return {k: duration * f for k, f in fractions.items()}


def setup_carry(s) -> tuple[TaskPlan, list[Placed]]:
    """Walk to the table, pick an object up, carry it to a surface by a side wall and put
    it down there."""
    rng, room = s.layout, s.room_rect
    height, table_rect = s.person_height, s.table_rect
    t = _phase_times(
        s.duration,
        dict(arrive=0.22, hover=0.29, down=0.34, grasp=0.36, lift=0.4, leave=0.44,
             arrive2=0.76, hover2=0.82, place=0.86, release=0.88, up=0.93, rest=0.99),
    )  # fmt: skip
    kind = str(s.behaviour.choice(GRASPABLE))
    obj = s.place("object_0", make_graspable(s.appearance, kind, s.colours[0]), 0.06)
    h = obj.model.size[2]
    r = hand_radius(height)
    table = box(*table_rect)

    # The second surface: against a side wall, before the table's -x edge.
    piece = _surface_piece(
        rng, str(s.behaviour.choice(SURFACE_KINDS)), piece_materials(s.appearance, s.palette)
    )
    w, d = piece.footprint
    stand1 = table_stop(table_rect)
    options = []
    for side in (1.0, -1.0):
        wall_y = room[3] if side > 0 else room[1]
        y = wall_y - side * (d / 2 + 0.03)
        yaw = np.pi if side > 0 else 0.0
        for x in np.linspace(room[0] + w / 2 + 0.05, table_rect[0] + 0.2, 8):
            T = _pose2d(x, y, 0.0, yaw)
            corners = np.asarray(_footprint(T, (w, d)).exterior.coords)[:4]
            if blocks_opening(s.room, corners, piece.height):
                continue
            heading2 = np.arctan2(side, 0.0)
            front = T[:2, 3] - side * np.array([0.0, d / 2])
            stand2 = front - CARRY_OFF * _forward(heading2)
            via = [stand1 + np.array([-0.45, side * 0.45]), stand2 - 0.5 * _forward(heading2)]
            if not _clear(via, [_footprint(T, (w, d)), table], room):
                continue
            options.append((_length([stand1, *via, stand2]), T, stand2, heading2, via))
    if not options:
        raise RuntimeError("no room for a second surface by the side walls")
    wanted = np.mean(WALK_SPEED) * (t["arrive2"] - t["leave"] - 0.5)
    lengths = np.array([o[0] for o in options])
    near = np.flatnonzero(np.abs(lengths - wanted) <= np.abs(lengths - wanted).min() + 0.3)
    _, T_surface, stand2, heading2, via2 = options[int(rng.choice(near))]
    s.bodies.append(Body("surface", piece.name_class, _solid(piece), T_surface, collision="exact"))
    rect, surface_z = piece.support_surfaces[0]
    # The spot on it: near its front edge, to the person's right.
    right = -np.array([-np.sin(heading2), np.cos(heading2)])
    local_front = np.array([0.0, rect[3] - max(0.1, 0.35 * (rect[3] - rect[1]))])
    spot = T_surface[:2, :2] @ local_front + T_surface[:2, 3]
    lateral = np.clip(0.12, 0.0, (rect[2] - rect[0]) / 2 - 0.08)
    spot = spot + lateral * right

    # The walk to the table.
    obstacles = [table, _footprint(T_surface, (w, d))]
    start, via1 = _start_spot(rng, stand1, 0.0, obstacles, room, t["arrive"])
    first_heading = float(np.arctan2(*(via1[0] - start)[::-1]))
    stops = [
        Stop(start, first_heading, 0.0, 0.0),
        Stop(stand1, 0.0, t["arrive"], t["leave"], via=via1),
        Stop(stand2, float(heading2), t["arrive2"], np.inf, via=via2),
    ]

    grasp = np.array([*obj.xy, s.table_z + h + r + 0.002])
    above = grasp + [0.0, 0.0, HOVER]
    carry = np.array([0.32, -0.12, 0.95]) * [1.0, 1.0, person_scale(height)]
    place = np.array([*spot, surface_z + 0.01 + h + r + 0.002])
    over = place + [0.0, 0.0, HOVER]
    rest = rest_hand(stand1, 0.0, height)
    keys = [
        HandKey(0.0, rest, 0.0),
        HandKey(t["arrive"] - 0.05 * s.duration, above, 0.0),
        HandKey(t["hover"], above),
        HandKey(t["down"], grasp),
        HandKey(t["grasp"], grasp),
        HandKey(t["lift"], above),
        HandKey(t["leave"] + 0.06 * s.duration, carry, frame="body"),
        HandKey(t["arrive2"] - 0.08 * s.duration, carry, frame="body"),
        HandKey(t["arrive2"], [*carry[:2], max(carry[2], over[2])], frame="body"),
        HandKey(t["hover2"], over),
        HandKey(t["place"], place),
        HandKey(t["release"], place),
        HandKey(t["up"], over),
        HandKey(t["rest"], over, 0.0),
    ]
    noun = piece.name_class
    segments = [
        {"verb": "walk", "objects": ["table"], "start": 0.0, "end": t["arrive"]},
        {"verb": "reach", "objects": [obj.name], "start": t["arrive"], "end": t["down"]},
        {"verb": "grasp", "objects": [obj.name], "start": t["down"], "end": t["grasp"]},
        {"verb": "lift", "objects": [obj.name], "start": t["grasp"], "end": t["lift"]},
        {"verb": "carry", "objects": [obj.name, "surface"], "start": t["lift"],
         "end": t["arrive2"]},
        {"verb": "place", "objects": [obj.name, "surface"], "start": t["arrive2"],
         "end": t["release"]},
        {"verb": "release", "objects": [obj.name], "start": t["release"], "end": t["up"]},
    ]  # fmt: skip
    goal = surface_goal(obj.name, spot, surface_z)
    plan = TaskPlan(
        "carry",
        [],
        [Attachment(HAND, obj.name, start=t["grasp"], end=t["release"])],
        segments,
        goal,
        {"object": obj, "surface": noun, "surface_piece": piece},
        PersonScript(height, stops, {"right": keys}),
    )
    return plan, [obj]


def setup_push_chair(s) -> tuple[TaskPlan, list[Placed]]:
    """A chair stands away from the table's long side; the person walks behind it, grips
    its backrest, pushes it to the table (facing it) and lets go."""
    rng, room = s.layout, s.room_rect
    height, table_rect = s.person_height, s.table_rect
    t = _phase_times(
        s.duration,
        dict(arrive=0.3, reach=0.4, grasp=0.42, leave=0.45, arrive2=0.8, release=0.84,
             rest=0.96),
    )  # fmt: skip
    chair = make_piece(rng, "chair", piece_materials(s.appearance, s.palette))
    w, d = chair.footprint
    side = 1.0 if rng.random() < 0.5 else -1.0
    normal = np.array([0.0, side])  # out of the table's long side
    edge = table_rect[3] if side > 0 else table_rect[1]
    wall = room[3] if side > 0 else room[1]
    half_w = (table_rect[2] - table_rect[0]) / 2
    x_mid = (table_rect[0] + table_rect[2]) / 2
    x = x_mid + rng.uniform(-1, 1) * max(0.0, half_w - w / 2 - 0.1)
    target = np.array([x, edge + side * (0.06 + d / 2)])
    facing = -normal  # the seat's front (+y of the chair) towards the table
    yaw1 = float(np.arctan2(facing[1], facing[0]) - np.pi / 2)
    room_left = abs(wall - target[1]) - d / 2 - BEHIND - CLEARANCE - 0.1
    distance = float(np.clip(rng.uniform(0.5, 0.9), 0.2, max(room_left, 0.2)))
    start_xy = target + distance * normal  # pushed straight in, turning it a little
    yaw0 = yaw1 + float(rng.uniform(-0.15, 0.15))
    T0 = _pose2d(start_xy[0], start_xy[1], 0.001, yaw0)
    s.bodies.append(
        Body(
            "chair",
            "chair",
            chair.visuals,
            T0,
            mass=float(np.clip(4.0 * w * d / 0.2, 3.0, 7.0)),
            friction=0.4,
            collision="convex",
        )
    )
    heading0 = yaw0 + np.pi / 2
    heading1 = yaw1 + np.pi / 2
    back = d / 2 + BEHIND
    stand1 = start_xy - back * _forward(heading0)
    stand2 = target - back * _forward(heading1)
    obstacles = [box(*table_rect), _footprint(T0, (w, d))]
    start, via1 = _start_spot(rng, stand1, heading0, obstacles, room, t["arrive"])
    first_heading = float(np.arctan2(*(via1[0] - start)[::-1]))
    stops = [
        Stop(start, first_heading, 0.0, 0.0),
        Stop(stand1, float(heading0), t["arrive"], t["leave"], via=via1),
        Stop(stand2, float(heading1), t["arrive2"], np.inf),
    ]

    # Grip points on top of the backrest, in the body frame of the person behind it.
    verts = np.concatenate([v.mesh.vertices for v in chair.visuals])
    top = verts[:, 2].max()
    rail_y = float(verts[verts[:, 2] > top - 0.01, 1].mean())
    r = hand_radius(height)
    keys = {}
    for hand, sign in (("right", 1.0), ("left", -1.0)):
        local = np.array([sign * (w / 2 - 0.07), rail_y, top + r + 0.003, 1.0])
        grip = _to_body((T0 @ local)[:3], stand1, heading0)
        rest = _to_body(rest_hand(stand1, heading0, height, hand), stand1, heading0)
        keys[hand] = [  # up over the backrest, then down onto it
            HandKey(0.0, rest, 0.0, "body"),
            HandKey(t["arrive"] - 0.05 * s.duration, grip + [0.0, 0.0, 0.15], 0.0, "body"),
            HandKey(t["arrive"] + 0.04 * s.duration, grip + [0.0, 0.0, 0.1], 1.0, "body"),
            HandKey(t["reach"], grip, 1.0, "body"),
            HandKey(t["release"], grip, 1.0, "body"),
            HandKey(t["release"] + 0.04 * s.duration, grip + [-0.05, 0.0, 0.08], 1.0, "body"),
            HandKey(t["rest"], rest, 0.0, "body"),
        ]
    segments = [
        {"verb": "walk", "objects": ["chair"], "start": 0.0, "end": t["arrive"]},
        {"verb": "reach", "objects": ["chair"], "start": t["arrive"], "end": t["reach"]},
        {"verb": "grasp", "objects": ["chair"], "start": t["reach"], "end": t["grasp"]},
        {"verb": "push", "objects": ["chair", "table"], "start": t["grasp"],
         "end": t["arrive2"]},
        {"verb": "release", "objects": ["chair"], "start": t["arrive2"], "end": t["rest"]},
    ]  # fmt: skip
    goal = {
        "kind": "placed_facing",
        "object": "chair",
        "center": [float(v) for v in target],
        "radius": 0.1,
        "facing": [float(v) for v in facing],
        "max_angle_deg": 12.0,
    }
    plan = TaskPlan(
        "push_chair",
        [],
        [Attachment(HAND, "chair", start=t["grasp"], end=t["release"])],
        segments,
        goal,
        {"chair": chair, "distance": distance},
        PersonScript(height, stops, keys, steady=[(t["leave"], t["arrive2"])]),
    )
    return plan, []


def focus(script: PersonScript, table_rect: np.ndarray, table_z: float) -> dict:
    """What a third-person camera of a person frames: the point it aims at, the ground
    points it must show, the heading the person faces at the table and whether the
    person walks about."""
    stops = script.stops
    walks = len(stops) > 1
    points = np.array([st.xy for st in stops] + [table_stop(table_rect) + [0.4, 0.0]])
    if walks:
        lo, hi = points.min(axis=0), points.max(axis=0)
        target = np.array([*(lo + hi) / 2, 0.9])
    else:
        target = np.array([*(stops[0].xy + 0.3 * _forward(stops[0].heading)), table_z + 0.2])
    return {
        "target": target,
        "points": points,
        "heading": float(stops[0].heading if not walks else stops[1].heading),
        "walks": walks,
    }


def actor_entry(plan: PersonPlan) -> dict:
    """The ``actor`` annotation of a person."""
    return {
        "kind": "human",
        "model": HUMAN,
        "body": BODY,
        "hand_links": dict(HANDS),
        "head_link": "neck",
        "height_m": round(plan.height, 4),
        "urdf_scale": round(plan.body.urdf_scale, 6),
        "hand_radius_m": round(hand_radius(plan.height), 4),
    }


def grips(attachments: list[Attachment]) -> dict:
    """What each hand of the person grasps (``Person.grips``): the first attachment held
    by that hand's link."""
    out = {}
    for side, link in HANDS.items():
        held = [a for a in attachments if a.parent == f"{BODY}/{link}"]
        if held:
            a = held[0]
            out[side] = {"object": a.child, "start": float(a.start),
                         "end": None if a.end is None else float(a.end)}  # fmt: skip
    return out


def actions(plan: PersonPlan, attachments: list[Attachment], frame_times) -> list[dict]:
    """Per frame: each hand's commanded target (world, or None while its weight is 0)
    and weight, what each hand holds, the commanded root pose and ground pose."""
    out = []
    for t in frame_times:
        hands = {}
        for side, link in HANDS.items():
            weight, target = 0.0, None
            if side in plan.weights:
                weight = float(np.interp(t, plan.times, plan.weights[side]))
            if weight > 0:
                xyz = [np.interp(t, plan.times, plan.targets[side][:, k]) for k in range(3)]
                target = [round(float(v), 5) for v in xyz]
            held = [
                a.child
                for a in attachments
                if a.parent == f"{BODY}/{link}"
                and a.start <= t + 1e-9
                and (a.end is None or t < a.end - 1e-9)
            ]
            hands[side] = {
                "target": target,
                "weight": round(weight, 4),
                "holding": held[0] if held else None,
            }
        ground = [float(np.interp(t, plan.times, plan.ground[:, k])) for k in range(3)]
        out.append(
            {
                "hands": hands,
                "root_T_world": np.round(motion_pose(plan.body.motion, float(t)), 6).tolist(),
                "ground": {"xy": [round(v, 5) for v in ground[:2]], "heading": round(ground[2], 5)},
                "gait": round(float(np.interp(t, plan.times, plan.gait)), 4),
            }
        )
    return out


def surface_goal(obj: str, spot, surface_z: float) -> dict:
    """The goal of putting ``obj`` down on a surface at height ``surface_z``: within 8 cm
    of ``spot`` (x, y), resting on it."""
    return {
        "kind": "in_region",
        "object": obj,
        "center": [float(v) for v in spot],
        "radius": 0.08,
        "z_min": float(surface_z - 0.02),
        "z_max": float(surface_z + 0.12),
    }
