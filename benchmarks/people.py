"""What a person costs: skinning the anny body on a clip's motion (one batched call) and
drawing it, per frame at 640x360, and a worker's peak resident memory making an HOI clip
with a person.

The drawing cost is the difference between rendering the scene with and without the
person's skinned regions (every pass a clip renders: colour, depth, ids, normals, flow).

python benchmarks/people.py                 # pick_place, 48 frames at 24 fps, 640x360
python benchmarks/people.py --frames 96 --task carry
python benchmarks/people.py --cell 0.02 --hand-cell 0.006 --no-worker   # a coarser body
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from simfactory.sim.actors.body import body_regions, ensure_cache, rest_body, skin_people
from simfactory.sim.model.camera import camera_poses, intrinsics
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.render.raster import process_renderer
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


def _render_ms(renderer, spec, traj, cloths, vertices, cam, K, T_wc, exposure) -> float:
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    bounds = scene_bounds(geometry, traj.poses, vertices)
    renderer.load_scene(
        visuals, spec.lights, spec.sky, bounds, spec.fog, light_parts(spec, traj), cloths
    )
    start = time.perf_counter()
    render_camera(renderer, cam, K, T_wc, traj.poses, exposure, traj.times, traj.present, vertices)
    return (time.perf_counter() - start) / traj.num_frames * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="pick_place")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--resolution", default="640,360")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", type=float, default=0.0, help="coarser mesh: cluster cell, m")
    parser.add_argument("--hand-cell", type=float, default=0.006, help="the hands' cell, m")
    parser.add_argument("--no-worker", action="store_true", help="skip the memory run")
    args = parser.parse_args()
    overrides = [
        "scene=hoi",
        f"scene.task={args.task}",
        "scene.actor=human",
        f"frames={args.frames}",
        f"fps={args.fps}",
        f"resolution=[{args.resolution}]",
        f"seed={args.seed}",
        "export.preview=false",
    ]
    t = time.perf_counter()
    ensure_cache()
    print(f"anny cache ready ({time.perf_counter() - t:.1f} s)")
    cfg = load_config(overrides)
    spec = build_scene(cfg, 0)
    if args.cell > 0:  # a coarser mesh for the body, finer for the hands
        person = spec.people[0]
        coarse = body_regions(
            person.name, rest_body(person.phenotype), person.look, cell=args.cell,
            hand_cell=args.hand_cell,
        )  # fmt: skip
        spec.cloths = [c for c in spec.cloths if not c.skin] + coarse
    faces = sum(len(c.mesh.faces) for c in spec.cloths if c.skin)
    print(f"the person's mesh: {faces} triangles")
    traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    skin_people(spec, traj)  # warm-up: the model, the kernels
    start = time.perf_counter()
    skin_people(spec, traj)
    skin_ms = (time.perf_counter() - start) / traj.num_frames * 1e3

    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    renderer = process_renderer(cfg["render"].get("egl_device"))
    exposure = cfg["render"]["exposure"]
    body = [c.skin != "" for c in spec.cloths]
    sheets = [c for c, b in zip(spec.cloths, body, strict=True) if not b]
    sheet_vertices = [v for v, b in zip(traj.cloth_vertices, body, strict=True) if not b]
    _render_ms(renderer, spec, traj, spec.cloths, traj.cloth_vertices, cam, K, T_wc, exposure)
    with_ms = _render_ms(
        renderer, spec, traj, spec.cloths, traj.cloth_vertices, cam, K, T_wc, exposure
    )
    without_ms = _render_ms(renderer, spec, traj, sheets, sheet_vertices, cam, K, T_wc, exposure)
    draw_ms = with_ms - without_ms
    print(f"{args.task}, {traj.num_frames} frames at {args.resolution} ({renderer.device_name})")
    print(f"skinning (one batched call, keypoints included): {skin_ms:.1f} ms/frame")
    print(f"rendering with the person {with_ms:.1f} ms/frame, without {without_ms:.1f}")
    print(f"skinning + drawing one person: {skin_ms + draw_ms:.1f} ms/frame (target <= 10)")

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
