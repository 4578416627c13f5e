"""What a person costs: skinning the anny body on a clip's motion (one batched call) and
drawing it, per frame at 640x360, and a worker's peak resident memory making an HOI clip
with a person.

Skinning is timed as a worker runs it for a clip after the first (the scene built, so
the model and the person's rest body are there; what every body shares already loaded):
``skin_people`` and ``choose_detail``. Building the person (creating the model from
anny's cache, the rest bodies) is timed apart, per clip. The drawing cost is the
difference between rendering the scene with and without the person's regions (every
pass a clip renders: shadows, depth, colour, ids, normals, coverage, flow), the least
of ``--repeats`` interleaved runs of each, wall and CPU time (llvmpipe's threads
included), and the median over the rounds of each round's own difference (which the
machine's drift between rounds moves less). ``--interleave`` measures it frame by frame
as well: two renderers, one holding the scene with the person and one without, draw
each frame one right after the other, so that the machine's drift (on a shared 2-core
VM, the same clip's render moves by several ms a frame between runs seconds apart)
stays within a pair; the mean of the pairs over every frame of several passes.

python benchmarks/people.py                 # pick_place, 48 frames at 24 fps, 640x360
python benchmarks/people.py --frames 96 --task carry
python benchmarks/people.py --level 0 --no-worker   # the full mesh (no level of detail)
python benchmarks/people.py --levels --no-worker    # and every level of detail in turn
python benchmarks/people.py --passes --no-worker    # and the person's CPU time by pass
python benchmarks/people.py --detail --no-worker    # and how far the drawn mesh strays
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import trimesh
from bench_clip import render_frame

from simfactory.sim.actors.body import (
    DETAIL_POSES,
    choose_detail,
    ensure_cache,
    simplify_region,
    skin_people,
)
from simfactory.sim.model.camera import camera_poses, intrinsics
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.render.raster import Renderer, process_renderer
from simfactory.sim.render.shots import render_camera
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout

WORKER = """
import json, resource, sys, tempfile
from simfactory.sim.run.config import load_config
from simfactory.sim.run.clip import generate_clip
cfg = load_config(json.loads(sys.argv[1]))
row = generate_clip(cfg, 0, tempfile.mkdtemp())
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds_total": row["seconds_total"], "seconds_skin": row["seconds_skin"]}))
"""


LEVELS = (0.0, 0.001, 0.002, 0.004, 0.008, 0.016)  # errors (m) ``--levels`` draws


def _render_ms(
    renderer, spec, traj, cloths, vertices, cam, K, T_wc, exposure, passes=None
) -> tuple:
    """Wall and CPU ms per frame rendering one camera with ``cloths``; ``passes``: a dict
    that gets each pass's CPU ms per frame (GL finished around each pass)."""
    _load(renderer, spec, traj, cloths, vertices)
    if passes is not None:
        renderer.pass_seconds, renderer.pass_cpu_seconds = {}, {}
    wall, cpu = time.perf_counter(), time.process_time()
    render_camera(renderer, cam, K, T_wc, traj.poses, exposure, traj.times, traj.present, vertices)
    F = traj.num_frames
    if passes is not None:
        passes.update({k: v / F * 1e3 for k, v in renderer.pass_cpu_seconds.items()})
        renderer.pass_seconds = None
    return (time.perf_counter() - wall) / F * 1e3, (time.process_time() - cpu) / F * 1e3


def _load(renderer, spec, traj, cloths, vertices) -> None:
    """Load the clip's scene into ``renderer`` with ``cloths`` (their ``vertices``)."""
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    bounds = scene_bounds(geometry, traj.poses, vertices)
    renderer.load_scene(
        visuals, spec.lights, spec.sky, bounds, spec.fog, light_parts(spec, traj), cloths
    )


def _interleaved_ms(spec, traj, scenes: dict, cam, K, T_wc, cfg: dict, rounds: int) -> dict:
    """Per frame, the wall and CPU ms each of two renderers takes (``scenes``: name ->
    (renderer, cloths, vertices), each renderer holding its own scene), the two drawn one
    right after the other, which first alternating, frame after frame for ``rounds``
    passes over the clip: the machine's drift between the two stays within a frame."""
    for renderer, cloths, vertices in scenes.values():
        _load(renderer, spec, traj, cloths, vertices)
    F = traj.num_frames
    times = {name: np.zeros((rounds, F, 2)) for name in scenes}
    names = list(scenes)
    for r in range(-1, rounds):  # a first pass unrecorded: programs compiled, maps drawn
        for i in range(F):
            for name in names if (r * F + i) % 2 == 0 else names[::-1]:
                renderer, _, vertices = scenes[name]
                wall, cpu = time.perf_counter(), time.process_time()
                render_frame(renderer, cfg, traj, cam, K, T_wc, i, cloth_vertices=vertices)
                if r >= 0:
                    times[name][r, i] = (time.perf_counter() - wall, time.process_time() - cpu)
    return {name: t * 1e3 for name, t in times.items()}


def person_overrides(
    task: str, frames: int, fps: int, resolution: str, seed: int, cloth: str = ""
) -> list[str]:
    """The config overrides of an HOI clip of a person doing ``task`` (``cloth``: the
    folded cloth's kind, where given), without the preview."""
    return [
        "scene=hoi",
        f"scene.task={task}",
        "scene.actor=human",
        f"frames={frames}",
        f"fps={fps}",
        f"resolution=[{resolution}]",
        f"seed={seed}",
        "export.preview=false",
        *([f"scene.cloth={cloth}"] if cloth else []),
    ]


def _set_level(spec, traj, error: float) -> None:
    """Draw every person at the level of detail of ``error`` (m; 0: the full mesh), as
    ``choose_detail`` makes it (its shadow level kept)."""
    frames = traj.num_frames
    poses = np.unique(np.linspace(0, frames - 1, min(DETAIL_POSES, frames)).round().astype(int))
    for cloth in spec.cloths:
        if cloth.skin:
            full = cloth.skin_levels[0][1]
            skinned = traj.cloth_vertices[traj.cloth_names.index(cloth.name)][poses]
            faces = simplify_region(cloth, full, skinned, error)
            cloth.mesh = trimesh.Trimesh(cloth.mesh.vertices, faces, process=False)
    for person in spec.people:
        person.look["drawn_error_m"] = error


def _skin(cfg, level: float | None) -> tuple:
    """Build the clip's scene, roll it out and skin its person; returns the spec, the
    trajectory and the seconds of building (the person's model and rest bodies included)
    and of skinning (``skin_people`` and ``choose_detail``)."""
    start = time.perf_counter()
    spec = build_scene(cfg, 0)
    build_s = time.perf_counter() - start
    traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    start, cpu = time.perf_counter(), time.process_time()
    skin_people(spec, traj)
    choose_detail(spec, traj)
    skin_s = (time.perf_counter() - start, time.process_time() - cpu)
    if level is not None:  # a level of detail given, not chosen
        _set_level(spec, traj, level)
    return spec, traj, build_s, skin_s


def _print_detail(spec, traj, every: int = 6) -> None:
    """Per region of the person: triangles drawn, and the distance (mm) from each vertex of
    the full mesh to the drawn surface, at rest (the largest) and in every ``every``-th
    frame of the clip, skinned (the 99th percentile and the largest over those frames)."""
    for cloth in spec.cloths:
        if not cloth.skin:
            continue
        faces = np.asarray(cloth.mesh.faces)
        used = np.unique(cloth.skin_levels[0][1])
        rest = np.asarray(cloth.mesh.vertices)
        at_rest = trimesh.proximity.closest_point(
            trimesh.Trimesh(rest, faces, process=False), rest[used]
        )[1]  # fmt: skip
        p99 = largest = 0.0
        skinned = traj.cloth_vertices[traj.cloth_names.index(cloth.name)]
        for frame in range(0, traj.num_frames, every):
            v = skinned[frame]
            d = trimesh.proximity.closest_point(trimesh.Trimesh(v, faces, process=False), v[used])[
                1
            ]
            p99, largest = max(p99, np.percentile(d, 99)), max(largest, d.max())
        print(
            f"{cloth.name}: {len(faces)} triangles, from the full mesh's vertices: at rest "
            f"<= {at_rest.max() * 1e3:.1f} mm; skinned, 99% within {p99 * 1e3:.1f} mm, "
            f"all within {largest * 1e3:.1f} mm"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="pick_place")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--resolution", default="640,360")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--level",
        type=float,
        default=None,
        help="draw this level of detail (error, m; 0: the full mesh) "
        "instead of the one chosen from the person's size in the image",
    )
    parser.add_argument("--levels", action="store_true", help="also draw every level")
    parser.add_argument(
        "--passes", action="store_true", help="also the person's CPU time in each pass"
    )
    parser.add_argument(
        "--detail", action="store_true",
        help="also each region's distance from the full mesh's vertices to the drawn surface",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="interleaved render runs")
    parser.add_argument("--no-worker", action="store_true", help="skip the memory run")
    parser.add_argument(
        "--interleave", type=int, default=3, metavar="ROUNDS",
        help="passes over the clip drawing it with and without the person frame by frame "
        "(two renderers, one right after the other); 0: none",
    )  # fmt: skip
    args = parser.parse_args()
    overrides = person_overrides(args.task, args.frames, args.fps, args.resolution, args.seed)
    t = time.perf_counter()
    ensure_cache()
    print(f"anny cache ready ({time.perf_counter() - t:.1f} s)")
    cfg = load_config(overrides)
    _skin(cfg, args.level)  # a first clip: what every body shares is loaded (the model is
    # released after every clip)
    spec, traj, build_s, skin_s = _skin(cfg, args.level)
    skin_ms, skin_cpu_ms = (t / traj.num_frames * 1e3 for t in skin_s)
    person = spec.people[0]
    faces = sum(len(c.mesh.faces) for c in spec.cloths if c.skin)
    print(f"the person's mesh: {faces} triangles (error {person.look['drawn_error_m']} m)")

    if args.detail:
        _print_detail(spec, traj)
    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    renderer = process_renderer(cfg["render"].get("egl_device"))
    exposure = cfg["render"]["exposure"]
    body = [c.skin != "" for c in spec.cloths]
    sheets = [c for c, b in zip(spec.cloths, body, strict=True) if not b]
    sheet_vertices = [v for v, b in zip(traj.cloth_vertices, body, strict=True) if not b]
    runs = {"with": [], "without": []}
    _render_ms(renderer, spec, traj, spec.cloths, traj.cloth_vertices, cam, K, T_wc, exposure)
    for _ in range(args.repeats):
        runs["with"].append(_render_ms(
            renderer, spec, traj, spec.cloths, traj.cloth_vertices, cam, K, T_wc, exposure
        ))  # fmt: skip
        runs["without"].append(
            _render_ms(renderer, spec, traj, sheets, sheet_vertices, cam, K, T_wc, exposure)
        )
    with_ms, without_ms = (np.min(runs[k], axis=0) for k in ("with", "without"))
    draw_ms = with_ms - without_ms
    if args.passes:  # each pass's CPU with and without the person, the least of runs
        by_pass = {"with": [], "without": []}
        for _ in range(args.repeats):
            for key, cloths, verts in (
                ("with", spec.cloths, traj.cloth_vertices), ("without", sheets, sheet_vertices)
            ):  # fmt: skip
                by_pass[key].append({})
                _render_ms(renderer, spec, traj, cloths, verts, cam, K, T_wc, exposure,
                           by_pass[key][-1])  # fmt: skip
        names = sorted({n for runs_ in by_pass.values() for run in runs_ for n in run})
        for name in names:
            a, b = (min(run.get(name, 0.0) for run in by_pass[k]) for k in ("with", "without"))
            print(f"pass {name:14s} CPU ms/frame with {a:6.2f}, without {b:6.2f}: {a - b:5.2f}")
    if args.levels:  # every level drawn in turn on the same clip, interleaved
        drawn = {level: [] for level in LEVELS}
        for _ in range(args.repeats):
            for level, times in drawn.items():
                _set_level(spec, traj, level)
                times.append(_render_ms(
                    renderer, spec, traj, spec.cloths, traj.cloth_vertices, cam, K, T_wc,
                    exposure,
                ))  # fmt: skip
            runs["without"].append(
                _render_ms(renderer, spec, traj, sheets, sheet_vertices, cam, K, T_wc, exposure)
            )
        without_all = np.min(runs["without"], axis=0)
        for level, times in drawn.items():
            _set_level(spec, traj, level)
            count = sum(len(c.mesh.faces) for c in spec.cloths if c.skin)
            wall, cpu = np.min(times, axis=0) - without_all
            print(f"error {level} m, {count} triangles: drawing {wall:.1f} ms/frame, {cpu:.1f} CPU")
    print(f"{args.task}, {traj.num_frames} frames at {args.resolution} ({renderer.device_name})")
    print(f"building the person (model from anny's cache, rest bodies): {build_s:.2f} s a clip")
    print(
        f"skinning (one batched call, keypoints, level of detail): {skin_ms:.1f} ms/frame "
        f"({skin_cpu_ms:.1f} CPU)"
    )
    print(
        f"rendering with the person {with_ms[0]:.1f} ms/frame ({with_ms[1]:.1f} CPU), "
        f"without {without_ms[0]:.1f} ({without_ms[1]:.1f} CPU); least of {args.repeats}"
    )
    print(
        f"skinning + drawing one person: {skin_ms + draw_ms[0]:.1f} ms/frame, "
        f"{skin_cpu_ms + draw_ms[1]:.1f} CPU (drawing {draw_ms[0]:.1f} wall, "
        f"{draw_ms[1]:.1f} CPU; target <= 10)"
    )
    paired = np.array(runs["with"]) - np.array(runs["without"])  # each round's own pair
    low, median, high = np.percentile(paired, [0, 50, 100], axis=0)
    print(
        f"drawing, each round's pair (with minus without, {args.repeats} rounds): median "
        f"{median[0]:.1f} ms/frame wall ({median[1]:.1f} CPU), range {low[0]:.1f} to "
        f"{high[0]:.1f} wall; with skinning, median {skin_ms + median[0]:.1f} wall"
    )
    if args.interleave:
        scenes = {
            "with": (renderer, spec.cloths, traj.cloth_vertices),
            "without": (Renderer(cfg["render"].get("egl_device")), sheets, sheet_vertices),
        }
        ms = _interleaved_ms(spec, traj, scenes, cam, K, T_wc, cfg, args.interleave)
        diff = ms["with"] - ms["without"]  # (rounds, F, 2): each frame's own pair
        mean, median = diff.mean(axis=(0, 1)), np.median(diff, axis=(0, 1))
        q1, q3 = np.percentile(diff[..., 0], [25, 75])
        print(
            f"drawing, frame by frame ({args.interleave} passes of {traj.num_frames} "
            f"frames, with and without one right after the other): mean {mean[0]:.1f} "
            f"ms/frame wall ({mean[1]:.1f} CPU), median {median[0]:.1f} (quartiles "
            f"{q1:.1f}, {q3:.1f}); with skinning, mean {skin_ms + mean[0]:.1f} wall, "
            f"{skin_cpu_ms + mean[1]:.1f} CPU (target <= 10)"
        )
        pass_means = [diff[r].mean(axis=0) for r in range(args.interleave)]
        print(
            "  each pass's mean (wall, CPU):", ", ".join(f"{w:.1f}/{c:.1f}" for w, c in pass_means)
        )
    print(f"load average: {os.getloadavg()}")

    if args.no_worker:
        return
    result = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(overrides)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    worker = json.loads(result.stdout.strip().splitlines()[-1])
    rss = worker["rss_kib"] / 1024**2
    print(
        f"worker making the clip: peak RSS {rss:.2f} GiB (target < 1), "
        f"{worker['seconds_total']:.1f} s, skinning {worker['seconds_skin']:.2f} s"
    )


if __name__ == "__main__":
    main()
