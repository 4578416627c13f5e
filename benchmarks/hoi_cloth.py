"""How stable the HOI fold_cloth task is: per actor and seed, whether the fold worked,
whether the cloth misbehaved (blew up, non-finite, through the table) and the physics
cost per frame (physics only, no rendering), against the same scene without its cloth.

python benchmarks/hoi_cloth.py --clips 10 --frames 48
python benchmarks/hoi_cloth.py --clips 5 --min-hz 240   # cloths at the rigid rate
python benchmarks/hoi_cloth.py --clips 8 --frames 96 --actors human --cloth tshirt
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from simfactory.scenes.hoi import label
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate import physics
from simfactory.sim.simulate.physics import PhysicsError, rollout

THROUGH = 0.003  # m: a vertex this far below the table top went through it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--actors", default="panda,kuka", help="panda,kuka,human")
    parser.add_argument("--cloth", default="random", help="napkin | towel | tshirt | random")
    parser.add_argument(
        "--min-hz", type=float, default=physics.CLOTH_PHYSICS_HZ, help="least cloth physics rate"
    )
    args = parser.parse_args()
    physics.CLOTH_PHYSICS_HZ = args.min_hz
    print(f"cloth physics at {max(args.min_hz, 240):g} Hz")
    print(
        f"fold_cloth ({args.cloth}): {args.clips} clips per actor, {args.frames} frames at "
        f"{args.fps} fps"
    )
    for actor in args.actors.split(","):
        cfg = load_config(
            [
                "scene=hoi",
                "scene.task=fold_cloth",
                f"scene.actor={actor}",
                f"scene.cloth={args.cloth}",
                f"frames={args.frames}",
                f"fps={args.fps}",
            ]
        )
        wins, blown, through, cloth_ms, rigid_ms = 0, 0, 0, [], []
        for clip in range(args.clips):
            spec = build_scene(cfg, clip)
            start = time.process_time()
            try:
                traj = rollout(spec, args.fps, args.frames, cfg["physics_hz"])
            except PhysicsError as error:
                blown += 1
                print(f"  {actor} clip {clip}: {error}")
                continue
            cloth_ms.append((time.process_time() - start) / args.frames * 1e3)
            start = time.process_time()
            rollout(replace(spec, cloths=[]), args.fps, args.frames, cfg["physics_hz"])
            rigid_ms.append((time.process_time() - start) / args.frames * 1e3)
            outcome = label(spec, traj)["outcome"]
            lowest = traj.cloth_vertices[0][..., 2].min() - spec.annotations["table_top_z"]
            through += bool(lowest < -THROUGH)
            wins += outcome["success"]
            print(
                f"  {actor} clip {clip}: success {outcome['success']!s:<5} "
                f"corner off {outcome['distance_to_target_m']:.3f} m, "
                f"area {outcome['area_ratio']:.2f}, lowest {lowest * 1e3:+.1f} mm, "
                f"{cloth_ms[-1]:.0f} ms/frame"
            )
        cost = (
            f"; physics {np.mean(cloth_ms):.0f} ms/frame (the same scene without the cloth, "
            f"rigid world: {np.mean(rigid_ms):.0f})"
            if cloth_ms
            else ""
        )
        print(
            f"{actor}: {wins}/{args.clips} folded, {blown} blew up, {through} went more than "
            f"{THROUGH * 1e3:.0f} mm into the table{cost}"
        )


if __name__ == "__main__":
    main()
