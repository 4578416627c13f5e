"""How much of the shading pass is spent on lanes no visible pixel needs.

    python benchmarks/shading_waste.py --scene furniture|hoi|driving [--rounds 5]

llvmpipe shades a triangle's pixels in blocks, every lane of a block whether the
triangle covers that pixel (and is the visible surface there) or not, so small and thin
triangles cost more shading per visible pixel than a wall does. This renders frames of a
standard clip from its own camera and again from 0.6 m above the floor looking down
(one large surface fills the frame, where few lanes are wasted), each with the shading
pass as it is and with a fixed extra cost per lane (48 `sin` in every fragment). The
extra cost's ratio between the two views is the number of lanes shaded in the
standard view per lane of a frame shaded without waste: what shading each pixel exactly
once (deferred shading) could at most remove. Also printed: the depth pre-pass, whose
cost in the standard view over the floor view is the per-triangle work (Mesa's vertex
stage and triangle set-up), which the shading pass pays a second time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_clip import camera_inputs, render_frame, standard_config  # noqa: E402

from simfactory.sim.model.camera import look_at  # noqa: E402
from simfactory.sim.render import shaders  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402

EXTRA_COST = """    float extra = 0.0;
    for (int k = 0; k < 48; ++k) extra += sin(extra + float(k) * v_world.x);
    direct += vec3(extra * 1e-30);
"""
ANCHOR = "    vec3 indirect;\n"


def pass_costs(renderer, cfg, traj, cam, K, poses, frames, rounds: int) -> dict:
    """Least over ``rounds`` of the shading pass's and the pre-pass's CPU-ms a frame."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        renderer.pass_seconds, renderer.pass_cpu_seconds = {}, {}
        for i in frames:
            render_frame(renderer, cfg, traj, cam, K, poses, i)
        for name in ("mesh", "prepass"):
            ms = renderer.pass_cpu_seconds.get(name, 0.0) / len(frames) * 1000
            best[name] = min(best.get(name, np.inf), ms)
    renderer.pass_seconds = None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", default="hoi", choices=["furniture", "hoi", "driving"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    plain = shaders.MESH_FS
    if plain.count(ANCHOR) != 1:
        raise SystemExit("the shading pass's source changed: update ANCHOR")
    cfg = standard_config(scene=args.scene, frames=8)
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    frames = range(1, 7)
    floor = []
    for T in T_wc:  # 0.6 m above the floor under the camera, looking down
        x, y = T[:3, 3][:2]
        floor.append(look_at((x, y, 0.6), (x + 0.05, y + 0.3, 0.0)))
    views = {"standard": T_wc, "floor": np.array(floor)}
    costs = {}
    for variant, source in (
        ("plain", plain),
        ("extra", plain.replace(ANCHOR, EXTRA_COST + ANCHOR)),
    ):
        shaders.MESH_FS = source  # the renderer compiles (and keeps) a program per source
        renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
        for view, poses in views.items():
            costs[variant, view] = pass_costs(
                renderer, cfg, traj, cam, K, poses, frames, args.rounds
            )
    shaders.MESH_FS = plain
    print(
        f"{args.scene}: {cam.width}x{cam.height}, frames 1-6, least of {args.rounds} rounds,"
        " CPU-ms a frame"
    )
    print("view       shading pass  with extra cost  pre-pass")
    for view in views:
        print(
            f"{view:10s} {costs['plain', view]['mesh']:12.2f} {costs['extra', view]['mesh']:16.2f}"
            f" {costs['plain', view]['prepass']:9.2f}"
        )
    extra = {v: costs["extra", v]["mesh"] - costs["plain", v]["mesh"] for v in views}
    print(f"lanes shaded per lane of the floor view: {extra['standard'] / extra['floor']:.2f}")
    per_triangle = costs["plain", "standard"]["prepass"] - costs["plain", "floor"]["prepass"]
    print(f"pre-pass, standard view minus floor view (per-triangle work): {per_triangle:.2f}")


if __name__ == "__main__":
    main()
