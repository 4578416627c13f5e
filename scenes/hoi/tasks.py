"""Robot task templates: each places its objects on the table, scripts the end
effector (keys for ``sim.robot.plan_arm``), the grasps (attachments) and the action
segments, and says what the rollout must show for the task to have succeeded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from simfactory.sim.actors.robot import EeKey, min_jerk, top_down_quat
from simfactory.sim.model.spec import Attachment, Cloth, ClothAnchor
from simfactory.sim.simulate.cloth import corner_vertex, footprint_area

HOVER = 0.12  # m above a grasp or place point before descending


@dataclass
class Placed:
    """An object on the table: its name, model and pose on the table top."""

    name: str
    model: object  # objects.Graspable or a furniture Clutter (the bowl)
    xy: np.ndarray
    yaw: float


@dataclass
class TaskPlan:
    task: str
    keys: list[EeKey]
    attachments: list[Attachment]
    segments: list[dict]  # verb, objects, start (s), end (s)
    goal: dict  # what ``check_goal`` tests on the final poses
    facts: dict = field(default_factory=dict)  # words for the caption
    script: object = None  # a person's whole-body script (sim.person), for walking tasks


def _key(t, xy, z, yaw, gripper) -> EeKey:
    return EeKey(float(t), np.array([xy[0], xy[1], z], float), top_down_quat(yaw), float(gripper))


def _start(T_start: np.ndarray, gripper: float) -> EeKey:
    """The first key: the arm's home pose."""
    quat = Rotation.from_matrix(T_start[:3, :3]).as_quat()
    return EeKey(0.0, T_start[:3, 3].copy(), quat, gripper)


def _phases(duration: float, fractions: list[float]) -> list[float]:
    return [duration * f for f in fractions]


def _palm(height: float, hand_radius: float) -> float:
    """How far above the grasp point (the object's middle) a sphere hand of
    ``hand_radius`` (a person's) has its centre: resting on the object's top. 0 for a
    gripper (``hand_radius`` 0), which closes around the middle."""
    return height / 2 + hand_radius + 0.002 if hand_radius > 0 else 0.0


def pick_place(
    obj: Placed, target: Placed, table_z: float, hand: str, start, duration, hand_radius=0.0
):
    """Pick ``obj`` up and put it down in (or on) ``target``; ``hand`` is the part that
    grasps (a sphere of ``hand_radius`` holds it from above)."""
    h = obj.model.size[2]
    grasp_z = table_z + max(h * 0.5, 0.015) + _palm(h, hand_radius)
    bowl = getattr(target.model, "name_class", "") == "bowl"
    # Into a bowl: let go with the object's bottom 2 cm above the rim, so it drops in
    # without being pushed about by the bowl while held; onto a surface: 1 cm above it.
    drop = target.model.extents[2] + 0.02 if bowl else 0.01
    place_z = table_z + drop + (grasp_z - table_z)
    t = _phases(duration, [0.0, 0.18, 0.3, 0.38, 0.5, 0.68, 0.78, 0.85, 0.97])
    yaw, lift = obj.yaw, table_z + h + HOVER + hand_radius
    keys = [
        _start(start, 1.0),
        _key(t[1], obj.xy, lift, yaw, 1.0),
        _key(t[2], obj.xy, grasp_z, yaw, 1.0),
        _key(t[3], obj.xy, grasp_z, yaw, 0.0),
        _key(t[4], obj.xy, lift, yaw, 0.0),
        _key(t[5], target.xy, lift + 0.03, yaw, 0.0),
        _key(t[6], target.xy, place_z, yaw, 0.0),
        _key(t[7], target.xy, place_z, yaw, 1.0),
        _key(t[8], target.xy, lift + 0.05, yaw, 1.0),
    ]
    radius = float(target.model.extents[0] / 2) if bowl else 0.04
    return TaskPlan(
        "pick_place",
        keys,
        [Attachment(hand, obj.name, start=t[3], end=t[7])],
        [
            {"verb": "reach", "objects": [obj.name], "start": t[0], "end": t[2]},
            {"verb": "grasp", "objects": [obj.name], "start": t[2], "end": t[3]},
            {"verb": "lift", "objects": [obj.name], "start": t[3], "end": t[4]},
            {"verb": "move", "objects": [obj.name, target.name], "start": t[4], "end": t[6]},
            {"verb": "place", "objects": [obj.name, target.name], "start": t[6], "end": t[7]},
            {"verb": "release", "objects": [obj.name], "start": t[7], "end": t[8]},
        ],
        {
            "kind": "in_region",
            "object": obj.name,
            "center": [float(v) for v in target.xy],
            "radius": radius,
            "z_max": float(table_z + 0.12),
            "z_min": float(table_z - 0.02),
        },
        {"object": obj, "target": target},
    )


def push(
    obj: Placed,
    direction: np.ndarray,
    distance: float,
    table_z: float,
    start,
    duration,
    hand_radius: float = 0.0,
) -> TaskPlan:
    """Push ``obj`` across the table along ``direction`` by ``distance`` (with the side of
    a sphere hand of ``hand_radius``, whose centre stays above the table top)."""
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    r = max(obj.model.size[0], obj.model.size[1]) / 2
    if hand_radius > 0:  # a sphere hand comes down clear of the object's corners
        r = float(np.hypot(obj.model.size[0], obj.model.size[1])) / 2
    z = table_z + max(min(obj.model.size[2] * 0.5, 0.03), hand_radius + 0.004)
    behind = obj.xy - d * (r + max(0.035, hand_radius + 0.012))
    end = behind + d * distance
    yaw = float(np.arctan2(d[1], d[0])) + np.pi / 2  # fingers across the push direction
    t = _phases(duration, [0.0, 0.2, 0.35, 0.8, 0.97])
    above = z + HOVER
    if hand_radius > 0:  # a hand comes down over the (larger) object it pushes
        above = max(above, table_z + obj.model.size[2] + hand_radius + 0.03)
    keys = [
        _start(start, 0.0),
        _key(t[1], behind, above, yaw, 0.0),
        _key(t[2], behind, z, yaw, 0.0),
        _key(t[3], end, z, yaw, 0.0),
        _key(t[4], end, above, yaw, 0.0),
    ]
    return TaskPlan(
        "push",
        keys,
        [],
        [
            {"verb": "reach", "objects": [obj.name], "start": t[0], "end": t[2]},
            {"verb": "push", "objects": [obj.name], "start": t[2], "end": t[3]},
            {"verb": "retreat", "objects": [], "start": t[3], "end": t[4]},
        ],
        {
            "kind": "pushed",
            "object": obj.name,
            "start": [float(v) for v in obj.xy],
            "direction": [float(v) for v in d],
            "min_distance": float(0.5 * distance),
        },
        {"object": obj, "distance": distance},
    )


def stack(
    top: Placed, base: Placed, table_z: float, hand: str, start, duration, hand_radius=0.0
) -> TaskPlan:
    """Put block ``top`` onto block ``base`` (a sphere hand of ``hand_radius`` holds it
    from above)."""
    h_top, h_base = top.model.size[2], base.model.size[2]
    palm = _palm(h_top, hand_radius)
    grasp_z = table_z + h_top * 0.5 + palm
    place_z = table_z + h_base + h_top * 0.5 + 0.008 + palm
    t = _phases(duration, [0.0, 0.18, 0.3, 0.38, 0.5, 0.68, 0.8, 0.86, 0.97])
    lift = table_z + h_base + h_top + HOVER + hand_radius
    keys = [
        _start(start, 1.0),
        _key(t[1], top.xy, lift, top.yaw, 1.0),
        _key(t[2], top.xy, grasp_z, top.yaw, 1.0),
        _key(t[3], top.xy, grasp_z, top.yaw, 0.0),
        _key(t[4], top.xy, lift, top.yaw, 0.0),
        _key(t[5], base.xy, lift, base.yaw, 0.0),
        _key(t[6], base.xy, place_z, base.yaw, 0.0),
        _key(t[7], base.xy, place_z, base.yaw, 1.0),
        _key(t[8], base.xy, lift, base.yaw, 1.0),
    ]
    return TaskPlan(
        "stack",
        keys,
        [Attachment(hand, top.name, start=t[3], end=t[7])],
        [
            {"verb": "reach", "objects": [top.name], "start": t[0], "end": t[2]},
            {"verb": "grasp", "objects": [top.name], "start": t[2], "end": t[3]},
            {"verb": "lift", "objects": [top.name], "start": t[3], "end": t[4]},
            {"verb": "move", "objects": [top.name, base.name], "start": t[4], "end": t[6]},
            {"verb": "stack", "objects": [top.name, base.name], "start": t[6], "end": t[7]},
            {"verb": "release", "objects": [top.name], "start": t[7], "end": t[8]},
        ],
        {
            "kind": "stacked",
            "object": top.name,
            "base": base.name,
            "height": float(h_base),
            "half_width": float(base.model.size[0] / 2),
        },
        {"object": top, "target": base},
    )


def fold_cloth(
    cloth: Cloth, corner: tuple[float, float], table_z: float, hand: str, start, duration,
    grasp_height: float, pinch: tuple[int, int] | None = None, apex_share: float = 0.55,
) -> TaskPlan:  # fmt: skip
    """Fold ``cloth`` (lying flat) along a diagonal: pinch the corner farthest along
    ``corner`` (x, y, in the cloth frame), lift it, carry it over the cloth and lay it on
    the opposite corner, let go. ``grasp_height``: the hand's height above the table
    when it pinches (fingertips clear of the table); the corner is anchored to ``hand``
    from when the gripper has closed to when it starts opening. ``pinch``: the vertices
    (grasped, target) instead of two opposite corners (a T-shirt's hem onto its collar);
    ``apex_share``: how high over the fold line the hand lifts, as a share of the reach."""
    T = np.asarray(cloth.pose, dtype=float)
    vertices = np.asarray(cloth.mesh.vertices) @ T[:3, :3].T + T[:3, 3]
    grasp = corner_vertex(cloth.mesh, corner)
    target = corner_vertex(cloth.mesh, (-corner[0], -corner[1]))
    if pinch is not None:
        grasp, target = (int(v) for v in pinch)
    p0, p1 = vertices[grasp, :2], vertices[target, :2]
    reach = float(np.linalg.norm(p1 - p0))
    d = (p1 - p0) / reach
    yaw = float(np.arctan2(d[1], d[0]))  # fingers close across the corner
    z = table_z + grasp_height
    # Up above the fold line as high as the folding half is wide (it peels off the table
    # along the fold line), then down onto the target inside that arc (the cloth between
    # hand and fold line stays slack: a taut one drags the cloth along the table).
    apex = z + apex_share * reach
    t = _phases(duration, [0.0, 0.16, 0.24, 0.3, 0.48, 0.66, 0.8, 0.86, 0.97])
    keys = [
        _start(start, 1.0),
        _key(t[1], p0, z + HOVER, yaw, 1.0),
        _key(t[2], p0, z, yaw, 1.0),
        _key(t[3], p0, z, yaw, 0.0),
        _key(t[4], p0 + 0.5 * reach * d, apex, yaw, 0.0),
        _key(t[5], p0 + 0.85 * reach * d, z + 0.2 * reach, yaw, 0.0),
        _key(t[6], p1, z + 0.004, yaw, 0.0),
        _key(t[7], p1, z + 0.004, yaw, 1.0),
        _key(t[8], p1, z + HOVER, yaw, 1.0),
    ]
    cloth.anchors.append(ClothAnchor(grasp, hand, start=t[3], end=t[6]))  # closed
    name = cloth.name
    return TaskPlan(
        "fold_cloth",
        keys,
        [],
        [
            {"verb": "reach", "objects": [name], "start": t[0], "end": t[2]},
            {"verb": "grasp", "objects": [name], "start": t[2], "end": t[3]},
            {"verb": "lift", "objects": [name], "start": t[3], "end": t[4]},
            {"verb": "fold", "objects": [name], "start": t[4], "end": t[6]},
            {"verb": "release", "objects": [name], "start": t[6], "end": t[7]},
            {"verb": "retreat", "objects": [], "start": t[7], "end": t[8]},
        ],
        {
            "kind": "folded",
            "object": name,
            "corner": grasp,
            "target_corner": target,
            "target": [float(v) for v in p1],
            "max_distance": 0.04,
            "area": float(footprint_area(vertices, cloth.mesh.faces)),
            "max_area_ratio": 0.7,
            "z_min": float(table_z - 0.003),
        },
        {"cloth": cloth},
    )


def check_goal(goal: dict, final: dict, table_z: float, joints: dict | None = None) -> dict:
    """Success and the measured values of a goal, from the final state: poses (name ->
    4x4) of the parts present at the end, cloths (name -> their ``trimesh.Trimesh`` in
    the last frame) and joint positions (name -> value)."""
    if goal["kind"] == "cut":
        return _check_cut(goal, final, table_z)
    if goal["kind"] == "folded":
        return _check_folded(goal, final[goal["object"]], table_z)
    if goal["kind"] == "joint":
        q = float(joints[goal["joint"]])
        fraction = q / goal["travel"]
        ok = fraction >= goal["fraction"] if goal["open"] else fraction <= goal["fraction"]
        return {
            "success": bool(ok),
            "joint_position": round(q, 4),
            "open_fraction": round(fraction, 4),
        }
    p = final[goal["object"]][:3, 3]
    if goal["kind"] == "in_region":
        offset = float(np.linalg.norm(p[:2] - np.asarray(goal["center"])))
        ok = offset <= goal["radius"] and goal["z_min"] <= p[2] <= goal["z_max"]
        return {
            "success": bool(ok),
            "distance_to_target_m": round(offset, 4),
            "height_m": round(float(p[2] - table_z), 4),
        }
    if goal["kind"] == "pushed":
        moved = float(np.dot(p[:2] - np.asarray(goal["start"]), goal["direction"]))
        return {"success": bool(moved >= goal["min_distance"]), "pushed_m": round(moved, 4)}
    if goal["kind"] == "stacked":
        base = final[goal["base"]][:3, 3]
        rise = float(p[2] - base[2])
        offset = float(np.linalg.norm(p[:2] - base[:2]))
        ok = abs(rise - goal["height"]) < 0.015 and offset < goal["half_width"]
        return {
            "success": bool(ok),
            "height_above_base_m": round(rise, 4),
            "offset_m": round(offset, 4),
        }
    if goal["kind"] == "placed_facing":
        offset = float(np.linalg.norm(p[:2] - np.asarray(goal["center"])))
        R = final[goal["object"]][:3, :3]
        front = R[:2, 1] / max(np.linalg.norm(R[:2, 1]), 1e-9)  # the piece's +y, its front
        turn = float(np.degrees(np.arccos(np.clip(front @ np.asarray(goal["facing"]), -1, 1))))
        tilt = float(np.degrees(np.arccos(np.clip(R[2, 2], -1, 1))))
        ok = offset <= goal["radius"] and turn <= goal["max_angle_deg"] and tilt < 10.0
        return {
            "success": bool(ok),
            "distance_to_target_m": round(offset, 4),
            "facing_error_deg": round(turn, 2),
            "tilt_deg": round(tilt, 2),
        }
    raise ValueError(f"unknown goal kind {goal['kind']!r}")


def cut(
    fruit: Placed,
    halves: dict[str, dict],
    tool: str,
    fruit_top: float,
    fruit_middle: float,
    board_top: float,
    table_z: float,
    blade_yaw: float,
    blade_reach: float,
    edge_below: float,
    grip: float,
    hand: str,
    start,
    duration: float,
) -> TaskPlan:
    """Cut ``fruit`` in two with the knife ``tool`` held in the hand from the start: bring
    the blade (``blade_reach`` ahead of the hand along the EE's x, its edge ``edge_below``
    beneath the EE) over the fruit, across it at ``blade_yaw``, stroke down until the edge
    is just above the board, and lift it away. ``facts["cut_time"]`` is when the edge
    passes ``fruit_middle``: the moment the fruit is replaced by its ``halves`` ({name:
    centre and cap normal in the fruit's frame}); ``grip`` is the gripper value that
    closes the fingers on the handle."""
    t = _phases(duration, [0.0, 0.28, 0.4, 0.66, 0.74, 0.95])
    along = np.array([np.cos(blade_yaw), np.sin(blade_yaw)])
    hand_xy = np.asarray(fruit.xy, float) - blade_reach * along
    above, touch = fruit_top + 0.05, fruit_top + 0.008
    down = board_top + 0.003
    keys = [
        _start(start, grip),
        _key(t[1], hand_xy, above + edge_below, blade_yaw, grip),
        _key(t[2], hand_xy, touch + edge_below, blade_yaw, grip),
        _key(t[3], hand_xy, down + edge_below, blade_yaw, grip),
        _key(t[4], hand_xy, down + edge_below, blade_yaw, grip),
        _key(t[5], hand_xy, above + 0.03 + edge_below, blade_yaw, grip),
    ]
    # The stroke eases in and out (min_jerk, as every EE segment): invert it.
    u = np.linspace(0.0, 1.0, 4001)
    through = float(np.interp((touch - fruit_middle) / (touch - down), min_jerk(u), u))
    cut_time = t[2] + through * (t[3] - t[2])
    centres = [np.asarray(h["centre"], float) for h in halves.values()]
    apart = float(np.linalg.norm(centres[0] - centres[1]))
    return TaskPlan(
        "cut_fruit",
        keys,
        [Attachment(hand, tool, start=0.0)],
        [
            {"verb": "reach", "objects": [fruit.name], "start": t[0], "end": t[2]},
            {"verb": "cut", "objects": [fruit.name], "start": t[2], "end": t[4]},
            {"verb": "retreat", "objects": list(halves), "start": t[4], "end": t[5]},
        ],
        cut_goal(fruit.name, halves, apart, table_z),
        {"object": fruit, "cut_time": cut_time, "tools": [tool]},
    )


def _check_cut(goal: dict, final: dict[str, np.ndarray], table_z: float) -> dict:
    """Both halves present (and the whole fruit gone), resting on the board or table, their
    centres at least ``min_separation`` apart; also how each lies: "up" with its cut face
    up, "down" on it, or "side"."""
    halves = [name for name in goal["halves"] if name in final]
    out = {"halves_present": len(halves), "whole_present": goal["object"] in final}
    if len(halves) < 2 or out["whole_present"]:
        return {"success": False, **out}
    centres, faces = [], []
    for name in halves:
        T, half = final[name], goal["halves"][name]
        centres.append(T[:3, :3] @ np.asarray(half["centre"]) + T[:3, 3])
        up = float((T[:3, :3] @ np.asarray(half["cap_normal"]))[2])
        faces.append("up" if up > 0.7 else ("down" if up < -0.7 else "side"))
    separation = float(np.linalg.norm(centres[0] - centres[1]))
    heights = [float(c[2]) for c in centres]
    on_table = all(goal["z_min"] <= z <= goal["z_max"] for z in heights)
    heights = [z - table_z for z in heights]
    return {
        "success": bool(on_table and separation >= goal["min_separation"]),
        **out,
        "separation_m": round(separation, 4),
        "centre_heights_m": [round(z, 4) for z in heights],  # above the table top
        "cut_faces": faces,
    }


def _check_folded(goal: dict, mesh, table_z: float) -> dict:
    """A diagonal fold worked when the pinched corner (every pinched vertex of a fold of
    several, ``pinches``) lies within ``max_distance`` of its target, the cloth covers at
    most ``max_area_ratio`` of its flat area, and no vertex is below ``z_min`` (through
    the table)."""
    vertices = np.asarray(mesh.vertices)
    pinches = goal.get("pinches", [[goal["corner"], goal["target"]]])  # [vertex, target xy]
    offset = max(float(np.linalg.norm(vertices[v, :2] - np.asarray(p))) for v, p in pinches)
    ratio = footprint_area(vertices, mesh.faces) / goal["area"]
    lowest = float(vertices[:, 2].min())
    ok = offset <= goal["max_distance"] and ratio <= goal["max_area_ratio"]
    ok = ok and lowest >= goal["z_min"]
    return {
        "success": bool(ok),
        "distance_to_target_m": round(offset, 4),
        "area_ratio": round(float(ratio), 4),
        "lowest_vertex_above_table_m": round(lowest - table_z, 4),
    }


def cut_goal(fruit: str, halves: dict, apart: float, table_z: float) -> dict:
    """The goal of cutting ``fruit`` into ``halves`` on a table at ``table_z``: the halves'
    centres start ``apart``; falling apart moves them 3 cm further, and they stay on
    the table."""
    return {
        "kind": "cut",
        "object": fruit,
        "halves": halves,
        "min_separation": apart + 0.03,
        "z_min": float(table_z - 0.01),
        "z_max": float(table_z + 0.15),
    }
