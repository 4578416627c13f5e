"""What skinning a person costs per task: ``skin_people`` and ``choose_detail`` on a
clip's rollout (retargeting, arm IK, the hands turning onto what they hold, the fingers
closing on it, linear blend skinning of all frames, whole-body keypoints, the level of
detail), as a worker runs them for a clip after its first (the scene built again for
every run, the person's rest body with it; the rollout once), the least and the median
of ``--repeats`` runs per task, ms per frame.

python benchmarks/skinning.py                                  # the standard tasks, seed 0
python benchmarks/skinning.py --tasks pick_place fold_cloth:tshirt --repeats 9
"""

from __future__ import annotations

import argparse
import copy
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

TASKS = ("pick_place", "cut_fruit", "fold_cloth:towel", "fold_cloth:tshirt", "open_drawer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="task[:cloth]")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--resolution", default="640,360")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ensure_cache()
    for name in args.tasks:
        task, _, cloth = name.partition(":")
        cfg = load_config(
            person_overrides(task, args.frames, args.fps, args.resolution, args.seed, cloth)
        )
        spec = build_scene(cfg, 0)
        traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
        seconds = []
        for _ in range(args.repeats + 1):  # the first loads what every body shares
            run_spec, run_traj = build_scene(cfg, 0), copy.deepcopy(traj)  # as a worker has them
            for person in run_spec.people:
                rest_body(person.phenotype)
            start = time.perf_counter()
            skin_people(run_spec, run_traj)
            choose_detail(run_spec, run_traj)
            seconds.append(time.perf_counter() - start)
        ms = np.array(seconds[1:]) / traj.num_frames * 1e3
        print(
            f"{name}: skinning {ms.min():.1f} ms/frame least, {np.median(ms):.1f} median of "
            f"{args.repeats} ({traj.num_frames} frames), load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
