"""The person's drawers, doors, shelves and side tables: each task succeeds by physics,
the hand's fingertips close on the handle's bar, the placed object ends on the surface
at the recorded height, and the new keys are validated."""

import json

import numpy as np
import pytest
import trimesh

from simfactory.scenes.hoi import label
from simfactory.scenes.hoi.human_reach import PLACE_HEIGHTS
from simfactory.sim.actors.body import _part_visuals, ensure_cache, grip_schedule
from simfactory.sim.annotate.keypoints import WHOLEBODY_KEYPOINTS
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import simulate
from simfactory.sim.run.config import ConfigError, load_config, validate
from simfactory.sim.simulate.physics import rollout

FRAMES, FPS = 24, 8  # 2.9 s clips, physics only
TIPS = [
    WHOLEBODY_KEYPOINTS.index(f"right_{f}4")
    for f in ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
]


def _cfg(task: str, *overrides: str, body: str = "mannequin") -> dict:
    return load_config(
        [
            "scene=hoi",
            f"scene.task={task}",
            "scene.actor=human",
            f"scene.body={body}",
            f"frames={FRAMES}",
            f"fps={FPS}",
            "resolution=[64,48]",
            "export.preview=false",
            "scene.num_distractors=1",
            *overrides,
        ]
    )


def _run(cfg: dict, seed: int):
    spec = build_scene(cfg, seed)
    return spec, rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])


@pytest.mark.parametrize("task", ["open_drawer", "close_drawer", "open_door", "close_door"])
def test_the_person_opens_and_closes_drawers_and_doors(task):
    """The joint ends open (or shut) as the physics moved it, and it moved only while
    the hand held its handle."""
    spec, traj = _run(_cfg(task), 0)
    out = label(spec, traj)["outcome"]
    ann = spec.annotations
    goal, grasp = ann["goal"], ann["attachments"][0]
    assert grasp["parent"] == "person/right_wrist" and grasp["child"] == goal["joint"]
    q = traj.joint_positions[:, traj.joint_names.index(goal["joint"])]
    assert out["success"], out
    assert abs(q[-1] - goal["planned_position"]) < 0.05 * goal["travel"]
    a = grasp["start_frame"]
    assert np.abs(q[:a] - q[0]).max() < 0.01 * goal["travel"]  # untouched before the grasp
    assert ann["actor"]["kind"] == "human"


class _Clips(dict):
    """A person (the anny body) at a drawer or door task, by (task, seed): physics and
    skinning, made when a test first asks."""

    def __missing__(self, key):
        task, seed = key
        cfg = _cfg(task, body="anny")
        spec = build_scene(cfg, seed)
        self[key] = (spec, simulate(spec, cfg))
        return self[key]


@pytest.fixture(scope="module")
def anny_clips():
    ensure_cache()
    return _Clips()


@pytest.mark.parametrize(
    ("task", "seed"),
    [("open_drawer", 0), ("open_door", 0), ("close_drawer", 1), ("close_door", 2)],
)
def test_the_gripping_hand_closes_its_fingertips_on_the_handle(anny_clips, task, seed):
    """In every frame the fingers are closed, every fingertip is within 1 cm of the
    handle's bar and posts (not the front behind them) and no more than 5 mm inside."""
    spec, traj = anny_clips[task, seed]
    grip = spec.people[0].grips["right"]
    assert grip["object"] == spec.annotations["goal"]["joint"] and grip["visuals"]
    handle = [_part_visuals(spec, grip["object"])[i] for i in grip["visuals"]]
    assert len(handle) == 3  # the bar and its two posts
    mesh = trimesh.util.concatenate([v.mesh for v in handle])
    poses = traj.poses[:, traj.part_names.index(grip["object"])]
    _, close = grip_schedule(traj.times, grip["start"], grip["end"])
    held = np.flatnonzero(close >= 1.0)
    assert len(held) >= 3
    points = traj.people_keypoints[traj.people_names.index("person")]
    for t in held:
        local = (points[t, TIPS] - poses[t, :3, 3]) @ poses[t, :3, :3]
        depth = trimesh.proximity.signed_distance(mesh, local)  # > 0 inside
        assert np.all(depth > -0.01) and np.all(depth < 0.005), (t, depth)


def test_captions_say_who_opens_what(anny_clips):
    spec, _ = anny_clips["open_drawer", 0]
    caption = spec.annotations["captions"][0]
    assert "drawer" in caption and not caption.startswith("A person")
    assert caption.split()[0] in ("A", "An")


@pytest.mark.parametrize(
    ("place_on", "level", "seed"),
    [("shelf", "high", 0), ("shelf", "middle", 1), ("side_table", "low", 2)],  # fmt: skip
)
def test_the_placed_object_ends_on_the_surface_at_the_recorded_height(place_on, level, seed):
    cfg = _cfg("pick_place", f"scene.place_on={place_on}", f"scene.place_height={level}")
    spec, traj = _run(cfg, seed)
    out = label(spec, traj)["outcome"]
    goal = spec.annotations["goal"]
    assert goal["surface"] == place_on and goal["level"] == level
    lo, hi = PLACE_HEIGHTS[place_on][level]
    assert lo <= goal["surface_z"] <= hi
    # The target piece has a horizontal surface at the recorded height under the spot.
    piece = next(b for b in spec.bodies if b.name == "place_target")
    verts = np.concatenate([v.mesh.vertices for v in piece.visuals])
    verts = verts @ piece.pose[:3, :3].T + piece.pose[:3, 3]
    near = np.linalg.norm(verts[:, :2] - goal["center"], axis=1) < 0.6
    assert np.any(np.abs(verts[near, 2] - goal["surface_z"]) < 1e-3)
    # The object rests on it (its base at the surface), at the spot.
    final = traj.poses[-1, traj.part_names.index("object_0")]
    assert out["success"], out
    assert abs(final[2, 3] - goal["surface_z"]) < 0.01
    assert np.linalg.norm(final[:2, 3] - goal["center"]) < 0.05
    words = {"shelf": "shelf", "side_table": "table"}[place_on]
    assert words in spec.annotations["captions"][0]
    assert f"{int(round(100 * goal['surface_z']))} cm" in spec.annotations["captions"][1]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["scene.task=pick_place", "scene.actor=human", "scene.place_on=attic"], "place_on"),
        (
            [
                "scene.task=pick_place",
                "scene.actor=human",
                "scene.place_on=shelf",
                "scene.place_height=roof",
            ],
            "place_height",
        ),
        (["scene.task=pick_place", "scene.actor=panda", "scene.place_on=shelf"], "place_on"),
        (["scene.task=push", "scene.actor=human", "scene.place_on=side_table"], "place_on"),
    ],  # fmt: skip
)
def test_bad_placing_keys_are_config_errors_naming_the_key(overrides, key):
    cfg = load_config(["scene=hoi", "scene.body=mannequin", *overrides])
    with pytest.raises(ConfigError, match=f"scene.{key}"):
        validate(cfg)


@pytest.mark.parametrize(
    "overrides",
    [["scene.task=open_door"], ["scene.task=pick_place", "scene.place_on=random"]],
)
def test_same_seed_same_scene(overrides):
    """A config and seed give the same plan, goal and captions; another seed differs."""
    cfg = load_config(["scene=hoi", "scene.actor=human", "scene.body=mannequin", *overrides])

    def dump(seed):
        spec = build_scene(cfg, seed)
        return json.dumps([spec.annotations, spec.params], sort_keys=True, default=str)

    assert dump(3) == dump(3)
    assert dump(3) != dump(4)
