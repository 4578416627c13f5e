"""One clip end to end: config -> seed tree -> SceneSpec -> rollout -> render ->
labels -> clip folder. ``generate_clip`` is what every executor runs per clip; each
stage is a module of its own (``run.build``, ``simulate.physics``, ``render.shots``,
``annotate``, ``write``) with plain data in and out."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from simfactory.sim.actors.body import skin_people
from simfactory.sim.annotate.annotations import (
    camera_entry,
    clip_annotations,
    keypoint_labels,
    lidar_entry,
    people_keypoints,
)
from simfactory.sim.annotate.labels import camera_labels
from simfactory.sim.annotate.lidar import Sheet, scan
from simfactory.sim.model.camera import body_poses, camera_poses, intrinsics
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
)
from simfactory.sim.model.seeds import clip_seed
from simfactory.sim.model.spec import SceneSpec
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.render.shots import render_camera
from simfactory.sim.run.build import (
    build_scene,
    clip_name,
    families,
    family_module,
    realize_clip,
    rollout_of,
)
from simfactory.sim.simulate.physics import rollout
from simfactory.sim.simulate.sanity import RolloutError, check_rollout, injected_fault
from simfactory.sim.write.clip_files import write_camera_files, write_lidar_files, write_preview
from simfactory.sim.write.files import write_json


def _render_and_write(cfg, spec, traj, geometry, classes, renderer, out: Path, times) -> dict:
    """Render every camera, derive its labels, write its files into ``out``, scan and
    write every LiDAR, save the trajectory and preview; returns the clip's annotations."""
    export = cfg["export"]
    table = class_table()
    cameras, lidars, files = {}, {}, {"clip": ["annotations.json", "trajectory.npz"]}
    times["render"] = times["labels"] = times["write"] = 0.0
    t = time.perf_counter()
    people = people_keypoints(spec, traj)
    times["labels"] += time.perf_counter() - t
    for cam in spec.cameras:
        t = time.perf_counter()
        K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
        T_wc = camera_poses(cam, traj.times, spec, traj)
        shot = render_camera(
            renderer, cam, K, T_wc, traj.poses, cfg["render"]["exposure"], traj.times,
            traj.present, traj.cloth_vertices,
        )  # fmt: skip
        times["render"] += time.perf_counter() - t

        t = time.perf_counter()
        semantic, objects = camera_labels(
            shot.instance, shot.unoccluded, K, T_wc, traj.poses, geometry, traj.present,
            traj.cloth_vertices, [table.id_of(c.semantic_class) for c in spec.cloths],
            [bool(c.skin) for c in spec.cloths],
        )  # fmt: skip
        keypoints = keypoint_labels(people, K, T_wc, shot.depth, shot.instance, cam)
        times["labels"] += time.perf_counter() - t

        t = time.perf_counter()
        files[cam.name] = write_camera_files(out / cam.name, shot, semantic, cfg["fps"], export)
        if export["preview"] and cam is spec.cameras[0]:
            write_preview(out / "preview.png", shot, semantic)
        times["write"] += time.perf_counter() - t
        cameras[cam.name] = camera_entry(cam, K, T_wc, objects, keypoints)
        del shot, semantic  # the next camera's arrays take their place

    t = time.perf_counter()
    visuals = part_visuals(spec, traj) if spec.lidars else []
    sheets = [
        Sheet(v, np.asarray(c.mesh.faces), table.id_of(c.semantic_class),
              float(np.mean(c.material.base_color[:3])))
        for c, v in zip(spec.cloths, traj.cloth_vertices, strict=True)
    ] if spec.lidars else []  # fmt: skip
    for lidar in spec.lidars:
        T_wl = body_poses(lidar.body, traj) @ np.asarray(lidar.T_body_lidar, dtype=float)
        points = scan(
            lidar, visuals, traj.poses, T_wl, geometry.class_ids, traj.fps, traj.part_names,
            traj.present, sheets,
        )  # fmt: skip
        files[lidar.name] = write_lidar_files(
            out / lidar.name, points, int(export["compress_level"])
        )
        lidars[lidar.name] = lidar_entry(lidar, T_wl, points.offsets)
    times["lidar"] = time.perf_counter() - t

    t = time.perf_counter()
    traj.save(out / "trajectory.npz")
    if export["preview"]:
        files["clip"].append("preview.png")
    times["write"] += time.perf_counter() - t
    return clip_annotations(cfg, spec, traj, classes, geometry, cameras, lidars, people, files)


def generate_clip(
    cfg: dict,
    index: int,
    dataset_dir: str | Path,
    spec: SceneSpec | None = None,
    attempt: int = 0,
    trajectory: Trajectory | None = None,
) -> dict:
    """Generate clip ``index`` of the dataset described by ``cfg`` (a plain dict);
    ``spec`` replaces the family's scene (tests and tools that build one by hand);
    ``attempt`` > 0 draws the clip from a new sub-seed after a failed attempt;
    ``trajectory`` (a saved rollout of the same scene) is rendered without simulating.

    The rollout must pass ``sanity.check_rollout`` (else RolloutError). The clip is
    written to a temporary folder and renamed into place when complete. Returns the
    clip's manifest row.
    """
    dataset_dir = Path(dataset_dir)
    name = clip_name(index)
    final = dataset_dir / "clips" / name
    times: dict[str, float] = {}
    t0 = time.perf_counter()

    cfg, sampled = realize_clip(cfg, index, attempt)
    if spec is None:
        spec = build_scene(cfg, index, attempt)
    times["build"] = time.perf_counter() - t0

    t = time.perf_counter()
    if trajectory is None:
        trajectory = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    traj = trajectory
    times["physics"] = time.perf_counter() - t
    t = time.perf_counter()
    if spec.people and not traj.people_names:
        skin_people(spec, traj)
    times["skin"] = time.perf_counter() - t
    t = time.perf_counter()
    if injected_fault(index, attempt) == "blowup":
        _blow_up(spec, traj)
    check_rollout(spec, traj)
    times["physics"] += time.perf_counter() - t

    visuals = part_visuals(spec, traj)
    classes = part_classes(spec, traj)
    geometry = part_geometry(visuals, classes)
    renderer = process_renderer(cfg["render"].get("egl_device"))
    renderer.load_scene(
        visuals, spec.lights, spec.sky, scene_bounds(geometry, traj.poses, traj.cloth_vertices),
        spec.fog, light_parts(spec, traj), spec.cloths,
    )  # fmt: skip

    clips_dir = dataset_dir / "clips"
    for stale in clips_dir.glob(f".tmp-{name}-*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = clips_dir / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        annotations = _render_and_write(cfg, spec, traj, geometry, classes, renderer, tmp, times)
        outcome = (
            getattr(family_module(spec.family), "label", None)
            if spec.family in families()
            else None
        )
        if outcome is not None:  # labels only the rollout can tell (e.g. a task's success)
            annotations.setdefault("family", {}).update(outcome(spec, traj))
        rollout_index, variant = rollout_of(cfg, index)
        annotations["clip"].update(
            id=name,
            index=index,
            clip_seed=clip_seed(cfg["seed"], index),
            attempt=attempt,
            rollout=rollout_index,
            variant=variant,
        )
        annotations["sampled"] = sampled
        t = time.perf_counter()
        write_json(tmp / "annotations.json", annotations)
        times["write"] += time.perf_counter() - t
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    cam0 = spec.cameras[0]
    return {
        "clip_id": name,
        "index": index,
        "seed": cfg["seed"],
        "clip_seed": clip_seed(cfg["seed"], index),
        "family": spec.family,
        "frames": traj.num_frames,
        "fps": cfg["fps"],
        "width": cam0.width,
        "height": cam0.height,
        "cameras": len(spec.cameras),
        "objects": len(traj.part_names),
        "status": "ok",
        "attempt": attempt,
        "rollout": rollout_of(cfg, index)[0],
        "variant": rollout_of(cfg, index)[1],
        "path": f"clips/{name}",
        "renderer": renderer.device_name,
        **annotations.get("family", {}).get("summary", {}),
        **{key: json.dumps(v) if isinstance(v, list | dict) else v for key, v in sampled.items()},
        **{f"seconds_{k}": round(v, 4) for k, v in times.items()},
        "seconds_total": round(time.perf_counter() - t0, 4),
    }


def _blow_up(spec: SceneSpec, traj: Trajectory) -> None:
    """Make the rollout look as if its first dynamic part blew up in the last frame
    (fault injection for tests of the retry machinery)."""
    for k, b in enumerate(traj.part_body):
        if spec.bodies[b].mass > 0:
            traj.linear_velocity[-1, k] = (500.0, 0.0, 0.0)
            traj.poses[-1, k, 0, 3] += 500.0 / traj.fps
            return
    raise RolloutError("injected blow-up: the scene has no dynamic body")
