"""Per-pass cost of the raster render stage on a standard clip.

    python benchmarks/render_passes.py --scene furniture [--frames 24] [key=value ...]

Builds and simulates the standard clip of ``bench_clip.py``, then renders its first
camera twice: once as ``render_camera`` does (the stage's wall time per frame, flow
included), once with GL finished around every pass, so that each pass's share is
measured (the shadow and probe passes only run when something moved or once per scene).
Also times the numpy flow from the renderer's projections (which the flow pass
replaces where the renderer uses it: off llvmpipe, or with ``--gpu-flow``). Trailing ``key=value``
arguments are config overrides (e.g. ``render.ao=false``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from bench_clip import STANDARD_SCENES, camera_inputs, render_frame, standard_config  # noqa: E402

from simfactory.sim.annotate.flow import flow_from_projections  # noqa: E402
from simfactory.sim.render.shots import render_camera  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", choices=sorted(STANDARD_SCENES), default="furniture")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--gpu-flow", action="store_true", help="use the flow pass even on llvmpipe"
    )
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = standard_config(args.width, args.height, args.frames, args.scene, args.overrides)
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    F = traj.num_frames

    def stage() -> float:
        renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
        renderer.gpu_flow = getattr(renderer, "gpu_flow", False) or args.gpu_flow
        start, cpu = time.perf_counter(), time.process_time()
        render_camera(
            renderer, cam, K, T_wc, traj.poses, cfg["render"]["exposure"], traj.times,
            traj.present, traj.cloth_vertices,
        )  # fmt: skip
        return time.perf_counter() - start, time.process_time() - cpu, renderer

    stage()  # warm-up: shaders, uploads
    wall, cpu, renderer = stage()
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    renderer.pass_seconds, renderer.pass_cpu_seconds = {}, {}
    frames, flow_s, flow_cpu = [], 0.0, 0.0
    for i in range(F):
        frame = render_frame(renderer, cfg, traj, cam, K, T_wc, i)
        if frames and getattr(renderer, "gpu_flow", False):  # the flow pass, if used
            with renderer._timed("flow pass"):
                renderer.flows()
        if frames:
            prev = frames[-1]
            t, c = time.perf_counter(), time.process_time()
            flow_from_projections(
                prev.instance, prev.depth, prev.uv_next_prev[..., 0:2],
                prev.z_next_prev[..., 0], frame.instance, frame.depth,
            )  # fmt: skip
            flow_from_projections(
                frame.instance, frame.depth, frame.uv_next_prev[..., 2:4],
                frame.z_next_prev[..., 1], prev.instance, prev.depth,
            )  # fmt: skip
            flow_s += time.perf_counter() - t
            flow_cpu += time.process_time() - c
        frames = [frame]
    passes, cpu_passes = dict(renderer.pass_seconds), dict(renderer.pass_cpu_seconds)
    renderer.pass_seconds = None
    passes["numpy flow"], cpu_passes["numpy flow"] = flow_s, flow_cpu
    ms = {k: 1000 * v / F for k, v in passes.items()}
    cpu_ms = {k: 1000 * v / F for k, v in cpu_passes.items()}
    triangles = sum(m.count // 3 for meshes in renderer._parts for m in meshes)
    print(f"{args.scene}: {cam.width}x{cam.height}, {F} frames, {len(renderer._parts)} parts, "
          f"{triangles} triangles, {renderer.device_name}")  # fmt: skip
    print(f"render stage as render_camera runs it: {1000 * wall / F:.1f} ms/frame, "
          f"{1000 * cpu / F:.1f} CPU-ms/frame (all threads)")  # fmt: skip
    print("per pass, GL finished around each (ms/frame, wall and CPU of all threads):")
    for k, v in ms.items():
        print(f"  {k:<16} {v:8.2f} {cpu_ms[k]:8.2f}")
    print(f"  {'sum':<16} {sum(ms.values()):8.2f} {sum(cpu_ms.values()):8.2f}")
    print(
        "flow: numpy's (flow.flow_from_projections) "
        + (
            "for comparison; the stage uses the flow pass"
            if getattr(renderer, "gpu_flow", False)
            else "as the stage"
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "stage_ms": 1000 * wall / F,
                    "stage_cpu_ms": 1000 * cpu / F,
                    "pass_ms": ms,
                    "pass_cpu_ms": cpu_ms,
                    "frames": F,
                },
                indent=2,
            )  # fmt: skip
        )


if __name__ == "__main__":
    main()
