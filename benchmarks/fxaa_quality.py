"""How close FXAA brings a frame to one drawn with supersampling.

    python benchmarks/fxaa_quality.py

Frame 2 of four clips (furniture, hoi, a drive at 13:00 and one at 21:00, seed 3, 3
and 30) is drawn at 640x360 with and without FXAA, and at 1920x1080 without, averaged
over 3x3 pixels in linear light (the reference). The exposure is the one auto exposure
gives the 640x360 frame, fixed for all three. Printed per clip: the mean absolute sRGB
difference (0-255) from the reference over every pixel and over the edge pixels (where
the reference changes by more than 20 levels to the pixel above or left). Run the code
before a change first on PYTHONPATH to compare.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_clip import camera_inputs, render_frame  # noqa: E402

from simfactory.sim.model.camera import intrinsics  # noqa: E402
from simfactory.sim.render.pathtrace import srgb_to_linear  # noqa: E402
from simfactory.sim.render.tonemap import srgb_oetf  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402

CLIPS = [
    ("furniture", 3, []),
    ("hoi", 3, []),
    ("driving", 3, ["scene.time_of_day=13"]),
    ("driving", 30, ["scene.time_of_day=21"]),
]
SUPER = 3


def frames_of(scene: str, seed: int, overrides: list[str]) -> dict[str, np.ndarray]:
    """Frame 2 with FXAA, without, and the supersampled reference, as uint8 sRGB."""
    base = [f"scene={scene}", "frames=4", "num_clips=1", f"seed={seed}", *overrides]
    cfg = load_config([*base, "resolution=[640,360]"])
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    render_frame(renderer, cfg, traj, cam, K, T_wc, 2)
    fixed = ["render.auto_exposure=false", f"render.exposure={renderer.last_exposure_scale}"]
    out = {}
    for name, size, fxaa in (("fxaa", 1, "true"), ("none", 1, "false"), ("ref", SUPER, "false")):
        w, h = cam.width * size, cam.height * size
        cfg = load_config([*base, f"resolution=[{w},{h}]", f"render.fxaa={fxaa}", *fixed])
        renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
        big = dataclasses.replace(cam, width=w, height=h)
        Ks = intrinsics(w, h, cam.fov_y_deg)
        out[name] = render_frame(renderer, cfg, traj, big, Ks, T_wc, 2).rgb
    linear = srgb_to_linear(out["ref"]).astype(np.float64)
    linear = linear.reshape(cam.height, SUPER, cam.width, SUPER, 3).mean(axis=(1, 3))
    out["ref"] = np.clip(np.rint(srgb_oetf(linear) * 255.0), 0, 255).astype(np.uint8)
    return out


def main() -> None:
    rows = []
    for scene, seed, overrides in CLIPS:
        images = frames_of(scene, seed, overrides)
        ref = images["ref"].astype(np.float64)
        grey = ref.mean(axis=2)
        step = np.abs(np.diff(grey, axis=0, prepend=grey[:1])) + np.abs(
            np.diff(grey, axis=1, prepend=grey[:, :1])
        )
        edge = step > 20
        row = {"clip": f"{scene} seed {seed} {' '.join(overrides)}".strip()}
        for name in ("none", "fxaa"):
            diff = np.abs(images[name].astype(np.float64) - ref).mean(axis=2)
            row[name] = (round(float(diff.mean()), 3), round(float(diff[edge].mean()), 2))
        rows.append(row)
        print(
            f"{row['clip']:36s} no AA {row['none'][0]:6.3f} (edges {row['none'][1]:6.2f})"
            f"   FXAA {row['fxaa'][0]:6.3f} (edges {row['fxaa'][1]:6.2f})"
        )
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
