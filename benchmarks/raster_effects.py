"""What each raster effect costs, and what they cost together end to end, in one run.

    python benchmarks/raster_effects.py                   # furniture, 640x360
    python benchmarks/raster_effects.py --scene driving --frames 24

Measured:
  per effect   the render time per frame of the standard clip's frames (render() only:
               shadow maps, passes, readback, coverage queries) with every effect at its
               default, then with each effect off in turn, then with all off; the
               effect's cost is (default - without it). Frames are rendered in rounds
               that alternate the settings, and each setting's median over rounds is
               kept, so load from other processes hits every setting alike.
  end to end   frames/s of ``generate_clip`` on the standard clip (bench_clip.py) with
               the defaults, with one light probe instead of the irradiance grid
               (``render.probe_grid=1``) and with every effect off, alternated over ``--repeats``,
               by wall clock and by this process's CPU time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_clip import standard_config  # noqa: E402

from simfactory.sim.model.camera import camera_poses, intrinsics  # noqa: E402
from simfactory.sim.model.parts import (  # noqa: E402
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.render.raster import process_renderer  # noqa: E402
from simfactory.sim.render.settings import RenderSettings  # noqa: E402
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.clip import generate_clip, simulate  # noqa: E402

# each effect and the settings that turn it off
EFFECTS = {
    "ibl (sky + light probe)": {"ibl": False},
    "irradiance grid (one light probe instead)": {"probe_grid": 1},
    "ao": {"ao": False},
    "soft sun shadows (PCF)": {"shadow_softness": 0.0},
    "point-light shadows (2)": {"point_shadows": 0},
    "GGX specular": {"specular": False},
    "procedural detail": {"detail": False},
    "fxaa": {"fxaa": False},
    "auto exposure": {"auto_exposure": False},
}
OPTIONAL = {  # off by default: their cost when turned on
    "motion blur (0.5)": {"motion_blur": 0.5},
    "bloom (0.3)": {"bloom": 0.3},
    "anisotropic filtering (16x)": {"anisotropy": 16},
    "noise + vignette + white balance": {"noise": 0.05, "vignette": 0.3, "white_balance_k": 4500.0},
}


def per_effect(scene: str, frames: int, rounds: int) -> dict:
    cfg = standard_config(640, 360, frames, scene)
    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    bounds = scene_bounds(geometry, traj.poses, traj.cloth_vertices)
    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T = camera_poses(cam, traj.times, spec, traj)
    present = traj.present
    base = RenderSettings()
    variants = {"defaults": base, "all off": RenderSettings.off()}
    variants.update({f"without {k}": dataclasses.replace(base, **v) for k, v in EFFECTS.items()})
    variants.update({f"with {k}": dataclasses.replace(base, **v) for k, v in OPTIONAL.items()})
    renderer = process_renderer()
    times: dict[str, list[float]] = {name: [] for name in variants}
    probe: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, settings in variants.items():
            t = time.process_time()
            renderer.load_scene(
                visuals, spec.lights, spec.sky, bounds, spec.fog, light_parts(spec, traj),
                spec.cloths, settings=settings,
                probe=(T[0][:3, 3], traj.poses[0], None if present is None else present[0]),
            )  # fmt: skip
            t_load = time.process_time() - t
            for i in range(frames):
                nxt, prv = min(i + 1, frames - 1), max(i - 1, 0)
                nb = (traj.poses[nxt], T[nxt], traj.poses[prv], T[prv])
                cloths = tuple([v[k] for v in traj.cloth_vertices] for k in (i, nxt, prv))
                t = time.process_time()
                renderer.render(
                    traj.poses[i], K, T[i], cam.width, cam.height, cam.near, cam.far, 1.0,
                    neighbours=nb, time=float(traj.times[i]),
                    present=None if present is None else present[i], cloths=cloths,
                )  # fmt: skip
                dt = time.process_time() - t
                if i == 0:
                    probe[name].append(t_load + dt)  # scene upload + probe + first frame
                else:
                    times[name].append(dt)
    ms = {name: 1000 * float(np.median(v)) for name, v in times.items()}
    first = {name: 1000 * float(np.median(v)) for name, v in probe.items()}
    return {"ms_per_frame": ms, "ms_load_and_first_frame": first}


def end_to_end(scene: str, frames: int, repeats: int) -> dict:
    off = {f"render.{k}": v for k, v in dataclasses.asdict(RenderSettings.off()).items()}
    overrides = {"defaults": {}, "one light probe": {"render.probe_grid": 1}, "all off": off}
    fps: dict[str, list[float]] = {k: [] for k in overrides}
    cpu_fps: dict[str, list[float]] = {k: [] for k in overrides}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats + 1):
            for name, keys in overrides.items():
                cfg = standard_config(640, 360, frames, scene)
                cfg["render"].update({k.split(".", 1)[1]: v for k, v in keys.items()})
                out = Path(tmp) / f"{name.replace(' ', '_')}_{r}"
                t, c = time.perf_counter(), time.process_time()
                generate_clip(cfg, 0, out)
                seconds, cpu = time.perf_counter() - t, time.process_time() - c
                if r > 0:  # the first round warms up (EGL context, shaders, caches)
                    fps[name].append(frames / seconds)
                    cpu_fps[name].append(frames / cpu)
    return {
        "wall": {name: float(np.median(v)) for name, v in fps.items()},
        "cpu": {name: float(np.median(v)) for name, v in cpu_fps.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="furniture", choices=["furniture", "driving", "hoi"])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the per-effect timing")
    parser.add_argument("--effect-frames", type=int, default=6, help="frames per round")
    parser.add_argument("--repeats", type=int, default=2, help="end-to-end runs per setting")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    effects = per_effect(args.scene, min(args.frames, args.effect_frames), args.rounds)
    e2e = end_to_end(args.scene, args.frames, args.repeats)
    ms = effects["ms_per_frame"]
    print(f"{args.scene}, 640x360: render CPU ms/frame (median), cost = defaults - without")
    print(f"  {'defaults':40s} {ms['defaults']:7.1f}")
    print(f"  {'all off':40s} {ms['all off']:7.1f}")
    for name in EFFECTS:
        cost = ms["defaults"] - ms[f"without {name}"]
        print(f"  {name:40s} {cost:+7.1f}")
    for name in OPTIONAL:
        cost = ms[f"with {name}"] - ms["defaults"]
        print(f"  {'(opt) ' + name:40s} {cost:+7.1f}")
    first = effects["ms_load_and_first_frame"]
    print(f"  scene load + first frame: defaults {first['defaults']:.0f} ms, "
          f"all off {first['all off']:.0f} ms (the light probe is drawn here)")  # fmt: skip
    for clock in ("wall", "cpu"):
        fps = e2e[clock]
        ratio = fps["defaults"] / fps["all off"]
        print(f"end to end ({args.frames} frames, {clock}): defaults {fps['defaults']:.2f} "
              f"frames/s, all off {fps['all off']:.2f} frames/s, ratio {ratio:.2f}; "
              f"with one light probe {fps['one light probe']:.2f} frames/s")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"effects": effects, "end_to_end": e2e}, indent=1))


if __name__ == "__main__":
    main()
