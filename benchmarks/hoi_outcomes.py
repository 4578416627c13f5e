"""Success rates of the HOI tasks per actor over many clips (physics only, no rendering).

python benchmarks/hoi_outcomes.py --clips 10 --frames 96 [--tasks cut_fruit ...]
python benchmarks/hoi_outcomes.py --clips 8 --actors human
"""

from __future__ import annotations

import argparse
import time

from simfactory.scenes.hoi import label
from simfactory.scenes.hoi.family import TASKS, actors_for
from simfactory.scenes.hoi.human import MIN_DURATION
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--walk-frames", type=int, default=144, help="for carry, push_chair")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--actors", default="panda,kuka,human")
    args = parser.parse_args()
    actors = args.actors.split(",")
    start = time.perf_counter()
    print(f"{args.clips} clips per task and actor at {args.fps} fps")
    for task in args.tasks:
        frames = args.walk_frames if task in MIN_DURATION else args.frames
        for actor in (a for a in actors_for(task) if a in actors):
            cfg = load_config(
                [
                    "scene=hoi",
                    f"scene.task={task}",
                    f"scene.actor={actor}",
                    f"frames={frames}",
                    f"fps={args.fps}",
                ]
            )
            wins = 0
            for clip in range(args.clips):
                spec = build_scene(cfg, clip)
                traj = rollout(spec, args.fps, frames, cfg["physics_hz"])
                wins += label(spec, traj)["outcome"]["success"]
            print(f"  {task:<11} {actor:<6} {wins}/{args.clips} succeeded ({frames} frames)")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
