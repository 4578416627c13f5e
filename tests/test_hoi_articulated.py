"""Opening and closing a small cabinet's drawer or door: outcomes agree with the recorded
joint positions, link poses with their joints, labels with the physics; free joints move
only when pulled; furniture clips are untouched."""

import json
from dataclasses import replace

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from simfactory.scenes.furniture.materials import make_palette, piece_materials
from simfactory.scenes.furniture.pieces import make_small_cabinet
from simfactory.scenes.furniture.shapes import pose
from simfactory.scenes.hoi.articulated import OPEN_ENOUGH, SHUT_ENOUGH
from simfactory.sim.actors.robot import EeKey, ee_path, top_down_quat
from simfactory.sim.model.spec import Attachment, Body, Light, Material, Motion, SceneSpec, Visual
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, load_config, validate
from simfactory.sim.simulate import physics
from simfactory.sim.simulate.physics import rollout

FRAMES, FPS = 30, 12
CLIPS = {  # task: (actor, seed)
    "open_drawer": ("kuka", 0),
    "close_drawer": ("panda", 1),
    "open_door": ("panda", 2),
    "close_door": ("kuka", 3),
}


def _cfg(*overrides):
    return load_config(
        [
            "scene=hoi",
            f"frames={FRAMES}",
            f"fps={FPS}",
            "resolution=[64,48]",
            "export.preview=false",
            "scene.num_distractors=1",
            *overrides,
        ]
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """One rendered clip per task: (annotations, trajectory, spec)."""
    out = {}
    for task, (actor, seed) in CLIPS.items():
        cfg = _cfg(f"scene.task={task}", f"scene.actor={actor}", f"seed={seed}")
        root = tmp_path_factory.mktemp(task)
        generate_clip(cfg, 0, root)
        clip = root / "clips" / "clip_000000"
        ann = json.loads((clip / "annotations.json").read_text())
        out[task] = (ann, Trajectory.load(clip / "trajectory.npz"), build_scene(cfg, 0))
    return out


def _joint(traj, name) -> np.ndarray:
    return traj.joint_positions[:, traj.joint_names.index(name)]


def _part(traj, name) -> np.ndarray:
    return traj.poses[:, traj.part_names.index(name)]


def test_outcome_agrees_with_the_recorded_joint_position(clips):
    for task, (ann, traj, _) in clips.items():
        fam = ann["family"]
        goal = fam["goal"]
        q = _joint(traj, goal["joint"])
        fraction = q / goal["travel"]
        assert abs(q[0] - goal["start_position"]) < 1e-6  # closing starts open
        if task.startswith("open"):
            assert q[0] == 0.0 and goal["open"]
            expected = fraction[-1] >= OPEN_ENOUGH
        else:
            assert fraction[0] > 0.5 and not goal["open"]
            expected = fraction[-1] <= SHUT_ENOUGH
        assert fam["outcome"]["success"] == bool(expected)
        assert fam["outcome"]["open_fraction"] == pytest.approx(fraction[-1], abs=1e-4)
        assert all(s["success"] == expected for s in fam["segments"])
        assert expected, (task, fam["outcome"])  # the task works, not only its label


def test_link_pose_follows_its_joint(clips):
    for task, (ann, traj, spec) in clips.items():
        goal = ann["family"]["goal"]
        q = _joint(traj, goal["joint"])
        T = _part(traj, goal["joint"])
        T_cabinet = _part(traj, "cabinet")
        assert np.allclose(T_cabinet, T_cabinet[0], atol=1e-9)  # the carcass stands still
        body = next(b for b in spec.bodies if b.name == "cabinet")
        link = next(ln for ln in body.links if f"cabinet/{ln.name}" == goal["joint"])
        axis = T_cabinet[0, :3, :3] @ np.asarray(link.joint_axis)
        moved = T[:, :3, 3] - T[0, :3, 3]
        turned = Rotation.from_matrix(T[:, :3, :3] @ T[0, :3, :3].T).as_rotvec()
        if "drawer" in task:  # slides along its axis by the joint's change, turns not at all
            assert np.allclose(moved @ axis, q - q[0], atol=1e-4)
            assert np.abs(moved - np.outer(moved @ axis, axis)).max() < 1e-4
            assert np.abs(turned).max() < 1e-4
        else:  # turns about its hinge (the link origin) by the joint's change
            assert np.abs(moved).max() < 1e-4
            assert np.allclose(turned, np.outer(q - q[0], axis), atol=1e-4)
        assert np.ptp(q) > 0.5 * goal["travel"]


def test_joints_move_only_while_held(clips):
    for _, (ann, traj, _) in clips.items():
        fam = ann["family"]
        goal, grasp = fam["goal"], fam["attachments"][0]
        assert grasp["child"] == goal["joint"] and grasp["parent"].startswith("robot/")
        q = _joint(traj, goal["joint"])
        a, b = grasp["start_frame"], grasp["end_frame"]
        tolerance = 0.01 * goal["travel"]  # fingers brush the handle as they close
        assert np.abs(q[:a] - q[0]).max() < tolerance
        assert np.abs(q[b:] - q[b]).max() < 1e-4  # let go of: it stays put
        others = [n for n in traj.joint_names if n.startswith("cabinet/") and n != goal["joint"]]
        for name in others:
            assert np.abs(_joint(traj, name)).max() < 1e-4


def test_door_box_turns_with_the_door(clips):
    ann, traj, _ = clips["open_door"]
    goal = ann["family"]["goal"]
    door = next(o for o in ann["objects"] if o["name"] == goal["joint"])
    assert door["class"] == "door" and door["dynamic"]
    T = np.array(door["T_world_part"]) @ np.array(door["T_part_box"])
    hinge = np.array(door["T_world_part"])[0, :3, 3]
    q = _joint(traj, goal["joint"])
    for f in range(FRAMES):
        turn = Rotation.from_matrix(T[f, :3, :3] @ T[0, :3, :3].T).as_rotvec()
        assert np.linalg.norm(turn) == pytest.approx(abs(q[f] - q[0]), abs=2e-3)
        assert np.abs(turn[:2]).max() < 2e-3  # about the vertical
        centre = hinge + Rotation.from_rotvec(turn).apply(T[0, :3, 3] - hinge)
        assert np.allclose(T[f, :3, 3], centre, atol=2e-3)
    assert abs(q[-1]) > 1.0  # turned by more than 57 degrees


def test_labels_segments_and_captions(clips):
    for task, (ann, _, _) in clips.items():
        fam = ann["family"]
        assert fam["task"] == task and ann["params"]["task"] == task
        verbs = [s["verb"] for s in fam["segments"]]
        assert verbs == ["reach", "grasp", task.split("_")[0], "release", "retreat"]
        names = [o["name"] for o in ann["objects"]]
        assert all(o in names for s in fam["segments"] for o in s["objects"])
        assert len(fam["actions"]) == len(fam["ee_T_world"]) == len(fam["contacts"]) == FRAMES
        assert fam["caption"] in fam["captions"] and len(fam["captions"]) == 3
        kind = "drawer" if "drawer" in task else "door"
        assert all("cabinet" in c or kind in c for c in fam["captions"])
        assert kind in fam["captions"][0] and "cabinet" in fam["captions"][0]
        assert ann["params"]["objects"]["cabinet"]["kind"] == "cabinet"


def test_the_hand_follows_the_door_arc():
    """EE keys with a pivot turn the position about it with the orientation."""
    pivot = np.array([0.5, 0.2, 0.8])
    a = np.array([0.5, -0.1, 0.8])
    turn = Rotation.from_euler("z", 1.2)
    b = pivot + turn.apply(a - pivot)
    q0 = top_down_quat(0.0)
    q1 = (turn * Rotation.from_quat(q0)).as_quat()
    _, poses, _, _ = ee_path([EeKey(0.0, a, q0), EeKey(1.0, b, q1, pivot=pivot)], 60.0)
    radius = np.linalg.norm(poses[:, :3, 3] - pivot, axis=1)
    assert np.allclose(radius, 0.3, atol=1e-9) and np.allclose(poses[-1, :3, 3], b)
    # Without the pivot the hand cuts the chord.
    _, chord, _, _ = ee_path([EeKey(0.0, a, q0), EeKey(1.0, b, q1)], 60.0)
    assert np.linalg.norm(chord[30, :3, 3] - pivot) < 0.25


def _cabinet_scene(q_start, pull, release, friction=None, interpolation="smooth"):
    """A drawer cabinet on a floor; a kinematic hand grabs the top drawer's handle at
    0.2 s and pulls it out by ``pull`` over 0.5 s (easing in and out, or at a constant
    speed), letting go at ``release`` s."""
    rng = np.random.default_rng(0)
    palette = make_palette(np.random.default_rng(0), size=16)
    piece = make_small_cabinet(rng, piece_materials(rng, palette), "drawers")
    links = [
        replace(ln, joint_friction=ln.joint_friction if friction is None else friction)
        for ln in piece.links
    ]
    links[-1] = replace(links[-1], initial_position=q_start)
    T_cabinet = pose(0.0, 0.0, 0.0, 0.0)
    handle = links[-1].T_parent_link[:3, 3] + piece.handles[links[-1].name]
    handle[1] += q_start
    start = pose(*handle)
    end = pose(handle[0], handle[1] + pull, handle[2])
    floor = trimesh.creation.box((3, 3, 0.1), transform=pose(0, 0, -0.05))
    grey = Material("grey")
    hand_mesh = trimesh.creation.box((0.02, 0.02, 0.02))
    bodies = [
        Body("floor", "floor", [Visual(floor, grey)], collision="box"),
        Body("cabinet", "cabinet", piece.visuals, T_cabinet, collision="boxes", links=links),
        Body(
            "hand",
            "robot",
            [Visual(hand_mesh, grey)],
            start,
            collision="none",
            motion=Motion(np.array([0.2, 0.7]), np.stack([start, end]), interpolation),
        ),
    ]
    attach = [Attachment("hand", f"cabinet/{links[-1].name}", 0.2, release)]
    spec = SceneSpec("test", bodies, [Light("directional")], [], attachments=attach)
    traj = rollout(spec, 24, 30)
    return links, [_joint(traj, f"cabinet/{ln.name}") for ln in links]


def test_a_free_drawer_moves_only_when_pulled_and_friction_stops_it():
    # Held to the end of the pull: it follows the hand, then stays where let go.
    links, qs = _cabinet_scene(0.02, 0.1, 0.7)
    q = qs[-1]
    assert np.allclose(q[:4], 0.02, atol=1e-6)  # before the grasp, at its initial position
    assert q[-1] == pytest.approx(0.12, abs=3e-3) and np.ptp(q[-8:]) < 1e-4
    assert all(np.abs(other).max() < 1e-6 for other in qs[:-1])  # not pulled: still
    # Let go of halfway, at 0.3 m/s: friction stops it within a few centimetres ...
    _, (*_, slowed) = _cabinet_scene(0.02, 0.15, 0.45, interpolation="linear")
    travel = links[-1].joint_limits[1]
    assert 0.095 < slowed[-1] < 0.095 + 0.05 < travel - 0.03 and np.ptp(slowed[-8:]) < 1e-4
    # ... where a frictionless drawer slides on towards its stop.
    _, (*_, slid) = _cabinet_scene(0.02, 0.15, 0.45, 0.0, "linear")
    assert slid[-1] > 0.9 * travel > slowed[-1] + 0.05


def test_furniture_clips_do_not_use_the_new_joint_settings():
    """The furniture family's drawers keep joint friction 0 and start closed, so the
    rollout is the same with or without what links' friction and initial positions add."""
    cfg = load_config(["scene=furniture", "frames=12", "scene.num_pieces=6", "seed=5"])
    spec = next(
        build_scene(cfg, i) for i in range(20) if any(b.links for b in build_scene(cfg, i).bodies)
    )
    links = [ln for b in spec.bodies for ln in b.links]
    assert links and all(ln.joint_friction == 0 and ln.initial_position == 0 for ln in links)
    assert all(b.collision != "boxes" for b in spec.bodies)
    a = rollout(spec, 24, 12)
    original = physics._start_links
    physics._start_links = lambda *args: None
    try:
        b = rollout(spec, 24, 12)
    finally:
        physics._start_links = original
    assert np.array_equal(a.poses, b.poses) and np.array_equal(a.joint_positions, b.joint_positions)


def test_small_cabinet_variants():
    palette = make_palette(np.random.default_rng(0), size=16)
    for fronts, kinds in (
        ("drawers", {"prismatic"}),
        ("door", {"revolute"}),
        ("doors", {"revolute"}),
    ):
        for seed in range(4):
            rng = np.random.default_rng(seed)
            piece = make_small_cabinet(rng, piece_materials(rng, palette), fronts)
            assert {ln.joint_type for ln in piece.links} == kinds
            assert set(piece.handles) == {ln.name for ln in piece.links}
            assert len(piece.links) == piece.params["count"]
            assert piece.height < 0.6 and max(piece.footprint) < 0.55  # fits on a table
            for ln in piece.links:
                assert ln.joint_friction > 0 and not ln.joint_targets
                # The grasp point is the middle of the handle's bar (the link's second visual).
                bar = ln.visuals[1].mesh
                assert np.allclose(bar.bounds.mean(0), piece.handles[ln.name], atol=1e-6)
    with pytest.raises(ValueError, match="fronts"):
        make_small_cabinet(np.random.default_rng(0), piece_materials(rng, palette), "shelves")


@pytest.mark.parametrize("task", ["open_drawers", "open"])
def test_bad_task_names_the_key(task):
    with pytest.raises(ConfigError, match=r"scene\.task.*open_drawer"):
        validate(_cfg(f"scene.task={task}"))
