"""What the shading pass (the "mesh" pass) costs per feature, A/B in one run.

    python benchmarks/mesh_shading.py --scene furniture [--frames 8] [--rounds 3]
    python benchmarks/mesh_shading.py --scene hoi --variants base,no_points

Builds the standard clip of ``bench_clip.py`` once, then renders its first ``--frames``
frames of the first camera in rounds; in each round every variant renders them once,
in turn, so that load from other processes hits every variant alike. A variant is the
shading program with some effect compiled out (its switch declared a constant,
``shaders.specialise``) or its GLSL edited (a text replacement in ``MESH_FS``); the
figure kept per variant is the least over rounds of the mesh pass's CPU time per frame
(all threads, GL finished around the pass, as ``render_passes.py`` measures it), and
the difference to ``base`` is what the effect costs. Prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_clip import STANDARD_SCENES, camera_inputs, render_frame, standard_config  # noqa: E402

from simfactory.sim.render import shaders  # noqa: E402
from simfactory.sim.run.clip import raster_renderer  # noqa: E402

# name -> (switches forced to a constant, text replacements in MESH_FS)
VARIANTS: dict[str, tuple[dict, list[tuple[str, str]]]] = {
    "base": ({}, []),
    "no_sun_pcf": ({"sun_pcf": 0}, []),
    "no_sun_shadow": ({"sun_shadows": 0}, []),
    "no_sun": ({"has_sun": 0, "sun_shadows": 0}, []),
    "no_point_shadows": ({"point_shadow_index0": -1, "point_shadow_index1": -1}, []),
    "no_points": ({"num_points": 0, "point_shadow_index0": -1, "point_shadow_index1": -1}, []),
    "no_specular": ({"specular": 0}, []),
    "no_grid": ({"probe_grid": 0}, []),
    "no_env_specular": ({"ibl_specular": 0}, []),
    "no_ibl": ({"ibl": 0, "ibl_specular": 0, "probe_grid": 0}, []),
    "no_ao": ({"use_ao": 0}, []),
    "no_detail": ({"detail_kind": 0}, []),
    "no_fog": ({"fog_density": 0.0}, []),
    "no_texture": ({"has_texture": 0}, []),
    "no_log_luminance": ({}, [(": log_luminance(c));", ": 0.0);")]),
    "colour_only": (
        {},
        [
            (
                "    out_depth_id = vec2(v_view_z, instance_id);\n",
                "    out_depth_id = vec2(0.0);\n",
            ),
            (
                "    out_normal = vec4(n_gl.x, -n_gl.y, -n_gl.z, 0.0);\n",
                "    out_normal = vec4(0.0);\n",
            ),
            (
                "    out_uv_next_prev = vec4(to_pixel(v_clip_next), to_pixel(v_clip_prev));\n",
                "    out_uv_next_prev = vec4(0.0);\n",
            ),
            (
                "    out_z_next_prev = vec2(v_clip_next.w, v_clip_prev.w);\n",
                "    out_z_next_prev = vec2(0.0);\n",
            ),
        ],
    ),
    "empty": (
        {},
        [
            (
                "void main() {\n    vec3 N",
                "void main() {\n    out_color = vec4(0.0);\n    return;\n    vec3 N",
            )
        ],
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", choices=sorted(STANDARD_SCENES), default="furniture")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    parser.add_argument(
        "--uniform-lights", action="store_true",
        help="also a variant with the point count and shadow indices as uniforms (and with "
        "--baseline, the baseline's so)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", metavar="REV", help="also a variant with MESH_FS of git revision REV"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = standard_config(args.width, args.height, args.frames, args.scene, args.overrides)
    spec, traj, visuals, geometry, cam, K, T_wc = camera_inputs(cfg)
    F = traj.num_frames
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    base_fs = shaders.MESH_FS
    compile_program = renderer._program
    state: dict = {"switches": {}, "fs": base_fs}

    def program(vs: str, fs: str, constants: dict) -> int:
        if fs is base_fs:  # the shading pass's program: the variant's
            constants = {**constants, **state["switches"]}
            # a baseline's source may lack some of today's switches
            declared = {k: v for k, v in constants.items() if f" {k};" in state["fs"]}
            return compile_program(vs, state["fs"], declared)
        return compile_program(vs, fs, constants)

    renderer._program = program
    mesh_switches = renderer._mesh_switches

    def switches_of(suns, shadows, points, point_shadow, probe) -> dict:
        out = mesh_switches(suns, shadows, points, point_shadow, probe)
        if state.get("uniform_lights"):  # as uniforms, but for no lights and no maps
            if points:
                out.pop("num_points")
            for slot in (0, 1):
                if out[f"point_shadow_index{slot}"] >= 0:
                    out.pop(f"point_shadow_index{slot}")
        return out

    renderer._mesh_switches = switches_of
    names = args.variants.split(",")
    variants = {n: VARIANTS[n] for n in names}

    def render_all() -> float:
        renderer.pass_seconds, renderer.pass_cpu_seconds = {}, {}
        for i in range(F):
            render_frame(renderer, cfg, traj, cam, K, T_wc, i)
        cpu = renderer.pass_cpu_seconds.get("mesh", 0.0)
        renderer.pass_seconds = None
        return 1000 * cpu / F

    def use(name: str) -> None:
        switches, edits = variants[name]
        fs = base_fs
        for old, new in edits:
            if old not in fs:
                raise KeyError(f"variant {name}: text not in MESH_FS: {old!r}")
            fs = fs.replace(old, new)
        state["switches"], state["fs"] = dict(switches), fs
        state["uniform_lights"] = name in ("uniform_lights", "baseline_uniform_lights")
        if name.startswith("baseline"):
            state["fs"] = baseline_fs

    if args.uniform_lights:
        variants["uniform_lights"] = ({}, [])
        names.append("uniform_lights")
    if args.baseline:
        source = subprocess.run(
            ["git", "show", f"{args.baseline}:sim/render/shaders.py"],
            cwd=Path(__file__).resolve().parent, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        module: dict = {}
        exec(compile(source, "baseline_shaders.py", "exec"), module)
        baseline_fs = module["MESH_FS"]
        variants["baseline"] = ({}, [])
        names.append("baseline")
        if args.uniform_lights:  # the program as it was at REV
            variants["baseline_uniform_lights"] = ({}, [])
            names.append("baseline_uniform_lights")
    for name in names:  # warm-up: compile every variant's programs
        use(name)
        start = time.perf_counter()
        render_all()
        print(f"  warm-up {name}: {time.perf_counter() - start:.1f} s", flush=True)
    best = {n: float("inf") for n in names}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name in names:
            use(name)
            best[name] = min(best[name], render_all())
        loads.append(os.getloadavg()[0])
    pixels = cam.width * cam.height
    print(f"{args.scene}: {cam.width}x{cam.height}, {F} frames x {args.rounds} rounds, "
          f"{renderer.device_name}, load average {min(loads):.2f}-{max(loads):.2f}")  # fmt: skip
    print(f"{'variant':<18} {'mesh CPU-ms/frame':>18} {'vs base':>8} {'ns/pixel':>9}")
    for name in names:
        diff = best[name] - best.get("base", best[name])
        print(f"{name:<18} {best[name]:18.2f} {diff:8.2f} {1e6 * best[name] / pixels:9.1f}")
    if args.json:
        args.json.write_text(json.dumps({"mesh_cpu_ms": best, "load": loads}, indent=2))


if __name__ == "__main__":
    main()
