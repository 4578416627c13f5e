"""What stands beside the road: buildings, trees, poles, street lamps, parked cars,
traffic signs and traffic lights, as static bodies placed from a ``RoadNetwork``.

Traffic drives on the right, so a kerb spot's road side is to the left of its heading
and a lane's kerb is on its right. Everything starts at z = 0 (the road surface); the
part below the sidewalk top is hidden in the kerb. Materials are shared between the
bodies of one call, so the renderer uploads each texture once. Collision shapes are
boxes and cylinders where those fit the part; street lamps and traffic lights, whose
arms reach over the road, keep their exact meshes so no box spans a lane.
"""

from __future__ import annotations

import numpy as np
import trimesh
from shapely.geometry import Point, Polygon

from simfactory.scenes.driving.network import KerbSpot, Lot, RoadNetwork, lane_length, point_at
from simfactory.scenes.driving.textures import (
    bark,
    facade,
    leaves,
    roof,
    speed_limit_face,
    stop_sign_face,
)
from simfactory.scenes.driving.vehicles import VEHICLE_CLASS, VehicleModel, make_vehicle
from simfactory.scenes.furniture.shapes import box, cylinder, cylinder_along, pose
from simfactory.scenes.furniture.textures import srgb_to_linear
from simfactory.sim.model.spec import Body, Light, Material, Visual

STOREY = 3.2  # m; also the width of a window bay and the facade texture's tile
SIGNAL_HEAD_HEIGHT = 5.5  # m, centre of the overhead signal head
# Lamp emission (linear): strong in the lamp's own channel, small elsewhere, so the
# renderer's tone curve keeps the hue (red, amber, blue-green) instead of going white.
SIGNAL_GLOW = {"red": (6.0, 0.05, 0.02), "amber": (6.0, 0.25, 0.0), "green": (0.02, 5.0, 0.25)}
SIGNAL_LENS = {"red": (0.12, 0.01, 0.01), "amber": (0.12, 0.06, 0.0), "green": (0.01, 0.1, 0.05)}
LAMP_GLOW = (6.0, 4.8, 3.2)
LAMP_LIGHT_COLOR = (1.0, 0.8, 0.55)
WINDOW_GLOW = ((0.8, 0.48, 0.18), (0.3, 0.3, 0.26))  # warm home, dimmer neutral office
KERB_TO_SIGN = 1.0  # m from the lane edge to a sign post


def _plain(name: str, srgb, roughness: float, metallic: float = 0.0, emissive=(0, 0, 0)):
    r, g, b = (float(c) for c in srgb_to_linear(srgb))
    return Material(name, (r, g, b, 1.0), roughness, metallic, emissive=tuple(emissive))


def _textured(name: str, image: np.ndarray, scale: float, roughness: float, metallic=0.0):
    return Material(name, (1.0, 1.0, 1.0, 1.0), roughness, metallic, image, scale)


def _visuals(parts: list[tuple[Material, trimesh.Trimesh]]) -> list[Visual]:
    """One visual per material (the renderer draws one per material anyway)."""
    grouped: dict[int, tuple[Material, list[trimesh.Trimesh]]] = {}
    for material, mesh in parts:
        grouped.setdefault(id(material), (material, []))[1].append(mesh)
    return [Visual(trimesh.util.concatenate(ms), m) for m, ms in grouped.values()]


def plate_extrusion(outline: Polygon, x0: float, x1: float) -> trimesh.Trimesh:
    """Prism of a y-z outline between x = x0 and x = x1 (a sign plate facing +x)."""
    mesh = trimesh.creation.extrude_polygon(outline, x1 - x0)
    to_front = np.array([[0, 0, 1, x0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    return mesh.apply_transform(to_front)


def _walls(lo, hi) -> trimesh.Trimesh:
    """The four vertical sides of a box (no roof or floor: they get their own material)."""
    mesh = box(lo, hi)
    mesh.update_faces(np.abs(mesh.face_normals[:, 2]) < 0.5)
    mesh.remove_unreferenced_vertices()
    return mesh


def _quads(corners: np.ndarray) -> trimesh.Trimesh:
    """Mesh of quads (N, 4, 3) given counter-clockwise as seen from their front."""
    n = len(corners)
    faces = np.arange(4 * n).reshape(n, 4)
    tris = np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])
    return trimesh.Trimesh(corners.reshape(-1, 3), tris, process=False)


def _roof_quad(lo, hi, z: float) -> trimesh.Trimesh:
    c = np.array([[lo[0], lo[1], z], [hi[0], lo[1], z], [hi[0], hi[1], z], [lo[0], hi[1], z]])
    return _quads(c[None])


def _lit_windows(
    rng: np.random.Generator, lo, hi, storeys: int, window, fraction: float
) -> np.ndarray:
    """Quads (N, 4, 3) over a random ``fraction`` of the window openings of the box
    ``lo``-``hi`` (xy corners), 2 cm proud of the walls. Openings follow the facade tile
    grid, which starts at the local origin on every axis."""
    u0, v0, u1, v1 = window
    quads = []
    for axis, side in ((0, 0), (0, 1), (1, 0), (1, 1)):
        along = 1 - axis  # the wall's u runs along the other horizontal axis
        a, b = lo[along], hi[along]
        tiles = np.arange(np.ceil(a / STOREY - 1e-6), np.floor(b / STOREY + 1e-6))
        tiles = tiles[(tiles + u0) * STOREY >= a - 1e-6]
        tiles = tiles[(tiles + u1) * STOREY <= b + 1e-6]
        if len(tiles) == 0:
            continue
        t, s = np.meshgrid(tiles, np.arange(storeys), indexing="ij")
        t, s = t.ravel(), s.ravel()
        keep = rng.random(len(t)) < fraction
        t, s = t[keep], s[keep]
        plane = (hi if side else lo)[axis] + (0.02 if side else -0.02)
        c = np.zeros((len(t), 4, 3))
        us = np.stack([(t + u0), (t + u1), (t + u1), (t + u0)], 1) * STOREY
        vs = np.stack([(s + v0), (s + v0), (s + v1), (s + v1)], 1) * STOREY
        c[..., axis], c[..., along], c[..., 2] = plane, us, vs
        quads.append(c)
    return np.concatenate(quads) if quads else np.zeros((0, 4, 3))


def _facade_palette(rng: np.random.Generator) -> list[tuple[Material, Material, tuple]]:
    """(facade material, coping material, window rect) for a few facades per call."""
    out = []
    for i, kind in enumerate(("brick", "brick", "plaster", "plaster", "glass")):
        f = facade(rng, kind)
        wall = _textured(f"facade_{kind}_{i}", f.image, STOREY, f.roughness, f.metallic)
        mean = f.image.reshape(-1, 3).mean(0) / 255
        coping = _plain(f"coping_{i}", np.clip(mean * 0.85 + 0.1, 0, 1), 0.85)
        out.append((wall, coping, f.window))
    return out


def _building_size(rng: np.random.Generator, extent: float, lo: int, hi: int) -> float:
    """A whole number of bays (between lo and hi) that fits in ``extent``, or all of
    ``extent`` when not even one bay fits."""
    most = int(np.floor(extent / STOREY + 1e-9))
    if most < 1:
        return extent
    return STOREY * int(rng.integers(min(lo, most), min(hi, most) + 1))


def make_buildings(rng: np.random.Generator, lots: list[Lot], night: bool = False) -> list[Body]:
    """One static building per lot (``building_<k>``): a mass of 2-8 storeys with a
    window-grid facade, sometimes a roof parapet or a set-back top storey, facing
    ``lot.heading`` inside the lot rectangle. At ``night`` a random share of windows glow.

    The body frame sits at the building's rear-left corner (local x towards the road, y
    along it), so the facade tiles start on the building's edges.
    """
    palette = _facade_palette(rng)
    window_rng = np.random.default_rng(int(rng.integers(2**63)))  # day and night: same city
    roof_mat = _textured("roof", roof(rng), 2.0, 0.9)
    glow = [
        _plain(f"window_lit_{i}", (0.9, 0.8, 0.6), 0.5, emissive=g)
        for i, g in enumerate(WINDOW_GLOW)
    ]
    bodies = []
    for k, lot in enumerate(lots):
        storeys = int(rng.integers(2, 9))
        pick = int(rng.integers(len(palette) if storeys >= 5 else len(palette) - 1))
        wall, coping, window = palette[pick]
        gap = rng.uniform(0.2, 0.8) * min(1.0, lot.width / 10)
        width = _building_size(rng, lot.width - 2 * gap, 3, 12)
        setback = rng.uniform(0.0, min(2.0, 0.2 * lot.depth))
        depth = _building_size(rng, lot.depth - setback - 0.2, 3, 6)
        slack = max(0.0, (lot.width - width) / 2 - gap)
        y0 = -width / 2 + rng.uniform(-slack, slack)
        x0 = lot.depth / 2 - setback - depth
        T = pose(lot.center[0], lot.center[1], yaw=lot.heading) @ pose(x0, y0)
        style = rng.choice(["flat", "parapet", "setback"], p=[0.3, 0.4, 0.3])
        height = storeys * STOREY
        masses = []  # (xy lo, xy hi, base z, storeys)
        if style == "setback" and storeys >= 3 and depth >= 2 * STOREY:
            height -= STOREY
            y_in = STOREY if width >= 3 * STOREY else 0.0
            masses.append(((0.0, y_in), (depth - STOREY, width - y_in), height, 1))
        masses.append(((0.0, 0.0), (depth, width), 0.0, storeys - len(masses)))
        parts: list[tuple[Material, trimesh.Trimesh]] = []
        for lo, hi, z, n in masses:
            parts.append((wall, _walls((*lo, z), (*hi, z + n * STOREY))))
            parts.append((roof_mat, _roof_quad(lo, hi, z + n * STOREY)))
        if style == "parapet":
            t, top = 0.25, height + rng.uniform(0.5, 1.0)
            for lo, hi in (
                ((0, 0), (depth, t)),
                ((0, width - t), (depth, width)),
                ((0, t), (t, width - t)),
                ((depth - t, t), (depth, width - t)),
            ):
                parts.append((coping, box((*lo, height), (*hi, top))))
        if night:
            fraction = window_rng.uniform(0.15, 0.5)
            lit = np.concatenate(
                [
                    _lit_windows(window_rng, lo, hi, n, window, fraction) + [0, 0, z]
                    for lo, hi, z, n in masses
                ]
            )
            if len(lit):
                office = wall.name.startswith("facade_glass")
                parts.append((glow[1 if office else 0], _quads(lit)))
        bodies.append(
            Body(
                name=f"building_{k}",
                semantic_class="building",
                visuals=_visuals(parts),
                pose=T,
                collision="box",
            )
        )
    return bodies


def _spot_pose(spot: KerbSpot, yaw_offset: float = 0.0) -> np.ndarray:
    return pose(spot.position[0], spot.position[1], yaw=spot.heading + yaw_offset)


def _tree_parts(rng: np.random.Generator, wood: Material, foliage: Material):
    """Trunk and canopy of one tree in its local frame (trunk foot at the origin):
    a broadleaf crown of 1-3 lumpy spheres, or a conifer of stacked cones."""
    base = rng.uniform(2.6, 3.4)  # lowest branches: clear of buses and trucks
    if rng.random() < 0.2:
        height = rng.uniform(6.0, 10.0)
        radius = rng.uniform(1.2, 1.9)
        parts = [(wood, cylinder(rng.uniform(0.12, 0.18), 0.0, base + 0.5, sections=8))]
        tiers = int(rng.integers(2, 4))
        step = (height - base) / (tiers + 1)
        for i in range(tiers):
            r = radius * (1 - 0.25 * i)
            cone = trimesh.creation.cone(radius=r, height=2.2 * step, sections=10)
            parts.append((foliage, cone.apply_translation([0, 0, base + i * step])))
        return parts
    crown = rng.uniform(1.3, 2.3)
    trunk_r = rng.uniform(0.1, 0.2)
    parts = [(wood, cylinder(trunk_r, 0.0, base + crown, sections=8))]
    for i in range(int(rng.integers(1, 4))):
        r = crown * (1.0 if i == 0 else rng.uniform(0.55, 0.8))
        ball = trimesh.creation.icosphere(subdivisions=1, radius=r)
        ball.vertices *= 1 + rng.uniform(-0.12, 0.12, (len(ball.vertices), 1))
        ball.vertices[:, 2] *= rng.uniform(0.75, 1.0)
        offset = np.r_[rng.uniform(-0.45, 0.45, 2) * crown * (i > 0), 0.0]
        lift = base - ball.vertices[:, 2].min() + (rng.uniform(0.0, 0.8) * crown if i else 0.0)
        parts.append((foliage, ball.apply_translation(offset + [0, 0, lift])))
    return parts


def _lamp_parts(rng: np.random.Generator, metal: Material, lens: Material):
    """Street lamp in its local frame (road towards +y): mast, arm over the road, head.
    Returns the parts and the head's lens centre."""
    mast = rng.uniform(7.0, 9.0)
    reach = rng.uniform(1.2, 2.2)
    head = np.array([0.0, reach + 0.25, mast + 0.1])
    parts = [
        (metal, cylinder(0.15, 0.0, 0.9, sections=10)),
        (metal, cylinder(0.08, 0.0, mast, sections=10)),
        (metal, cylinder_along(0.045, (0, 0, mast - 0.4), (0, reach, mast + 0.12), sections=8)),
        (metal, box(head - [0.16, 0.4, 0.02], head + [0.16, 0.4, 0.1])),
        (lens, box(head - [0.12, 0.32, 0.05], head + [0.12, 0.32, -0.02])),
    ]
    return parts, head - [0, 0, 0.06]


def make_trees_and_poles(
    rng: np.random.Generator, spots: list[KerbSpot], night: bool
) -> tuple[list[Body], list[Light]]:
    """A tree (45 %), street lamp (35 %), plain pole (10 %) or nothing at each kerb spot.

    Trees are "vegetation" (``tree_<k>``); lamps (``street_lamp_<k>``, mast, arm and
    head) and plain poles (``pole_<k>``) are "pole". At ``night`` lamp heads glow and
    each lamp adds a warm point light at its head (world position).
    """
    woods = [_textured(f"bark_{i}", bark(rng), 0.8, 0.9) for i in range(2)]
    foliages = [_textured(f"leaves_{i}", leaves(rng), 0.7, 0.8) for i in range(3)]
    metal = _plain("pole_metal", (0.45, 0.46, 0.47), 0.45, 0.8)
    dark = _plain("pole_dark", (0.12, 0.14, 0.13), 0.5, 0.6)
    lens = _plain("lamp_lens", (0.85, 0.83, 0.78), 0.2, 0.0, LAMP_GLOW if night else (0, 0, 0))
    bodies: list[Body] = []
    lights: list[Light] = []
    counts = {"tree": 0, "street_lamp": 0, "pole": 0}
    for spot in spots:
        kind = rng.choice(["tree", "street_lamp", "pole", "none"], p=[0.45, 0.35, 0.1, 0.1])
        if kind == "none":
            continue
        if kind == "tree":
            T = _spot_pose(spot, rng.uniform(0, 2 * np.pi))
            wood, foliage = woods[int(rng.integers(2))], foliages[int(rng.integers(3))]
            parts, cls, collision = _tree_parts(rng, wood, foliage), "vegetation", "cylinder"
        elif kind == "street_lamp":
            T = _spot_pose(spot)
            parts, head = _lamp_parts(rng, metal, lens)
            cls, collision = "pole", "exact"
            intensity = float(rng.uniform(35.0, 55.0))  # drawn by day too: same street
            if night:  # a downward cone: the lamp lights the street, not the walls above it
                position = tuple(float(v) for v in (T @ np.r_[head, 1.0])[:3])
                lights.append(
                    Light(
                        "point",
                        LAMP_LIGHT_COLOR,
                        intensity,
                        direction=(0.0, 0.0, -1.0),
                        position=position,
                        cone_deg=120.0,
                    )
                )
        else:
            T = _spot_pose(spot)
            height = rng.uniform(2.8, 4.5)
            radius = rng.uniform(0.04, 0.07)
            material = metal if rng.random() < 0.6 else dark
            parts = [
                (material, cylinder(radius, 0.0, height, sections=10)),
                (material, cylinder(radius * 1.3, height - 0.05, height, sections=10)),
            ]
            cls, collision = "pole", "cylinder"
        name = f"{kind}_{counts[kind]}"
        counts[kind] += 1
        bodies.append(Body(name, cls, _visuals(parts), pose=T, collision=collision))
    return bodies, lights


def make_parked_cars(
    rng: np.random.Generator, spots: list[KerbSpot], fraction: float, lights_on: bool
) -> list[tuple[Body, VehicleModel]]:
    """A static sedan, SUV or van (``parked_car_<k>``) at a ``fraction`` of the
    "parking" spots, along the spot's heading with a small jitter. The model comes
    back too (its kind and size go into the labels)."""
    out = []
    for spot in spots:
        if spot.kind != "parking" or rng.random() >= fraction:
            continue
        kind = str(rng.choice(["sedan", "suv", "van"], p=[0.55, 0.32, 0.13]))
        model = make_vehicle(rng, kind, lights_on=lights_on)
        body = Body(
            name=f"parked_car_{len(out)}",
            semantic_class=VEHICLE_CLASS[kind],
            visuals=model.visuals,
            pose=_spot_pose(spot, rng.uniform(-0.04, 0.04)),
            mass=0.0,
            collision="box",
        )
        out.append((body, model))
    return out


def _plate_texture(face: np.ndarray) -> np.ndarray:
    """A sign face moved so the tile's centre sits at u = v = 0: a plate centred on a
    tile corner (y = 0, z = a whole number of tiles) shows the whole face."""
    size = face.shape[0]
    return np.roll(face, (size // 2, size // 2), axis=(0, 1))


def _sign_body(name: str, outline: Polygon, face: Material, metal: Material, T) -> Body:
    """A post with a plate facing local +x: textured face in front of a grey backing."""
    top = float(outline.bounds[3])
    parts = [
        (metal, cylinder(0.035, 0.0, top - 0.05, sections=8)),
        (metal, plate_extrusion(outline, 0.04, 0.055)),
        (face, plate_extrusion(outline, 0.055, 0.06)),
    ]
    return Body(name, "traffic sign", _visuals(parts), pose=T, collision="box")


def _rightmost(lanes: dict, lane_id: int) -> int:
    """The rightmost lane of the approach ``lane_id`` belongs to (its ``right`` chain)."""
    seen = {lane_id}
    while lanes[lane_id].right is not None and lanes[lane_id].right in lanes:
        lane_id = lanes[lane_id].right
        if lane_id in seen:
            break
        seen.add(lane_id)
    return lane_id


def _beside(lane, s: float) -> tuple[np.ndarray, float]:
    """A point on the right-hand sidewalk next to arc length ``s`` of ``lane``, and the
    lane's heading there."""
    p, heading = point_at(lane, s)
    right = np.array([np.sin(heading), -np.cos(heading)])
    return p + right * (lane.width / 2 + KERB_TO_SIGN), heading


def make_signs(rng: np.random.Generator, network: RoadNetwork) -> list[Body]:
    """Traffic signs ("traffic sign"): a stop sign (``stop_sign_<k>``) beside the end of
    every approach whose lanes stop without a signal, one per approach on its right-hand
    sidewalk, facing the traffic; and a few speed-limit signs (``speed_limit_<k>``) a
    little after the start of long roads, showing the lane's limit in km/h."""
    lanes = {lane.id: lane for lane in network.lanes}
    metal = _plain("sign_metal", (0.6, 0.6, 0.62), 0.4, 0.8)
    stop_face = _textured("stop_face", _plate_texture(stop_sign_face()), 0.75, 0.4)
    bodies: list[Body] = []
    placed: list[np.ndarray] = []
    approaches = sorted(
        {_rightmost(lanes, ln.id) for ln in network.lanes if ln.stop_at_end and ln.signal is None}
    )
    r = 0.375 / np.cos(np.pi / 8)
    angles = np.pi / 8 + np.arange(8) * np.pi / 4
    octagon = Polygon(np.c_[r * np.cos(angles), 3 * 0.75 + r * np.sin(angles)])
    for lane_id in approaches:
        lane = lanes[lane_id]
        xy, heading = _beside(lane, lane_length(lane) - 1.0)
        if any(np.linalg.norm(xy - q) < 2.0 for q in placed):
            continue
        placed.append(xy)
        T = pose(xy[0], xy[1], yaw=heading + np.pi)
        bodies.append(_sign_body(f"stop_sign_{len(placed) - 1}", octagon, stop_face, metal, T))
    faces: dict[int, Material] = {}
    disc = Point(0.0, 4 * 0.6).buffer(0.3, quad_segs=8)
    count = 0
    for lane in network.lanes:
        length = lane_length(lane)
        if lane.junction is not None or lane.right is not None or length < 30.0:
            continue
        if rng.random() >= 0.35:
            continue
        xy, heading = _beside(lane, min(rng.uniform(6.0, 12.0), length / 3))
        if any(np.linalg.norm(xy - q) < 10.0 for q in placed):
            continue
        placed.append(xy)
        kmh = int(max(10, round(lane.speed_limit * 3.6 / 10) * 10))
        if kmh not in faces:
            image = _plate_texture(speed_limit_face(kmh))
            faces[kmh] = _textured(f"speed_limit_face_{kmh}", image, 0.6, 0.4)
        T = pose(xy[0], xy[1], yaw=heading + np.pi)
        bodies.append(_sign_body(f"speed_limit_{count}", disc, faces[kmh], metal, T))
        count += 1
    return bodies


def _lamp_materials(keys: list[tuple[float, str]]) -> dict[str, Material]:
    """One material per lamp colour whose emission follows the signal's state keys."""
    if not keys:
        raise ValueError("a signal needs at least one (time, state) key")
    unknown = {s for _, s in keys} - set(SIGNAL_GLOW)
    if unknown:
        raise ValueError(f"unknown signal states {sorted(unknown)}; expected red, amber, green")
    out = {}
    for colour, glow in SIGNAL_GLOW.items():
        states = [(float(t), glow if s == colour else (0.0, 0.0, 0.0)) for t, s in keys]
        r, g, b = SIGNAL_LENS[colour]
        out[colour] = Material(
            f"signal_lamp_{colour}",
            (r, g, b, 1.0),
            roughness=0.15,
            emissive=states[0][1],
            emissive_keys=states,
        )
    return out


def _signal_head(center, housing: Material, lamps: dict[str, Material]):
    """A three-lamp head facing local +x centred at ``center``: housing, back plate,
    visors, and red / amber / green lenses from top to bottom."""
    c = np.asarray(center, float)
    parts = [
        (housing, box(c - [0.15, 0.17, 0.5], c + [0.15, 0.17, 0.5])),
        (housing, box(c - [0.17, 0.3, 0.62], c + [-0.15, 0.3, 0.62])),
    ]
    for dz, colour in zip((0.32, 0.0, -0.32), ("red", "amber", "green"), strict=True):
        lens = Point(c[1], c[2] + dz).buffer(0.1, quad_segs=4)
        parts.append((lamps[colour], plate_extrusion(lens, c[0] + 0.14, c[0] + 0.165)))
        top = c + [0.15, 0.0, dz + 0.11]
        parts.append((housing, box(top - [0.0, 0.12, 0.0], top + [0.16, 0.12, 0.02])))
    return parts


def make_traffic_lights(
    network: RoadNetwork, states: dict[int, list[tuple[float, str]]]
) -> list[Body]:
    """One static "traffic light" body per signal (``traffic_light_<id>``): a pole at
    the signal's corner, a mast arm over the lanes it controls, an overhead head at
    5.5 m and a second head on the pole, all lamps facing ``signal.heading``.

    ``states[signal.id]`` lists (time s, "red" | "amber" | "green") keys sorted by time;
    each lamp's material glows from the keys where its colour is on and is dark at the
    others, and holds the first key's state before it.
    """
    lanes = {lane.id: lane for lane in network.lanes}
    pole = _plain("signal_pole", (0.3, 0.31, 0.32), 0.5, 0.7)
    housing = _plain("signal_housing", (0.03, 0.03, 0.03), 0.6)
    bodies = []
    for signal in network.signals:
        if signal.id not in states:
            raise ValueError(f"no states for signal {signal.id}")
        lamps = _lamp_materials(states[signal.id])
        origin = np.asarray(signal.position, float)
        heading = signal.heading
        arm_dir = np.array([np.sin(heading), -np.cos(heading)])  # over the road
        offsets = [
            float((lanes[i].centerline[-1] - origin) @ arm_dir) for i in signal.lanes if i in lanes
        ]
        reach = float(np.clip(np.mean(offsets), 2.0, 9.0)) if offsets else 3.5
        z_arm = SIGNAL_HEAD_HEIGHT + 0.7
        parts = [
            (pole, cylinder(0.11, 0.0, z_arm + 0.25, sections=12)),
            (pole, cylinder_along(0.06, (0, 0, z_arm), (0, -reach - 0.2, z_arm), sections=8)),
            (pole, cylinder_along(0.03, (0, -reach, z_arm), (0, -reach, z_arm - 0.25))),
        ]
        parts += _signal_head((0.0, -reach, SIGNAL_HEAD_HEIGHT), housing, lamps)
        parts += _signal_head((0.26, 0.0, 2.9), housing, lamps)
        bodies.append(
            Body(
                name=f"traffic_light_{signal.id}",
                semantic_class="traffic light",
                visuals=_visuals(parts),
                pose=pose(origin[0], origin[1], yaw=heading),
                collision="exact",
            )
        )
    return bodies
