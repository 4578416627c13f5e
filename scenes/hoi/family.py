"""The "hoi" scene family: an actor handles objects on a table in a furnished room.

Actors: robot arms (Franka Panda, KUKA iiwa) moved by inverse kinematics along smooth
end-effector paths, grasping by constraint, and a person (``human.py``: the humanoid
walking and reaching by inverse kinematics). Tasks: pick and place, push, stack, cut
fruit and fold a cloth (robots; a cloth is a pybullet soft body, see ``sim.softbody``);
only a person carries things across the room or pushes a chair to the table. The
room, tables, chairs, shelves, cabinets, bowls and lighting come from the furniture
family.

Random streams: "layout" (room, table, where objects stand), "appearance" (materials,
object colours), "behaviour" (task parameters), "lighting", "camera".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import trimesh

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
from simfactory.scenes.hoi import human, human_reach, human_tasks
from simfactory.scenes.hoi.articulated import ARTICULATED_SETUPS, TABLE_LENGTH, furniture_body
from simfactory.scenes.hoi.cameras import handheld_path, orbit_radius, room_view, table_view
from simfactory.scenes.hoi.captions import (
    captions,
    describe_person,
    name_the_person,
    pick_caption,
    surface_colour,
)
from simfactory.scenes.hoi.fruit import (
    FRUITS,
    cut_fruit,
    cut_mesh,
    make_board,
    make_fruit,
    make_knife,
    overlaps,
)
from simfactory.scenes.hoi.objects import (
    CLOTH_KINDS,
    CLOTHS,
    GRASPABLE,
    make_cloth,
    make_graspable,
)
from simfactory.scenes.hoi.tasks import (
    Placed,
    TaskPlan,
    check_goal,
    cut,
    fold_cloth,
    pick_place,
    push,
    stack,
)
from simfactory.sim.actors.body import body_model_installed, make_person
from simfactory.sim.actors.humanoid import dress
from simfactory.sim.actors.person import head_mount, plan_person, sample_height
from simfactory.sim.actors.robot import (
    ROBOTS,
    ee_path,
    home_ee_pose,
    plan_arm,
    robot_body,
    robot_model,
)
from simfactory.sim.model.spec import Body, CameraPath, CameraSpec, Cloth, Link, SceneSpec

DEFAULTS = dict(
    task="random",
    actor="random",
    num_distractors=3,
    body="anny",
    place_on="table",
    place_height="random",
    cloth="random",
    camera="static",
    fov_deg=55.0,
    fps=24,
    frames=48,
)
ACTORS = (*ROBOTS, human.HUMAN)
# How a person is drawn: the anny body model (skinned, dressed, with hands) or the bare
# DeepMimic humanoid of capsules (``mannequin``, no extra package needed).
BODY_MODELS = ("anny", "mannequin")
CAMERAS = ("static", "orbit", "wrist", "head", "handheld")
# Cameras that need a kind of actor: on a robot's wrist, on a person's head.
CAMERA_ACTORS = {"wrist": tuple(ROBOTS), "head": (human.HUMAN,)}


def draws_people(cfg: dict) -> bool:
    """Whether clips of this config may draw a person with the anny body model."""
    cfg = {**DEFAULTS, **(cfg or {})}
    return cfg["body"] == "anny" and cfg["actor"] in (human.HUMAN, "random")


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
    if cfg["body"] not in BODY_MODELS:
        errors.append(f"body: must be one of {', '.join(BODY_MODELS)} (got {cfg['body']!r})")
    elif draws_people(cfg) and not body_model_installed():
        errors.append(
            "body: anny (the body model) is not installed: pip install 'simfactory[people]', "
            "or use scene.body=mannequin"
        )
    errors += human_reach.validate(cfg)
    if cfg["cloth"] not in (*CLOTH_KINDS, "random"):
        errors.append(
            f"cloth: must be one of {', '.join(CLOTH_KINDS)} or random (got {cfg['cloth']!r})"
        )
    if cfg["camera"] not in CAMERAS:
        errors.append(
            f"camera.path: the hoi family has {', '.join(CAMERAS)} cameras (got {cfg['camera']!r})"
        )
    if errors:
        return errors
    task, actor, camera = cfg["task"], cfg["actor"], cfg["camera"]
    if task != "random" and actor != "random" and actor not in actors_for(task):
        errors.append(
            f"task: {task} is done by {' or '.join(actors_for(task))} only, "
            f"not by scene.actor={actor}"
        )
    if actor != "random" and actor not in CAMERA_ACTORS.get(camera, ACTORS):
        errors.append(
            f"camera.path: {camera} needs scene.actor {' or '.join(CAMERA_ACTORS[camera])} "
            f"(got scene.actor={actor})"
        )
    duration = (cfg["frames"] - 1) / cfg["fps"]
    if task in human.MIN_DURATION and duration < human.MIN_DURATION[task]:
        errors.append(
            f"task: {task} needs clips of at least {human.MIN_DURATION[task]:g} s "
            f"((frames - 1) / fps; got {duration:.2f} s), e.g. frames=144 fps=24"
        )
    if not errors and not _choices(cfg, duration):
        errors.append(
            f"task: no task fits scene.task={task}, scene.actor={actor}, camera.path={camera} "
            f"and {duration:.2f} s clips"
        )
    return errors


def actors_for(task: str) -> tuple[str, ...]:
    """The actors that can do ``task`` (tasks not in ``TASK_ACTORS``: the robots)."""
    return TASK_ACTORS.get(task, tuple(ROBOTS))


def _choices(cfg: dict, duration: float) -> list[tuple[str, str]]:
    """Every (task, actor) pair the config allows, in a fixed order."""
    tasks = TASKS if cfg["task"] == "random" else (cfg["task"],)
    pairs = []
    for task in tasks:
        if duration < human.MIN_DURATION.get(task, 0.0):
            continue
        for actor in actors_for(task):
            if cfg["actor"] in ("random", actor) and actor in CAMERA_ACTORS.get(
                cfg["camera"], ACTORS
            ):
                pairs.append((task, actor))
    return pairs


def _pick_task_and_actor(cfg: dict, rng: np.random.Generator, duration: float):
    """The clip's task (drawn first, among those some allowed actor can do) and actor
    (drawn among the allowed actors that can do it)."""
    pairs = _choices(cfg, duration)
    tasks = sorted({t for t, _ in pairs}, key=TASKS.index)
    task = cfg["task"] if cfg["task"] != "random" else str(rng.choice(tasks))
    actors = [a for t, a in pairs if t == task]
    actor = cfg["actor"] if cfg["actor"] != "random" else str(rng.choice(actors))
    return task, actor


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
    hand's pose at t = 0, and ``place(name, model, radius, xy=None)`` to put an object on
    a free spot of the table (or keep the spot at ``xy`` for it); ``bodies`` and
    ``cloths`` take any extra body or cloth the task brings (an object the task adds
    there itself is only recorded, not added again, by its Placed entry). ``actor`` is
    the actor's name, ``base_xy`` where a robot stands, ``table_rect`` the table top's
    world rectangle ([xmin, ymin, xmax, ymax]).

    For a person also: its hand's radius (a sphere), its standing height, the layout
    stream, the room and the room's floor rectangle, for the tasks that walk. For a
    robot also ``T_base`` (its base) and ``taken`` (the (xy, radius) circles that
    ``place`` keeps clear), so a task can put something at a chosen spot."""

    appearance: np.random.Generator
    behaviour: np.random.Generator
    palette: np.ndarray
    table_z: float
    hand: str
    start: np.ndarray
    duration: float
    colours: list[str]
    place: Callable[..., Placed]
    bodies: list[Body]
    actor: str = ""
    hand_radius: float = 0.0
    person_height: float = 0.0
    layout: np.random.Generator | None = None
    room: object = None
    room_rect: np.ndarray | None = None
    table_rect: np.ndarray | None = None
    base_xy: np.ndarray | None = None
    cloths: list[Cloth] | None = None
    T_base: np.ndarray | None = None
    taken: list | None = None
    cloth_kind: str = "random"


def _setup_pick_place(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    kind = str(s.behaviour.choice(GRASPABLE))
    obj = s.place("object_0", make_graspable(s.appearance, kind, s.colours[0]), 0.06)
    bowl = make_clutter(s.appearance, "bowl", clutter_materials(s.appearance, s.palette))
    target = s.place("bowl_0", bowl, bowl.extents[0] / 2 + 0.03)
    plan = pick_place(obj, target, s.table_z, s.hand, s.start, s.duration, s.hand_radius)
    return plan, [obj, target]


def _setup_push(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    kind = str(s.behaviour.choice(["block", "can"]))
    scale = 1.8 if s.hand_radius > 0 else 1.0  # a hand pushes a box: its side, not its top
    obj = s.place("object_0", make_graspable(s.appearance, kind, s.colours[0], scale), 0.1 * scale)
    angle = float(s.behaviour.uniform(-0.6, 0.6))
    distance = float(s.behaviour.uniform(0.08, 0.15))
    direction = (np.cos(angle), np.sin(angle))
    return push(obj, direction, distance, s.table_z, s.start, s.duration, s.hand_radius), [obj]


def _setup_stack(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    base = s.place("block_0", make_graspable(s.appearance, "block", s.colours[0]), 0.06)
    top = s.place("block_1", make_graspable(s.appearance, "block", s.colours[1]), 0.06)
    return stack(top, base, s.table_z, s.hand, s.start, s.duration, s.hand_radius), [base, top]


def _table_top(bodies: list[Body], table_z: float) -> tuple[np.ndarray, np.ndarray]:
    """The xy bounds (world) of the table's top: its vertices within 1 cm of the top."""
    table = next(b for b in bodies if b.name == "table")
    points = np.concatenate([v.mesh.vertices for v in table.visuals])
    points = points @ table.pose[:3, :3].T + table.pose[:3, 3]
    top = points[points[:, 2] > table_z - 0.01, :2]
    return top.min(axis=0), top.max(axis=0)


HALF_SPEED = 0.05  # m/s: the halves of a cut fruit start moving apart at this speed


def _setup_cut_fruit(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    """A fruit on a cutting board, cut in two by a knife the robot holds from the start:
    the whole fruit (static, held as a person's other hand would, and letting the blade
    through) exists until the blade reaches its middle; then its two halves appear in
    its place, moving apart, and the rest is physics. A person holds the knife in the
    right hand and steadies the fruit with the left (``human_tasks.cut_plan``)."""
    person = s.actor == human.HUMAN
    board_model = make_board(s.appearance)
    # A free spot with room to spare (a person's: in front of it), then moved wholly onto
    # the table top if it hangs over an edge, its long side roughly along the table's.
    room = float(np.hypot(*board_model.size[:2]) / 2) + 0.06
    spot = human_tasks.fruit_spot(s.table_rect, s.person_height, s.behaviour) if person else None
    board = s.place("board_0", board_model, room, spot)
    board.yaw *= 0.4
    turn = np.abs([[np.cos(board.yaw), np.sin(board.yaw)], [np.sin(board.yaw), np.cos(board.yaw)]])
    half = turn @ np.asarray(board_model.size[:2]) / 2 + 0.01
    lo, hi = _table_top(s.bodies, s.table_z)
    board.xy = np.clip(board.xy, lo + half, hi - half)
    kind = str(s.behaviour.choice(FRUITS))
    fruit_model = make_fruit(s.appearance, kind)
    if person:
        return _setup_person_cut_fruit(s, board, board_model, fruit_model, kind)
    robot = next(m for m in ROBOTS.values() if s.hand == f"robot/{m.ee_link}")

    # The blade crosses the robot's line of sight to the fruit, the hand on the side
    # nearer the robot's centre line (y of the hand's start).
    offset = s.behaviour.uniform(-0.015, 0.015, 2)
    xy = board.xy + offset
    side = np.sign(xy[1] - s.start[1, 3]) if abs(xy[1] - s.start[1, 3]) > 0.05 else 0.0
    side = side or float(s.behaviour.choice([-1.0, 1.0]))
    blade_yaw = float(side * np.pi / 2 + s.behaviour.uniform(-0.35, 0.35))
    across = np.array([np.sin(blade_yaw), -np.cos(blade_yaw), 0.0])  # the cut's normal
    fruit_yaw = (
        blade_yaw - np.pi / 2 if kind == "lemon" else float(s.behaviour.uniform(-np.pi, np.pi))
    )
    fruit = Placed("object_0", fruit_model, xy, fruit_yaw)
    board_top = s.table_z + 0.001 + board_model.size[2]
    T_fruit = _pose(xy[0], xy[1], board_top + 0.0005, fruit_yaw)

    height = fruit_model.size[2]
    middle = np.array([0.0, 0.0, height / 2])
    normal = T_fruit[:3, :3].T @ across
    half_visuals = cut_fruit(fruit_model, middle, normal)
    pieces = cut_mesh(fruit_model.visuals[0].mesh, middle, normal)
    names = [f"{fruit.name}_half_{i}" for i in range(2)]
    knife = make_knife(s.appearance)
    fingers = robot.finger_open > 0  # else the handle is held on the bare flange's face
    T_ee_knife = np.diag([1.0, -1.0, -1.0, 1.0])  # blade along the EE's x, edge down
    T_ee_knife[2, 3] = 0.0 if fingers else knife.handle_height / 2 + 0.001
    grip = knife.handle_width / 2 / robot.finger_open if fingers else 0.0
    plan = cut(
        fruit,
        {
            name: {
                "centre": np.round(piece.center_mass, 6).tolist(),
                "cap_normal": np.round(sign * normal, 6).tolist(),
            }
            for name, piece, sign in zip(names, pieces, (-1.0, 1.0), strict=True)
        },
        "knife",
        fruit_top=board_top + height,
        fruit_middle=board_top + height / 2,
        board_top=board_top,
        table_z=s.table_z,
        blade_yaw=blade_yaw,
        blade_reach=knife.blade_middle,
        edge_below=T_ee_knife[2, 3] - knife.edge_z,
        grip=grip,
        hand=s.hand,
        start=s.start,
        duration=s.duration,
    )
    _fruit_and_knife(s, plan, fruit_model, T_fruit, across, names, half_visuals, pieces,
                     knife, s.start @ T_ee_knife)  # fmt: skip
    plan.facts["board"] = board
    return plan, [board, fruit]


def _setup_person_cut_fruit(s: Setting, board, board_model, fruit_model, kind):
    """The person's cut: the fruit on the board in front of it, the blade pointing ahead
    and a little to the left (across the fruit from the right hand behind it)."""
    xy = board.xy + s.behaviour.uniform(-0.015, 0.015, 2)
    blade_yaw = float(s.behaviour.uniform(0.15, 0.5))
    across = np.array([np.sin(blade_yaw), -np.cos(blade_yaw), 0.0])
    fruit_yaw = (
        blade_yaw - np.pi / 2 if kind == "lemon" else float(s.behaviour.uniform(-np.pi, np.pi))
    )
    fruit = Placed("object_0", fruit_model, xy, fruit_yaw)
    board_top = s.table_z + 0.001 + board_model.size[2]
    T_fruit = _pose(xy[0], xy[1], board_top + 0.0005, fruit_yaw)
    middle = np.array([0.0, 0.0, fruit_model.size[2] / 2])
    normal = T_fruit[:3, :3].T @ across
    half_visuals = cut_fruit(fruit_model, middle, normal)
    pieces = cut_mesh(fruit_model.visuals[0].mesh, middle, normal)
    names = [f"{fruit.name}_half_{i}" for i in range(2)]
    knife = make_knife(s.appearance)
    halves = {
        name: {
            "centre": np.round(piece.center_mass, 6).tolist(),
            "cap_normal": np.round(sign * normal, 6).tolist(),
        }
        for name, piece, sign in zip(names, pieces, (-1.0, 1.0), strict=True)
    }
    plan, T_knife = human_tasks.cut_plan(
        fruit, fruit_model, halves, knife, board_top, s.table_z, blade_yaw, s.table_rect,
        s.person_height, s.duration,
    )  # fmt: skip
    _fruit_and_knife(s, plan, fruit_model, T_fruit, across, names, half_visuals, pieces,
                     knife, T_knife)  # fmt: skip
    plan.facts["board"] = board
    return plan, [board, fruit]


def _fruit_and_knife(s, plan, fruit_model, T_fruit, across, names, half_visuals, pieces,
                     knife, T_knife) -> None:  # fmt: skip
    """The bodies of a cut: the whole fruit until the cut, its halves after it (moving
    apart along ``across``) and the knife at ``T_knife``."""
    cut_time = plan.facts["cut_time"]
    s.bodies.append(
        Body(
            plan.goal["object"],
            "fruit",
            fruit_model.visuals,
            T_fruit,
            collision="none",
            lifetime=(0.0, cut_time),
        )
    )
    total = sum(p.volume for p in pieces)
    for name, visuals, piece, sign in zip(names, half_visuals, pieces, (1.0, -1.0), strict=True):
        s.bodies.append(
            Body(
                name,
                "fruit",
                visuals,
                T_fruit,
                mass=fruit_model.mass * piece.volume / total,
                friction=0.8,
                collision="convex",
                linear_velocity=tuple(float(v) for v in sign * HALF_SPEED * across),
                lifetime=(cut_time, None),
            )
        )
    s.bodies.append(
        Body(
            "knife",
            "knife",
            knife.blade,
            T_knife,
            mass=knife.blade_mass,
            friction=0.3,
            collision="convex",
            links=[Link("handle", "knife", knife.handle, np.eye(4), mass=knife.handle_mass)],
        )
    )


# The hand's height above the table when it pinches a cloth: the Panda's fingertips
# reach 1 cm past its grasp point, the iiwa's flange is the end of its last link.
PINCH_HEIGHT = {"panda": 0.012, "kuka": 0.012}


def _setup_fold_cloth(s: Setting) -> tuple[TaskPlan, list[Placed]]:
    """A napkin or towel flat on the table in front of the robot, turned about 45 degrees
    so that one diagonal runs across the table; the robot folds its left corner onto its
    right one or the other way round (both stay at the same reach). A robot folds a
    T-shirt (``scene.cloth=tshirt``) in half, its hem's middle onto its collar. A person
    folds with both hands (``human_tasks.fold_plan``)."""
    person = s.actor == human.HUMAN
    kinds = list(CLOTH_KINDS) if person else list(CLOTHS)
    kind = s.cloth_kind if s.cloth_kind != "random" else str(s.behaviour.choice(kinds))
    fabrics = s.palette["fabric"]
    material = fabrics[int(s.appearance.integers(len(fabrics)))]
    if person or kind not in CLOTHS:
        return _setup_fold_garment(s, kind, material, person)
    centre = np.array([s.base_xy[0] + 0.52, (s.table_rect[1] + s.table_rect[3]) / 2])
    centre += s.behaviour.uniform(-0.03, 0.03, 2)
    yaw = np.pi / 4 + float(s.behaviour.uniform(-np.pi / 12, np.pi / 12))
    T = _pose(centre[0], centre[1], s.table_z + 0.002, yaw)
    cloth = make_cloth(s.appearance, kind, "cloth_0", material, T)
    s.cloths.append(cloth)
    s.place(cloth.name, cloth, float(np.abs(cloth.mesh.vertices).max() * np.sqrt(2)), centre)
    side = float(s.behaviour.choice([-1.0, 1.0]))  # world +y (left) or -y (right)
    corner = (side * np.sin(yaw), side * np.cos(yaw))  # that direction in the cloth frame
    plan = fold_cloth(cloth, corner, s.table_z, s.hand, s.start, s.duration, PINCH_HEIGHT[s.actor])
    plan.facts["kind"] = kind
    return plan, []


def _setup_fold_garment(s: Setting, kind: str, material, person: bool):
    """A cloth laid square to the table for a person's two-handed fold (a T-shirt with its
    collar away from the person), or a T-shirt a robot folds in half."""
    if person:
        yaw = (-np.pi / 2 if kind == "tshirt" else 0.0) + float(s.behaviour.uniform(-0.08, 0.08))
        probe = make_cloth(np.random.default_rng(0), kind, "probe", material, np.eye(4))
        depth = float(np.ptp(probe.mesh.vertices[:, 1 if kind == "tshirt" else 0]))
        centre = human_tasks.cloth_spot(s.table_rect, depth)
        centre[1] += float(s.behaviour.uniform(-0.03, 0.03))
    else:  # a robot: the collar to its left or right, the hem to the other side
        yaw = float(s.behaviour.choice([0.0, np.pi])) + float(s.behaviour.uniform(-0.1, 0.1))
        centre = np.array([s.base_xy[0] + 0.5, (s.table_rect[1] + s.table_rect[3]) / 2])
    T = _pose(centre[0], centre[1], s.table_z + 0.002, yaw)
    cloth = make_cloth(s.appearance, kind, "cloth_0", material, T)
    s.cloths.append(cloth)
    s.place(cloth.name, cloth, float(np.abs(cloth.mesh.vertices).max() * np.sqrt(2)), centre)
    if person:
        plan = human_tasks.fold_plan(
            cloth, kind, s.table_z, s.table_rect, s.person_height, s.duration
        )
        return plan, []
    # A robot: the hem's middle (the cloth frame's -y) up to the neckline (+y).
    v = np.asarray(cloth.mesh.vertices)
    hem = np.argmin(np.abs(v[:, 0]) + 10.0 * (v[:, 1] - v[:, 1].min()))
    below = v[:, 1].max() - 0.12 * np.ptp(v[:, 1])  # just below the neckline
    neck = np.argmin(np.abs(v[:, 0]) + 10.0 * np.abs(v[:, 1] - below))
    plan = fold_cloth(cloth, (0.0, -1.0), s.table_z, s.hand, s.start, s.duration,
                      PINCH_HEIGHT[s.actor], pinch=(hem, neck), apex_share=0.35)  # fmt: skip
    plan.facts["kind"] = kind
    plan.goal["max_area_ratio"] = 0.75
    return plan, []


# Each task's setup places its objects and plans the actor's hand.
TASK_SETUPS: dict[str, Callable[[Setting], tuple[TaskPlan, list[Placed]]]] = {
    "pick_place": _setup_pick_place,
    "push": _setup_push,
    "stack": _setup_stack,
    "cut_fruit": _setup_cut_fruit,
    "carry": human.setup_carry,
    "push_chair": human.setup_push_chair,
    "fold_cloth": _setup_fold_cloth,
    **ARTICULATED_SETUPS,
}
TASKS = tuple(TASK_SETUPS)
# Who can do each task (a task left out: the robot arms only).
TASK_ACTORS: dict[str, tuple[str, ...]] = {
    "pick_place": ACTORS,
    "push": ACTORS,
    "stack": ACTORS,
    "carry": (human.HUMAN,),
    "push_chair": (human.HUMAN,),
    "cut_fruit": ACTORS,
    "fold_cloth": ACTORS,
    **{task: ACTORS for task in human_reach.PERSON_SETUPS},
}


def build(cfg: dict, streams: dict, width: int, height: int, duration: float) -> SceneSpec:
    """One clip: a room, a table, the actor at the table's edge and the task's objects."""
    cfg = {**DEFAULTS, **cfg}
    layout, appearance = streams["layout"], streams["appearance"]
    behaviour = streams["behaviour"]
    task, actor = _pick_task_and_actor(cfg, behaviour, duration)
    person = actor == human.HUMAN

    palette = make_palette(appearance, size=128)
    room = make_room(layout, "rect", False, room_materials(appearance, palette), (4.0, 6.0))
    room_rect = np.asarray(room.rects[0], dtype=float)
    cx, cy = (room_rect[:2] + room_rect[2:]) / 2
    table = _table(layout, palette, TABLE_LENGTH if task in ARTICULATED_SETUPS else 0.9)
    rect, table_z = table.support_surfaces[0]
    if person:  # room to walk on the table's -x side
        cx = min(max(cx, room_rect[0] + 1.7 - rect[0]), room_rect[2] - 0.5 - rect[2])
    T_table = _pose(cx, cy, 0.0)
    bodies: list[Body] = list(room.bodies)
    bodies.append(Body("table", "table", table.visuals, T_table, collision="exact"))
    table_rect = np.array([cx + rect[0], cy + rect[1], cx + rect[2], cy + rect[3]])

    if person:  # standing at the middle of the table's -x edge, facing +x
        model = base_xy = T_base = None
        person_rng = np.random.default_rng(int(appearance.integers(2**63)))
        if cfg["body"] == "anny":
            body_person, body_regions = make_person(human.BODY, human.BODY, person_rng)
            person_height = body_person.height
        else:
            person_height = sample_height(person_rng)
        lo, hi = human.reach_region(table_rect, person_height)
        taken = []
        hand, start = human.HAND, human.start_pose(table_rect, person_height)
    else:  # the robot stands on the table top at the middle of its -x edge, facing +x
        person_height = 0.0
        model = robot_model(actor)
        base_xy = np.array([cx + rect[0] + 0.08, cy + (rect[1] + rect[3]) / 2])
        T_base = _pose(base_xy[0], base_xy[1], table_z)
        near = 0.35 if actor == "panda" else 0.45  # the iiwa cannot point down close to its base
        lo = np.array([base_xy[0] + near, cy + max(rect[1] + 0.08, -0.3)])
        hi = np.array([min(base_xy[0] + 0.68, cx + rect[2] - 0.08), cy + min(rect[3] - 0.08, 0.3)])
        taken = [(base_xy, 0.2)]
        hand, start = f"robot/{model.ee_link}", home_ee_pose(model, T_base)

    def place(name, obj, radius, xy=None):
        xy = _free_spot(layout, taken, lo, hi, radius) if xy is None else np.asarray(xy)
        taken.append((xy, radius))
        return Placed(name, obj, xy, float(layout.uniform(-np.pi / 4, np.pi / 4)))

    colours = list(appearance.permutation(["red", "green", "blue", "yellow", "orange", "purple"]))
    setting = Setting(
        appearance=appearance,
        behaviour=behaviour,
        palette=palette,
        table_z=float(table_z),
        hand=hand,
        start=start,
        duration=duration,
        colours=colours,
        place=place,
        bodies=bodies,
        actor=actor,
        hand_radius=human.hand_radius(person_height) if person else 0.0,
        person_height=person_height,
        layout=layout,
        room=room,
        room_rect=room_rect,
        table_rect=table_rect,
        base_xy=base_xy,
        cloths=[],
        T_base=T_base,
        taken=taken,
        cloth_kind=str(cfg["cloth"]),
    )
    person_setup = human_reach.person_setup(task, cfg) if person else None
    plan, placed = (person_setup or TASK_SETUPS[task])(setting)
    if person:  # a hand without a wrist joint holds things level
        plan.attachments = [replace(a, upright=True) for a in plan.attachments]
    for i in range(cfg["num_distractors"]):
        try:
            kind = str(layout.choice(GRASPABLE))
            placed.append(place(f"distractor_{i}", make_graspable(appearance, kind), 0.05))
        except RuntimeError:
            break
    for p in placed:
        if any(b.name == p.name for b in bodies):
            continue
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

    fps, frames = float(cfg["fps"]), int(cfg["frames"])
    frame_times = np.arange(frames) / fps
    if person:
        script = plan.script or human.table_script(plan, table_rect, person_height)
        person_plan = plan_person(human.BODY, script, duration)
        if cfg["body"] != "anny":
            dress(person_plan.body, appearance)
        else:
            body_person.grips = plan.facts.get("grips") or human_reach.grip_parts(
                human.grips(plan.attachments), plan.facts
            )
        bodies.append(person_plan.body)
        actor_entry = human.actor_entry(person_plan)
        commanded = human.actions(person_plan, plan.attachments, frame_times)
        focus = human_reach.camera_focus(
            human.focus(script, table_rect, float(table_z)), plan.facts
        )
    else:
        times, joints, _ = plan_arm(model, T_base, plan.keys)
        bodies.append(robot_body("robot", model, T_base, times, joints))
        actor_entry = {
            "kind": "robot",
            "model": actor,
            "body": "robot",
            "ee_link": model.ee_link,
            "T_link_ee": np.round(model.T_link_ee, 6).tolist(),
            "arm_joints": model.arm_joints,
            "finger_joints": model.finger_joints,
        }
        commanded = _commanded(plan.keys, frame_times)
    lights, sky = make_lighting(streams["lighting"], room)
    if person:
        cameras = [
            _person_camera(streams["camera"], cfg, person_plan, focus, room_rect, width, height)
        ]
    else:
        cameras = [_camera(streams["camera"], cfg, model, T_base, table_z, width, height)]

    phrasings = captions(task, actor, plan.facts, surface_colour(table.visuals[0].material))
    if person and cfg["body"] == "anny":  # say who: "A tall older man in a blue top ..."
        who = describe_person(body_person.phenotype, body_person.height, body_person.look["top"])
        phrasings = name_the_person(phrasings, who)
    annotations = {
        "task": task,
        "actor": actor_entry,
        "goal": plan.goal,
        "tools": plan.facts.get("tools", []),
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
        ]
        + [
            {
                "parent": a.part,
                "child": cloth.name,
                "vertex": a.vertex,
                "start_frame": _frame(a.start, fps, frames),
                "end_frame": _frame(a.end, fps, frames),
            }
            for cloth in setting.cloths
            for a in cloth.anchors
        ],
        "caption": pick_caption(behaviour, phrasings),
        "captions": phrasings,
    }
    params = {
        "task": task,
        "actor": actor,
        "objects": {
            **{p.name: _object_params(p) for p in placed},
            **{c.name: _cloth_params(c, plan.facts) for c in setting.cloths},
        },
        "table": {k: v for k, v in table.params.items()},
        "camera": cfg["camera"],
    }
    if person:
        params["person"] = {
            "body": cfg["body"],
            **(
                {"phenotype": body_person.phenotype, "look": body_person.look}
                if cfg["body"] == "anny"
                else {}
            ),
            "height_m": round(person_height, 4),
            "stops": [
                {"xy": [round(float(v), 4) for v in st.xy], "heading": round(float(st.heading), 4)}
                for st in script.stops
            ],
        }
    else:
        params["robot_base_xy"] = [float(v) for v in base_xy]
    return SceneSpec(
        family="hoi",
        bodies=bodies,
        lights=lights,
        cameras=cameras,
        sky=sky,
        params=params,
        attachments=plan.attachments,
        annotations=annotations,
        cloths=setting.cloths + (body_regions if person and cfg["body"] == "anny" else []),
        people=[body_person] if person and cfg["body"] == "anny" else [],
    )


def _cloth_params(cloth: Cloth, facts: dict) -> dict:
    T = cloth.pose
    return {
        "kind": facts.get("kind", "cloth"),
        "colour": surface_colour(cloth.material),
        "xy": [float(v) for v in T[:2, 3]],
        "yaw": float(np.arctan2(T[1, 0], T[0, 0])),
        "size": [float(v) for v in np.ptp(cloth.mesh.vertices[:, :2], axis=0)],
        "vertices": len(cloth.mesh.vertices),
    }


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
    """A third-person view of the table (static, orbiting or hand-held) or the wrist
    camera."""
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
        if cfg["camera"] == "handheld":
            path = handheld_path(rng, np.array(eye), np.array(target), _duration(cfg))
    return CameraSpec("cam0", width, height, fov_y_deg=float(cfg["fov_deg"]), path=path)


def _duration(cfg: dict) -> float:
    return (int(cfg["frames"]) - 1) / float(cfg["fps"])


def _person_camera(rng, cfg, plan, focus: dict, room_rect, width, height) -> CameraSpec:
    """The head camera, or a third-person view of a person: across the table for the
    table tasks, from a room corner for the tasks that walk; static, orbiting or
    hand-held (its aim then pans after the person)."""
    target = np.asarray(focus["target"], dtype=float)
    if cfg["camera"] == "head":
        mount = head_mount(plan.body.urdf_scale)
        path = CameraPath(kind="mounted", body=f"{human.BODY}/neck", T_body_camera=mount)
    elif cfg["camera"] == "orbit":
        path = CameraPath(
            kind="orbit",
            target=tuple(float(v) for v in target),
            radius=orbit_radius(room_rect, target, float(rng.uniform(1.9, 2.5))),
            height=float(rng.uniform(1.5, 1.9)),
            start_angle=float(focus["heading"] + rng.choice([-1, 1]) * rng.uniform(0.6, 1.4)),
            sweep=float(rng.uniform(0.4, 0.9)) * rng.choice([-1, 1]),
        )
    else:
        if focus["walks"]:
            eye = room_view(rng, room_rect, np.asarray(focus["points"]))
        else:
            eye = table_view(rng, room_rect, target, focus["heading"], focus.get("side"))
        path = CameraPath(
            kind="static", eye=tuple(float(v) for v in eye), target=tuple(float(v) for v in target)
        )
        if cfg["camera"] == "handheld":
            follow = (plan.times, plan.ground[:, :2]) if focus["walks"] else None
            path = handheld_path(rng, eye, target, _duration(cfg), follow)
    return CameraSpec("cam0", width, height, fov_y_deg=float(cfg["fov_deg"]), path=path)


OBJECT_PREFIXES = ("object_", "block_", "bowl_", "distractor_", "chair", "cabinet")


def label(spec: SceneSpec, trajectory) -> dict:
    """After the rollout: the task's outcome (and a manifest ``summary``), segments with
    success, the actor's hands (a robot's end effector pose and gripper opening, a
    person's hand positions), and per-frame contacts of the actor's parts with objects
    (with a cloth: while the gripper holds it by an anchor, which has no force)."""
    ann = spec.annotations
    actor = ann["actor"]
    names = trajectory.part_names
    final = {
        name: trajectory.poses[-1, i] for i, name in enumerate(names) if trajectory.present[-1, i]
    }
    sheets = dict(zip(trajectory.cloth_names, trajectory.cloth_vertices, strict=True))
    for cloth in spec.cloths:  # a person's skinned regions are there once it is skinned
        if cloth.name in sheets:
            final[cloth.name] = trimesh.Trimesh(sheets[cloth.name][-1], cloth.mesh.faces,
                                                process=False)  # fmt: skip
    joints = dict(zip(trajectory.joint_names, trajectory.joint_positions[-1], strict=True))
    outcome = check_goal(ann["goal"], final, ann["table_top_z"], joints)
    segments = [dict(s, success=outcome["success"]) for s in ann["segments"]]
    holders = {actor["body"], *ann.get("tools", [])}  # the actor and what it holds throughout
    actor_parts = {i for i, n in enumerate(names) if n.split("/")[0] in holders}
    objects = {i for i, n in enumerate(names) if n.startswith(OBJECT_PREFIXES)}
    contacts = [[] for _ in range(trajectory.num_frames)]
    for f, (a, b), force in zip(
        trajectory.contact_frame, trajectory.contact_parts, trajectory.contact_force, strict=True
    ):
        for actor_part, obj in ((a, b), (b, a)):
            if actor_part in actor_parts and obj in objects:
                contacts[int(f)].append(
                    {
                        "actor_part": names[actor_part],
                        "object": names[obj],
                        "force": round(float(force), 4),
                    }
                )
    if ann["goal"]["kind"] == "cut":
        _blade_contacts(spec, trajectory, ann["tools"], ann["goal"]["object"], contacts)
    for held in ann["attachments"]:
        if "vertex" in held:  # a cloth anchor: the gripper pinches the cloth
            entry = {"actor_part": held["parent"], "object": held["child"], "force": None}
            for f in range(held["start_frame"], held["end_frame"]):
                if entry not in contacts[f]:  # a hand holding several of its vertices
                    contacts[f].append(dict(entry))
    out = {
        "outcome": outcome,
        # Copied into the dataset manifest as columns (and summed up by the run).
        "summary": {"task": ann["task"], "actor": actor["model"], "success": outcome["success"]},
        "segments": segments,
        "contacts": contacts,
    }
    if actor["kind"] == "human":
        out["hands_world"] = {
            side: np.round(
                trajectory.poses[:, names.index(f"{actor['body']}/{link}"), :3, 3], 5
            ).tolist()
            for side, link in actor["hand_links"].items()
        }
        return out
    ee = names.index(f"{actor['body']}/{actor['ee_link']}")
    fingers = [f"{actor['body']}/{j}" for j in actor["finger_joints"]]
    cols = [trajectory.joint_names.index(j) for j in fingers if j in trajectory.joint_names]
    out["ee_T_world"] = np.round(trajectory.poses[:, ee] @ np.array(actor["T_link_ee"]), 6).tolist()
    out["gripper_opening_m"] = (
        np.round(trajectory.joint_positions[:, cols].sum(axis=1), 5).tolist() if cols else []
    )
    return out


def _blade_contacts(spec: SceneSpec, trajectory, tools: list[str], fruit: str, contacts) -> None:
    """Add the tools' contacts with the whole fruit, which lets the blade through and so
    has no physics contacts: the frames where their hulls overlap, with no force."""
    bodies = {b.name: b for b in spec.bodies}
    f = trajectory.part_names.index(fruit)
    frames = np.flatnonzero(trajectory.present[:, f])
    for tool in tools:
        t = trajectory.part_names.index(tool)
        hits = overlaps(
            bodies[tool].visuals,
            bodies[fruit].visuals,
            trajectory.poses[frames, t],
            trajectory.poses[frames, f],
        )
        for frame, hit in zip(frames, hits, strict=True):
            if hit is not None:
                contacts[int(frame)].append({"actor_part": tool, "object": fruit, "force": None})
