"""Benchmark a standard clip against two baselines, in one run.

    python benchmarks/bench_clip.py            # furniture: 640x360, 48 frames, all modalities
    python benchmarks/bench_clip.py --scene driving   # 20 agents, front camera, 32-beam LiDAR
    python benchmarks/bench_clip.py --scene hoi       # a robot arm and 10 objects on a table
    python benchmarks/bench_clip.py --clips 4 --workers 2   # also dataset throughput

Measured:
  simfactory   the full pipeline for one clip (build, physics, render, labels, write:
               RGB video, depth, instance, semantic, normals, forward/backward flow,
               boxes, visibility, annotations, trajectory, preview).
  tinyrenderer pybullet's getCameraImage (TinyRenderer) giving RGB + depth +
               segmentation for the same bodies, poses and camera, RGB written to mp4.
  pyrender     a naive pyrender loop: one RGB+depth pass (directional-light shadows)
               and one segmentation pass per frame, RGB written to mp4, no other labels.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402

from simfactory.sim.model.camera import camera_poses, intrinsics  # noqa: E402
from simfactory.sim.model.parts import part_visuals  # noqa: E402
from simfactory.sim.run.build import build_scene  # noqa: E402
from simfactory.sim.run.clip import generate_clip  # noqa: E402
from simfactory.sim.run.config import load_config  # noqa: E402
from simfactory.sim.simulate.physics import rollout  # noqa: E402
from simfactory.sim.write.files import write_video  # noqa: E402

STANDARD_SCENES = {
    "furniture": ["scene=furniture", "scene.num_pieces=8", "scene.num_clutter=8",
                  "scene.room_shape=rect"],
    # About 20 moving agents (14 vehicles besides the ego, 6 pedestrians), the front
    # camera and a 32-beam LiDAR at 0.2 degrees (57,600 rays per frame), at midday.
    "driving": ["scene=driving", "scene.num_vehicles=14", "scene.num_pedestrians=6",
                "camera.rig=front", "scene.lidar.channels=32",
                "scene.lidar.horizontal_resolution_deg=0.2", "scene.time_of_day=13",
                "scene.weather=clear"],
    # One actor (the Panda) picking and placing, with 8 distractors: 10 objects.
    "hoi": ["scene=hoi", "scene.task=pick_place", "scene.actor=panda",
            "scene.num_distractors=8"],
}  # fmt: skip


def standard_config(width=640, height=360, frames=48, scene="furniture", overrides=()) -> dict:
    return load_config(
        ["num_clips=1", f"frames={frames}", f"resolution=[{width},{height}]", "seed=1"]
        + STANDARD_SCENES[scene]
        + list(overrides)
    )


def camera_inputs(cfg: dict) -> tuple:
    """The standard clip's scene as the render stage gets it: spec, trajectory (physics
    and skinning, ``run.clip.simulate``), part visuals and geometry, and the first
    camera, its intrinsics and its poses."""
    from simfactory.sim.model.parts import part_classes, part_geometry
    from simfactory.sim.run.clip import simulate

    spec = build_scene(cfg, 0)
    traj = simulate(spec, cfg)
    visuals = part_visuals(spec, traj)
    geometry = part_geometry(visuals, part_classes(spec, traj))
    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    return spec, traj, visuals, geometry, cam, K, camera_poses(cam, traj.times, spec, traj)


def render_frame(renderer, cfg: dict, traj, cam, K, T_wc, i: int, cloth_vertices=None):
    """Frame ``i`` of the camera as the render stage renders it (its neighbours' poses
    for the flow targets, the cloths' vertices then, before and after: those of
    ``cloth_vertices``, the clip's own where None)."""
    F = traj.num_frames
    vertices = traj.cloth_vertices if cloth_vertices is None else cloth_vertices
    nxt, prv = min(i + 1, F - 1), max(i - 1, 0)
    return renderer.render(
        traj.poses[i], K, T_wc[i], cam.width, cam.height, cam.near, cam.far,
        cfg["render"]["exposure"],
        neighbours=(traj.poses[nxt], T_wc[nxt], traj.poses[prv], T_wc[prv]),
        time=float(traj.times[i]),
        present=None if traj.present is None else traj.present[i],
        cloths=tuple([v[k] for v in vertices] for k in (i, nxt, prv)),
    )  # fmt: skip


def bench_simfactory(cfg: dict, out: Path) -> dict:
    generate_clip(cfg, 99, out)  # warm-up: EGL context, shader compilation
    row = generate_clip(cfg, 0, out)
    stages = {k[len("seconds_") :]: v for k, v in row.items() if k.startswith("seconds_")}
    clip = out / row["path"]
    files = {
        str(f.relative_to(clip)): f.stat().st_size
        for f in sorted(clip.rglob("*"))
        if f.is_file() and f.name != "preview.png"
    }
    return {"frames": row["frames"], "objects": row["objects"], "seconds": stages,
            "bytes": files, "bytes_per_frame": sum(files.values()) / row["frames"]}  # fmt: skip


def _scene_inputs(cfg: dict):
    spec = build_scene(cfg, 0)
    traj = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    cam = spec.cameras[0]
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    return spec, traj, cam, K, T_wc


def bench_tinyrenderer(cfg: dict, out: Path) -> dict:
    import pybullet as pb

    from simfactory.sim.model.camera import gl_projection, gl_view
    from simfactory.sim.model.motion import pos_quat_xyzw

    spec, traj, cam, K, T_wc = _scene_inputs(cfg)
    visuals = part_visuals(spec, traj)
    client = pb.connect(pb.DIRECT)
    uids = []
    for vis in visuals:
        shapes = [
            pb.createVisualShape(
                pb.GEOM_MESH,
                vertices=v.mesh.vertices.tolist(),
                indices=v.mesh.faces.reshape(-1).tolist(),
                rgbaColor=list(v.material.base_color),
                physicsClientId=client,
            )
            for v in vis
        ]
        uids.append(
            pb.createMultiBody(
                baseVisualShapeIndex=shapes[0] if shapes else -1, physicsClientId=client
            )
        )
    proj = gl_projection(K, cam.width, cam.height, cam.near, cam.far)
    start = time.perf_counter()
    rgb = []
    for f in range(traj.num_frames):
        for uid, pose in zip(uids, traj.poses[f], strict=True):
            pos, quat = pos_quat_xyzw(pose)
            pb.resetBasePositionAndOrientation(uid, pos, quat, physicsClientId=client)
        _, _, color, depth, seg = pb.getCameraImage(
            cam.width,
            cam.height,
            viewMatrix=gl_view(T_wc[f]).T.reshape(-1).tolist(),
            projectionMatrix=proj.T.reshape(-1).tolist(),
            renderer=pb.ER_TINY_RENDERER,
            physicsClientId=client,
        )
        rgb.append(np.reshape(color, (cam.height, cam.width, 4))[..., :3].astype(np.uint8))
    write_video(out / "tiny.mp4", np.stack(rgb), cfg["fps"])
    seconds = time.perf_counter() - start
    pb.disconnect(client)
    return {"frames": traj.num_frames, "seconds": {"total": seconds}}


def bench_pyrender(cfg: dict, out: Path) -> dict:
    if not hasattr(np, "infty"):
        np.infty = np.inf
    import pyrender

    from simfactory.sim.model.camera import CV_TO_GL

    spec, traj, cam, K, T_wc = _scene_inputs(cfg)
    visuals = part_visuals(spec, traj)
    scene = pyrender.Scene(bg_color=[0.6, 0.7, 0.9, 1.0], ambient_light=[0.3, 0.3, 0.3])
    nodes, seg = [], {}
    for p, vis in enumerate(visuals):
        for v in vis:
            m = v.material
            material = pyrender.MetallicRoughnessMaterial(
                baseColorFactor=list(m.base_color),
                metallicFactor=m.metallic,
                roughnessFactor=m.roughness,
            )
            node = scene.add(pyrender.Mesh.from_trimesh(v.mesh, material=material))
            nodes.append((node, p))
            seg[node] = np.array([p + 1, 0, 0])
    for light in spec.lights:
        if light.kind == "directional":
            from simfactory.sim.model.camera import look_at

            d = np.asarray(light.direction, float)
            pose = look_at(-d, np.zeros(3)) @ CV_TO_GL
            scene.add(pyrender.DirectionalLight(intensity=light.intensity), pose=pose)
    camera = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], cam.near, cam.far)
    cam_node = scene.add(camera, pose=T_wc[0] @ CV_TO_GL)
    renderer = pyrender.OffscreenRenderer(cam.width, cam.height)
    flags = pyrender.RenderFlags.SHADOWS_DIRECTIONAL
    renderer.render(scene, flags=flags)  # warm-up
    start = time.perf_counter()
    rgb = []
    for f in range(traj.num_frames):
        for node, p in nodes:
            scene.set_pose(node, traj.poses[f, p])
        scene.set_pose(cam_node, T_wc[f] @ CV_TO_GL)
        color, _ = renderer.render(scene, flags=flags)
        renderer.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg)
        rgb.append(color)
    write_video(out / "pyrender.mp4", np.stack(rgb), cfg["fps"])
    seconds = time.perf_counter() - start
    return {"frames": traj.num_frames, "seconds": {"total": seconds}}


def bench_dataset(cfg: dict, clips: int, workers: int, out: Path) -> dict:
    from simfactory.sim.run.cli import generate_dataset

    cfg = dict(cfg, num_clips=clips)
    cfg["executor"] = dict(cfg["executor"], workers=workers)
    start = time.perf_counter()
    failed = generate_dataset(cfg, out, "benchmark")
    seconds = time.perf_counter() - start
    return {"clips": clips, "workers": workers, "failed": failed, "seconds": seconds,
            "frames_per_second": clips * cfg["frames"] / seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", choices=sorted(STANDARD_SCENES), default="furniture")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--clips", type=int, default=0, help="also time a dataset of N clips")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    cfg = standard_config(args.width, args.height, args.frames, args.scene)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["simfactory"] = bench_simfactory(cfg, tmp / "sf")
        results["tinyrenderer"] = bench_tinyrenderer(cfg, tmp)
        results["pyrender"] = bench_pyrender(cfg, tmp)
        if args.clips:
            results["dataset"] = bench_dataset(cfg, args.clips, args.workers, tmp / "ds")

    frames = results["simfactory"]["frames"]
    print(f"standard {args.scene} clip: {args.width}x{args.height}, {frames} frames, "
          f"{results['simfactory']['objects']} parts")  # fmt: skip
    print("\nsimfactory per stage (one clip, one process):")
    for stage, s in results["simfactory"]["seconds"].items():
        print(f"  {stage:<8} {s:8.3f} s  {1000 * s / frames:8.1f} ms/frame")
    mb = results["simfactory"]["bytes_per_frame"] / 1e6
    print(f"\non disk (preview excluded): {mb:.2f} MB/frame")
    for name, size in results["simfactory"]["bytes"].items():
        print(f"  {name:<24} {size / 1e6:8.2f} MB")
    lidar = cfg["scene"].get("lidar") if args.scene == "driving" else None
    if lidar:
        rays = lidar["channels"] * round(360 / lidar["horizontal_resolution_deg"])
        per_frame = results["simfactory"]["seconds"]["lidar"] / frames
        print(f"\nLiDAR: {lidar['channels']} beams x {rays // lidar['channels']} azimuths = "
              f"{rays} rays/frame, {1000 * per_frame:.1f} ms/frame "
              f"({1e6 * per_frame / rays:.2f} us/ray, ray world build included)")  # fmt: skip
    ours = frames / results["simfactory"]["seconds"]["total"]
    print("\nend-to-end frames/s (higher is better):")
    print(f"  simfactory, every modality      {ours:7.1f}   1.00x")
    for name, label in (("tinyrenderer", "pybullet TinyRenderer, rgb+d+seg"),
                        ("pyrender", "naive pyrender, rgb+d + seg pass")):  # fmt: skip
        fps = results[name]["frames"] / results[name]["seconds"]["total"]
        print(f"  {label:<32}{fps:7.1f}   {fps / ours:.2f}x")
    if "dataset" in results:
        d = results["dataset"]
        print(f"\ndataset of {d['clips']} clips with {d['workers']} workers: "
              f"{d['frames_per_second']:.1f} frames/s ({d['failed']} failed)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
