"""Traffic statistics of the driving family over many clips (no rendering).

    python benchmarks/driving_stats.py --clips 40 --frames 48

Reports the fraction of clips in which the ego moves more than 5 m, the fleet's mean
speed, how many vehicles found no room at the start, and how often each event type
occurs.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from simfactory.scenes.driving.events import drive_events, frame_keys
from simfactory.scenes.driving.family import plan_drive
from simfactory.sim.model.seeds import clip_streams
from simfactory.sim.run.build import family_config
from simfactory.sim.run.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(["scene=driving", f"frames={args.frames}", f"fps={args.fps}"])
    duration = (args.frames - 1) / args.fps
    moved, speeds, left_out, events = [], [], 0, Counter()
    start = time.perf_counter()
    for clip in range(args.clips):
        drive = plan_drive(family_config(cfg), clip_streams(args.seed, clip), duration)
        res = drive.result
        keys = frame_keys(res, args.fps, args.frames)
        ego = res.poses["ego"][keys]
        moved.append(float(np.linalg.norm(ego[-1, :2] - ego[0, :2])))
        speeds.append(np.mean([p[keys, 3].mean() for p in res.poses.values()]))
        left_out += len(drive.left_out)
        sizes = {n: (drive.models[n].length, drive.models[n].width) for n in res.poses}
        frame_times = np.arange(args.frames) / args.fps
        walkers = {
            p.name: np.stack([np.interp(frame_times, p.times, p.xy[:, k]) for k in (0, 1)], 1)
            for p in drive.plans
        }
        for e in drive_events(res, sizes, walkers, drive.crossing_list, args.fps, args.frames):
            events[e["type"]] += 1
    seconds = time.perf_counter() - start
    moved = np.array(moved)
    print(f"{args.clips} clips of {args.frames} frames at {args.fps} fps ({seconds:.1f} s)")
    print(
        f"ego moved > 5 m: {np.mean(moved > 5.0):.0%} of clips "
        f"(median {np.median(moved):.1f} m, min {moved.min():.1f} m)"
    )
    print(f"mean vehicle speed: {np.mean(speeds):.2f} m/s; vehicles left out: {left_out}")
    print("events per clip:")
    for kind, n in sorted(events.items()):
        print(f"  {kind:<22} {n / args.clips:.2f}")


if __name__ == "__main__":
    main()
