"""How busy the render stage keeps the cores, and what a second renderer adds.

    python benchmarks/render_threads.py --scene furniture|hoi|driving [--rounds 3]

Builds and simulates the standard clip of ``bench_clip.py`` and renders its first
camera, in rounds, three ways:

  stage    ``render_camera`` as the clip's render stage runs it (compact labels, the
           numpy flow); its main thread's CPU time apart from the whole process's
           (the rest is Mesa's rasterizer threads)
  one      the renderer alone, frame after frame (no flow, no encoding)
  two      two renderers, each with its own EGL context in a thread of its own,
           drawing the even and the odd frames: the most that drawing frame t+1 while
           frame t is still being shaded could give

Reported per way: ms a frame of wall time and of CPU time (all threads), the cores
busy (CPU over wall), the least of the rounds; and the ratio of "one" over "two".
"""

from __future__ import annotations

import argparse
import os
import threading
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from bench_clip import STANDARD_SCENES, camera_inputs, render_frame, standard_config  # noqa: E402

from simfactory.sim.render import raster  # noqa: E402
from simfactory.sim.render.shots import render_camera  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402


def _release(renderer) -> None:
    """Leave ``renderer``'s context current on no thread, so another thread may take it."""
    from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglMakeCurrent

    display = renderer._platform._egl_display
    eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", choices=sorted(STANDARD_SCENES), default="furniture")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = standard_config(frames=args.frames, scene=args.scene)
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    F = traj.num_frames

    def new_renderer():
        raster._RENDERER = None  # a renderer of its own, not the process's
        renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
        raster._RENDERER = None
        _release(renderer)
        return renderer

    renderers = [new_renderer(), new_renderer()]

    def draw(renderer, frames) -> None:
        renderer._platform.make_current()
        for i in frames:
            render_frame(renderer, cfg, traj, cam, K, T_wc, i)
        _release(renderer)

    def stage(renderer) -> float:
        renderer._platform.make_current()
        main_cpu = time.thread_time()
        render_camera(
            renderer, cam, K, T_wc, traj.poses, cfg["render"]["exposure"], traj.times,
            traj.present, traj.cloth_vertices, encoding="compact", keep_rgb=False,
        )  # fmt: skip
        _release(renderer)
        return time.thread_time() - main_cpu

    def one() -> None:
        draw(renderers[0], range(F))

    def two() -> None:
        threads = [
            threading.Thread(target=draw, args=(r, range(k, F, 2))) for k, r in enumerate(renderers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for renderer in renderers:  # warm-up: programs, uploads, kept shadow layers
        draw(renderer, range(min(F, 4)))
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(args.rounds):
        for name, run in (("stage", lambda: stage(renderers[0])), ("one", one), ("two", two)):
            wall, cpu = time.perf_counter(), time.process_time()
            main_cpu = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu, main_cpu or 0.0)
    print(f"{args.scene}: {cam.width}x{cam.height}, {F} frames, {os.cpu_count()} cores, "
          f"{renderers[0].device_name}, least of {args.rounds} rounds")  # fmt: skip
    print(f"  {'':<6} {'wall ms':>8} {'CPU ms':>8} {'cores':>6}")
    for name, (wall, cpu, main_cpu) in best.items():
        line = f"  {name:<6} {1000 * wall / F:8.1f} {1000 * cpu / F:8.1f} {cpu / wall:6.2f}"
        if name == "stage":
            line += f"   main thread {1000 * main_cpu / F:.1f} CPU-ms a frame"
        print(line)
    print(f"  one / two: {best['one'][0] / best['two'][0]:.2f}x the frames a second")


if __name__ == "__main__":
    main()
