"""The "hoi" scene family: an actor handles objects on a table in a furnished room.

Actors so far: robot arms (Franka Panda, KUKA iiwa) moved by inverse kinematics along
smooth end-effector paths, grasping by constraint. Tasks: pick and place, push, stack.
The room, table, bowls and lighting come from the furniture family.

Random streams: "layout" (room, table, where objects stand), "appearance" (materials,
object colours), "behaviour" (task parameters), "lighting", "camera".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simfactory.scenes.furniture.clutter import make_clutter
from simfactory.scenes.furniture.lights import make_lighting
from simfactory.scenes.furniture.materials import (
    clutter_materials,
    make_palette,
    piece_materials,
    room_materials,
)
from simfactory.scenes.furniture.pieces import make_piece
from simfactory.scenes.furniture.room import make_room
from simfactory.sim.robot import (
    ROBOTS,
    ee_path,
    home_ee_pose,
    plan_arm,
    robot_body,
    robot_model,
)
from simfactory.sim.spec import Body, CameraPath, CameraSpec, SceneSpec

from .articulated import ARTICULATED_SETUPS, TABLE_LENGTH, furniture_body
from .captions import captions, pick_caption, surface_colour
from .objects import GRASPABLE, make_graspable
from .tasks import Placed, TaskPlan, check_goal, pick_place, push, stack

DEFAULTS = dict(
    task="random",
    actor="random",
    num_distractors=3,
    camera="static",
    fov_deg=55.0,
    fps=24,
    frames=48,
)
ACTORS = tuple(ROBOTS)
CAMERAS = ("static", "orbit", "wrist")


def validate(cfg: dict) -> list[str]:
    """Messages ("key: problem (got value)") for every invalid hoi config key."""
    cfg = {**DEFAULTS, **(cfg or {})}
    errors = []
    if cfg["task"] not in (*TASKS, "random"):
        errors.append(f"task: must be one of {', '.join(TASKS)} or random (got {cfg['task']!r})")
    if cfg["actor"] not in (*ACTORS, "random"):
        errors.append(f"actor: must be one of {', '.join(ACTORS)} or random (got {cfg['actor']!r})")
    n = cfg["num_distractors"]
    if not (isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 12):
        errors.append(f"num_distractors: must be an integer in [0, 12] (got {n!r})")
    if cfg["camera"] not in CAMERAS:
        errors.append(
            f"camera.path: the hoi family has {', '.join(CAMERAS)} cameras (got {cfg['camera']!r})"
        )
    return errors


def _pose(x, y, z, yaw=0.0) -> np.ndarray:
    T = np.eye(4)
    T[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    T[:3, 3] = (x, y, z)
    return T


def _table(rng, palette, length: float = 0.9):
    """A table top at least ``length`` x 0.6 m (a few draws), centred at the origin."""
    for _ in range(30):
        piece = make_piece(rng, "table", piece_materials(rng, palette))
        rect, z = piece.support_surfaces[0]
        if rect[2] - rect[0] >= length and rect[3] - rect[1] >= 0.6:
            return piece
    return piece


def _free_spot(rng, taken, lo, hi, radius) -> np.ndarray:
    """A point in the rectangle [lo, hi] at least ``radius`` plus their radius from
    every taken (point, radius)."""
    for _ in range(200):
        p = rng.uniform(lo, hi)
        if all(np.linalg.norm(p - q) >= radius + r for q, r in taken):
            return p
    raise RuntimeError("no room left on the table")


@dataclass
class Setting:
    """What a task's setup gets: random streams, the table, the grasping part, the
    hand's pose at t = 0, and ``place(name, model, radius)`` to put an object on a free
    spot of the table; ``bodies`` takes any extra body the task brings. ``actor``,
    ``T_base`` (the robot's base), ``table_rect`` (the top, world [xmin, ymin, xmax,
    ymax]) and ``taken`` (the (xy, radius) circles that ``place`` keeps clear) let a
    task put something at a chosen spot."""

    appearance: np.random.Generator
    behaviour: np.random.Generator
    palette: np.ndarray
    table_z: float
    hand: str
    start: np.ndarray
    duration: float
    colours: list[str]
    place: Callable[[str, object, float], Placed]
    bodies: list[Body]
    actor: str
    T_base: np.ndarray
    table_rect: np.ndarray
    taken: list


def _setup_pick_place(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    kind = str(s.behaviour.choice(GRASPABLE))
    obj = s.place("object_0", make_graspable(s.appearance, kind, s.colours[0]), 0.06)
    bowl = make_clutter(s.appearance, "bowl", clutter_materials(s.appearance, s.palette))
    target = s.place("bowl_0", bowl, bowl.extents[0] / 2 + 0.03)
    return pick_place(obj, target, s.table_z, s.hand, s.start, s.duration), [obj, target]


def _setup_push(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    kind = str(s.behaviour.choice(["block", "can"]))
    obj = s.place("object_0", make_graspable(s.appearance, kind, s.colours[0]), 0.1)
    angle = float(s.behaviour.uniform(-0.6, 0.6))
    distance = float(s.behaviour.uniform(0.08, 0.15))
    direction = (np.cos(angle), np.sin(angle))
    return push(obj, direction, distance, s.table_z, s.start, s.duration), [obj]


def _setup_stack(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    base = s.place("block_0", make_graspable(s.appearance, "block", s.colours[0]), 0.06)
    top = s.place("block_1", make_graspable(s.appearance, "block", s.colours[1]), 0.06)
    return stack(top, base, s.table_z, s.hand, s.start, s.duration), [base, top]


# Each task's setup places its objects and plans the actor's hand.
TASK_SETUPS: dict[str, Callable[[Setting], tuple[TaskPlan, list[Placed]]]] = {
    "pick_place": _setup_pick_place,
    "push": _setup_push,
    "stack": _setup_stack,
    **ARTICULATED_SETUPS,
}
TASKS = tuple(TASK_SETUPS)


def build(cfg: dict, streams: dict, width: int, height: int, duration: float) -> SceneSpec:
    """One clip: a room, a table, the actor at the table's edge and the task's objects."""
    cfg = {**DEFAULTS, **cfg}
    layout, appearance = streams["layout"], streams["appearance"]
    behaviour = streams["behaviour"]
    task = cfg["task"] if cfg["task"] != "random" else str(behaviour.choice(TASKS))
    actor = cfg["actor"] if cfg["actor"] != "random" else str(behaviour.choice(ACTORS))

    palette = make_palette(appearance, size=128)
    room = make_room(layout, "rect", False, room_materials(appearance, palette), (4.0, 6.0))
    cx, cy = (np.asarray(room.rects[0][:2]) + np.asarray(room.rects[0][2:])) / 2
    table = _table(layout, palette, TABLE_LENGTH if task in ARTICULATED_SETUPS else 0.9)
    rect, table_z = table.support_surfaces[0]
    T_table = _pose(cx, cy, 0.0)
    bodies: list[Body] = list(room.bodies)
    bodies.append(Body("table", "table", table.visuals, T_table, collision="exact"))

    # The robot stands on the table top at the middle of its -x edge, facing +x.
    model = robot_model(actor)
    base_xy = np.array([cx + rect[0] + 0.08, cy + (rect[1] + rect[3]) / 2])
    T_base = _pose(base_xy[0], base_xy[1], table_z)
    near = 0.35 if actor == "panda" else 0.45  # the iiwa cannot point down close to its base
    lo = np.array([base_xy[0] + near, cy + max(rect[1] + 0.08, -0.3)])
    hi = np.array([min(base_xy[0] + 0.68, cx + rect[2] - 0.08), cy + min(rect[3] - 0.08, 0.3)])
    taken = [(base_xy, 0.2)]

    def place(name, obj, radius):
        xy = _free_spot(layout, taken, lo, hi, radius)
        taken.append((xy, radius))
        return Placed(name, obj, xy, float(layout.uniform(-np.pi / 4, np.pi / 4)))

    colours = list(appearance.permutation(["red", "green", "blue", "yellow", "orange", "purple"]))
    setting = Setting(
        appearance=appearance,
        behaviour=behaviour,
        palette=palette,
        table_z=float(table_z),
        hand=f"robot/{model.ee_link}",
        start=home_ee_pose(model, T_base),
        duration=duration,
        colours=colours,
        place=place,
        bodies=bodies,
        actor=actor,
        T_base=T_base,
        table_rect=np.array([cx + rect[0], cy + rect[1], cx + rect[2], cy + rect[3]]),
        taken=taken,
    )
    plan, placed = TASK_SETUPS[task](setting)
    for i in range(cfg["num_distractors"]):
        try:
            kind = str(layout.choice(GRASPABLE))
            placed.append(place(f"distractor_{i}", make_graspable(appearance, kind), 0.05))
        except RuntimeError:
            break
    for p in placed:
        m = p.model
        if getattr(m, "links", None):  # furniture with drawers or doors stands still
            bodies.append(furniture_body(p, table_z))
            continue
        mass = float(getattr(m, "mass", 0.3))
        bodies.append(
            Body(
                p.name,
                m.semantic_class if hasattr(m, "semantic_class") else m.name_class,
                m.visuals,
                _pose(p.xy[0], p.xy[1], table_z + 0.001, p.yaw),
                mass=mass,
                friction=0.9,
                collision=getattr(m, "collision", "convex"),
            )
        )

    times, joints, _ = plan_arm(model, T_base, plan.keys)
    bodies.append(robot_body("robot", model, T_base, times, joints))
    lights, sky = make_lighting(streams["lighting"], room)
    cameras = [_camera(streams["camera"], cfg, model, T_base, table_z, width, height)]

    phrasings = captions(task, actor, plan.facts, surface_colour(table.visuals[0].material))
    fps, frames = float(cfg["fps"]), int(cfg["frames"])
    frame_times = np.arange(frames) / fps
    commanded = _commanded(plan.keys, frame_times)
    annotations = {
        "task": task,
        "actor": {
            "kind": "robot",
            "model": actor,
            "body": "robot",
            "ee_link": model.ee_link,
            "T_link_ee": np.round(model.T_link_ee, 6).tolist(),
            "arm_joints": model.arm_joints,
            "finger_joints": model.finger_joints,
        },
        "goal": plan.goal,
        "table_top_z": float(table_z),
        "segments": [_frames(s, fps, frames) for s in plan.segments],
        "actions": commanded,
        "attachments": [
            {
                "parent": a.parent,
                "child": a.child,
                "start_frame": _frame(a.start, fps, frames),
                "end_frame": _frame(a.end, fps, frames),
            }
            for a in plan.attachments
        ],
        "caption": pick_caption(behaviour, phrasings),
        "captions": phrasings,
    }
    params = {
        "task": task,
        "actor": actor,
        "objects": {p.name: _object_params(p) for p in placed},
        "table": {k: v for k, v in table.params.items()},
        "robot_base_xy": [float(v) for v in base_xy],
        "camera": cfg["camera"],
    }
    return SceneSpec(
        family="hoi",
        bodies=bodies,
        lights=lights,
        cameras=cameras,
        sky=sky,
        params=params,
        attachments=plan.attachments,
        annotations=annotations,
    )


def _object_params(p: Placed) -> dict:
    m = p.model
    return {
        "kind": m.kind if hasattr(m, "kind") else m.name_class,
        "colour": getattr(m, "colour", None),
        "xy": [float(v) for v in p.xy],
        "yaw": float(p.yaw),
    }


def _frame(t: float | None, fps: float, frames: int) -> int:
    if t is None:
        return frames - 1
    return int(min(frames - 1, max(0, np.ceil(t * fps - 1e-6))))


def _frames(segment: dict, fps: float, frames: int) -> dict:
    out = {k: v for k, v in segment.items() if k not in ("start", "end")}
    out["start_frame"] = _frame(segment["start"], fps, frames)
    out["end_frame"] = max(out["start_frame"], _frame(segment["end"], fps, frames) - 1)
    return out


def _commanded(keys, frame_times) -> list[dict]:
    """The commanded end-effector pose and gripper opening (0 closed, 1 open) per frame,
    from the same minimum-jerk path the arm's joints were solved for."""
    times, poses, grip, _ = ee_path(keys, 240.0)
    out = []
    for t in frame_times:
        i = int(np.clip(np.searchsorted(times, t - 1e-9), 0, len(times) - 1))
        out.append(
            {"ee_T_world": np.round(poses[i], 6).tolist(), "gripper": round(float(grip[i]), 4)}
        )
    return out


def _camera(rng, cfg, model, T_base, table_z, width, height) -> CameraSpec:
    """A third-person view of the table (static or orbiting) or the wrist camera."""
    centre = T_base[:3, 3] + np.array([0.45, 0.0, 0.0])
    target = (float(centre[0]), float(centre[1]), float(table_z + 0.05))
    if cfg["camera"] == "wrist":
        mount = model.T_link_ee.copy()
        mount[:3, 3] -= mount[:3, 2] * 0.04  # just behind the fingertips, looking along them
        path = CameraPath(kind="mounted", body=f"robot/{model.ee_link}", T_body_camera=mount)
    elif cfg["camera"] == "orbit":
        path = CameraPath(
            kind="orbit",
            target=target,
            radius=float(rng.uniform(1.2, 1.6)),
            height=float(table_z + rng.uniform(0.5, 0.8)),
            start_angle=float(rng.uniform(-2.2, -0.9)),
            sweep=float(rng.uniform(0.4, 0.9)),
        )
    else:
        angle = float(rng.uniform(-2.0, -1.1)) * rng.choice([-1, 1])
        r = float(rng.uniform(1.1, 1.5))
        eye = (
            centre[0] + r * np.cos(angle),
            centre[1] + r * np.sin(angle),
            table_z + float(rng.uniform(0.45, 0.8)),
        )
        path = CameraPath(kind="static", eye=tuple(float(v) for v in eye), target=target)
    return CameraSpec("cam0", width, height, fov_y_deg=float(cfg["fov_deg"]), path=path)


def label(spec: SceneSpec, trajectory) -> dict:
    """After the rollout: the task's outcome (and a manifest ``summary``), segments with
    success, the end effector's pose and gripper opening, and per-frame contacts of the
    actor with objects."""
    ann = spec.annotations
    final = {name: trajectory.poses[-1, i] for i, name in enumerate(trajectory.part_names)}
    joints = dict(zip(trajectory.joint_names, trajectory.joint_positions[-1], strict=True))
    outcome = check_goal(ann["goal"], final, ann["table_top_z"], joints)
    segments = [dict(s, success=outcome["success"]) for s in ann["segments"]]
    ee = trajectory.part_names.index(f"robot/{ann['actor']['ee_link']}")
    fingers = [f"robot/{j}" for j in ann["actor"]["finger_joints"]]
    cols = [trajectory.joint_names.index(j) for j in fingers if j in trajectory.joint_names]
    robot_parts = {i for i, n in enumerate(trajectory.part_names) if n.split("/")[0] == "robot"}
    objects = {
        i
        for i, n in enumerate(trajectory.part_names)
        if n.startswith(("object_", "block_", "bowl_", "distractor_", "cabinet"))
    }
    contacts = [[] for _ in range(trajectory.num_frames)]
    for f, (a, b), force in zip(
        trajectory.contact_frame, trajectory.contact_parts, trajectory.contact_force, strict=True
    ):
        for actor_part, obj in ((a, b), (b, a)):
            if actor_part in robot_parts and obj in objects:
                contacts[int(f)].append(
                    {
                        "actor_part": trajectory.part_names[actor_part],
                        "object": trajectory.part_names[obj],
                        "force": round(float(force), 4),
                    }
                )
    return {
        "outcome": outcome,
        # Copied into the dataset manifest as columns (and summed up by the run).
        "summary": {
            "task": ann["task"],
            "actor": ann["actor"]["model"],
            "success": outcome["success"],
        },
        "segments": segments,
        "ee_T_world": np.round(
            trajectory.poses[:, ee] @ np.array(ann["actor"]["T_link_ee"]), 6
        ).tolist(),
        "gripper_opening_m": (
            np.round(trajectory.joint_positions[:, cols].sum(axis=1), 5).tolist() if cols else []
        ),
        "contacts": contacts,
    }
