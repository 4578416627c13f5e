"""The README's strip of a person (docs/people_strip.png): an HOI clip of a person picking
something up, four frames with their COCO-WholeBody keypoints (green visible, yellow
occluded), and close-ups of the hand closing on the object.

python benchmarks/people_strip.py --out docs/people_strip.png
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

from simfactory.sim.model.camera import intrinsics, look_at
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/people_strip.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", default="pick_place")
    args = parser.parse_args()
    cfg = load_config(
        [
            "scene=hoi",
            f"scene.task={args.task}",
            "scene.actor=human",
            "camera.path=static",
            "fps=12",
            "frames=24",
            "resolution=[400,300]",
            "export.preview=false",
            "scene.num_distractors=1",
            f"seed={args.seed}",
        ]
    )
    root = Path(tempfile.mkdtemp())
    generate_clip(cfg, 0, root)
    clip = root / "clips" / "clip_000000"
    ann = json.loads((clip / "annotations.json").read_text())
    rgb = iio.imread(clip / "cam0" / "rgb.mp4")
    kp = ann["cameras"]["cam0"]["keypoints"]["person"]
    tiles = []
    for t in (0, 8, 13, 20):
        image = Image.fromarray(rgb[t])
        draw = ImageDraw.Draw(image)
        for (x, y), flag in zip(kp["xy"][t], kp["visibility"][t], strict=True):
            if flag:
                colour = (40, 230, 60) if flag == 2 else (250, 220, 40)
                draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
        tiles.append(np.asarray(image))
    top = np.concatenate(tiles, axis=1)

    spec = build_scene(cfg, 0)
    traj = Trajectory.load(clip / "trajectory.npz")
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    renderer = process_renderer(cfg["render"].get("egl_device"))
    renderer.load_scene(
        visuals, spec.lights, spec.sky, scene_bounds(geometry, traj.poses, traj.cloth_vertices),
        spec.fog, light_parts(spec, traj), spec.cloths,
    )  # fmt: skip
    grip = spec.people[0].grips["right"]
    k = traj.part_names.index(grip["object"])
    W, H = top.shape[1] // 4, 300
    K = intrinsics(W, H, 40.0)
    close = []
    for t, offset in ((6, [0.05, -0.45, 0.25]), (8, [0.05, -0.45, 0.25]),
                      (10, [0.4, 0.15, 0.2]), (12, [0.05, -0.45, 0.2])):  # fmt: skip
        centre = traj.poses[t, k, :3, 3] + [0.0, 0.0, 0.05]
        T = look_at(centre + np.array(offset), centre)
        sheets = [v[t] for v in traj.cloth_vertices]
        frame = renderer.render(
            traj.poses[t], K, T, W, H, 0.02, 20.0, cfg["render"]["exposure"],
            neighbours=(traj.poses[t], T, traj.poses[t], T), present=traj.present[t],
            cloths=(sheets, sheets, sheets),
        )  # fmt: skip
        close.append(frame.rgb)
    strip = np.concatenate([top, np.concatenate(close, axis=1)], axis=0)
    Image.fromarray(strip).save(args.out)
    print(f"wrote {args.out}: {ann['keypoints']['people']['person']['body']['phenotype']}")


if __name__ == "__main__":
    main()
