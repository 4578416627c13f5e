"""The README's strips of a person's two-handed tasks (docs/person_cut_fruit.png,
docs/person_fold_tshirt.png): frames of an HOI clip seen from across the table, close to
the hands.

python benchmarks/person_tasks_strip.py --task cut_fruit --out docs/person_cut_fruit.png
python benchmarks/person_tasks_strip.py --task fold_cloth --cloth tshirt \
    --out docs/person_fold_tshirt.png
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import simulate
from simfactory.sim.run.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="cut_fruit")
    parser.add_argument("--cloth", default="tshirt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--tiles", type=int, default=5)
    parser.add_argument("--size", type=int, nargs=2, default=(288, 216))
    parser.add_argument("--out", default="docs/person_cut_fruit.png")
    args = parser.parse_args()
    cfg = load_config(
        [
            "scene=hoi",
            f"scene.task={args.task}",
            "scene.actor=human",
            f"scene.cloth={args.cloth}",
            "fps=12",
            f"frames={args.frames}",
            "scene.num_distractors=0",
            f"seed={args.seed}",
        ]
    )
    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    renderer = process_renderer(cfg["render"].get("egl_device"))
    renderer.load_scene(
        visuals, spec.lights, spec.sky, scene_bounds(geometry, traj.poses, traj.cloth_vertices),
        spec.fog, light_parts(spec, traj), spec.cloths,
    )  # fmt: skip
    hands = [traj.part_names.index(f"person/{s}_wrist") for s in ("left", "right")]
    centre = traj.poses[:, hands, :3, 3].reshape(-1, 3).mean(axis=0)
    centre[2] = spec.annotations["table_top_z"] + 0.12
    T = look_at(centre + np.array([0.75, -0.45, 0.55]), centre + [-0.05, 0.0, 0.05])
    W, H = args.size
    K = intrinsics(W, H, 50.0)
    tiles = []
    for t in np.linspace(0.08, 1.0, args.tiles) * (traj.num_frames - 1):
        t = int(round(t))
        sheets = [v[t] for v in traj.cloth_vertices]
        frame = renderer.render(
            traj.poses[t], K, T, W, H, 0.02, 20.0, cfg["render"]["exposure"],
            neighbours=(traj.poses[t], T, traj.poses[t], T), present=traj.present[t],
            cloths=(sheets, sheets, sheets),
        )  # fmt: skip
        tiles.append(frame.rgb)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(args.out, optimize=True)
    print(f"wrote {args.out}: {spec.annotations['caption']}")


if __name__ == "__main__":
    main()
