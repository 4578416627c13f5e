"""The "furniture" scene family: a room is furnished piece by piece, then small objects
are dropped onto the furniture and the floor.

Random streams are used by purpose only: "layout" (room, piece choice and proportions,
placement), "appearance" (materials), "behaviour" (how and when pieces enter, which
drawers open and when), "clutter" (object kinds, shapes, supports, drop poses and
releases), "lighting" and "camera". Changing one stream leaves what the others decide
untouched.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from simfactory.scenes.furniture.camera import make_camera
from simfactory.scenes.furniture.clutter import CLUTTER_KINDS, make_clutter
from simfactory.scenes.furniture.drawers import drawer_zone, plan_drawers
from simfactory.scenes.furniture.drops import (
    FLOOR,
    choose_supports,
    drop_motion,
    place_on_floor,
    set_releases,
)
from simfactory.scenes.furniture.entry import plan_entries
from simfactory.scenes.furniture.layout import place_pieces
from simfactory.scenes.furniture.lights import make_lighting
from simfactory.scenes.furniture.materials import (
    clutter_materials,
    describe,
    make_palette,
    piece_materials,
    room_materials,
)
from simfactory.scenes.furniture.pieces import make_piece
from simfactory.scenes.furniture.room import make_room
from simfactory.sim.model.spec import Body, SceneSpec

DEFAULTS = dict(
    num_pieces=8,
    num_clutter=8,
    room_shape="random",
    ceiling=False,
    room_size=[4.0, 7.0],
    camera="walkthrough",
    fov_deg=70.0,
    entry="random",
)
THEMES = ("dining", "living", "bedroom")
EXTRAS = ("chair", "shelf", "cabinet", "lamp")


def validate(cfg: dict) -> list[str]:
    """Messages ("key: problem (got value)") for every invalid scene config key; keys
    left out take their ``DEFAULTS``."""
    cfg = {**DEFAULTS, **(cfg or {})}
    errors = []

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(f"{key}: {message} (got {cfg[key]!r})")

    def count(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 50

    check(count(cfg["num_pieces"]), "num_pieces", "must be an integer in [0, 50]")
    check(count(cfg["num_clutter"]), "num_clutter", "must be an integer in [0, 50]")
    check(cfg["room_shape"] in ("rect", "L", "random"), "room_shape", "must be rect, L or random")
    check(isinstance(cfg["ceiling"], bool), "ceiling", "must be true or false")
    size = cfg["room_size"]
    ok = (
        isinstance(size, list | tuple)
        and len(size) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in size)
        and 3.0 <= size[0] <= size[1] <= 20.0
    )
    check(ok, "room_size", "must be [min, max] metres with 3 <= min <= max <= 20")
    check(cfg["entry"] in ("lower", "slide", "random"), "entry", "must be lower, slide or random")
    if cfg["camera"] not in ("walkthrough", "orbit", "static", "follow"):
        errors.append(
            f"camera.path: the furniture family has walkthrough, orbit, static and follow "
            f"cameras (got {cfg['camera']!r})"
        )
    return errors


def choose_classes(rng: np.random.Generator, n: int) -> tuple[str, list[str]]:
    """A room theme and ``n`` piece classes for it, most important first."""
    theme = str(rng.choice(THEMES))

    def shuffled(items):
        return [items[i] for i in rng.permutation(len(items))]

    if theme == "dining":
        core = ["table"] + ["chair"] * int(rng.integers(2, 5))
        core += shuffled(["cabinet", "shelf", "lamp", "sofa"])
    elif theme == "living":
        core = ["sofa", "table"] + ["chair"] * int(rng.integers(0, 3))
        core += shuffled(["shelf", "cabinet", "lamp", "lamp"])
    else:
        core = ["bed"] + shuffled(["cabinet", "shelf", "lamp", "chair", "cabinet"]) + ["table"]
    while len(core) < n:
        core.append(str(rng.choice(EXTRAS)))
    return theme, core[:n]


def plain(value: object) -> object:
    """Recursively turn numpy values, tuples and arrays into JSON-friendly Python types."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value)
    return value


def _xyz_yaw(T: np.ndarray) -> list[float]:
    return [float(T[0, 3]), float(T[1, 3]), float(T[2, 3]), float(np.arctan2(T[1, 0], T[0, 0]))]


def _name(counts: dict[str, int], name_class: str) -> str:
    """``<class>_<n>`` with n counting up per class."""
    n = counts.get(name_class, 0)
    counts[name_class] = n + 1
    return f"{name_class}_{n}"


def _piece_bodies(pieces, placements, entries, drawers, piece_mats, counts) -> tuple[list, list]:
    """Kinematic bodies of the placed pieces, following their entry and moving their
    drawers, and their params."""
    bodies, params = [], []
    for p, e, (links, moves) in zip(placements, entries, drawers, strict=True):
        piece = pieces[p.index]
        name = _name(counts, piece.name_class)
        motion = e.motion
        bodies.append(
            Body(
                name=name,
                semantic_class=piece.name_class,
                visuals=piece.visuals,
                pose=e.start.copy(),
                mass=0.0,
                collision="exact",
                motion=motion,
                links=links,
            )
        )
        params.append(
            dict(
                name=name,
                cls=piece.name_class,
                rule=p.rule,
                pose=[p.x, p.y, p.yaw],
                footprint=piece.footprint,
                height=piece.height,
                dims=piece.params,
                entry=e.mode,
                times=motion.times,
                start=_xyz_yaw(e.start),
                drawers=moves,
                materials={k: m.name for k, m in piece_mats[p.index].items()},
            )
        )
    return bodies, params


def _clutter_bodies(drops, entries, piece_names, counts) -> tuple[list, list]:
    """Dynamic bodies of the dropped objects, held until release, and their params."""
    bodies, params = [], []
    for d in drops:
        obj = d.clutter
        name = _name(counts, obj.name_class)
        motion = drop_motion(d, entries)
        bodies.append(
            Body(
                name=name,
                semantic_class=obj.name_class,
                visuals=obj.visuals,
                pose=motion.poses[0].copy(),
                mass=obj.mass,
                friction=0.7,
                restitution=0.1,
                collision="convex",
                motion=motion,
            )
        )
        params.append(
            dict(
                name=name,
                kind=obj.name_class,
                support="floor" if d.support == FLOOR else piece_names[d.support],
                drop=_xyz_yaw(motion.poses[-1]),
                release=d.release,
                mass=obj.mass,
                extents=obj.extents,
                dims=obj.params,
                materials=sorted({v.material.name for v in obj.visuals}),
            )
        )
    return bodies, params


def build(
    cfg: dict,
    streams: dict[str, np.random.Generator],
    width: int,
    height: int,
    duration: float,
) -> SceneSpec:
    """Build one furniture-placement clip of ``duration`` seconds (see ``DEFAULTS`` for
    the config keys; ``validate`` lists what is accepted)."""
    errors = validate(cfg)
    if errors:
        raise ValueError("invalid furniture scene config: " + "; ".join(errors))
    cfg = {**DEFAULTS, **(cfg or {})}
    layout, appearance = streams["layout"], streams["appearance"]
    behaviour, clutter_rng = streams["behaviour"], streams["clutter"]

    shape = cfg["room_shape"]
    if shape == "random":
        shape = "rect" if layout.random() < 0.5 else "L"
    palette = make_palette(appearance)
    room_mats = room_materials(appearance, palette)
    size_range = (float(cfg["room_size"][0]), float(cfg["room_size"][1]))
    room = make_room(layout, shape, bool(cfg["ceiling"]), room_mats, size_range=size_range)

    theme, classes = choose_classes(layout, int(cfg["num_pieces"]))
    piece_mats = [piece_materials(appearance, palette) for _ in classes]
    pieces = [make_piece(layout, c, m) for c, m in zip(classes, piece_mats, strict=True)]
    placements = place_pieces(layout, room, pieces)

    kinds = [str(clutter_rng.choice(CLUTTER_KINDS)) for _ in range(int(cfg["num_clutter"]))]
    clutters = [make_clutter(clutter_rng, k, clutter_materials(appearance, palette)) for k in kinds]
    ceiling = room.height if room.ceiling else np.inf
    drops = choose_supports(clutter_rng, pieces, placements, clutters, ceiling)
    tops = [pieces[p.index].height for p in placements]
    for d in drops:
        if d.support != FLOOR:
            tops[d.support] = max(tops[d.support], d.local[2, 3] + d.clutter.extents[2])
    entries = plan_entries(behaviour, room, pieces, placements, cfg["entry"], duration, tops)
    placed_pieces = [pieces[p.index] for p in placements]
    drawers = [
        plan_drawers(behaviour, piece, e.t1, duration)
        for piece, e in zip(placed_pieces, entries, strict=True)
    ]
    zones = [
        (zone, piece.height)
        for piece, p, (_, moves) in zip(placed_pieces, placements, drawers, strict=True)
        if (zone := drawer_zone(piece, p, moves)) is not None
    ]
    keep_out = [e.swept for e in entries] + [zone for zone, _ in zones]
    drops = place_on_floor(clutter_rng, room, drops, keep_out)
    set_releases(clutter_rng, drops, entries, duration)

    counts: dict[str, int] = {}
    piece_bodies, piece_params = _piece_bodies(
        pieces, placements, entries, drawers, piece_mats, counts
    )
    piece_names = [q["name"] for q in piece_params]
    clutter_bodies, clutter_params = _clutter_bodies(drops, entries, piece_names, counts)

    lights, sky = make_lighting(streams["lighting"], room)
    obstacles = [
        (e.swept, float(e.start[2, 3] + top)) for e, top in zip(entries, tops, strict=True)
    ] + zones
    targets = [np.array([p.x, p.y, min(0.6 * pieces[p.index].height, 1.0)]) for p in placements]
    movers = [
        (body.name, e.start[:3, 3], e.end[:3, 3])
        for body, e in zip(piece_bodies, entries, strict=True)
    ]
    camera = make_camera(
        streams["camera"], room, obstacles, targets, cfg["camera"], width, height, cfg["fov_deg"],
        movers,
    )  # fmt: skip

    placed = {p.index for p in placements}
    params = dict(
        cfg=cfg,
        width=width,
        height=height,
        duration=duration,
        theme=theme,
        room=room.params,
        room_materials={k: describe(m) for k, m in room_mats.items()},
        palette={kind: [describe(m) for m in mats] for kind, mats in palette.items()},
        pieces=piece_params,
        unplaced=[c for i, c in enumerate(classes) if i not in placed],
        clutter=clutter_params,
        clutter_unplaced=len(clutters) - len(drops),
        lights=[asdict(light) for light in lights],
        sky=asdict(sky),
        camera=dict(requested=cfg["camera"], fov_deg=camera.fov_y_deg, **asdict(camera.path)),
    )
    return SceneSpec(
        family="furniture",
        bodies=room.bodies + piece_bodies + clutter_bodies,
        lights=lights,
        cameras=[camera],
        sky=sky,
        params=plain(params),
    )
