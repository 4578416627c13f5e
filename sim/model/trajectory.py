"""Trajectory: the result of a physics rollout, saved with every clip.

It holds, per frame, the pose and velocity of every rigid part (body bases and
links), joint positions, de-duplicated contact events, which parts are present
(bodies with a ``lifetime`` are absent outside it), the vertices of every cloth (the
regions of a skinned person's mesh included) and, per person, the body model's bone
parameters and whole-body keypoints. With the SceneSpec it is all that rendering needs,
so a clip can be re-rendered without simulating again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

# Lists of arrays saved one key per item, and the list of names that counts them.
_PER_ITEM = {
    "cloth_vertices": "cloth_names",
    "people_bones": "people_names",
    "people_keypoints": "people_names",
}


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
    cloth_names: list[str] = field(default_factory=list)  # SceneSpec.cloths, in order
    cloth_vertices: list[np.ndarray] = field(default_factory=list)  # per cloth (F, V, 3) world
    people_names: list[str] = field(default_factory=list)  # SceneSpec.people, in order
    # per person: anny's world-orient bone parameters (F, B, 4, 4) (``sim.actors.body``)
    people_bones: list[np.ndarray] = field(default_factory=list)
    people_keypoints: list[np.ndarray] = field(default_factory=list)  # per person (F, 133, 3)

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
        """Write as an uncompressed ``.npz`` (names stored as string arrays, cloth c's
        vertices as ``cloth_vertices_<c>``, person k's bones and keypoints as
        ``people_bones_<k>`` and ``people_keypoints_<k>``; a clip without cloths or
        people stores no such keys)."""
        arrays = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("cloth_") and not self.cloth_names:
                continue
            if f.name.startswith("people_") and not self.people_names:
                continue
            if f.name in _PER_ITEM:
                arrays.update({f"{f.name}_{c}": v for c, v in enumerate(value)})
                continue
            arrays[f.name] = np.asarray(value, dtype=str if f.name.endswith("names") else None)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        """Read a saved trajectory (files from before cloths load with none)."""
        with np.load(path) as data:
            values = {}
            for f in fields(cls):
                if f.name in _PER_ITEM:
                    count = len(values.get(_PER_ITEM[f.name], []))
                    values[f.name] = [data[f"{f.name}_{c}"] for c in range(count)]
                    continue
                if f.name not in data:
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
