"""The hoi family's robot tasks: outcomes agree with the physics, segments and actions
are well formed, contacts are real, captions name what is there."""

import json

import numpy as np
import pytest

from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.cli import success_report
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, load_config, validate

FRAMES, FPS = 60, 24
ROWS = {}  # manifest rows of the generated clips


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
    """One clip per (task, actor, seed)."""
    out = {}
    for task in ("pick_place", "push", "stack"):
        for actor, seed in (("panda", 0), ("panda", 1), ("kuka", 2)):
            root = tmp_path_factory.mktemp(f"{task}_{actor}_{seed}")
            ROWS[(task, actor, seed)] = generate_clip(
                _cfg(f"scene.task={task}", f"scene.actor={actor}", f"seed={seed}"), 0, root
            )
            clip = root / "clips" / "clip_000000"
            ann = json.loads((clip / "annotations.json").read_text())
            out[(task, actor, seed)] = (ann, Trajectory.load(clip / "trajectory.npz"))
    return out


def _final(ann, traj, name):
    return traj.poses[-1, traj.part_names.index(name)][:3, 3]


def test_outcome_agrees_with_the_final_physics_state(clips):
    successes = {}
    for (task, _, _), (ann, traj) in clips.items():
        fam = ann["family"]
        goal, table_z = fam["goal"], fam["table_top_z"]
        p = _final(ann, traj, goal["object"])
        if task == "pick_place":
            ok = np.linalg.norm(p[:2] - goal["center"]) <= goal["radius"] and p[2] < table_z + 0.12
        elif task == "push":
            ok = np.dot(p[:2] - goal["start"], goal["direction"]) >= goal["min_distance"]
        else:
            base = _final(ann, traj, goal["base"])
            ok = (
                abs(p[2] - base[2] - goal["height"]) < 0.015
                and np.linalg.norm(p[:2] - base[:2]) < goal["half_width"]
            )
        assert fam["outcome"]["success"] == bool(ok), (task, fam["outcome"])
        assert all(s["success"] == fam["outcome"]["success"] for s in fam["segments"])
        successes.setdefault(task, []).append(bool(ok))
    for task, results in successes.items():
        assert sum(results) >= 2, (task, results)  # the tasks work, not only their labels


def test_held_object_moves_with_the_gripper(clips):
    ann, traj = clips[("pick_place", "panda", 0)]
    fam = ann["family"]
    grasp = fam["attachments"][0]
    ee = traj.part_names.index(f"robot/{fam['actor']['ee_link']}")
    obj = traj.part_names.index(grasp["child"])
    a, b = grasp["start_frame"] + 1, grasp["end_frame"] - 1
    rel = np.linalg.inv(traj.poses[a:b, ee]) @ traj.poses[a:b, obj]
    assert np.abs(rel[:, :3, 3] - rel[0, :3, 3]).max() < 0.003
    z = traj.poses[:, obj, 2, 3]
    assert z[a:b].max() > z[0] + 0.05  # it was lifted


def test_segments_and_actions_are_well_formed(clips):
    for (task, _, _), (ann, _) in clips.items():
        fam = ann["family"]
        starts = [s["start_frame"] for s in fam["segments"]]
        assert starts == sorted(starts)
        for s in fam["segments"]:
            assert 0 <= s["start_frame"] <= s["end_frame"] < FRAMES
            assert s["verb"]
            assert all(o in [x["name"] for x in ann["objects"]] for o in s["objects"])
        assert len(fam["actions"]) == FRAMES
        assert len(fam["ee_T_world"]) == FRAMES
        assert all(0.0 <= a["gripper"] <= 1.0 for a in fam["actions"])
        assert fam["task"] == task


def test_commanded_and_reached_end_effector_agree(clips):
    for (_, actor, _), (ann, _) in clips.items():
        fam = ann["family"]
        commanded = np.array([a["ee_T_world"] for a in fam["actions"]])[:, :3, 3]
        reached = np.array(fam["ee_T_world"])[:, :3, 3]
        # The EE frame may sit at an offset from the link frame; compare motion, not place.
        offset = reached - commanded
        assert np.abs(offset - offset[0]).max() < 0.02, actor


def _inside_box(obj, frame, point, margin) -> bool:
    T = np.array(obj["T_world_part"][frame]) @ np.array(obj["T_part_box"])
    local = np.linalg.inv(T) @ np.r_[point, 1.0]
    return bool(np.all(np.abs(local[:3]) <= np.array(obj["box_size"]) / 2 + margin))


def test_contacts_only_between_touching_bodies(clips):
    ann, _ = clips[("push", "panda", 0)]
    objects = {o["name"]: o for o in ann["objects"]}
    by_id = {o["id"]: o for o in ann["objects"]}
    points = {}
    for c in ann["contacts"]:
        pair = frozenset((by_id[c["a"]]["name"], by_id[c["b"]]["name"]))
        points[(c["frame"], pair)] = c["position"]
    checked = 0
    for f, frame in enumerate(ann["family"]["contacts"]):
        for c in frame:
            a, b = objects[c["actor_part"]], objects[c["object"]]
            point = np.array(points[(f, frozenset((a["name"], b["name"])))])
            # The contact point lies on both bodies (their boxes, within 1 cm).
            assert _inside_box(a, f, point, 0.01) and _inside_box(b, f, point, 0.01)
            checked += 1
    assert checked > 0  # the push made contact


def test_captions_name_the_objects(clips):
    for ann, _ in clips.values():
        fam = ann["family"]
        assert fam["caption"] in fam["captions"] and len(fam["captions"]) >= 3
        colour = ann["params"]["objects"][fam["goal"]["object"]]["colour"]
        assert all(colour in c for c in fam["captions"])


@pytest.mark.parametrize(
    "override, key",
    [
        ("scene.task=juggle", "scene.task"),
        ("scene.actor=ur5", "scene.actor"),
        ("camera.path=drone", "camera.path"),
        ("scene.num_distractors=-1", "scene.num_distractors"),
    ],
)
def test_bad_hoi_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(_cfg(override))


def test_manifest_rows_carry_the_outcome_and_the_run_reports_rates(clips):
    for key, (ann, _) in clips.items():
        row = ROWS[key]
        assert row["task"] == key[0] and row["actor"] == key[1]
        assert row["success"] == ann["family"]["outcome"]["success"]
    report = success_report(list(ROWS.values()))
    for task in ("pick_place", "push", "stack"):
        wins = sum(ROWS[k]["success"] for k in ROWS if k[0] == task and k[1] == "panda")
        assert f"{task} panda: {wins}/2 succeeded" in report
    # Rows read back from the manifest hold strings.
    as_read = [{k: str(v) for k, v in row.items()} for row in ROWS.values()]
    assert success_report(as_read) == report
    assert success_report([{"status": "ok"}]) == ""
