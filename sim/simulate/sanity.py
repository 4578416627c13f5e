"""Sanity checks on a rollout: a clip whose physics went wrong is retried, not written.

A rollout fails when a pose is not finite, when a simulated part moves faster than
anything in a scene should (a body "explodes" out of an interpenetration), or when it
leaves the scene (falls through the floor). Interpenetration at the start is checked
by the physics itself (``physics.rollout``).
"""

from __future__ import annotations

import os

import numpy as np

from simfactory.sim.model.spec import SceneSpec
from simfactory.sim.model.trajectory import Trajectory

MAX_SPEED = 60.0  # m/s: no simulated part of any family moves this fast
FALL_BELOW = 5.0  # m below the lowest body at the start: fallen out of the scene
FAULTS_ENV = "SIMFACTORY_FAULTS"


class RolloutError(RuntimeError):
    """A rollout that failed its sanity checks; the clip is retried with a new sub-seed."""


def simulated_parts(spec: SceneSpec, trajectory: Trajectory) -> np.ndarray:
    """Indices of the parts of dynamic bodies (those held by a Motion until their
    release included; puppets excluded)."""
    return np.array(
        [
            i
            for i, b in enumerate(trajectory.part_body)
            if spec.bodies[b].mass > 0 and spec.bodies[b].joint_motion is None
        ],
        dtype=int,
    )


def _free(spec: SceneSpec, trajectory: Trajectory, parts: np.ndarray) -> np.ndarray:
    """(F, len(parts)) True where a part moves under physics alone (after its body's
    Motion, if it has one, has released it)."""
    times = trajectory.times
    free = np.ones((len(times), len(parts)), dtype=bool)
    for k, p in enumerate(parts):
        motion = spec.bodies[trajectory.part_body[p]].motion
        if motion is not None:
            free[:, k] = times > motion.times[-1]
    return free


def check_rollout(spec: SceneSpec, trajectory: Trajectory) -> None:
    """Raise RolloutError naming the part and frame of the first problem found."""
    poses = trajectory.poses
    bad = ~np.isfinite(poses).all(axis=(2, 3))
    if bad.any():
        f, p = np.argwhere(bad)[0]
        raise RolloutError(f"non-finite pose of {trajectory.part_names[p]} at frame {f}")
    parts = simulated_parts(spec, trajectory)
    if not len(parts):
        return
    speed = np.linalg.norm(trajectory.linear_velocity[:, parts], axis=2)
    speed[~_free(spec, trajectory, parts)] = 0.0  # a script may move a body fast: its choice
    if speed.max() > MAX_SPEED:
        f, k = np.unravel_index(np.argmax(speed), speed.shape)
        name = trajectory.part_names[parts[k]]
        raise RolloutError(
            f"{name} moved at {speed[f, k]:.0f} m/s at frame {f} (limit {MAX_SPEED:.0f}): "
            "the simulation blew up"
        )
    floor = poses[0, :, 2, 3].min() - FALL_BELOW
    z = poses[:, parts, 2, 3]
    if z.min() < floor:
        f, k = np.unravel_index(np.argmin(z), z.shape)
        name = trajectory.part_names[parts[k]]
        raise RolloutError(f"{name} fell out of the scene (z = {z[f, k]:.1f} m at frame {f})")


def injected_fault(index: int, attempt: int) -> str | None:
    """The fault to inject into clip ``index`` (first attempt only), from the
    ``SIMFACTORY_FAULTS`` environment variable, e.g. ``crash@3,blowup@5``: "crash" kills
    the worker process, "blowup" makes the rollout explode. A testing aid for the
    retry machinery; unset, nothing happens."""
    if attempt > 0:
        return None
    for item in os.environ.get(FAULTS_ENV, "").split(","):
        kind, _, at = item.strip().partition("@")
        if at.strip().isdigit() and int(at) == index:
            return kind
    return None
