"""The scale auto exposure would give each family's frames, before its largest scale.

    python benchmarks/exposure_scales.py [--seeds 24] [--scenes driving] [scene.time_of_day=22 ...]

For seeds 1..N of each family (furniture, hoi, driving at a random hour, and any
overrides given), one frame at 160x90 is rendered with ``render.auto_exposure_max``
lifted to 1000 and the scale it took is printed: the light a camera would have to make
up for. ``render.auto_exposure_max`` (3 by default) caps it; scenes that need more stay
darker than middle grey.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_clip import camera_inputs, render_frame  # noqa: E402

from simfactory.sim.run.clip import raster_renderer  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402


def scale_needed(scene: str, seed: int, overrides: list[str]) -> float:
    """The auto exposure scale of frame 1 of a 2-frame 160x90 clip, uncapped."""
    cfg = load_config(
        [f"scene={scene}", "frames=2", "resolution=[160,90]", "num_clips=1", f"seed={seed}"]
        + ["render.auto_exposure_max=1000"]
        + overrides
    )
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    render_frame(renderer, cfg, traj, cam, K, T_wc, 1)
    return renderer.last_exposure_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=24)
    parser.add_argument("--scenes", default="furniture,hoi,driving", help="comma-separated")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    scenes = args.scenes.split(",")
    unknown = sorted(set(scenes) - {"furniture", "hoi", "driving"})
    if unknown:
        parser.error(f"--scenes: unknown family {', '.join(unknown)}")
    for scene in scenes:
        scales = []
        for seed in range(1, args.seeds + 1):
            try:
                scales.append(scale_needed(scene, seed, args.overrides))
            except ValueError as error:  # a 2-frame task the planner cannot fit: skipped
                print(f"{scene} seed {seed}: skipped ({error})", file=sys.stderr)
        s = np.array(scales)
        print(
            f"{scene:10s} {' '.join(args.overrides) or '-'}: {len(s)} frames, scale "
            f"{s.min():.2f} to {s.max():.2f} (median {np.median(s):.2f}), "
            f"over 3: {int((s > 3).sum())}"
        )


if __name__ == "__main__":
    main()
