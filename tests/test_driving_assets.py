"""Driving assets: vehicle models, buildings, roadside props, signs and traffic lights,
built on small hand-made road networks."""

from __future__ import annotations

import numpy as np
import pytest

from simfactory.scenes.driving.network import (
    KerbSpot,
    Lane,
    Lot,
    RoadNetwork,
    Signal,
    lane_length,
    point_at,
)
from simfactory.scenes.driving.roadside import (
    SIGNAL_HEAD_HEIGHT,
    STOREY,
    make_buildings,
    make_parked_cars,
    make_signs,
    make_traffic_lights,
    make_trees_and_poles,
)
from simfactory.scenes.driving.textures import (
    FACADE_KINDS,
    bark,
    facade,
    leaves,
    speed_limit_face,
    stop_sign_face,
)
from simfactory.scenes.driving.vehicles import (
    DIMENSIONS,
    KINDS,
    VEHICLE_CLASS,
    make_vehicle,
    paint_color,
)


def _bounds(visuals):
    lo = np.min([v.mesh.bounds[0] for v in visuals], axis=0)
    hi = np.max([v.mesh.bounds[1] for v in visuals], axis=0)
    return lo, hi


def _emission(material, t: float):
    """Emission at time t: ``emissive`` before the first key, then the last key <= t."""
    colour = material.emissive
    for key_time, key_colour in material.emissive_keys:
        if key_time > t:
            break
        colour = key_colour
    return np.asarray(colour, float)


def _yaw(T) -> float:
    return float(np.arctan2(T[1, 0], T[0, 0]))


def _angle_diff(a: float, b: float) -> float:
    return float(abs((a - b + np.pi) % (2 * np.pi) - np.pi))


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _cross_network(signalled: bool, lanes_in: int = 1) -> RoadNetwork:
    """A four-way crossing at the origin: per arm ``lanes_in`` lanes towards the centre
    (stopping at its end, signalled or not) and one lane out; right-hand traffic."""
    lanes, signals = [], []
    xs = np.linspace(-40.0, -10.0, 31)
    for k in range(4):
        R = _rot(k * np.pi / 2)
        ids = [10 * k + j for j in range(lanes_in)]  # j = 0 is the rightmost lane
        for j, lane_id in enumerate(ids):
            y = -1.75 - 3.5 * (lanes_in - 1) + 3.5 * j
            lanes.append(
                Lane(
                    lane_id,
                    np.c_[xs, np.full_like(xs, y)] @ R.T,
                    3.5,
                    left=ids[j + 1] if j + 1 < lanes_in else None,
                    right=ids[j - 1] if j > 0 else None,
                    stop_at_end=True,
                    signal=k if signalled else None,
                    road=k,
                )
            )
        lanes.append(Lane(10 * k + 9, np.c_[xs[::-1], np.full_like(xs, 1.75)] @ R.T, 3.5, road=k))
        if signalled:
            corner = R @ [-11.0, -1.75 - 3.5 * (lanes_in - 1) - 2.75]
            signals.append(Signal(k, 0, tuple(corner), np.pi + k * np.pi / 2, ids, k % 2))
    return RoadNetwork(lanes, [], signals, [], [], [], [], 0, [])


# ----------------------------------------------------------------------------- vehicles


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vehicle_box_is_its_mesh_bounds(kind, seed):
    model = make_vehicle(np.random.default_rng(seed), kind)
    lo, hi = _bounds(model.visuals)
    assert np.allclose(hi - lo, [model.length, model.width, model.height], atol=0.02)
    assert lo[2] == pytest.approx(0.0, abs=1e-9)
    assert np.allclose((lo + hi)[:2], 0.0, atol=1e-9)
    (length, width, height) = (DIMENSIONS[kind][i] for i in range(3))
    assert length[0] - 0.01 <= model.length <= length[1] + 0.01
    assert width[0] - 0.01 <= model.width <= width[1] + 0.01
    assert height[0] - 0.01 <= model.height <= height[1] + 0.01
    assert 0.45 * model.length < model.wheelbase < 0.75 * model.length
    assert model.kind == kind and model.semantic_class == VEHICLE_CLASS[kind]
    assert sum(len(v.mesh.faces) for v in model.visuals) < 3000


@pytest.mark.parametrize("kind", KINDS)
def test_vehicle_parts_wheels_glass_and_lights(kind):
    model = make_vehicle(np.random.default_rng(5), kind)
    by_name = {v.material.name.split("_", 1)[1]: v for v in model.visuals}
    tyres = by_name["tyre"].mesh
    assert tyres.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # the tyres carry it
    wheels = tyres.split(only_watertight=False)
    assert len(wheels) in (4, 6)
    glass, paint = by_name["glass"].material, by_name["paint"].material
    assert glass.roughness < 0.1 and max(glass.base_color[:3]) < 0.05
    assert 0.5 <= paint.metallic <= 0.9
    assert np.allclose(paint.base_color[:3], model.color)
    front = by_name["headlight"].mesh.bounds
    rear = by_name["taillight"].mesh.bounds
    assert front[0][0] > 0.3 * model.length and rear[1][0] < -0.3 * model.length
    assert np.all(model.headlights[:, 0] > 0.45 * model.length)


@pytest.mark.parametrize("kind", KINDS)
def test_vehicle_lights_glow_only_when_on(kind):
    off = make_vehicle(np.random.default_rng(3), kind, lights_on=False)
    on = make_vehicle(np.random.default_rng(3), kind, lights_on=True)
    assert all(max(v.material.emissive) == 0 for v in off.visuals)
    glow = {v.material.name.split("_", 1)[1]: np.array(v.material.emissive) for v in on.visuals}
    assert glow["headlight"].min() > 1.0  # warm white: every channel bright
    assert glow["headlight"][0] >= glow["headlight"][2]
    assert glow["taillight"][0] > 1.0 and glow["taillight"][1:].max() < 0.1 * glow["taillight"][0]


def test_vehicles_are_deterministic_and_vary():
    a = make_vehicle(np.random.default_rng(9), "sedan", wet=0.5)
    b = make_vehicle(np.random.default_rng(9), "sedan", wet=0.5)
    c = make_vehicle(np.random.default_rng(10), "sedan", wet=0.5)
    assert [v.material.name for v in a.visuals] == [v.material.name for v in b.visuals]
    for va, vb in zip(a.visuals, b.visuals, strict=True):
        assert np.array_equal(va.mesh.vertices, vb.mesh.vertices)
        assert va.material.base_color == vb.material.base_color
    assert (a.length, a.color) == (b.length, b.color)
    assert a.length != c.length
    dry = make_vehicle(np.random.default_rng(9), "sedan", wet=0.0)
    paint = {v.material.name: v.material.roughness for v in a.visuals}
    assert (
        paint["sedan_paint"]
        < {v.material.name: v.material.roughness for v in dry.visuals}["sedan_paint"]
    )


def test_paint_palette_is_mostly_neutral():
    rng = np.random.default_rng(0)
    colours = np.array([paint_color(rng) for _ in range(400)])
    spread = colours.max(axis=1) - colours.min(axis=1)
    neutral = spread < 0.05
    assert 0.55 < neutral.mean() < 0.9  # white, black, grey, silver dominate
    assert (colours.max(axis=1) > 0.5).mean() > 0.15  # whites and silvers are common


def test_unknown_vehicle_kind_is_refused():
    with pytest.raises(ValueError, match="tractor"):
        make_vehicle(np.random.default_rng(0), "tractor")


# ---------------------------------------------------------------------------- textures


@pytest.mark.parametrize("kind", FACADE_KINDS)
def test_facades_are_tiles_with_a_window(kind):
    f = facade(np.random.default_rng(1), kind, size=64)
    assert f.image.dtype == np.uint8 and f.image.shape == (64, 64, 3)
    u0, v0, u1, v1 = f.window
    assert 0 < u0 < u1 < 1 and 0 < v0 < v1 < 1
    # The window glass (centre of the opening) is darker than the wall below the sill
    # (the glass facade's spandrel aside).
    glass = f.image[int((v0 + 0.4 * (v1 - v0)) * 64), int((u0 + 0.25 * (u1 - u0)) * 64)]
    assert glass.mean() < 200
    assert not np.array_equal(f.image, facade(np.random.default_rng(2), kind, size=64).image)


def test_bark_leaves_and_sign_faces():
    assert bark(np.random.default_rng(0), 32).shape == (32, 32, 3)
    green = leaves(np.random.default_rng(0), 32).reshape(-1, 3).mean(0)
    assert green[1] > green[0] and green[1] > green[2]
    stop = stop_sign_face()
    assert stop is stop_sign_face()  # shared by every sign
    assert stop[2, 128].min() > 200  # white rim along the bottom flat
    assert stop[24, 128, 0] > 150 and stop[24, 128, 1] < 60  # red inside it
    fifty = speed_limit_face(50)
    assert fifty[100:156, 64:192].max(axis=2).min() < 60  # black digits in the middle
    assert fifty[128, 40].min() > 200  # white disc
    for row in (3, 252):  # red ring at the top and the bottom
        assert fifty[row, 128, 0] > 150 and fifty[row, 128, 1] < 60


# --------------------------------------------------------------------------- buildings


def _lots() -> list[Lot]:
    return [
        Lot((0.0, -14.0), np.pi / 2, 20.0, 14.0),
        Lot((30.0, 12.0), -np.pi / 2, 9.0, 30.0),
        Lot((-25.0, 5.0), 0.7, 15.0, 12.0),
        Lot((40.0, -40.0), 3.0, 2.5, 6.0),  # too narrow for a whole window bay
    ]


def test_buildings_fit_their_lots_and_face_the_road():
    lots = _lots()
    bodies = make_buildings(np.random.default_rng(4), lots)
    assert [b.name for b in bodies] == [f"building_{k}" for k in range(len(lots))]
    for body, lot in zip(bodies, lots, strict=True):
        assert body.semantic_class == "building" and body.mass == 0 and body.collision == "box"
        lo, hi = _bounds(body.visuals)
        corners = np.array([[x, y, 0.0, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])])
        world = (body.pose @ corners.T).T[:, :2]
        local = (world - lot.center) @ _rot(lot.heading)  # rows: (towards road, along road)
        assert np.all(np.abs(local[:, 0]) <= lot.depth / 2 + 1e-6)
        assert np.all(np.abs(local[:, 1]) <= lot.width / 2 + 1e-6)
        assert _angle_diff(_yaw(body.pose), lot.heading) < 1e-9
        assert lo[2] == 0 and 2 * STOREY - 1e-6 <= hi[2] <= 8 * STOREY + 1.0
        walls = [v.material for v in body.visuals if v.material.name.startswith("facade")]
        assert walls and walls[0].texture is not None and walls[0].texture_scale == STOREY
        assert all(max(v.material.emissive) == 0 for v in body.visuals)


def test_buildings_light_windows_at_night_and_are_deterministic():
    lots = _lots()
    night = make_buildings(np.random.default_rng(4), lots, night=True)
    again = make_buildings(np.random.default_rng(4), lots, night=True)
    lit = [v for b in night for v in b.visuals if max(v.material.emissive) > 0]
    assert lit
    for v in lit:
        assert v.material.emissive[0] >= v.material.emissive[2]  # warm or neutral, not blue
    for a, b in zip(night, again, strict=True):
        assert np.array_equal(a.pose, b.pose)
        for va, vb in zip(a.visuals, b.visuals, strict=True):
            assert np.array_equal(va.mesh.vertices, vb.mesh.vertices)


# ------------------------------------------------------------------ trees, poles, lamps


def _pole_spots(n: int) -> list[KerbSpot]:
    return [KerbSpot((8.0 * i, -4.2), 0.0, "pole") for i in range(n)]


def test_trees_poles_and_lamps_at_kerb_spots():
    spots = _pole_spots(200)
    bodies, lights = make_trees_and_poles(np.random.default_rng(0), spots, night=False)
    assert not lights
    kinds = [b.name.rsplit("_", 1)[0] for b in bodies]
    assert set(kinds) == {"tree", "street_lamp", "pole"}
    assert 0.35 < kinds.count("tree") / 200 < 0.55
    assert 0.25 < kinds.count("street_lamp") / 200 < 0.45
    assert 140 < len(bodies) < 200  # about one spot in ten stays empty
    spot_xy = {s.position for s in spots}
    for body, kind in zip(bodies, kinds, strict=True):
        assert body.semantic_class == ("vegetation" if kind == "tree" else "pole")
        assert body.mass == 0 and body.collision in ("box", "cylinder", "exact")
        assert tuple(body.pose[:2, 3]) in spot_xy
        assert _bounds(body.visuals)[0][2] == pytest.approx(0.0, abs=1e-6)
        assert all(max(v.material.emissive) == 0 for v in body.visuals)
    names = [b.name for b in bodies if b.name.startswith("tree_")]
    assert names == [f"tree_{k}" for k in range(len(names))]


def test_street_lamps_glow_and_light_the_road_at_night():
    bodies, lights = make_trees_and_poles(np.random.default_rng(1), _pole_spots(30), night=True)
    lamps = [b for b in bodies if b.name.startswith("street_lamp_")]
    assert len(lights) == len(lamps) > 0
    for lamp, light in zip(lamps, lights, strict=True):
        assert light.kind == "point" and light.intensity > 0
        assert light.color[0] > light.color[2]  # warm
        lo, hi = _bounds(lamp.visuals)
        local = np.linalg.inv(lamp.pose) @ np.r_[light.position, 1.0]
        assert np.all(local[:3] > lo - 0.1) and np.all(local[:3] < hi + 0.1)
        assert light.position[2] > 6.5
        assert light.position[1] > -4.2  # the arm reaches over the road (+y of the spot)
        assert any(max(v.material.emissive) > 1 for v in lamp.visuals)


# -------------------------------------------------------------------------- parked cars


def test_parked_cars_stand_at_parking_spots():
    spots = [KerbSpot((6.0 * i, -2.6), 0.3, "parking") for i in range(12)]
    spots.append(KerbSpot((0.0, -4.5), 0.3, "pole"))
    placed = make_parked_cars(np.random.default_rng(2), spots, 1.0, lights_on=False)
    assert len(placed) == 12
    for k, ((body, model), spot) in enumerate(zip(placed, spots, strict=False)):
        assert body.name == f"parked_car_{k}" and body.mass == 0 and body.motion is None
        assert model.kind in ("sedan", "suv", "van")
        assert body.semantic_class == VEHICLE_CLASS[model.kind] == "car"
        assert np.allclose(body.pose[:2, 3], spot.position)
        assert _angle_diff(_yaw(body.pose), spot.heading) < 0.05
        assert body.visuals is model.visuals
    assert make_parked_cars(np.random.default_rng(2), spots, 0.0, lights_on=False) == []
    half = make_parked_cars(np.random.default_rng(3), spots, 0.5, lights_on=False)
    assert 2 <= len(half) <= 10


# -------------------------------------------------------------------------------- signs


@pytest.mark.parametrize("lanes_in", [1, 2])
def test_stop_signs_at_unsignalled_stop_lines(lanes_in):
    network = _cross_network(signalled=False, lanes_in=lanes_in)
    signs = make_signs(np.random.default_rng(0), network)
    stops = [b for b in signs if b.name.startswith("stop_sign_")]
    assert len(stops) == 4  # one per approach, not one per lane
    assert all(b.semantic_class == "traffic sign" for b in signs)
    lanes = {lane.id: lane for lane in network.lanes}
    for k in range(4):
        rightmost = lanes[10 * k]
        stop_line, heading = point_at(rightmost, lane_length(rightmost))
        right = np.array([np.sin(heading), -np.cos(heading)])
        expected = stop_line + right * (rightmost.width / 2 + 1.0)
        near = [b for b in stops if np.linalg.norm(b.pose[:2, 3] - expected) < 1.5]
        assert len(near) == 1
        assert _angle_diff(_yaw(near[0].pose), heading + np.pi) < 1e-6  # faces the traffic
        lo, hi = _bounds(near[0].visuals)
        assert 2.3 < hi[2] < 3.0  # plate at head height


def test_no_stop_signs_where_signals_control_the_stop_lines():
    signs = make_signs(np.random.default_rng(0), _cross_network(signalled=True))
    assert not [b for b in signs if b.name.startswith("stop_sign_")]


def test_speed_limit_signs_beside_long_roads():
    xs = np.linspace(0.0, 200.0, 201)
    lanes = [Lane(i, np.c_[xs, np.full_like(xs, -1.75 - 40 * i)], 3.5) for i in range(12)]
    network = RoadNetwork(lanes, [], [], [], [], [], [], 0, [])
    signs = make_signs(np.random.default_rng(1), network)
    assert 1 <= len(signs) <= 10
    for body in signs:
        assert body.name.startswith("speed_limit_")
        faces = [v.material for v in body.visuals if v.material.texture is not None]
        assert faces and faces[0].name == "speed_limit_face_50"  # 13.9 m/s
        lane_y = -1.75 - 40 * np.round((-1.75 - body.pose[1, 3]) / 40)
        assert body.pose[1, 3] == pytest.approx(lane_y - 1.75 - 1.0)  # right-hand sidewalk
        assert 5.9 < body.pose[0, 3] < 70.0  # soon after the lane starts


# ----------------------------------------------------------------------- traffic lights


def test_traffic_light_lamps_follow_the_states():
    network = _cross_network(signalled=True, lanes_in=2)
    states = {
        0: [(0.0, "red"), (4.0, "green"), (9.0, "amber"), (11.0, "red")],
        1: [(1.5, "green"), (6.0, "amber"), (8.0, "red")],
        2: [(0.0, "amber")],
        3: [(0.0, "green"), (30.0, "red")],
    }
    bodies = make_traffic_lights(network, states)
    assert [b.name for b in bodies] == [f"traffic_light_{k}" for k in range(4)]
    for body, signal in zip(bodies, network.signals, strict=True):
        assert body.semantic_class == "traffic light" and body.mass == 0
        assert _angle_diff(_yaw(body.pose), signal.heading) < 1e-9
        assert np.allclose(body.pose[:2, 3], signal.position)
        lamps = {
            v.material.name.rsplit("_", 1)[1]: v
            for v in body.visuals
            if v.material.name.startswith("signal_lamp_")
        }
        assert set(lamps) == {"red", "amber", "green"}
        assert len({id(v.material) for v in lamps.values()}) == 3
        keys = states[signal.id]
        for t in (0.0, 1.0, 2.0, 4.0, 5.0, 8.5, 10.0, 12.0, 40.0):
            on = next((s for kt, s in reversed(keys) if kt <= t), keys[0][1])
            for colour, visual in lamps.items():
                glow = _emission(visual.material, t)
                if colour == on:
                    assert glow.max() > 3.0, (signal.id, t, colour)
                else:
                    assert glow.max() < 0.05, (signal.id, t, colour)
        red, green = _emission(lamps["red"].material, 0), _emission(lamps["green"].material, 100)
        if keys[0][1] == "red":
            assert red[0] > 10 * red[1:].max()
        if keys[-1][1] == "green":
            assert green[1] > 10 * max(green[0], green[2])


def test_traffic_light_head_hangs_over_its_lanes_facing_traffic():
    network = _cross_network(signalled=True, lanes_in=2)
    states = {s.id: [(0.0, "red")] for s in network.signals}
    lanes = {lane.id: lane for lane in network.lanes}
    for body, signal in zip(make_traffic_lights(network, states), network.signals, strict=True):
        amber = next(v for v in body.visuals if v.material.name == "signal_lamp_amber").mesh
        heads = amber.split(only_watertight=False)
        overhead = max(heads, key=lambda m: m.bounds[1][2])
        centre = body.pose @ np.r_[overhead.bounds.mean(axis=0), 1.0]
        assert centre[2] == pytest.approx(SIGNAL_HEAD_HEIGHT, abs=0.1)
        ends = np.array([lanes[i].centerline[-1] for i in signal.lanes])
        across = np.array([np.sin(signal.heading), -np.cos(signal.heading)])
        offsets = (ends - centre[:2]) @ across
        assert offsets.min() - 0.1 < 0 < offsets.max() + 0.1  # above the controlled lanes
        lens_x = overhead.bounds.mean(axis=0)[0]  # lens in front of the housing (+x)
        assert lens_x > 0.1


def test_traffic_lights_need_states_for_every_signal():
    network = _cross_network(signalled=True)
    with pytest.raises(ValueError, match="signal 3"):
        make_traffic_lights(network, {0: [(0.0, "red")], 1: [(0.0, "red")], 2: [(0.0, "red")]})
    states = {k: [(0.0, "red"), (2.0, "yellow")] for k in range(4)}
    with pytest.raises(ValueError, match="yellow"):
        make_traffic_lights(network, states)


def test_roadside_is_deterministic():
    network = _cross_network(signalled=False, lanes_in=2)
    spots = _pole_spots(20)

    def build(seed):
        rng = np.random.default_rng(seed)
        props, lights = make_trees_and_poles(rng, spots, night=True)
        return props + make_signs(rng, network), [light.position for light in lights]

    (a, lights_a), (b, lights_b) = build(7), build(7)
    assert lights_a == lights_b
    assert [x.name for x in a] == [x.name for x in b]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.pose, y.pose)
        for vx, vy in zip(x.visuals, y.visuals, strict=True):
            assert np.array_equal(vx.mesh.vertices, vy.mesh.vertices)
            assert vx.material.name == vy.material.name
    c, _ = build(8)
    assert [x.name for x in c] != [x.name for x in a] or any(
        not np.array_equal(x.pose, y.pose) for x, y in zip(a, c, strict=False)
    )


def test_night_changes_the_lighting_not_the_street():
    lots, spots = _lots(), _pole_spots(20)
    day = make_buildings(np.random.default_rng(5), lots, night=False)
    night = make_buildings(np.random.default_rng(5), lots, night=True)
    for a, b in zip(day, night, strict=True):
        assert np.array_equal(a.pose, b.pose)
        unlit = [v for v in b.visuals if max(v.material.emissive) == 0]
        assert np.array_equal(_bounds(a.visuals)[1], _bounds(unlit)[1])
    day_props, _ = make_trees_and_poles(np.random.default_rng(5), spots, night=False)
    night_props, _ = make_trees_and_poles(np.random.default_rng(5), spots, night=True)
    assert [b.name for b in day_props] == [b.name for b in night_props]
    for a, b in zip(day_props, night_props, strict=True):
        assert np.array_equal(a.pose, b.pose)
        assert np.array_equal(_bounds(a.visuals)[1], _bounds(b.visuals)[1])
