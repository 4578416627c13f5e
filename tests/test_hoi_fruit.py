"""The hoi family's cut_fruit task: fruit halves are closed and keep the fruit's volume,
the whole fruit is replaced by its halves when the blade reaches its middle, and the
outcome, contacts and captions agree with the physics."""

import json

import numpy as np
import pytest
import trimesh

from simfactory.scenes.hoi.fruit import (
    FRUITS,
    cut_fruit,
    cut_mesh,
    make_board,
    make_fruit,
    make_knife,
)
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout

FRAMES, FPS = 30, 12
CLIPS = (("panda", 0), ("kuka", 3))
HALVES = ("object_0_half_0", "object_0_half_1")


def _cfg(actor, seed):
    return load_config(
        [
            "scene=hoi",
            "scene.task=cut_fruit",
            f"scene.actor={actor}",
            f"seed={seed}",
            f"frames={FRAMES}",
            f"fps={FPS}",
            "resolution=[64,48]",
            "export.preview=false",
            "scene.num_distractors=1",
        ]
    )


@pytest.mark.parametrize("kind", FRUITS)
def test_fruit_is_closed_and_fruit_sized(kind):
    rng = np.random.default_rng(7)
    for _ in range(3):
        fruit = make_fruit(rng, kind)
        peel = fruit.visuals[0].mesh
        assert peel.is_watertight and peel.volume > 0
        assert 0.055 <= max(fruit.size) <= 0.1, fruit.size
        assert np.allclose(peel.bounds[0][:2], -peel.bounds[1][:2], atol=1e-9)  # centred
        assert fruit.visuals[0].mesh.bounds[0][2] == pytest.approx(0.0, abs=1e-9)
        assert 0.05 < fruit.mass < 0.35
        assert fruit.flesh.base_color != fruit.visuals[0].material.base_color


@pytest.mark.parametrize("kind", FRUITS)
def test_halves_are_closed_and_add_up_to_the_whole(kind):
    rng = np.random.default_rng(11)
    fruit = make_fruit(rng, kind)
    centre = fruit.visuals[0].mesh.bounds.mean(axis=0)
    planes = [
        (centre, (1.0, 0.0, 0.0)),
        (centre, (0.3, -0.9, 0.0)),
        (centre + (0.01, 0.0, 0.005), (0.5, 0.5, 0.7)),  # off-centre and oblique
    ]
    for origin, normal in planes:
        normal = np.asarray(normal) / np.linalg.norm(normal)
        for visual in fruit.visuals:
            whole = visual.mesh
            a, b = cut_mesh(whole, origin, normal)
            side = (whole.vertices - origin) @ normal
            if side.min() > 0 or side.max() < 0:  # the plane misses the stem
                assert (a.is_empty or b.is_empty) and visual is not fruit.visuals[0]
                continue
            assert a.is_watertight and b.is_watertight
            assert a.volume > 0.05 * whole.volume and b.volume > 0.05 * whole.volume
            assert a.volume + b.volume == pytest.approx(whole.volume, rel=0.01)
            assert ((a.vertices - origin) @ normal).min() > -1e-9  # on its side
        for half in cut_fruit(fruit, origin, normal):
            peel, cap = half[0], half[1]
            assert cap.material is fruit.flesh and peel.material is fruit.visuals[0].material
            assert np.abs((cap.mesh.vertices - origin) @ normal).max() < 1e-7  # flat
            closed = trimesh.util.concatenate([peel.mesh, cap.mesh])
            closed.merge_vertices()
            assert closed.is_watertight


def test_knife_and_board_are_kitchen_sized():
    rng = np.random.default_rng(3)
    knife = make_knife(rng)
    blade = knife.blade[0].mesh
    length = blade.bounds[1][0] - knife.handle[0].mesh.bounds[0][0]
    assert 0.24 <= length <= 0.32
    assert blade.extents[1] == pytest.approx(0.002)  # a thin blade
    assert blade.bounds[0][2] == pytest.approx(knife.edge_z)
    assert 0.08 < knife.blade_mass + knife.handle_mass < 0.25
    board = make_board(rng)
    assert 0.3 <= board.size[0] <= 0.4 and 0.2 <= board.size[1] <= 0.27
    assert board.visuals[0].mesh.is_watertight


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = {}
    for actor, seed in CLIPS:
        root = tmp_path_factory.mktemp(f"cut_{actor}")
        generate_clip(_cfg(actor, seed), 0, root)
        clip = root / "clips" / "clip_000000"
        ann = json.loads((clip / "annotations.json").read_text())
        traj = Trajectory.load(clip / "trajectory.npz")
        instance = np.load(clip / "cam0" / "instance.npz")["instance"]
        out[actor] = (ann, traj, instance)
    return out


def _cut_frame(traj) -> int:
    """The first frame with the halves in place of the fruit."""
    fruit = traj.part_names.index("object_0")
    halves = [traj.part_names.index(h) for h in HALVES]
    gone = ~traj.present[:, fruit]
    for h in halves:
        np.testing.assert_array_equal(traj.present[:, h], gone)
    k = int(np.argmax(gone))
    assert 0 < k < FRAMES - 3 and gone[k:].all()
    return k


def test_whole_fruit_before_the_cut_only_halves_after(clips):
    for actor, (ann, traj, instance) in clips.items():
        k = _cut_frame(traj)
        fruit = traj.part_names.index("object_0") + 1
        halves = [traj.part_names.index(h) + 1 for h in HALVES]
        pixels = {i: (instance == i).sum(axis=(1, 2)) for i in (fruit, *halves)}
        assert pixels[fruit][0] > 0 and (pixels[fruit][k:] == 0).all(), actor
        assert sum(pixels[h][-1] for h in halves) > 0, actor
        for h in halves:
            assert (pixels[h][:k] == 0).all(), actor
        for f, frame in enumerate(ann["cameras"]["cam0"]["frames"]):
            ids = {o["id"] for o in frame["objects"]}
            assert (fruit in ids) <= (f < k) and not (set(halves) & ids and f < k), (actor, f)


def _blade_edge(spec, traj) -> np.ndarray:
    """World z of the blade's lowest point per frame."""
    blade = next(b for b in spec.bodies if b.name == "knife").visuals[0].mesh.vertices
    T = traj.poses[:, traj.part_names.index("knife")]
    return (np.einsum("fij,nj->fni", T[:, :3, :3], blade)[..., 2] + T[:, None, 2, 3]).min(axis=1)


def test_the_fruit_is_cut_when_the_blade_reaches_its_middle(clips):
    for actor, seed in CLIPS:
        _, traj, _ = clips[actor]
        spec = build_scene(_cfg(actor, seed), 0)
        k = _cut_frame(traj)
        fruit = traj.part_names.index("object_0")
        body = next(b for b in spec.bodies if b.name == "object_0")
        middle = traj.poses[0, fruit, 2, 3] + body.visuals[0].mesh.bounds[1][2] / 2
        edge = _blade_edge(spec, traj)
        assert edge[k - 1] > middle - 0.003 and edge[k] < middle + 0.003, actor
        # The halves appear where the fruit was (moved only by the step since), and
        # share its mass.
        for h in HALVES:
            i = traj.part_names.index(h)
            assert np.abs(traj.poses[k, i, :3, 3] - traj.poses[0, fruit, :3, 3]).max() < 0.01
        masses = [b.mass for b in spec.bodies if b.name in HALVES]
        peel = body.visuals[0].mesh
        assert sum(masses) == pytest.approx(850.0 * peel.volume, rel=1e-6)


def test_outcome_agrees_with_the_final_poses(clips):
    for actor, (ann, traj, _) in clips.items():
        fam = ann["family"]
        goal = fam["goal"]
        assert not traj.present[-1, traj.part_names.index("object_0")]
        centres = []
        for name, half in goal["halves"].items():
            i = traj.part_names.index(name)
            assert traj.present[-1, i]
            T = traj.poses[-1, i]
            centres.append(T[:3, :3] @ half["centre"] + T[:3, 3])
        separation = np.linalg.norm(centres[0] - centres[1])
        on_table = all(goal["z_min"] <= c[2] <= goal["z_max"] for c in centres)
        ok = on_table and separation >= goal["min_separation"]
        assert fam["outcome"]["success"] == ok, (actor, fam["outcome"])
        assert fam["outcome"]["separation_m"] == pytest.approx(separation, abs=1e-4)
        assert ok, (actor, fam["outcome"])  # the task works, not only its label
        assert all(s["success"] == ok for s in fam["segments"])


def _inside_box(obj, frame, point, margin) -> bool:
    T = np.array(obj["T_world_part"][frame]) @ np.array(obj["T_part_box"])
    local = np.linalg.inv(T) @ np.r_[point, 1.0]
    return bool(np.all(np.abs(local[:3]) <= np.array(obj["box_size"]) / 2 + margin))


def test_contacts_of_the_knife_with_the_fruit_and_its_halves(clips):
    for actor, (ann, traj, _) in clips.items():
        k = _cut_frame(traj)
        objects = {o["name"]: o for o in ann["objects"]}
        by_id = {o["id"]: o["name"] for o in ann["objects"]}
        points = {
            (c["frame"], frozenset((by_id[c["a"]], by_id[c["b"]]))): c["position"]
            for c in ann["contacts"]
        }
        blade_in_fruit, on_halves = [], []
        for f, frame in enumerate(ann["family"]["contacts"]):
            for c in frame:
                if c["object"] == "object_0":
                    assert c["actor_part"] == "knife" and c["force"] is None and f < k
                    blade_in_fruit.append(f)
                    continue
                assert c["object"] in HALVES and f >= k, (actor, f, c)
                a, b = objects[c["actor_part"]], objects[c["object"]]
                point = points[(f, frozenset((a["name"], b["name"])))]
                assert _inside_box(a, f, point, 0.01) and _inside_box(b, f, point, 0.01)
                on_halves.append(f)
        assert blade_in_fruit and max(blade_in_fruit) == k - 1, (actor, blade_in_fruit)
        assert on_halves and min(on_halves) == k, (actor, on_halves)


def test_knife_stays_in_the_hand(clips):
    for actor, (ann, traj, _) in clips.items():
        fam = ann["family"]
        assert fam["attachments"] == [
            {"parent": f"robot/{fam['actor']['ee_link']}", "child": "knife", "start_frame": 0,
             "end_frame": FRAMES - 1}
        ]  # fmt: skip
        ee = traj.part_names.index(f"robot/{fam['actor']['ee_link']}")
        knife = traj.part_names.index("knife")
        rel = np.linalg.inv(traj.poses[:, ee]) @ traj.poses[:, knife]
        assert np.abs(rel[:, :3, 3] - rel[0, :3, 3]).max() < 0.003, actor


def test_segments_actions_and_captions(clips):
    for actor, (ann, _, _) in clips.items():
        fam = ann["family"]
        assert fam["task"] == "cut_fruit" and fam["tools"] == ["knife"]
        assert [s["verb"] for s in fam["segments"]] == ["reach", "cut", "retreat"]
        names = {o["name"] for o in ann["objects"]}
        for s in fam["segments"]:
            assert 0 <= s["start_frame"] <= s["end_frame"] < FRAMES
            assert set(s["objects"]) <= names
        assert len(fam["actions"]) == FRAMES and len(fam["ee_T_world"]) == FRAMES
        assert fam["caption"] in fam["captions"] and len(fam["captions"]) >= 3
        kind = ann["params"]["objects"]["object_0"]["kind"]
        assert all(kind in c for c in fam["captions"]), actor
        assert "cutting board" in fam["captions"][0] and "in half" in fam["captions"][0]


def test_cut_fruit_is_deterministic(clips):
    actor, seed = CLIPS[0]
    _, traj, _ = clips[actor]
    again = rollout(build_scene(_cfg(actor, seed), 0), FPS, FRAMES)
    np.testing.assert_array_equal(again.poses, traj.poses)
    np.testing.assert_array_equal(again.present, traj.present)
