"""How much of the road the point lights' cube shadow maps darken in night drives.

    python benchmarks/headlight_shadows.py [--seeds 1 2 3 4 5 6] [--width 320 --height 180]

Each night drive (22:00, clear) is rendered with its two strongest point lights' cube
shadow maps (the ego's headlights) and again without, frame by frame in one process;
printed per drive: the share of road pixels more than 2% darker with the maps, and the
share of those beyond 15 m of the camera. A car's or a pole's shadow darkens the road
too, so compare the code before and after a change (e.g. with an older checkout first on
PYTHONPATH): what a change in the maps' bias removes is the road shadowing itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_clip import camera_inputs, render_frame  # noqa: E402

from simfactory.sim.render.settings import RenderSettings  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402


def road_darkened(seed: int, width: int, height: int, frames: int) -> dict:
    """Share of the drive's road pixels (over ``frames`` frames) more than 2% darker in
    linear radiance with the point lights' cube shadow maps than without."""
    cfg = load_config(
        [
            "scene=driving", f"frames={frames}", f"resolution=[{width},{height}]",
            "num_clips=1", f"seed={seed}", "scene.time_of_day=22", "scene.weather=clear",
        ]
    )  # fmt: skip
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    road = 1 + traj.part_names.index("road")  # instance ids: part index + 1
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    settings = RenderSettings.from_config(cfg["render"])
    radiance = {}
    for maps in (2, 0):
        renderer.settings = dataclasses.replace(settings, point_shadows=maps)
        radiance[maps] = []
        for i in range(frames):
            frame = render_frame(renderer, cfg, traj, cam, K, T_wc, i)
            radiance[maps].append((renderer.read_hdr().mean(axis=2), frame))
    darker = beyond = pixels = 0
    for (on, frame), (off, _) in zip(radiance[2], radiance[0], strict=True):
        on_road = frame.instance == road
        dark = on_road & (on < 0.98 * off)
        pixels += int(on_road.sum())
        darker += int(dark.sum())
        beyond += int((dark & (frame.depth > 15.0)).sum())
    return {
        "seed": seed,
        "road_pixels": pixels,
        "darker_share": darker / max(pixels, 1),
        "of_which_beyond_15m": beyond / max(darker, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [road_darkened(s, args.width, args.height, args.frames) for s in args.seeds]
    print(f"night drives, {args.width}x{args.height}, {args.frames} frames each")
    print("seed  road px  darker >2%  of which beyond 15 m")
    for r in rows:
        print(
            f"{r['seed']:4d} {r['road_pixels']:8d} {100 * r['darker_share']:10.1f}% "
            f"{100 * r['of_which_beyond_15m']:10.1f}%"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
