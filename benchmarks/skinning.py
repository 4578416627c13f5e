"""What skinning a person costs per task: ``skin_people`` and ``choose_detail`` on a
clip's rollout (retargeting, arm IK, the hands turning onto what they hold, the fingers
closing on it, linear blend skinning of all frames, whole-body keypoints, the level of
detail), as a worker runs them for a clip after its first (the scene built again for
every run, the person's rest body with it; the rollout once), the least and the median
of ``--repeats`` runs per task, ms per frame of wall and of CPU time. ``--digest`` also
prints a SHA-256 per task of everything the two calls leave (each region's skinned
vertices and faces at every level, the bones, the whole-body keypoints, the drawn
error), to compare two versions of the code bit for bit.

python benchmarks/skinning.py                                  # the standard tasks, seed 0
python benchmarks/skinning.py --tasks pick_place fold_cloth:tshirt --repeats 9
python benchmarks/skinning.py --repeats 1 --digest --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from people import person_overrides  # noqa: E402

from simfactory.sim.actors.body import (  # noqa: E402
    choose_detail,
    ensure_cache,
    rest_body,
    skin_people,
)
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402
from simfactory.sim.simulate.physics import rollout  # noqa: E402


def digest(spec, traj) -> str:
    """A SHA-256 of what ``skin_people`` and ``choose_detail`` leave in ``spec`` and
    ``traj`` (arrays by dtype, shape and bytes)."""
    h = hashlib.sha256()

    def add(a) -> None:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())

    for name, v in zip(traj.cloth_names, traj.cloth_vertices, strict=True):
        h.update(name.encode())
        add(v)
    for cloth in spec.cloths:
        if cloth.skin:
            for error, faces in cloth.skin_levels:
                h.update(repr(error).encode())
                add(faces)
            add(cloth.mesh.faces)
    for name, bones, points in zip(
        traj.people_names, traj.people_bones, traj.people_keypoints, strict=True
    ):
        h.update(name.encode())
        add(bones)
        add(points)
    for person in spec.people:
        h.update(repr(sorted(person.look.items())).encode())
    return h.hexdigest()


TASKS = ("pick_place", "cut_fruit", "fold_cloth:towel", "fold_cloth:tshirt", "open_drawer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="task[:cloth]")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--resolution", default="640,360")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--digest", action="store_true", help="also a SHA-256 of the outputs")
    args = parser.parse_args()
    ensure_cache()
    for seed in args.seeds:
        for name in args.tasks:
            _task(name, seed, args)


def _task(name: str, seed: int, args) -> None:
    task, _, cloth = name.partition(":")
    cfg = load_config(person_overrides(task, args.frames, args.fps, args.resolution, seed, cloth))
    spec = build_scene(cfg, 0)
    traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    wall, cpu, digests = [], [], set()
    for _ in range(args.repeats + 1):  # the first loads what every body shares
        run_spec, run_traj = build_scene(cfg, 0), copy.deepcopy(traj)  # as a worker has them
        for person in run_spec.people:
            rest_body(person.phenotype)
        start, start_cpu = time.perf_counter(), time.process_time()
        skin_people(run_spec, run_traj)
        choose_detail(run_spec, run_traj)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if args.digest:
            digests.add(digest(run_spec, run_traj))
    ms, cpu_ms = (np.array(t[1:]) / traj.num_frames * 1e3 for t in (wall, cpu))
    print(
        f"{name} seed {seed}: skinning {ms.min():.1f} ms/frame least, {np.median(ms):.1f} "
        f"median of {args.repeats} ({traj.num_frames} frames); CPU {cpu_ms.min():.1f} least, "
        f"{np.median(cpu_ms):.1f} median; load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if args.digest:
        print(f"{name} seed {seed}: digest {' '.join(sorted(digests))}", flush=True)


if __name__ == "__main__":
    main()
