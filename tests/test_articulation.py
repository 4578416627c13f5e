"""Articulated cabinets: drawers as prismatic links, carried by a kinematic base."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from simfactory.scenes.furniture import build
from simfactory.scenes.furniture.drawers import SETTLE, plan_drawers
from simfactory.scenes.furniture.geom2d import convex_inside, convex_overlap, rect_corners
from simfactory.scenes.furniture.layout import footprint, front_of, place_pieces
from simfactory.scenes.furniture.materials import make_palette, piece_materials, room_materials
from simfactory.scenes.furniture.pieces import make_piece
from simfactory.scenes.furniture.room import make_room
from simfactory.scenes.furniture.shapes import pose
from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.parts import part_classes, part_visuals
from simfactory.sim.model.seeds import clip_streams
from simfactory.sim.model.spec import Body, Light, Material, Motion, SceneSpec, Sky, Visual
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.simulate.physics import rollout

FPS, FRAMES, LANDED = 24, 49, 0.5


@pytest.fixture(scope="module")
def palette():
    return make_palette(np.random.default_rng(0), size=32)


def _cabinet(palette, seed=0):
    rng = np.random.default_rng(seed)
    return make_piece(rng, "cabinet", piece_materials(rng, palette))


def _translation(q: float, axis) -> np.ndarray:
    T = np.eye(4)
    T[:3, 3] = q * np.asarray(axis, dtype=float)
    return T


@pytest.fixture(scope="module")
def cabinet_clip(palette):
    """A cabinet lowered onto a floor (landing at 0.5 s) that opens one or two drawers."""
    piece = _cabinet(palette)
    links, moves = plan_drawers(np.random.default_rng(1), piece, LANDED, (FRAMES - 1) / FPS)
    assert moves
    floor_mesh = trimesh.creation.box((6, 6, 0.1), transform=pose(0, 0, -0.05))
    floor = Body("floor", "floor", [Visual(floor_mesh, Material("grey"))], collision="box")
    start, end = pose(0.2, 0.1, 1.2, 0.6), pose(0.2, 0.1, 0.0, 0.6)
    cabinet = Body(
        "cabinet_0",
        "cabinet",
        piece.visuals,
        pose=start.copy(),
        collision="exact",
        motion=Motion(np.array([0.1, LANDED]), np.stack([start, end])),
        links=links,
    )
    spec = SceneSpec("test", [floor, cabinet], [Light("directional")], [], Sky())
    return spec, moves, rollout(spec, FPS, FRAMES)


def test_cabinet_has_drawer_links_and_an_open_carcass(palette):
    for seed in range(6):
        piece = _cabinet(palette, seed)
        d = piece.params["depth"]
        assert len(piece.links) == piece.params["drawers"] >= 2
        assert [ln.name for ln in piece.links] == [f"drawer_{i}" for i in range(len(piece.links))]
        assert piece.reach == pytest.approx(0.8 * d)
        for ln in piece.links:
            assert ln.semantic_class == "drawer" and ln.joint_type == "prismatic"
            assert ln.joint_axis == (0.0, 1.0, 0.0) and ln.parent == -1
            assert ln.joint_limits == pytest.approx((0.0, 0.8 * d))
            assert 2.0 <= ln.mass <= 5.0 and not ln.joint_targets and len(ln.visuals) == 3
            # No carcass panel crosses the drawer's opening, and the tray is hollow.
            inside = ln.T_parent_link[:3, 3] - [0, d / 3, 0]
            for v in piece.visuals:
                lo, hi = v.mesh.bounds
                assert not np.all((inside > lo) & (inside < hi))
            tray = ln.visuals[2].mesh
            assert tray.volume < 0.5 * tray.bounding_box.volume
        assert piece.support_surfaces[0][1] == pytest.approx(piece.height)
        assert len(piece.support_surfaces) == 1


def test_drawer_plans_open_and_sometimes_close(palette):
    piece = _cabinet(palette)
    closed = 0
    for seed in range(10):
        links, moves = plan_drawers(np.random.default_rng(seed), piece, 1.0, 6.0)
        assert 1 <= len(moves) <= 2
        for move in moves:
            ln = next(ln for ln in links if ln.name == move["link"])
            times, values = np.array(ln.joint_targets).T
            assert ln.joint_targets[0] == (0.0, 0.0) and np.all(np.diff(times) > 0)
            assert move["open"][0] >= 1.1 and max(values) == pytest.approx(move["opening"])
            assert np.all(values >= 0) and np.all(values <= ln.joint_limits[1])
            if move["close"]:
                closed += 1
                assert values[-1] == 0.0 and times[-1] == pytest.approx(move["close"][1])
        json.dumps(moves)
    assert closed > 0
    # Too short a clip: nothing moves.
    links, moves = plan_drawers(np.random.default_rng(0), piece, 1.0, 1.2)
    assert moves == [] and not any(ln.joint_targets for ln in links)


def test_link_poses_follow_base_and_joint(cabinet_clip):
    spec, _, traj = cabinet_clip
    base = traj.part_names.index("cabinet_0")
    for ln in spec.bodies[1].links:
        name = f"cabinet_0/{ln.name}"
        part = traj.part_names.index(name)
        q = traj.joint_positions[:, traj.joint_names.index(name)]
        for f in range(traj.num_frames):
            expected = traj.poses[f, base] @ ln.T_parent_link @ _translation(q[f], ln.joint_axis)
            assert np.abs(traj.poses[f, part] - expected).max() < 1e-3, (name, f)
    # The base followed its Motion down onto the floor.
    assert traj.poses[0, base, 2, 3] == pytest.approx(1.2)
    assert traj.poses[-1, base, 2, 3] == pytest.approx(0.0, abs=1e-9)


def test_drawers_reach_their_targets(cabinet_clip):
    spec, moves, traj = cabinet_clip
    links = {ln.name: ln for ln in spec.bodies[1].links}
    for move in moves:
        ln = links[move["link"]]
        q = traj.joint_positions[:, traj.joint_names.index(f"cabinet_0/{ln.name}")]
        start, end = move["open"]
        assert start > LANDED and 0.4 <= end - start <= 0.6
        assert 0.4 * ln.joint_limits[1] <= move["opening"] <= 0.9 * ln.joint_limits[1]
        shut = traj.times <= start
        assert np.abs(q[shut]).max() < 1e-4
        times, values = zip(*ln.joint_targets, strict=True)
        target = np.interp(traj.times, times, values)
        settled = traj.times >= end + SETTLE
        if move["close"]:
            settled &= (traj.times <= move["close"][0]) | (traj.times >= move["close"][1] + SETTLE)
        assert settled.any()
        assert np.abs(q[settled] - target[settled]).max() < 5e-3
        assert q.max() <= ln.joint_limits[1] + 1e-3
    moved = {m["link"] for m in moves}
    for name in links:
        if name not in moved:
            assert (
                np.abs(traj.joint_positions[:, traj.joint_names.index(f"cabinet_0/{name}")]).max()
                < 1e-4
            )


def test_open_drawer_is_rendered_and_labelled(cabinet_clip):
    spec, moves, traj = cabinet_clip
    assert {f"cabinet_0/drawer_{i}" for i in range(len(spec.bodies[1].links))} <= set(
        traj.part_names
    )
    visuals = part_visuals(spec, traj)
    classes = part_classes(spec, traj)
    renderer = process_renderer()
    renderer.load_scene(visuals, spec.lights, spec.sky, np.array([[-3, -3, -0.1], [3, 3, 2]]))
    W, H = 64, 48
    base = traj.poses[-1, traj.part_names.index("cabinet_0")]
    front = base[:3, :3] @ [0, 1, 0]
    eye = base[:3, 3] + 1.6 * front + [0.3, 0, 1.3]
    frame = renderer.render(traj.poses[-1], intrinsics(W, H, 60), look_at(eye, base[:3, 3]), W, H)
    table = class_table()
    semantic = np.array([0] + [table.id_of(c) for c in classes])[frame.instance]
    assert (semantic == table.id_of("drawer")).sum() > 10
    assert (semantic == table.id_of("cabinet")).sum() > 10
    opened = traj.part_names.index(f"cabinet_0/{moves[0]['link']}")
    assert (frame.instance == opened + 1).any()


def test_layout_keeps_drawer_travel_free(palette):
    placed = 0
    for seed in range(4):
        rng = np.random.default_rng(200 + seed)
        room = make_room(rng, "rect", False, room_materials(rng, palette))
        mats = piece_materials(rng, palette)
        classes = ["cabinet", "shelf", "sofa", "cabinet", "cabinet", "shelf"]
        pieces = [make_piece(rng, c, mats) for c in classes]
        placements = place_pieces(rng, room, pieces, clearance=0.1)
        for p in placements:
            piece = pieces[p.index]
            if piece.name_class != "cabinet":
                continue
            placed += 1
            w, d = piece.footprint
            c = np.array([p.x, p.y]) + front_of(p.yaw) * (d + piece.reach) / 2
            sweep = rect_corners(c[0], c[1], w, piece.reach, p.yaw)
            assert convex_inside(sweep, room.polygon)
            for q in placements:
                assert q is p or not convex_overlap(sweep, footprint(pieces[q.index], q))
    assert placed >= 4


def test_build_opens_drawers_and_keeps_floor_clutter_away():
    for clip in range(4):
        spec = build(dict(num_pieces=8, num_clutter=10), clip_streams(1, clip), 64, 48, 3.0)
        json.dumps(spec.params)
        names = {b.name: b for b in spec.bodies}
        for p in spec.params["pieces"]:
            body = names[p["name"]]
            if p["cls"] != "cabinet":
                assert not body.links and p["drawers"] == []
                continue
            assert len(body.links) == p["dims"]["drawers"] and 1 <= len(p["drawers"]) <= 2
            landed = body.motion.times[-1]
            for move in p["drawers"]:
                ln = next(ln for ln in body.links if ln.name == move["link"])
                assert ln.joint_targets[0] == (0.0, 0.0) and move["open"][0] > landed
                assert max(v for _, v in ln.joint_targets) == pytest.approx(move["opening"])
        for c in spec.params["clutter"]:
            support = c["support"]
            if support != "floor":
                piece = next(p for p in spec.params["pieces"] if p["name"] == support)
                if piece["cls"] == "cabinet":
                    assert c["drop"][2] > piece["height"]
