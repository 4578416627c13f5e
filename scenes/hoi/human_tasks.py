"""Table tasks a person does with both hands: cut a fruit (``cut_plan``: the right hand
holds a knife, the left steadies the fruit) and fold a cloth (``fold_plan``: both hands
pinch two corners of a towel or napkin and lay them on the other two; a T-shirt is folded
in three moves, each side in, then the hem up to the collar).

The person stands at the middle of the table's -x edge facing +x (``human.table_stop``).
Each plan gives the person's ``PersonScript`` (both hands' keys) and its grips
(``Person.grips``: what each hand's fingers close on, see ``sim.actors.body``): the knife's
handle (fingers across its axis), the fruit, a pinched cloth corner (``cloth_grip``).
"""

from __future__ import annotations

import numpy as np

from simfactory.scenes.hoi.human import BODY, STAND_OFF, hand_radius, table_stop
from simfactory.scenes.hoi.tasks import TaskPlan, cut_goal, footprint_area
from simfactory.sim.actors.body import PINCH_FINGERS
from simfactory.sim.actors.person import HANDS, HandKey, PersonScript, Stop, rest_hand
from simfactory.sim.model.spec import Attachment, ClothAnchor

RIGHT = f"{BODY}/{HANDS['right']}"
LEFT = f"{BODY}/{HANDS['left']}"
GRIP_GAP = 0.008  # m between the wrist's collision sphere and the top of a held knife handle
STEADY_GAP = 0.03  # m between the steadying hand's collision sphere and the fruit
PINCH_GAP = 0.012  # m between a pinching hand's collision sphere and the table top
LIFT = 0.1  # m a hand rises above a cloth before it reaches for it or after letting go
PINCH_IN = 0.025  # m in from a cloth's corner (along both edges) where a hand pinches it
# m: the cloth's vertices this near the pinched one are held with it, per cloth and move
# (a T-shirt's hem: the pinched vertex alone; a held patch there crumples its layers)
PINCH_HOLD = {"towel": (0.04,), "napkin": (0.04,), "tshirt": (0.0, 0.026)}


def _body_xy(stand: np.ndarray, forward: float, left: float) -> np.ndarray:
    """A point ``forward`` m ahead and ``left`` m to the left of ``stand`` (facing +x)."""
    return np.asarray(stand, float) + np.array([forward, left])


def fruit_spot(table_rect: np.ndarray, height: float, rng: np.random.Generator) -> np.ndarray:
    """Where a person cuts a fruit: in front of it, a little to the right of its middle."""
    stand = table_stop(table_rect)
    scale = height / 1.7
    return _body_xy(
        stand,
        STAND_OFF + rng.uniform(0.2, 0.26) * scale,
        rng.uniform(-0.1, -0.03) * scale,
    )


def knife_drop(height: float, knife) -> float:
    """How far below the right wrist's centre the held knife's origin (the handle's
    middle) hangs: the handle just clears the wrist's collision sphere."""
    return hand_radius(height) + knife.handle_height / 2 + GRIP_GAP


def cut_plan(
    fruit,
    fruit_model,
    halves: dict[str, dict],
    knife,
    board_top: float,
    table_z: float,
    blade_yaw: float,
    table_rect: np.ndarray,
    height: float,
    duration: float,
) -> tuple[TaskPlan, np.ndarray]:
    """A person cuts ``fruit`` in two: the knife (held in the right hand from the start,
    blade along ``blade_yaw``, edge down) comes over the fruit, the left hand steadies the
    fruit from its left side, the blade strokes down to the board and lifts away; the left
    hand lets go as the fruit falls in halves. Returns the plan and the knife's pose at
    t = 0 (its origin ``knife_drop`` under the right wrist's first target)."""
    stand = table_stop(table_rect)
    t = [duration * f for f in (0.0, 0.28, 0.4, 0.66, 0.74, 0.95)]
    along = np.array([np.cos(blade_yaw), np.sin(blade_yaw)])
    across = np.array([np.sin(blade_yaw), -np.cos(blade_yaw)])  # the cut's normal, to the right
    drop = knife_drop(height, knife)
    fruit_top = board_top + fruit_model.size[2]
    fruit_middle = board_top + fruit_model.size[2] / 2
    hand_xy = np.asarray(fruit.xy, float) - knife.blade_middle * along
    edge = -knife.edge_z  # from the edge's lowest point up to the knife's origin
    above, touch, down = fruit_top + 0.05, fruit_top + 0.008, board_top + 0.003
    ready = np.array([*_body_xy(stand, 0.3, -0.18), table_z + 0.14 + drop])
    right = [
        HandKey(t[0], ready),
        HandKey(t[1], [*hand_xy, above + edge + drop]),
        HandKey(t[2], [*hand_xy, touch + edge + drop]),
        HandKey(t[3], [*hand_xy, down + edge + drop]),
        HandKey(t[4], [*hand_xy, down + edge + drop]),
        HandKey(t[5], [*hand_xy, above + 0.03 + edge + drop]),
    ]
    # The stroke eases in and out (HandKey's minimum-jerk ease): invert it for the time
    # the edge passes the fruit's middle.
    from simfactory.sim.actors.robot import min_jerk

    u = np.linspace(0.0, 1.0, 4001)
    through = float(np.interp((touch - fruit_middle) / (touch - down), min_jerk(u), u))
    cut_time = t[2] + through * (t[3] - t[2])

    # The left hand: its collision sphere beside the fruit's left side (the palm goes onto
    # the fruit), from before the blade touches until the fruit falls in two.
    radius = max(fruit_model.size[:2]) / 2
    r = hand_radius(height)
    side = np.asarray(fruit.xy, float) - (radius + r + STEADY_GAP) * across
    steady = np.array([*side, fruit_middle + 0.02])
    rest_left = rest_hand(stand, 0.0, height, "left")
    left = [
        HandKey(0.0, rest_left, 0.0),
        HandKey(t[1] - 0.1 * duration, steady + [0.0, 0.0, 0.06]),
        HandKey(t[1], steady),
        HandKey(cut_time, steady),
        HandKey(min(cut_time + 0.08 * duration, t[4]), steady - 0.04 * np.r_[across, 0.0]
                + [0.0, 0.0, 0.06]),
        HandKey(t[5], rest_left, 0.0),
    ]  # fmt: skip
    grip_start = t[1] + 0.04 * duration
    T_knife = np.eye(4)
    T_knife[:2, :2] = [[along[0], -along[1]], [along[1], along[0]]]
    T_knife[:3, 3] = ready - [0.0, 0.0, drop]
    centres = [np.asarray(h["centre"], float) for h in halves.values()]
    apart = float(np.linalg.norm(centres[0] - centres[1]))
    script = PersonScript(height, [Stop(stand, 0.0, 0.0, np.inf)], {"right": right, "left": left})
    plan = TaskPlan(
        "cut_fruit",
        [],
        [Attachment(RIGHT, "knife", start=0.0)],
        [
            {"verb": "reach", "objects": [fruit.name], "start": t[0], "end": t[2]},
            {"verb": "hold", "objects": [fruit.name], "start": grip_start, "end": cut_time},
            {"verb": "cut", "objects": [fruit.name], "start": t[2], "end": t[4]},
            {"verb": "retreat", "objects": list(halves), "start": t[4], "end": t[5]},
        ],
        cut_goal(fruit.name, halves, apart, table_z),
        {
            "object": fruit,
            "cut_time": cut_time,
            "tools": ["knife"],
            "grips": {
                "right": {
                    "object": "knife/handle",
                    "start": 0.0,
                    "end": None,
                    "axis": [1.0, 0.0, 0.0],
                },
                "left": {"object": fruit.name, "start": grip_start, "end": cut_time},
            },
        },  # fmt: skip
        script,
    )
    return plan, T_knife


def cloth_spot(table_rect: np.ndarray, depth: float) -> np.ndarray:
    """Where a person lays a cloth ``depth`` m deep (along x) to fold it: in front of it,
    its near edge 6 cm in from the table's edge."""
    stand = table_stop(table_rect)
    return _body_xy(stand, STAND_OFF + 0.06 + depth / 2, 0.0)


def _move_keys(grasp, target, z_pinch, times, apex_share=0.55) -> list[HandKey]:
    """One hand's keys for one fold move: over the pinched point, down onto it, closed,
    up over the fold line, down onto the target, open, up again. ``grasp`` and
    ``target`` are the wrist's xy; ``times`` nine times (s): from the first key to rest."""
    grasp, target = np.asarray(grasp, float), np.asarray(target, float)
    reach = float(np.linalg.norm(target - grasp))
    apex = z_pinch + apex_share * reach
    return [
        HandKey(times[1], [*grasp, z_pinch + LIFT]),
        HandKey(times[2], [*grasp, z_pinch]),
        HandKey(times[3], [*grasp, z_pinch]),
        HandKey(times[4], [*(grasp + 0.5 * (target - grasp)), apex]),
        HandKey(times[5], [*(grasp + 0.85 * (target - grasp)), z_pinch + 0.2 * reach]),
        HandKey(times[6], [*target, z_pinch + 0.004]),
        HandKey(times[7], [*target, z_pinch + 0.004]),
        HandKey(times[8], [*target, z_pinch + LIFT]),
    ]


FOLD_PHASES = (0.0, 0.16, 0.24, 0.3, 0.48, 0.66, 0.8, 0.86, 0.97)  # of a move's time


def fold_plan(cloth, kind: str, table_z: float, table_rect, height: float, duration: float):
    """A person folds ``cloth`` (lying flat in front of it) with both hands.

    A towel or napkin (square, lying square to the table): the hands pinch its two far
    corners, lift them over and lay them on the two near corners (folded in half). A
    T-shirt (its collar away from the person): first both hands take the hem's corners
    up onto the shoulders (folded in half), then each hand folds a sleeve in over the
    body. Each pinched vertex is held by a ``ClothAnchor`` of its hand while the hand is
    closed; the fingers close on it (grips with the ``vertex``)."""
    stand = table_stop(table_rect)
    T = np.asarray(cloth.pose, float)
    local = np.asarray(cloth.mesh.vertices)
    world = local @ T[:3, :3].T + T[:3, 3]

    # The cloth's directions in the world: its +y ahead (away from the person), -x left.
    def nearest(point) -> int:
        return int(np.argmin(np.linalg.norm(local[:, :2] - np.asarray(point), axis=1)))

    def to_world(point) -> np.ndarray:
        return (T[:3, :3] @ np.array([point[0], point[1], 0.0]) + T[:3, 3])[:2]

    # A hand pinches the cloth a little in from a corner (its fingers then close on cloth
    # all round the pinch): the vertex nearest that point, laid on its mirror image.
    lo, hi = local.min(axis=0)[:2] + PINCH_IN, local.max(axis=0)[:2] - PINCH_IN
    if kind == "tshirt":
        hem = local[np.abs(local[:, 1] - local[:, 1].min()) < 1e-6]
        w = float(np.abs(hem[:, 0]).max()) - PINCH_IN
        shoulder = local[:, 1].max() - 0.08 * np.ptp(local[:, 1]) - PINCH_IN
        tips = {sign: local[np.argmax(local[:, :2] @ np.array([sign, 0.35])), :2]
                for sign in (-1.0, 1.0)}  # fmt: skip
        moves = [
            {  # the hem up onto the shoulders
                "left": (nearest((-w, lo[1])), (-w, shoulder)),
                "right": (nearest((w, lo[1])), (w, shoulder)),
            },
            {  # the sleeves in over the body
                side: (v, (2 * sign * w - local[v, 0], local[v, 1]))
                for side, sign in (("left", -1.0), ("right", 1.0))
                for v in [nearest(tips[sign] - [sign * PINCH_IN, 0.01])]
            },
        ]
    else:
        moves = [
            {
                "left": (nearest((lo[0], hi[1])), (lo[0], lo[1])),
                "right": (nearest((hi[0], hi[1])), (hi[0], lo[1])),
            }
        ]
    r = hand_radius(height)
    z_vertex = float(world[:, 2].mean())
    z_pinch = z_vertex + r + PINCH_GAP
    span = duration / len(moves)
    keys = {side: [HandKey(0.0, rest_hand(stand, 0.0, height, side), 0.0)] for side in HANDS}
    grips = {side: [] for side in HANDS}
    segments, pinches, name = [], [], cloth.name
    for m, move in enumerate(moves):
        times = [m * span + f * span for f in FOLD_PHASES]
        for side, (vertex, target) in move.items():
            grasp_xy = world[vertex, :2]
            target_xy = to_world(target)
            # A long fold (a T-shirt's hem to its shoulders) rises less: the cloth between
            # the hand and the fold line stays slack instead of dragging the rest along.
            apex = 0.35 if kind == "tshirt" and m == 0 else 0.55
            keys[side] += _move_keys(grasp_xy, target_xy, z_pinch, times, apex)
            # The fingers hold a little cloth round the pinched vertex: it and its
            # neighbours along the grid move with the hand.
            near = np.linalg.norm(local - local[vertex], axis=1)
            held = np.flatnonzero(near <= PINCH_HOLD[kind][m])
            for v in held:
                cloth.anchors.append(
                    ClothAnchor(int(v), f"{BODY}/{HANDS[side]}", times[3], times[6])
                )
            grips[side].append(
                {
                    "object": name,
                    "vertex": vertex,
                    "start": times[3],
                    "end": times[6],
                    "fingers": list(PINCH_FINGERS),
                }
            )
            pinches.append([vertex, [float(v) for v in target_xy]])
        segments += [
            {"verb": "reach", "objects": [name], "start": times[0], "end": times[2]},
            {"verb": "grasp", "objects": [name], "start": times[2], "end": times[3]},
            {"verb": "lift", "objects": [name], "start": times[3], "end": times[4]},
            {"verb": "fold", "objects": [name], "start": times[4], "end": times[6]},
            {"verb": "release", "objects": [name], "start": times[6], "end": times[7]},
        ]
    flat = float(footprint_area(world, cloth.mesh.faces))
    script = PersonScript(height, [Stop(stand, 0.0, 0.0, np.inf)], keys)
    goal = {
        "kind": "folded",
        "object": name,
        "corner": pinches[0][0],
        "target": pinches[0][1],
        "pinches": pinches,
        "max_distance": 0.05,
        "area": flat,
        "max_area_ratio": 0.6 if kind == "tshirt" else 0.7,
        "z_min": float(table_z - 0.003),
    }
    facts = {"cloth": cloth, "kind": kind, "moves": len(moves), "grips": grips}
    return TaskPlan("fold_cloth", [], [], segments, goal, facts, script)
