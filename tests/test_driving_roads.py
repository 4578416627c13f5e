"""Road networks: lane graph continuity, junction rules, crosswalks, sidewalks, lots,
block layout, determinism, config validation and the road meshes."""

import json
from functools import cache

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point
from shapely.ops import unary_union

from simfactory.scenes.driving.network import lane_length, point_at
from simfactory.scenes.driving.road_meshes import road_bodies
from simfactory.scenes.driving.roads import (
    BLOCK_KINDS,
    ROAD_DEFAULTS,
    crosswalk_area,
    island_area,
    lot_polygon,
    make_network,
    road_area,
    sidewalk_area,
    validate_road,
)

SEEDS = (0, 1, 2)
CONFIGS = {
    **{kind: dict(blocks=3, block_types=[kind]) for kind in BLOCK_KINDS},
    "mixed": dict(blocks=5),
    "wide": dict(blocks=4, lanes_per_direction=[3, 3], lane_width=[3.6, 3.6]),
    "single": dict(blocks=4, lanes_per_direction=[1, 1], signalled=1.0),
}
CASES = [(name, seed) for name in CONFIGS for seed in SEEDS]
SIDE_ARMS = {"straight": 0, "curve": 0, "four_way": 2, "t": 1, "roundabout": 2}


@cache
def network(name: str, seed: int):
    return make_network(np.random.default_rng(seed), CONFIGS[name])


@cache
def areas(name: str, seed: int):
    net = network(name, seed)
    road = road_area(net)
    return road, sidewalk_area(net, road)


def heading(a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    return float(np.arctan2(d[1], d[0]))


def cross(a: np.ndarray, b: np.ndarray) -> float:
    """z of the cross product of two 2D vectors (> 0: b is left of a)."""
    return float(a[0] * b[1] - a[1] * b[0])


def angle(a: float, b: float) -> float:
    return abs(float(np.arctan2(np.sin(a - b), np.cos(a - b))))


def approach_lanes(net, junction):
    """Non-junction lanes that lead into the junction's connectors."""
    members = set(junction.connectors)
    return [
        lane
        for lane in net.lanes
        if lane.junction is None and any(s in members for s in lane.successors)
    ]


# ---------------------------------------------------------------- config


def test_validate_accepts_defaults_and_ignores_other_keys():
    assert validate_road({}) == []
    assert validate_road(dict(ROAD_DEFAULTS, weather="rain")) == []


@pytest.mark.parametrize(
    "key, value",
    [
        ("blocks", 0),
        ("blocks", 13),
        ("blocks", 2.5),
        ("block_types", []),
        ("block_types", ["straight", "spiral"]),
        ("lanes_per_direction", [0, 2]),
        ("lanes_per_direction", [2, 1]),
        ("lanes_per_direction", [1, 4]),
        ("lane_width", [3.0]),
        ("lane_width", [1.0, 3.0]),
        ("curve_radius", [10.0, 50.0]),
        ("curve_angle_deg", [30.0, 270.0]),
        ("signalled", 1.5),
        ("signalled", True),
        ("speed_limit_kmh", 0),
        ("speed_limit_kmh", "fast"),
    ],
)
def test_validate_rejects_bad_values(key, value):
    errors = validate_road({key: value})
    assert len(errors) == 1 and errors[0].startswith(f"{key}: ")
    assert repr(value) in errors[0]


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize("name, seed", CASES)
def test_chain_of_blocks(name, seed):
    net = network(name, seed)
    cfg = CONFIGS[name]
    kinds = [b["kind"] for b in net.blocks]
    assert 1 <= len(kinds) <= cfg["blocks"] and kinds[0] == "straight"
    assert set(kinds[1:]) <= set(cfg.get("block_types", BLOCK_KINDS))
    assert net.blocks[0]["start"] == [0.0, 0.0, 0.0]
    json.dumps(net.blocks)  # plain values only
    junction_blocks = [b for b in net.blocks if b["kind"] in ("four_way", "t", "roundabout")]
    assert len(junction_blocks) == len(net.junctions)
    for b in junction_blocks:
        assert net.junctions[b["junction"]].kind == b["kind"]


def test_curves_start_where_the_previous_block_ends():
    net = network("curve", 1)
    for prev, block in zip(net.blocks, net.blocks[1:], strict=False):
        ends = [ln.centerline[-1] for ln in net.lanes if ln.road == prev["index"]]
        starts = [ln.centerline[0] for ln in net.lanes if ln.road == block["index"]]
        dist = cKDTree(ends).query(starts)[0]
        assert np.sum(dist < 0.01) == prev["lanes_per_direction"]


@pytest.mark.parametrize("name, seed", CASES)
def test_blocks_do_not_overlap(name, seed):
    net = network(name, seed)
    sw = net.sidewalk_width
    roads = {}
    for lane in net.lanes:
        strip = LineString(lane.centerline).buffer(lane.width / 2, cap_style="flat")
        roads.setdefault(lane.road, []).append(strip)
    roads = {k: unary_union(v) for k, v in roads.items()}
    for i in roads:
        for j in roads:
            if j <= i:
                continue
            if j == i + 1:
                assert roads[i].intersection(roads[j]).area < 0.5
            else:
                assert roads[i].distance(roads[j]) > 2 * sw - 0.1


def test_tight_curves_end_the_chain_early_without_overlaps():
    cfg = dict(
        blocks=12,
        block_types=["curve", "roundabout"],
        curve_radius=[25, 30],
        curve_angle_deg=[90, 120],
    )
    counts = []
    for seed in range(3):
        net = make_network(np.random.default_rng(seed), cfg)
        counts.append(len(net.blocks))
        footprints = [
            unary_union(
                [
                    LineString(ln.centerline).buffer(ln.width / 2, cap_style="flat")
                    for ln in net.lanes
                    if ln.road == b["index"]
                ]
            )
            for b in net.blocks
        ]
        for i in range(len(footprints)):
            for j in range(i + 2, len(footprints)):
                assert not footprints[i].intersects(footprints[j])
    assert min(counts) < 12


# ---------------------------------------------------------------- lane graph


@pytest.mark.parametrize("name, seed", CASES)
def test_lanes_continue_into_their_successors(name, seed):
    net = network(name, seed)
    for lane in net.lanes:
        line = lane.centerline
        steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
        assert line.ndim == 2 and line.shape[1] == 2 and len(line) >= 2
        assert steps.max() <= 1.0 and steps.min() > 1e-3
        assert lane.successors or lane.boundary_end
        assert not (lane.successors and lane.boundary_end)
        for s in lane.successors:
            nxt = net.lanes[s].centerline
            assert np.linalg.norm(line[-1] - nxt[0]) < 0.01
            assert angle(heading(line[-2], line[-1]), heading(nxt[0], nxt[1])) < 0.25


@pytest.mark.parametrize("name, seed", CASES)
def test_boundary_ends_are_the_open_road_ends(name, seed):
    net = network(name, seed)
    n = net.blocks[0]["lanes_per_direction"]
    open_ends = 2 + sum(SIDE_ARMS[b["kind"]] for b in net.blocks)
    boundary = [lane for lane in net.lanes if lane.boundary_end]
    assert len(boundary) == n * open_ends
    assert all(lane.junction is None for lane in boundary)
    fed = {s for lane in net.lanes for s in lane.successors}
    sources = [lane for lane in net.lanes if lane.id not in fed]
    assert len(sources) >= n * open_ends
    starts = [ln for ln in sources if ln.left is None or ln.right is None]
    assert len(starts) == min(n, 2) * open_ends  # the others are reached by a lane change


@pytest.mark.parametrize("name, seed", CASES)
def test_neighbours_run_side_by_side(name, seed):
    net = network(name, seed)
    for lane in net.lanes:
        for side, other in (("left", lane.left), ("right", lane.right)):
            if other is None:
                continue
            nb = net.lanes[other]
            assert (nb.right if side == "left" else nb.left) == lane.id
            mid = lane.centerline[len(lane.centerline) // 2]
            d = LineString(nb.centerline).distance(Point(mid))
            assert abs(d - lane.width) < 0.05
            p, h = point_at(lane, lane_length(lane) / 2)
            line = LineString(nb.centerline)
            q = np.asarray(line.interpolate(line.project(Point(p))).coords[0])
            assert (cross([np.cos(h), np.sin(h)], q - p) > 0) == (side == "left")


@pytest.mark.parametrize("name, seed", CASES)
def test_opposite_directions_are_separated(name, seed):
    net = network(name, seed)
    pts, hdg, width = [], [], []
    for lane in net.lanes:
        if lane.junction is None:
            line = lane.centerline
            h = np.arctan2(*np.diff(line, axis=0).T[::-1])
            pts.append(line[:-1])
            hdg.append(h)
            width.append(np.full(len(h), lane.width))
    pts, hdg, width = np.vstack(pts), np.concatenate(hdg), np.concatenate(width)
    pairs = cKDTree(pts).query_pairs(width.min() - 0.05, output_type="ndarray")
    opposite = np.cos(hdg[pairs[:, 0]] - hdg[pairs[:, 1]]) < 0
    assert not opposite.any()


@pytest.mark.parametrize("name, seed", CASES)
def test_lanes_lie_on_the_road_clear_of_sidewalks(name, seed):
    net = network(name, seed)
    road, sidewalk = areas(name, seed)
    road = road.buffer(1e-6)
    for lane in net.lanes:
        line = LineString(lane.centerline)
        assert road.covers(line)
        assert line.distance(sidewalk) > lane.width / 2 - 0.05


@pytest.mark.parametrize("name, seed", CASES)
def test_connectors_belong_to_their_junction(name, seed):
    net = network(name, seed)
    listed = {c: j.id for j in net.junctions for c in j.connectors}
    for lane in net.lanes:
        assert listed.get(lane.id) == lane.junction
        if lane.junction is not None:
            j = net.junctions[lane.junction]
            assert net.blocks[lane.road].get("junction") == j.id
            dist = np.linalg.norm(lane.centerline - np.asarray(j.center), axis=1)
            assert dist.max() < j.radius + 8.0


@pytest.mark.parametrize("name, seed", CASES)
def test_junction_rules(name, seed):
    net = network(name, seed)
    n = net.blocks[0]["lanes_per_direction"]
    for j in net.junctions:
        approach = approach_lanes(net, j)
        arms = {"four_way": 4, "t": 3, "roundabout": 4}[j.kind]
        assert len(approach) == arms * n
        assert all(lane.junction is None for lane in approach)
        signals = [s for s in net.signals if s.junction == j.id]
        if j.kind == "four_way" and j.signalled:
            assert len(signals) == 4 and j.groups == 4
            assert sorted(s.group for s in signals) == [0, 1, 2, 3]
            for s in signals:
                assert len(s.lanes) == n
                for lane_id in s.lanes:
                    lane = net.lanes[lane_id]
                    assert lane.signal == s.id and lane.stop_at_end
                    end = lane.centerline[-1]
                    facing = np.array([np.cos(s.heading), np.sin(s.heading)])
                    travel = lane.centerline[-1] - lane.centerline[-2]
                    assert facing @ travel / np.linalg.norm(travel) < -0.99
                    side = np.asarray(s.position) - end
                    assert cross(travel, side) < 0  # on the right-hand side
                    assert np.linalg.norm(side) < n * lane.width + 4.0
            assert {i for s in signals for i in s.lanes} == {lane.id for lane in approach}
        else:
            assert not signals and j.groups == 1
        for lane in approach:
            turns = [
                angle(heading(*net.lanes[c].centerline[:2]), heading(*net.lanes[c].centerline[-2:]))
                for c in lane.successors
            ]
            through = min(turns) < 0.05
            if j.kind == "four_way" and not j.signalled or j.kind == "roundabout":
                assert lane.stop_at_end and lane.yield_at_end and lane.signal is None
            if j.kind == "t":
                assert lane.stop_at_end == lane.yield_at_end == (not through)
        if j.kind in ("four_way", "t"):
            for lane in approach:
                moves = len(lane.successors)
                rightmost, leftmost = lane.right is None, lane.left is None
                assert moves <= 1 + rightmost + leftmost
        if j.kind == "roundabout":
            ring = [
                net.lanes[c]
                for c in j.connectors
                if np.ptp(np.linalg.norm(net.lanes[c].centerline - j.center, axis=1)) < 1e-3
            ]
            assert len(ring) == 8
            lane, seen = ring[0], []
            ring_ids = {r.id for r in ring}
            for _ in range(8):
                seen.append(lane.id)
                nxt = [s for s in lane.successors if s in ring_ids]
                assert len(nxt) == 1
                lane = net.lanes[nxt[0]]
            assert lane.id == ring[0].id and sorted(seen) == sorted(ring_ids)
            for r in ring:  # counter-clockwise
                a, b = r.centerline[0] - j.center, r.centerline[1] - j.center
                assert cross(a, b) > 0


@pytest.mark.parametrize("name, seed", CASES)
def test_ego_lane_is_the_rightmost_lane_of_the_first_straight(name, seed):
    net = network(name, seed)
    ego = net.lanes[net.ego_lane]
    assert ego.road == 0 and ego.junction is None and ego.right is None
    assert ego.centerline[0][0] == pytest.approx(0.0) and ego.centerline[0][1] < 0
    assert lane_length(ego) >= 39.0
    assert ego.speed_limit == pytest.approx(ROAD_DEFAULTS["speed_limit_kmh"] / 3.6)


# ---------------------------------------------------------------- crossings and sidewalks


@pytest.mark.parametrize("name, seed", CASES)
def test_crosswalks_cross_the_lanes_they_list(name, seed):
    net = network(name, seed)
    road, _ = areas(name, seed)
    n = net.blocks[0]["lanes_per_direction"]
    arms = sum({"four_way": 4, "t": 3, "roundabout": 4}[j.kind] for j in net.junctions)
    assert len(net.crosswalks) == arms
    for cw in net.crosswalks:
        seg = LineString([cw.a, cw.b])
        ids = [lane_id for lane_id, _ in cw.lanes]
        assert len(ids) == len(set(ids)) and len(ids) >= 2 * n
        for lane_id, s in cw.lanes:
            p, _ = point_at(net.lanes[lane_id], s)
            assert seg.distance(Point(p)) < 1e-3
        crossing = {lane.id for lane in net.lanes if LineString(lane.centerline).intersects(seg)}
        assert crossing == set(ids)
        assert road.contains(Point(np.add(cw.a, cw.b) / 2))
        for end in (cw.a, cw.b):
            assert min(LineString(p).distance(Point(end)) for p in net.sidewalks) < 1e-6
            assert any(np.min(np.linalg.norm(p - end, axis=1)) < 1e-9 for p in net.sidewalks)


@pytest.mark.parametrize("name, seed", CASES)
def test_sidewalk_paths_run_along_the_sidewalks(name, seed):
    net = network(name, seed)
    road, sidewalk = areas(name, seed)
    assert 2.5 <= net.sidewalk_width <= 4.0 and net.kerb_height == pytest.approx(0.15)
    inside = sidewalk.buffer(0.01)
    solid = road.union(island_area(net))
    for path in net.sidewalks:
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
        assert steps.max() <= 1.0
        assert inside.covers(LineString(path))
        kerb = shapely.distance(shapely.points(path), solid)
        assert np.allclose(kerb, net.sidewalk_width / 2, atol=0.02)
    open_ends = 2 + sum(SIDE_ARMS[b["kind"]] for b in net.blocks)
    assert len(net.sidewalks) == open_ends  # the kerb line, cut at every open road end
    assert len(shapely.get_parts(road)) == 1
    islands = sum(j.kind == "roundabout" for j in net.junctions)
    assert len(road.interiors) == islands
    total = sum(LineString(p).length for p in net.sidewalks)
    along = sum(lane_length(ln) for ln in net.lanes if ln.junction is None)
    assert total > along / net.blocks[0]["lanes_per_direction"] * 0.8


@pytest.mark.parametrize("name, seed", CASES)
def test_kerb_spots(name, seed):
    net = network(name, seed)
    road, sidewalk = areas(name, seed)
    crossings = unary_union([crosswalk_area(c) for c in net.crosswalks])
    poles = [k for k in net.kerb_spots if k.kind == "pole"]
    parking = [k for k in net.kerb_spots if k.kind == "parking"]
    assert poles and len(poles) + len(parking) == len(net.kerb_spots)
    lanes = [ln for ln in net.lanes if ln.junction is None]
    for spot in net.kerb_spots:
        pt = Point(spot.position)
        if spot.kind == "pole":
            assert sidewalk.contains(pt) and not crossings.contains(pt)
            assert road.distance(pt) < 1.0
        else:
            assert road.contains(pt)
        nearest = min(lanes, key=lambda ln: LineString(ln.centerline).distance(pt))
        line = LineString(nearest.centerline)
        _, h = point_at(nearest, line.project(pt))
        assert angle(h, spot.heading) < 0.1
    parked = [b for b in net.blocks if b.get("parking", "none") != "none"]
    if parked:
        assert parking
        for k in parking:
            assert min(LineString(ln.centerline).distance(Point(k.position)) for ln in lanes) > (
                net.blocks[0]["lane_width"] / 2 + 0.5
            )


@pytest.mark.parametrize("name, seed", CASES)
def test_lots_stand_clear_of_roads_sidewalks_and_each_other(name, seed):
    net = network(name, seed)
    road, sidewalk = areas(name, seed)
    assert net.lots
    rects = [lot_polygon(lot) for lot in net.lots]
    for lot, rect in zip(net.lots, rects, strict=True):
        assert 10 <= lot.width <= 25 and 10 <= lot.depth <= 20
        assert not rect.intersects(road) and not rect.intersects(sidewalk)
        toward = np.array([np.cos(lot.heading), np.sin(lot.heading)])
        front = Point(np.asarray(lot.center) + toward * lot.depth / 2)
        assert road.distance(front) < net.sidewalk_width + 4.0 + 0.01
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            assert rects[i].intersection(rects[j]).area < 1e-6


def test_parking_strips_appear_on_some_straights():
    found = False
    for seed in range(12):
        net = make_network(np.random.default_rng(seed), dict(blocks=4, block_types=["straight"]))
        found |= any(b["parking"] != "none" for b in net.blocks)
        spots = [k for k in net.kerb_spots if k.kind == "parking"]
        assert bool(spots) == any(b["parking"] != "none" for b in net.blocks)
        if len(spots) > 1:
            gap = np.linalg.norm(np.subtract(spots[1].position, spots[0].position))
            assert 5.5 < gap < 7.5
    assert found


# ---------------------------------------------------------------- determinism


def test_same_seed_same_network_other_seed_other_network():
    a = make_network(np.random.default_rng(7), {})
    b = make_network(np.random.default_rng(7), {})
    c = make_network(np.random.default_rng(8), {})
    assert a.blocks == b.blocks and a.blocks != c.blocks
    assert len(a.lanes) == len(b.lanes)
    for la, lb in zip(a.lanes, b.lanes, strict=True):
        assert np.array_equal(la.centerline, lb.centerline)
        assert la.successors == lb.successors and la.signal == lb.signal
    assert [(k.position, k.kind) for k in a.kerb_spots] == [
        (k.position, k.kind) for k in b.kerb_spots
    ]
    assert a.lots == b.lots and a.crosswalks == b.crosswalks and a.signals == b.signals
    assert all(np.array_equal(p, q) for p, q in zip(a.sidewalks, b.sidewalks, strict=True))


# ---------------------------------------------------------------- meshes


@pytest.fixture(scope="module")
def bodies():
    net = network("mixed", 1)
    return (
        net,
        road_bodies(net, np.random.default_rng(0)),
        road_bodies(net, np.random.default_rng(0), wet=1.0),
    )


def test_road_bodies_are_three_static_meshes(bodies):
    net, dry, _ = bodies
    assert [(b.name, b.semantic_class) for b in dry] == [
        ("road", "road"),
        ("sidewalk", "sidewalk"),
        ("terrain", "terrain"),
    ]
    faces = 0
    for body in dry:
        assert body.mass == 0.0 and body.collision == "exact" and body.visuals
        for v in body.visuals:
            m = v.mesh
            assert len(m.faces) and np.isfinite(m.vertices).all()
            assert m.faces.max() < len(m.vertices) and (m.area_faces > 0).all()
            faces += len(m.faces)
    assert faces < 50_000
    road, sidewalk = areas("mixed", 1)
    asphalt = dry[0].visuals[0].mesh
    assert np.allclose(asphalt.vertices[:, 2], 0.0)
    assert asphalt.area == pytest.approx(road.area, rel=0.01)
    assert (asphalt.face_normals[:, 2] > 0.99).all()
    for paint in dry[0].visuals[1:]:
        assert np.allclose(paint.mesh.vertices[:, 2], 0.015)
    walk = dry[1].visuals[0].mesh
    assert walk.vertices[:, 2].max() == pytest.approx(net.kerb_height)
    top = walk.face_normals[:, 2] > 0.99
    flat_top = top & np.isclose(walk.triangles_center[:, 2], net.kerb_height)
    assert walk.area_faces[flat_top].sum() == pytest.approx(sidewalk.area, rel=0.15)
    ground = dry[2].visuals[0].mesh
    lo, hi = ground.bounds
    assert (hi - lo)[:2].min() >= 400.0 and lo[2] == pytest.approx(-0.01)


def test_road_textures_and_wet_asphalt(bodies):
    _, dry, wet = bodies
    mats = {v.material.name: v.material for b in dry for v in b.visuals}
    wet_mats = {v.material.name: v.material for b in wet for v in b.visuals}
    for name in ("asphalt", "paving", "grass"):
        tex = mats[name].texture
        assert tex.dtype == np.uint8 and tex.shape[2] == 3 and tex.std() > 3
        assert 2.0 <= mats[name].texture_scale <= 4.0
    assert mats["asphalt"].roughness == pytest.approx(0.9)
    assert wet_mats["asphalt"].roughness == pytest.approx(0.15)
    assert wet_mats["asphalt"].base_color[0] < mats["asphalt"].base_color[0]
    yellow = mats["paint_yellow"].base_color
    assert yellow[0] > yellow[2] * 3
