"""LiDAR rays per second on the standard drive, for each ray engine, in one process.

    python benchmarks/lidar_rays.py                 # 16 frames, embree then pybullet
    python benchmarks/lidar_rays.py --frames 48 --engines embree

Builds and simulates the standard drive (bench_clip.py's: 176 parts, a 32-beam LiDAR at
0.2 degrees, 57,600 rays per frame), then times ``annotate.lidar.scan`` over its frames
with each engine: wall seconds, CPU seconds of the process (every thread, Embree's
included) and rays per second of each, and the points each found.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
from bench_clip import standard_config  # noqa: E402

from simfactory.sim.annotate.lidar import scan  # noqa: E402
from simfactory.sim.model.camera import body_poses  # noqa: E402
from simfactory.sim.model.parts import part_classes, part_geometry, part_visuals  # noqa: E402
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.clip import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--engines", nargs="+", default=["embree", "pybullet"])
    args = parser.parse_args()
    cfg = standard_config(frames=args.frames, scene="driving")
    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    lidar = spec.lidars[0]
    T_wl = body_poses(lidar.body, traj) @ np.asarray(lidar.T_body_lidar, dtype=float)
    scans = {}
    for engine in args.engines:
        os.environ["SIMFACTORY_LIDAR_ENGINE"] = engine
        wall, cpu = time.perf_counter(), time.process_time()
        scans[engine] = scan(
            lidar, visuals, traj.poses, T_wl, geometry.class_ids, traj.fps, traj.part_names,
            traj.present,
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rays = sum(
            lidar.channels * round(360 / lidar.horizontal_resolution_deg) for _ in traj.times
        )
        print(f"{engine:<9} {args.frames} frames, {rays} rays: {wall:6.2f} s wall "
              f"({rays / wall / 1e6:5.2f} M rays/s), {cpu:6.2f} s CPU "
              f"({rays / cpu / 1e6:5.2f} M rays per CPU second), "
              f"{len(scans[engine].xyz)} points")  # fmt: skip
    if len(scans) == 2:
        a, b = scans.values()
        print(f"points: {len(a.xyz)} and {len(b.xyz)} (rays grazing an edge may differ)")


if __name__ == "__main__":
    main()
