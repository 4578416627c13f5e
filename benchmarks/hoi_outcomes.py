"""Success rates of the HOI tasks per actor over many clips (physics, and a person's
skinning, no rendering).

python benchmarks/hoi_outcomes.py --clips 10 --frames 96 [--tasks cut_fruit ...]
python benchmarks/hoi_outcomes.py --clips 8 --actors human
python benchmarks/hoi_outcomes.py --clips 8 --tasks pick_place --actors human \
    --place-on table shelf side_table [--place-height low]
"""

from __future__ import annotations

import argparse
import time

from simfactory.scenes.hoi import label
from simfactory.scenes.hoi.family import TASKS, actors_for
from simfactory.scenes.hoi.human import MIN_DURATION
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import simulate
from simfactory.sim.run.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--walk-frames", type=int, default=144, help="for carry, push_chair")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--actors", default="panda,kuka,human")
    parser.add_argument(
        "--place-on",
        nargs="+",
        default=["table"],
        help="pick_place targets of a person (scene.place_on): table shelf side_table",
    )
    parser.add_argument(
        "--place-height",
        default="random",
        help="the height of a shelf or side table target (scene.place_height)",
    )
    args = parser.parse_args()
    actors = args.actors.split(",")
    start = time.perf_counter()
    print(f"{args.clips} clips per task and actor at {args.fps} fps")
    for task in args.tasks:
        frames = args.walk_frames if task in MIN_DURATION else args.frames
        for actor in (a for a in actors_for(task) if a in actors):
            person_place = task == "pick_place" and actor == "human"
            for place_on in args.place_on if person_place else ["table"]:
                if place_on != "table" and not person_place:
                    continue
                cfg = load_config(
                    [
                        "scene=hoi",
                        f"scene.task={task}",
                        f"scene.actor={actor}",
                        f"frames={frames}",
                        f"fps={args.fps}",
                        *(
                            [
                                f"scene.place_on={place_on}",
                                f"scene.place_height={args.place_height}",
                            ]
                            if person_place
                            else []
                        ),
                    ]
                )
                wins, levels = 0, {}
                for clip in range(args.clips):
                    spec = build_scene(cfg, clip)
                    traj = simulate(spec, cfg)
                    wins += label(spec, traj)["outcome"]["success"]
                    level = spec.annotations["goal"].get("level")
                    if level:
                        levels[level] = levels.get(level, 0) + 1
                name = task if place_on == "table" else f"{task}@{place_on}"
                drawn = f"{frames} frames" + (f", heights {levels}" if levels else "")
                print(f"  {name:<11} {actor:<6} {wins}/{args.clips} succeeded ({drawn})")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
