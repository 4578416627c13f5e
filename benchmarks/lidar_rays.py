"""LiDAR rays per second on the standard drive: this tree's scan against an earlier
revision's, and each ray engine, in one process.

    python benchmarks/lidar_rays.py                      # 16 frames, 3 rounds
    python benchmarks/lidar_rays.py --frames 48 --rounds 5 --pybullet
    python benchmarks/lidar_rays.py --baseline 6833e82   # the revision to compare with
    python benchmarks/lidar_rays.py --clip --frames 48   # the LiDAR stage of whole clips

Builds and simulates the standard drive (bench_clip.py's: 176 parts, 6 skinned
pedestrians, a 32-beam LiDAR at 0.2 degrees, 57,600 rays per frame), then times
``annotate.lidar.scan`` over its frames as the clip calls it (with the people's meshes
as sheets), in rounds that take each variant in turn:

  baseline   ``sim/annotate/lidar.py`` of the ``--baseline`` revision (read with git):
             by default the one that rebuilt the moving parts' BVH for every frame and
             the sheets' BVH for every frame
  embree     this tree, frames on ``default_threads()`` threads
  embree-1   this tree, one thread
  pybullet   this tree's fallback engine (with ``--pybullet``; slow)

Each line gives the best round's wall seconds and rays per second, the CPU seconds of
the process in that round (every thread, Embree's included) and rays per CPU second,
and the load average when the rounds began and ended: other processes on the machine
slow the wall figures, so compare variants of the same run. Then the points of every
variant are compared with this tree's: same rows and instance ids, largest distance.

With ``--clip``, whole standard drives are generated instead (``generate_clip``, every
modality), the baseline's scan and this tree's in turn, ``--rounds`` times each, and
the clip's own LiDAR stage (``seconds_lidar``: the scan with the part meshes and
sheets it is given, while the writer threads still encode the camera files) is
printed per frame with the clip's total.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
from bench_clip import standard_config  # noqa: E402

from simfactory.sim.annotate import lidar as current  # noqa: E402
from simfactory.sim.model.camera import body_poses  # noqa: E402
from simfactory.sim.model.classes import class_table  # noqa: E402
from simfactory.sim.model.parts import part_classes, part_geometry, part_visuals  # noqa: E402
from simfactory.sim.run import clip  # noqa: E402
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.clip import generate_clip, simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def module_at(revision: str) -> types.ModuleType:
    """``sim/annotate/lidar.py`` as it was at ``revision``, imported as a module."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:sim/annotate/lidar.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    module = types.ModuleType(f"lidar_at_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:sim/annotate/lidar.py", "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="6833e82", help="git revision to compare with")
    parser.add_argument("--pybullet", action="store_true", help="also time the fallback")
    parser.add_argument("--clip", action="store_true", help="time the stage in whole clips")
    args = parser.parse_args()
    cfg = standard_config(frames=args.frames, scene="driving")
    if args.clip:
        clip_rounds(cfg, module_at(args.baseline), args)
        return
    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    table = class_table()
    sheets = [
        current.Sheet(v, np.asarray(c.mesh.faces), table.id_of(c.semantic_class),
                      float(np.mean(c.material.base_color[:3])))
        for c, v in zip(spec.cloths, traj.cloth_vertices, strict=True)
    ]  # fmt: skip
    lidar = spec.lidars[0]
    T_wl = body_poses(lidar.body, traj) @ np.asarray(lidar.T_body_lidar, dtype=float)
    rays = sum(len(current.lidar_rays(lidar, traj.fps, f)[0]) for f in range(len(traj.times)))
    baseline = module_at(args.baseline)

    def run(module, engine: str, threads: int | None):
        os.environ["SIMFACTORY_LIDAR_ENGINE"] = engine
        extra = {} if threads is None else {"threads": threads}
        return module.scan(
            lidar, visuals, traj.poses, T_wl, geometry.class_ids, traj.fps, traj.part_names,
            traj.present, [module.Sheet(s.vertices, s.faces, s.class_id, s.albedo)
                           for s in sheets], **extra,
        )  # fmt: skip

    variants = {
        f"baseline {args.baseline}": lambda: run(baseline, "embree", None),
        "embree": lambda: run(current, "embree", None),
        "embree-1": lambda: run(current, "embree", 1),
    }
    if args.pybullet:
        variants["pybullet"] = lambda: run(current, "pybullet", None)
    print(f"{args.frames} frames, {rays} rays, {len(sheets)} sheets, "
          f"default_threads() = {current.default_threads()}, cores {os.cpu_count()}")  # fmt: skip
    for variant in variants.values():
        variant()  # warm-up: imports, first allocations
    best: dict[str, tuple[float, float]] = {}
    scans = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name, variant in variants.items():
            wall, cpu = time.perf_counter(), time.process_time()
            scans[name] = variant()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.2f} at start, {load_after[0]:.2f} at end "
          f"(1-minute; the machine has {os.cpu_count()} cores)")  # fmt: skip
    for name, (wall, cpu) in best.items():
        print(f"{name:<18} {wall:6.3f} s wall ({rays / wall / 1e6:5.2f} M rays/s), "
              f"{cpu:6.3f} s CPU ({rays / cpu / 1e6:5.2f} M rays per CPU second), "
              f"{len(scans[name].xyz)} points")  # fmt: skip
    ours = scans["embree"]
    for name, other in scans.items():
        if name == "embree":
            continue
        if not np.array_equal(other.offsets, ours.offsets):
            print(f"{name}: {len(other.xyz)} points, not the same rows as embree's")
            continue
        same = other.instance == ours.instance
        gap = np.abs(other.xyz - ours.xyz).max(axis=1)
        print(f"{name}: same rows; {int((~same).sum())} instance ids differ; "
              f"largest xyz difference {gap[same].max() * 1e3:.3f} mm")  # fmt: skip


def clip_rounds(cfg: dict, baseline: types.ModuleType, args) -> None:
    """The LiDAR stage of whole clips, with the baseline's scan and this tree's in turn."""
    variants = {
        f"baseline {args.baseline}": (baseline.scan, baseline.Sheet),
        "this tree": (clip.scan, clip.Sheet),
    }
    lidar = build_scene(cfg, 0).lidars[0]
    rays = np.mean([len(current.lidar_rays(lidar, cfg["fps"], f)[0]) for f in range(3)])
    with tempfile.TemporaryDirectory() as out:
        generate_clip(cfg, 99, out)  # warm-up: EGL context, shaders, caches
        for _ in range(args.rounds):
            for name, (scan, sheet) in variants.items():
                clip.scan, clip.Sheet = scan, sheet
                load = os.getloadavg()[0]
                try:
                    row = generate_clip(cfg, 0, out)
                finally:
                    clip.scan, clip.Sheet = variants["this tree"]
                frames = row["frames"]
                lidar = row["seconds_lidar"] / frames
                total = sum(v for k, v in row.items() if k.startswith("seconds_")) / frames
                print(f"{name:<18} LiDAR {lidar * 1e3:6.1f} ms a frame "
                      f"({rays / lidar / 1e6:4.2f} M rays/s), clip {total * 1e3:6.1f} ms a "
                      f"frame, load average {load:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
