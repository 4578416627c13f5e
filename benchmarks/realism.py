"""How close the raster's colour frames come to a path-traced reference, and what the
path tracer costs.

    python benchmarks/realism.py --json realism.json                 # 4 frames per family, 640x360
    python benchmarks/realism.py --frames 1 --width 320 --height 180 # a quicker run
    python benchmarks/realism.py --images docs/realism               # also side-by-side PNGs
    python benchmarks/realism.py --cache refs --maps maps --cost-samples none render.ao=false

``--cache DIR`` keeps each reference's raw trace (mean radiance, albedo, normal over its
samples) on disk, keyed by family, size, clip, seed, frame and the overrides the path
tracer reads, and reuses it; a larger ``--ref-samples`` adds samples (other seeds) to a
cached trace. ``--maps DIR`` writes raster | reference | FLIP error map per frame.
``--cost-samples none`` skips timing the path tracer (the raster's FLIP only).

For each family's standard clip (the scenes of ``bench_clip.py``, one rollout), a fixed
set of frames (evenly spaced inside the clip) is rendered by the raster and by the path
tracer at ``--ref-samples`` per pixel, denoised (the reference). Reported per family:

  raster_flip         mean FLIP (NVIDIA's metric, 0 = identical) of the raster frame
                      against the reference, averaged over the frames
  pathtrace_flip      mean FLIP of the path tracer at each of ``--cost-samples`` (denoised)
                      against the reference
  pathtrace_seconds   seconds per frame at each sample count (set_frame, rendering,
                      denoising, tone mapping), after a warm-up frame; and the CPU
                      seconds of the process (all its threads), which other load on
                      the machine changes less
  compile_seconds     the warm-up frame: scene load and kernel compilation, once per clip
  raster_seconds      seconds per frame of the raster (every pass, all labels' targets)

Needs ``pip install 'simfactory[pathtrace,bench]'`` (Mitsuba 3, Open Image Denoise,
flip-evaluator).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_clip import STANDARD_SCENES  # noqa: E402

from simfactory.sim.model.camera import camera_poses, intrinsics  # noqa: E402
from simfactory.sim.model.parts import (  # noqa: E402
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
)
from simfactory.sim.render.pathtrace import PathTracer, combine, develop  # noqa: E402
from simfactory.sim.render.shots import render_camera  # noqa: E402
from simfactory.sim.render.tonemap import tonemap  # noqa: E402
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.clip import raster_renderer, render_settings, simulate  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402

# render.* keys the path tracer reads (every other render key changes the raster only)
TRACER_KEYS = ("render.sky_model", "render.turbidity", "render.ibl")


def flip(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean FLIP error of two uint8 sRGB images (LDR, default viewing conditions)."""
    return float(flip_map(reference, test)[1])


def flip_map(reference: np.ndarray, test: np.ndarray, magma: bool = False):
    """(per-pixel FLIP error map, its mean) of two uint8 sRGB images; the map as
    magma colours (H, W, 3) in [0, 1] when ``magma``."""
    import flip_evaluator

    ref = np.ascontiguousarray(reference, dtype=np.float32) / 255.0
    tst = np.ascontiguousarray(test, dtype=np.float32) / 255.0
    error, mean, _ = flip_evaluator.evaluate(ref, tst, "LDR", applyMagma=magma)
    return error, float(mean)


def cache_path(cache: str, family: str, frame: int, args) -> Path:
    """Where the reference trace of ``frame`` is kept: named by family, size, clip and
    seed, and a digest of the overrides the path tracer reads."""
    kept = [o for o in args.overrides if not o.startswith("render.") or o.startswith(TRACER_KEYS)]
    digest = hashlib.sha1(" ".join(sorted(kept)).encode()).hexdigest()[:8]
    name = f"{family}_{args.width}x{args.height}_c{args.clip_frames}_s{args.seed}_{digest}"
    return Path(cache) / f"{name}_f{frame:03d}.npz"


def reference_trace(tracer_at, cache, family, traj, cam, K, T_wc, i, args) -> dict:
    """The raw trace of frame ``i`` at ``--ref-samples``: from the cache where it holds
    enough samples, else traced (only the missing samples, with other seeds) and kept."""
    path = cache_path(cache, family, i, args) if cache else None
    traces = []
    if path is not None and path.exists():
        with np.load(path) as z:
            traces.append({k: (int(z[k]) if k == "samples" else z[k]) for k in z.files})
    have = sum(t["samples"] for t in traces)
    if have < args.ref_samples:
        tracer = tracer_at(i)
        tracer.samples = args.ref_samples - have
        t = time.perf_counter()
        traces.append(tracer.trace(K, T_wc[i], cam.width, cam.height, cam.near, cam.far,
                                   seed=i + 7919 * len(traces)))  # fmt: skip
        print(
            f"{family} frame {i}: reference {tracer.samples} spp "
            f"{time.perf_counter() - t:.1f} s (now {args.ref_samples})",
            file=sys.stderr,
            flush=True,
        )
        traced = combine(traces)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, **traced)
        return traced
    return traces[0]


def picked_frames(clip_frames: int, count: int) -> list[int]:
    """``count`` frames evenly spaced inside the clip (its ends left out)."""
    return [int(round(x)) for x in np.linspace(0, clip_frames - 1, count + 2)[1:-1]]


def family_scene(family: str, width: int, height: int, clip_frames: int, seed: int, overrides=()):
    cfg = load_config(
        STANDARD_SCENES[family]
        + [f"resolution=[{width},{height}]", f"frames={clip_frames}", f"seed={seed}"]
        + list(overrides)
    )
    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    return cfg, spec, traj


def raster_frames(cfg, spec, traj, cam, K, T_wc) -> tuple[np.ndarray, float]:
    """The raster's colour frames of one camera as ``generate_clip`` renders them, and
    the seconds per frame."""
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    t = time.perf_counter()
    shot = render_camera(
        renderer, cam, K, T_wc, traj.poses, cfg["render"]["exposure"], traj.times,
        traj.present, traj.cloth_vertices,
    )  # fmt: skip
    return shot.rgb, (time.perf_counter() - t) / traj.num_frames


def tone(linear: np.ndarray, render: dict) -> np.ndarray:
    """A path-traced frame's radiance tone mapped as the clip's settings say."""
    return tonemap(
        linear, float(render["exposure"]), bool(render["auto_exposure"]),
        float(render["auto_exposure_max"]),
    )  # fmt: skip


def traced_frame(tracer: PathTracer, traj, cam, K, T_wc, i: int, render: dict):
    """(uint8 frame, wall seconds, CPU seconds of the process) of frame ``i`` at the
    tracer's sample count."""
    t, cpu = time.perf_counter(), time.process_time()
    tracer.set_frame(
        traj.poses[i], float(traj.times[i]), traj.present[i],
        [v[i] for v in traj.cloth_vertices] or None,
    )  # fmt: skip
    linear = tracer.render(K, T_wc[i], cam.width, cam.height, cam.near, cam.far, seed=i)
    frame = tone(linear, render)
    return frame, time.perf_counter() - t, time.process_time() - cpu


def measure_family(family: str, args) -> dict:
    cfg, spec, traj = family_scene(
        family, args.width, args.height, args.clip_frames, args.seed, args.overrides
    )
    render = render_settings(cfg)
    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    raster, raster_seconds = raster_frames(cfg, spec, traj, cam, K, T_wc)
    frames = picked_frames(traj.num_frames, args.frames)

    state: dict = {}

    def tracer_at(i: int) -> PathTracer:
        """The clip's path tracer (loaded and warmed up on first use), set to frame i."""
        if "tracer" not in state:
            t = time.perf_counter()
            tracer = PathTracer(samples=1, denoise=True)
            tracer.load_scene(
                part_visuals(spec, traj), spec.lights, spec.sky, spec.fog,
                light_parts(spec, traj), spec.cloths, cfg["render"],
            )  # fmt: skip
            traced_frame(tracer, traj, cam, K, T_wc, frames[0], render)
            state["tracer"], state["compile"] = tracer, time.perf_counter() - t
        tracer = state["tracer"]
        tracer.set_frame(
            traj.poses[i], float(traj.times[i]), traj.present[i],
            [v[i] for v in traj.cloth_vertices] or None,
        )  # fmt: skip
        return tracer

    reference = []
    for i in frames:
        traced = reference_trace(tracer_at, args.cache, family, traj, cam, K, T_wc, i, args)
        linear = develop(traced, spec.fog, K, T_wc[i], denoise=True)
        reference.append(tone(linear, render))

    counts = sorted(set(args.cost_samples), reverse=True)
    images: dict[int, list[np.ndarray]] = {n: [] for n in counts}
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    cpu_seconds: dict[int, list[float]] = {n: [] for n in counts}
    for i in frames:
        for n in counts:
            tracer = tracer_at(i)
            tracer.samples = n
            image, secs, cpu = traced_frame(tracer, traj, cam, K, T_wc, i, render)
            images[n].append(image)
            seconds[n].append(secs)
            cpu_seconds[n].append(cpu)
            print(
                f"{family} frame {i}: {n} spp {secs:.1f} s ({cpu:.1f} s CPU)",
                file=sys.stderr,
                flush=True,
            )
    raster_flips = [flip(r, raster[i]) for r, i in zip(reference, frames, strict=True)]
    result = {
        "frames": frames,
        "raster_flip": float(np.mean(raster_flips)),
        "raster_flip_per_frame": [round(f, 4) for f in raster_flips],
        "raster_seconds": raster_seconds,
    }
    if counts:
        result |= {
            "pathtrace_flip": {
                str(n): float(
                    np.mean([flip(r, x) for r, x in zip(reference, images[n], strict=True)])
                )
                for n in counts
            },
            "pathtrace_seconds": {str(n): float(np.mean(seconds[n])) for n in counts},
            "pathtrace_cpu_seconds": {str(n): float(np.mean(cpu_seconds[n])) for n in counts},
            "compile_seconds": state.get("compile"),
        }
    if args.maps:
        out = Path(args.maps)
        out.mkdir(parents=True, exist_ok=True)
        import imageio.v3 as iio

        for r, i in zip(reference, frames, strict=True):
            error, mean = flip_map(r, raster[i], magma=True)
            error = np.clip(np.rint(error * 255.0), 0, 255).astype(np.uint8)
            iio.imwrite(
                out / f"{family}_{i:03d}.png", np.concatenate([raster[i], r, error], axis=1)
            )
            np.save(out / f"{family}_{i:03d}_raster.npy", raster[i])
            np.save(out / f"{family}_{i:03d}_reference.npy", r)
    if args.images:
        out = Path(args.images)
        out.mkdir(parents=True, exist_ok=True)
        import imageio.v3 as iio

        for r, i in zip(reference, frames, strict=True):
            iio.imwrite(out / f"{family}_{i:03d}.png", np.concatenate([raster[i], r], axis=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="furniture,driving,hoi")
    parser.add_argument("--frames", type=int, default=4, help="frames per family")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--clip-frames", type=int, default=48, help="frames of the clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ref-samples", type=int, default=256)
    parser.add_argument(
        "--cost-samples", default="16,64,256", help="sample counts to time and compare, or none"
    )
    parser.add_argument("--images", default=None, help="folder for raster | reference PNGs")
    parser.add_argument(
        "--maps", default=None, help="folder for raster | reference | FLIP map PNGs"
    )
    parser.add_argument("--cache", default=None, help="folder keeping the reference traces")
    parser.add_argument("--json", default=None, help="write the results to this file")
    parser.add_argument(
        "overrides", nargs="*", help="config overrides for every family, e.g. render.detail=false"
    )
    args = parser.parse_args()
    none = args.cost_samples in ("", "none")
    args.cost_samples = [] if none else [int(s) for s in args.cost_samples.split(",")]
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "command": "python benchmarks/realism.py " + " ".join(sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "images")},
        "families": {},
    }
    for family in args.families.split(","):
        results["families"][family] = measure_family(family, args)
        if args.cost_samples:
            results["device"] = PathTracer(samples=1).device_name
        print(json.dumps({family: results["families"][family]}, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
