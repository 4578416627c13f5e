"""Furniture clutter waiting to be carried in with its piece is held exactly where its
script says until it is released, and every body's velocity labels match its motion."""

import numpy as np
import pytest

from simfactory.sim.model.motion import motion_pose
from simfactory.sim.run.build import build_scene
from simfactory.sim.simulate.physics import rollout
from tests.conftest import tiny_config

FPS, FRAMES = 24, 30


@pytest.fixture(scope="module")
def rolled():
    cfg = tiny_config(
        frames=FRAMES, fps=FPS, seed=11, **{"scene.num_pieces": 3, "scene.num_clutter": 8}
    )
    scenes = [build_scene(cfg, index) for index in range(2)]
    return [(spec, rollout(spec, FPS, FRAMES, 240)) for spec in scenes]


def _riders(spec):
    supports = {c["name"]: c["support"] for c in spec.params["clutter"]}
    return [
        b
        for b, body in enumerate(spec.bodies)
        if supports.get(body.name, "floor") != "floor" and body.motion.times[0] > 0
    ]


def test_waiting_clutter_is_held_where_its_script_says(rolled):
    checked = 0
    for spec, traj in rolled:
        for b in _riders(spec):
            (i,) = np.flatnonzero(traj.part_body == b)
            motion = spec.bodies[b].motion
            for f in range(FRAMES):
                t = f / FPS
                if t >= motion.times[-1]:  # released: free physics from here
                    break
                expected = motion_pose(motion, t)
                assert np.abs(traj.poses[f, i, :3, 3] - expected[:3, 3]).max() < 1e-4, (
                    f"{spec.bodies[b].name} frame {f}"
                )
                assert np.abs(traj.poses[f, i, :3, :3] - expected[:3, :3]).max() < 1e-4
                checked += 1
    assert checked > 20  # the scenes do have clutter riding in with a piece


def _switch_frames(spec, b) -> set[int]:
    """Frames next to a key of the body's script (where its velocity may jump)."""
    motion = spec.bodies[b].motion
    if motion is None:
        return set()
    keys = np.rint(np.asarray(motion.times) * FPS).astype(int)
    return {int(k) + d for k in keys for d in (-2, -1, 0, 1, 2)}


def test_velocity_labels_match_the_motion_of_the_poses(rolled):
    checked = 0
    for spec, traj in rolled:
        touching = {(int(f), int(p)) for f, pair in zip(traj.contact_frame, traj.contact_parts,
                                                        strict=True) for p in pair}  # fmt: skip
        for i, b in enumerate(traj.part_body):
            skip = _switch_frames(spec, int(b))
            for f in range(1, FRAMES - 1):
                if f in skip or any((g, i) in touching for g in (f - 1, f, f + 1)):
                    continue
                if not traj.present[f - 1 : f + 2, i].all():
                    continue
                # The mean velocity over frames f-1..f+1, from the poses and from the
                # labels (Simpson's rule: exact for scripted smoothstep and free fall).
                moved = (traj.poses[f + 1, i, :3, 3] - traj.poses[f - 1, i, :3, 3]) * FPS / 2
                v = traj.linear_velocity[f - 1 : f + 2, i]
                label = (v[0] + 4 * v[1] + v[2]) / 6
                assert np.abs(moved - label).max() < 0.05 + 0.03 * np.abs(moved).max(), (
                    f"{traj.part_names[i]} frame {f}: labelled {label}, moved at {moved}"
                )
                checked += 1
    assert checked > 100
