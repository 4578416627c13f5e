"""Trajectory: the result of a physics rollout, saved with every clip.

It holds, per frame, the pose and velocity of every rigid part (body bases and
links), joint positions, de-duplicated contact events and which parts are present
(bodies with a ``lifetime`` are absent outside it). With the SceneSpec it is
all that rendering needs, so a clip can be re-rendered without simulating again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np


@dataclass
class Trajectory:
    fps: float
    substeps: int  # physics steps per frame
    part_names: list[str]  # "body" for a base, "body/link" for a link
    part_body: np.ndarray  # (P,) index into SceneSpec.bodies
    part_link: np.ndarray  # (P,) link index, -1 for the base
    poses: np.ndarray  # (F, P, 4, 4) T_world_part
    linear_velocity: np.ndarray  # (F, P, 3) m/s of the part frame's origin
    angular_velocity: np.ndarray  # (F, P, 3) rad/s, world frame
    joint_names: list[str]
    joint_positions: np.ndarray  # (F, J) rad or m
    contact_frame: np.ndarray  # (C,) frame index of each contact event
    contact_parts: np.ndarray  # (C, 2) part indices, a < b
    contact_position: np.ndarray  # (C, 3) world, force-weighted mean of the points
    contact_normal: np.ndarray  # (C, 3) unit, pointing from part b to part a
    contact_force: np.ndarray  # (C,) summed normal force, N
    contact_points: np.ndarray  # (C,) number of pybullet contact points merged
    present: np.ndarray | None = None  # (F, P) bool; None = every part in every frame

    def __post_init__(self) -> None:
        if self.present is None:
            self.present = np.ones(self.poses.shape[:2], dtype=bool)

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.num_frames) / self.fps

    def save(self, path: str | Path) -> None:
        """Write as an uncompressed ``.npz`` (names stored as string arrays)."""
        arrays = {}
        for f in fields(self):
            value = getattr(self, f.name)
            arrays[f.name] = np.asarray(value, dtype=str if f.name.endswith("names") else None)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        with np.load(path) as data:
            values = {}
            for f in fields(cls):
                if f.name not in data:  # written before the field existed: its default
                    continue
                a = data[f.name]
                if f.name.endswith("names"):
                    values[f.name] = [str(s) for s in a]
                elif f.name in ("fps",):
                    values[f.name] = float(a)
                elif f.name == "substeps":
                    values[f.name] = int(a)
                elif f.name == "present":
                    values[f.name] = a.astype(bool)
                else:
                    values[f.name] = a
        return cls(**values)
