"""Content checks for the furniture family: textures, pieces, clutter, rooms, layout, build."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from simfactory.scenes.furniture import build
from simfactory.scenes.furniture.clutter import CLUTTER_KINDS, make_clutter
from simfactory.scenes.furniture.geom2d import (
    convex_inside,
    convex_overlap,
    points_in_polygon,
    polygon_area,
    rect_corners,
)
from simfactory.scenes.furniture.layout import door_zones, footprint, place_pieces
from simfactory.scenes.furniture.materials import (
    clutter_materials,
    make_palette,
    piece_materials,
    room_materials,
)
from simfactory.scenes.furniture.pieces import PIECE_CLASSES, make_piece
from simfactory.scenes.furniture.room import make_room
from simfactory.scenes.furniture.textures import TEXTURES, random_material
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.seeds import clip_streams
from simfactory.sim.model.spec import Visual

CLASSES = set(class_table().names)


@pytest.fixture(scope="module")
def palette():
    return make_palette(np.random.default_rng(0), size=64)


def _bounds(visuals):
    lo = np.min([v.mesh.bounds[0] for v in visuals], axis=0)
    hi = np.max([v.mesh.bounds[1] for v in visuals], axis=0)
    return lo, hi


def _build(seed=3, clip=0, appearance_seed=None, **cfg):
    streams = clip_streams(seed, clip)
    if appearance_seed is not None:
        streams["appearance"] = clip_streams(appearance_seed, clip)["appearance"]
    return build(cfg, streams, 160, 120, 4.0)


@pytest.mark.parametrize("kind", sorted(TEXTURES))
def test_textures_are_uint8_images_that_vary_with_seed(kind):
    fn = TEXTURES[kind]
    a = fn(np.random.default_rng(1))
    b = fn(np.random.default_rng(2))
    assert a.dtype == np.uint8 and a.shape == (256, 256, 3)
    assert fn(np.random.default_rng(1), 64).shape == (64, 64, 3)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, fn(np.random.default_rng(1)))


def test_random_material_kinds():
    rng = np.random.default_rng(0)
    for kind, scale in [("wood", 0.5), ("tile", 0.6), ("fabric", 0.3), ("painted", 1.0)]:
        m = random_material(rng, kind, kind, size=32)
        assert m.texture is not None and m.texture.dtype == np.uint8
        assert m.base_color == (1.0, 1.0, 1.0, 1.0) and m.texture_scale == scale
    metal = random_material(rng, "metal", "m")
    assert metal.texture is None and metal.metallic == 1.0 and 0.3 <= metal.roughness <= 0.5
    plastic = random_material(rng, "plastic", "p")
    assert plastic.texture is None and plastic.metallic == 0.0
    with pytest.raises(ValueError):
        random_material(rng, "marble", "x")


def test_separating_axis_on_rotated_rectangles():
    a = rect_corners(0, 0, 1, 1, 0)
    assert convex_overlap(a, rect_corners(0.9, 0, 1, 1, 0.3))
    assert not convex_overlap(a, rect_corners(1.0, 0, 1, 1, 0))  # touching
    assert not convex_overlap(a, rect_corners(1.2, 1.2, 1, 1, np.pi / 4))
    assert convex_overlap(a, rect_corners(1.1, 0, 1, 1, np.pi / 4))
    l_shape = np.array([[0, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]], dtype=float)
    assert convex_inside(rect_corners(1, 3, 1, 1, 0), l_shape)
    assert not convex_inside(rect_corners(2.5, 2.5, 1.5, 1.5, 0), l_shape)
    assert not convex_inside(rect_corners(1.9, 1.9, 1.0, 1.0, 0), l_shape)
    poking = rect_corners(1.9, 1.9, 2.5, 0.4, -np.pi / 4)  # corners inside, notch cuts in
    assert points_in_polygon(poking, l_shape).all()
    assert not convex_inside(poking, l_shape)


@pytest.mark.parametrize("name_class", PIECE_CLASSES)
def test_pieces_are_grounded_and_match_their_footprint(name_class, palette):
    for seed in range(6):
        mats = piece_materials(np.random.default_rng(seed), palette)
        piece = make_piece(np.random.default_rng(seed), name_class, mats)
        assert piece.name_class == name_class and name_class in CLASSES
        assert piece.front == "+y" and len(piece.visuals) >= 3
        for v in piece.visuals:
            assert np.isfinite(v.mesh.vertices).all()
            assert v.mesh.vertices[:, 2].min() >= -1e-6
        closed = [
            Visual(v.mesh.copy().apply_transform(ln.T_parent_link), v.material)
            for ln in piece.links
            for v in ln.visuals
        ]
        lo, hi = _bounds(piece.visuals + closed)
        assert np.allclose(hi[:2] - lo[:2], piece.footprint, atol=0.01)
        assert np.allclose((hi[:2] + lo[:2]) / 2, 0, atol=0.01)
        assert abs(hi[2] - piece.height) < 0.01 and abs(lo[2]) < 1e-6
        for rect, z in piece.support_surfaces:
            assert rect[0] < rect[2] and rect[1] < rect[3]
            assert np.all(np.abs(rect) <= np.tile(piece.footprint, 2) / 2 + 1e-6)
            assert 0 < z <= piece.height + 1e-6
        json.dumps(piece.params)


def test_chairs_fit_tables(palette):
    mats = piece_materials(np.random.default_rng(0), palette)
    for seed in range(10):
        chair = make_piece(np.random.default_rng(seed), "chair", mats)
        table = make_piece(np.random.default_rng(seed), "table", mats)
        assert 0.43 <= chair.params["seat_height"] <= 0.47
        assert 0.72 <= table.height <= 0.76
        assert chair.support_surfaces[0][1] < table.height - 0.2


@pytest.mark.parametrize("kind", CLUTTER_KINDS)
def test_clutter_objects(kind, palette):
    for seed in range(5):
        mats = clutter_materials(np.random.default_rng(seed), palette)
        obj = make_clutter(np.random.default_rng(seed), kind, mats)
        assert obj.name_class in CLASSES and 0.02 < obj.mass < 3.0
        for v in obj.visuals:
            assert np.isfinite(v.mesh.vertices).all()
        lo, hi = _bounds(obj.visuals)
        assert np.allclose(hi - lo, obj.extents, atol=1e-6)
        assert abs(lo[2]) < 1e-9 and np.allclose((hi[:2] + lo[:2]) / 2, 0, atol=1e-9)


@pytest.mark.parametrize("shape", ["rect", "L"])
def test_rooms(shape, palette):
    for seed in range(5):
        rng = np.random.default_rng(seed)
        room = make_room(rng, shape, True, room_materials(rng, palette), size_range=(3.5, 7.0))
        names = [b.name for b in room.bodies]
        assert len(set(names)) == len(names)
        assert {b.semantic_class for b in room.bodies} >= {"floor", "wall", "ceiling", "door"}
        assert all(b.mass == 0 for b in room.bodies)
        assert polygon_area(room.polygon) > 3.5**2 * 0.4
        assert len(room.walls) == len(room.polygon) == (4 if shape == "rect" else 6)
        assert 2.4 <= room.height <= 2.8 and room.windows
        for wall in room.walls:
            mid = (wall.start + wall.end) / 2
            assert points_in_polygon(mid + 0.05 * wall.normal, room.polygon)[0]
            for o in wall.openings:
                assert 0 < o.start < o.end < wall.length and 0 <= o.bottom < o.top < room.height
        floor = next(b for b in room.bodies if b.name == "floor")
        assert abs(_bounds(floor.visuals)[1][2]) < 1e-9
        for r in room.rects:
            corners = np.array([[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]])
            centre = corners.mean(axis=0)
            assert convex_inside(centre + 0.999 * (corners - centre), room.polygon)


@pytest.mark.parametrize("seed", range(5))
def test_layout_has_no_overlaps_and_stays_inside(seed, palette):
    rng = np.random.default_rng(100 + seed)
    room = make_room(rng, ["rect", "L"][seed % 2], False, room_materials(rng, palette))
    classes = ["table", "chair", "chair", "chair", "sofa", "shelf", "cabinet", "lamp", "bed"]
    mats = piece_materials(rng, palette)
    pieces = [make_piece(rng, c, mats) for c in classes]
    placements = place_pieces(rng, room, pieces)
    assert len(placements) >= 5
    assert len({p.index for p in placements}) == len(placements)
    rects = [footprint(pieces[p.index], p) for p in placements]
    zones = door_zones(room)
    for i, a in enumerate(rects):
        assert convex_inside(a, room.polygon)
        assert not any(convex_overlap(a, z) for z in zones)
        for b in rects[i + 1 :]:
            assert not convex_overlap(a, b)
    for p in placements:
        if p.rule == "facing":
            table = next(q for q in placements if pieces[q.index].name_class == "table")
            front = np.array([-np.sin(p.yaw), np.cos(p.yaw)])
            to_table = np.array([table.x - p.x, table.y - p.y])
            assert front @ to_table / np.linalg.norm(to_table) > 0.999


def _arrays(spec):
    out = []
    for b in spec.bodies:
        out.append(b.pose)
        out += [v.mesh.vertices for v in b.visuals]
        if b.motion is not None:
            out += [b.motion.times, b.motion.poses]
    return out


def _same_path(a, b) -> bool:
    """Camera paths equal field by field (the mount is an array)."""
    da, db = dataclasses.asdict(a), dataclasses.asdict(b)
    return all(np.array_equal(np.asarray(da[k]), np.asarray(db[k])) for k in da)


def test_build_is_deterministic():
    a, b = _build(clip=1), _build(clip=1)
    assert json.dumps(a.params, sort_keys=True) == json.dumps(b.params, sort_keys=True)
    assert [x.name for x in a.bodies] == [x.name for x in b.bodies]
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert np.array_equal(x, y)
    assert _same_path(a.cameras[0].path, b.cameras[0].path)


def test_appearance_stream_changes_no_pose():
    a, b = _build(clip=2), _build(clip=2, appearance_seed=99)
    assert [x.name for x in a.bodies] == [x.name for x in b.bodies]
    for x, y in zip(a.bodies, b.bodies, strict=True):
        assert np.array_equal(x.pose, y.pose)
        assert (x.motion is None) == (y.motion is None)
        if x.motion is not None:
            assert np.array_equal(x.motion.poses, y.motion.poses)
            assert np.array_equal(x.motion.times, y.motion.times)
        for u, v in zip(x.visuals, y.visuals, strict=True):
            assert np.array_equal(u.mesh.vertices, v.mesh.vertices)
    assert _same_path(a.cameras[0].path, b.cameras[0].path)
    assert a.params["palette"] != b.params["palette"]


@pytest.mark.parametrize(
    "clip,cfg",
    [
        (0, dict(camera="walkthrough", entry="lower", room_shape="rect")),
        (4, dict(camera="orbit", entry="slide", room_shape="L", ceiling=False)),
        (5, dict(camera="static", entry="random", room_shape="random")),
    ],
)
def test_build_scene(clip, cfg):
    duration = 4.0
    spec = build(
        dict(num_pieces=8, num_clutter=8, **cfg), clip_streams(5, clip), 160, 120, duration
    )
    assert spec.family == "furniture"
    json.dumps(spec.params)
    names = [b.name for b in spec.bodies]
    assert len(set(names)) == len(names)
    assert {b.semantic_class for b in spec.bodies} <= CLASSES
    poly = np.array(spec.params["room"]["polygon"])
    pieces = [b for b in spec.bodies if b.name in {p["name"] for p in spec.params["pieces"]}]
    clutter = [b for b in spec.bodies if b.mass > 0]
    assert len(pieces) >= 5 and len(clutter) >= 6
    for b in pieces:
        assert b.collision == "exact" and b.motion is not None
        assert b.motion.times[-1] <= 0.6 * duration + 1e-9
        assert np.array_equal(b.pose, b.motion.poses[0])
    for b in clutter:
        assert b.collision == "convex" and b.motion is not None
        assert np.all(np.diff(b.motion.times) > 0) and b.motion.times[-1] < duration
        assert points_in_polygon(b.motion.poses[-1][:2, 3], poly)[0]
    kinds = [light.kind for light in spec.lights]
    assert kinds[0] == "directional" and spec.lights[0].cast_shadows
    assert spec.lights[0].direction[2] < 0 and 1 <= kinds.count("point") <= 3
    assert 0.2 <= spec.sky.ambient <= 0.5
    cam = spec.cameras[0]
    assert cam.name == "cam0" and (cam.width, cam.height) == (160, 120)
    path = cam.path
    eyes = {"waypoints": path.points, "static": [path.eye]}.get(path.kind)
    if path.kind == "orbit":
        angles = path.start_angle + np.linspace(0, path.sweep, 8)
        eyes = np.stack(
            [
                path.target[0] + path.radius * np.cos(angles),
                path.target[1] + path.radius * np.sin(angles),
                np.full(8, path.height),
            ],
            axis=1,
        )
    eyes = np.array(eyes)
    assert points_in_polygon(eyes[:, :2], poly).all()
    assert (eyes[:, 2] < spec.params["room"]["height"]).all()


def test_validate_names_each_bad_key():
    from simfactory.scenes.furniture import validate

    assert validate({"name": "furniture"}) == []
    bad = dict(num_pieces=-2, room_shape="oval", room_size=[6, 4], entry="fly", camera="drone")
    errors = validate(bad)
    for key in bad:
        name = "camera.path" if key == "camera" else key  # the camera is the camera group's
        assert any(e.startswith(f"{name}:") for e in errors), (key, errors)
    with pytest.raises(ValueError, match="num_pieces"):
        build(dict(num_pieces=-1), clip_streams(0, 0), 32, 24, 1.0)
