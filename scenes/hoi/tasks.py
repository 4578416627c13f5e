"""Robot task templates: each places its objects on the table, scripts the end
effector (keys for ``sim.robot.plan_arm``), the grasps (attachments) and the action
segments, and says what the rollout must show for the task to have succeeded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from simfactory.sim.robot import EeKey, top_down_quat
from simfactory.sim.spec import Attachment

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


def _key(t, xy, z, yaw, gripper) -> EeKey:
    return EeKey(float(t), np.array([xy[0], xy[1], z], float), top_down_quat(yaw), float(gripper))


def _start(T_start: np.ndarray, gripper: float) -> EeKey:
    """The first key: the arm's home pose."""
    quat = Rotation.from_matrix(T_start[:3, :3]).as_quat()
    return EeKey(0.0, T_start[:3, 3].copy(), quat, gripper)


def _phases(duration: float, fractions: list[float]) -> list[float]:
    return [duration * f for f in fractions]


def pick_place(obj: Placed, target: Placed, table_z: float, hand: str, start, duration):
    """Pick ``obj`` up and put it down in (or on) ``target``; ``hand`` is the part that
    grasps."""
    h = obj.model.size[2]
    grasp_z = table_z + max(h * 0.5, 0.015)
    bowl = getattr(target.model, "name_class", "") == "bowl"
    # Into a bowl: let go with the object's bottom 2 cm above the rim, so it drops in
    # without being pushed about by the bowl while held; onto a surface: 1 cm above it.
    drop = target.model.extents[2] + 0.02 if bowl else 0.01
    place_z = table_z + drop + (grasp_z - table_z)
    t = _phases(duration, [0.0, 0.18, 0.3, 0.38, 0.5, 0.68, 0.78, 0.85, 0.97])
    yaw, lift = obj.yaw, table_z + h + HOVER
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
    obj: Placed, direction: np.ndarray, distance: float, table_z: float, start, duration
) -> TaskPlan:
    """Push ``obj`` across the table along ``direction`` by ``distance``."""
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    r = max(obj.model.size[0], obj.model.size[1]) / 2
    z = table_z + min(obj.model.size[2] * 0.5, 0.03)
    behind = obj.xy - d * (r + 0.035)
    end = behind + d * distance
    yaw = float(np.arctan2(d[1], d[0])) + np.pi / 2  # fingers across the push direction
    t = _phases(duration, [0.0, 0.2, 0.35, 0.8, 0.97])
    keys = [
        _start(start, 0.0),
        _key(t[1], behind, z + HOVER, yaw, 0.0),
        _key(t[2], behind, z, yaw, 0.0),
        _key(t[3], end, z, yaw, 0.0),
        _key(t[4], end, z + HOVER, yaw, 0.0),
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


def stack(top: Placed, base: Placed, table_z: float, hand: str, start, duration) -> TaskPlan:
    """Put block ``top`` onto block ``base``."""
    h_top, h_base = top.model.size[2], base.model.size[2]
    grasp_z = table_z + h_top * 0.5
    place_z = table_z + h_base + h_top * 0.5 + 0.008
    t = _phases(duration, [0.0, 0.18, 0.3, 0.38, 0.5, 0.68, 0.8, 0.86, 0.97])
    lift = table_z + h_base + h_top + HOVER
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


def check_goal(
    goal: dict, final: dict[str, np.ndarray], table_z: float, joints: dict | None = None
) -> dict:
    """Success and the measured values of a goal, from the final poses (name -> 4x4)
    and joint positions (name -> value)."""
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
    raise ValueError(f"unknown goal kind {goal['kind']!r}")
