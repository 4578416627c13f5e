"""One clip end to end: config -> seed tree -> SceneSpec -> rollout -> render ->
labels -> clip folder. ``generate_clip`` is what every executor runs per clip; each
stage is a module of its own (``run.build``, ``simulate.physics``, ``render.shots``,
``annotate``, ``write``) with plain data in and out."""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from simfactory.sim.actors.body import choose_detail, drawn_vertices, skin_people
from simfactory.sim.actors.urdf import choose_detail as choose_urdf_detail
from simfactory.sim.annotate.annotations import (
    camera_entry,
    clip_annotations,
    keypoint_labels,
    lidar_entry,
    people_keypoints,
)
from simfactory.sim.annotate.captions import clip_captions
from simfactory.sim.annotate.labels import camera_labels, deformable_boxes
from simfactory.sim.annotate.lidar import Sheet, scan
from simfactory.sim.model.camera import body_poses, camera_poses, intrinsics
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.parts import (
    light_parts,
    part_classes,
    part_geometry,
    part_visuals,
    scene_bounds,
    shadow_bounds,
)
from simfactory.sim.model.seeds import clip_seed
from simfactory.sim.model.spec import SceneSpec
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.render.raster import process_renderer
from simfactory.sim.render.settings import RenderSettings
from simfactory.sim.render.shots import render_camera
from simfactory.sim.run.build import (
    build_scene,
    clip_name,
    families,
    family_module,
    realize_clip,
    rollout_of,
)
from simfactory.sim.run.guard import dataset_fingerprint, fingerprint
from simfactory.sim.run.lifetime import Orphaned, orphaned
from simfactory.sim.simulate.physics import rollout
from simfactory.sim.simulate.sanity import RolloutError, check_rollout, injected_fault
from simfactory.sim.write.clip_files import (
    geometry_streams,
    id_streams,
    open_video,
    write_label_files,
    write_lidar_files,
    write_preview,
)
from simfactory.sim.write.files import write_json
from simfactory.sim.write.preview import preview_frames

WRITER_THREADS = 2  # numpy and zlib release the GIL: files are encoded in parallel
PATHTRACE_DEFAULTS = {"backend": "raster", "samples": 64, "denoise": True}


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere): what the writer threads freed stays in their arenas otherwise."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def render_settings(cfg: dict) -> dict:
    """The clip's ``render.*`` settings recorded in its annotations: the raster's
    effects and the backend (the EGL device left out: it changes where, not what, is
    rendered)."""
    raster = RenderSettings.from_config(cfg["render"]).record()
    backend = {k: cfg["render"].get(k, v) for k, v in PATHTRACE_DEFAULTS.items()}
    return dict(sorted({**raster, **backend}.items()))


def simulate(
    spec: SceneSpec,
    cfg: dict,
    trajectory: Trajectory | None = None,
    times: dict[str, float] | None = None,
) -> Trajectory:
    """The simulate stage: the pybullet rollout (unless a saved ``trajectory`` is given),
    then every person's surface skinned on its proxy's motion; ``times`` gets the
    seconds of ``physics`` and ``skin``."""
    times = {} if times is None else times
    t = time.perf_counter()
    if trajectory is None:
        trajectory = rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])
    times["physics"] = time.perf_counter() - t
    t = time.perf_counter()
    if spec.people and not trajectory.people_names:
        skin_people(spec, trajectory)
    if spec.people:
        choose_detail(spec, trajectory)
    times["skin"] = time.perf_counter() - t
    choose_urdf_detail(spec, trajectory)
    return trajectory


def raster_renderer(cfg: dict, spec: SceneSpec, traj: Trajectory, visuals, geometry):
    """The process's raster renderer with the clip's scene loaded; its light probe sits
    1.5 m above the floor in the middle of what the cameras see within 40 m (a room's
    middle indoors), and its grid of irradiance probes spans that region, the parts as
    in the clip's middle frame (pieces still falling at the start are in place); the
    sun's shadow map covers the same region."""
    renderer = process_renderer(cfg["render"].get("egl_device"))
    views = [
        (intrinsics(c.width, c.height, c.fov_y_deg), c.width, c.height,
         camera_poses(c, traj.times, spec, traj))
        for c in spec.cameras
    ]  # fmt: skip
    seen = shadow_bounds(scene_bounds(geometry, traj.poses, traj.cloth_vertices), views)
    lo, hi = seen
    centre = (lo + hi) / 2  # the light probe: in the middle of what the cameras see
    centre[2] = lo[2] + min(1.5, 0.5 * (hi[2] - lo[2]))
    middle = traj.num_frames // 2  # the probes see the parts as in the clip's middle frame
    present = None if traj.present is None else traj.present[middle]
    renderer.load_scene(
        visuals, spec.lights, spec.sky, seen,
        spec.fog, light_parts(spec, traj), spec.cloths,
        settings=RenderSettings.from_config(cfg["render"]),
        probe=(centre, traj.poses[middle], present),
    )  # fmt: skip
    return renderer


def path_tracer(cfg: dict, spec: SceneSpec, traj: Trajectory, visuals):
    """The clip's path tracer, its scene loaded, where ``render.backend`` is pathtrace."""
    render = render_settings(cfg)
    if render["backend"] != "pathtrace":
        return None
    from simfactory.sim.render.pathtrace import PathTracer

    tracer = PathTracer(render["samples"], render["denoise"])
    tracer.load_scene(
        visuals, spec.lights, spec.sky, spec.fog, light_parts(spec, traj), spec.cloths,
        cfg["render"],
    )  # fmt: skip
    return tracer


def _video_feed(video, kept_frames, kept: dict):
    """A renderer's ``on_frame``: each frame's colour to ``video``, and a copy of frames
    ``kept_frames`` (counted from 0) into ``kept``."""
    count = itertools.count()

    def on_frame(rgb: np.ndarray) -> None:
        if (i := next(count)) in kept_frames:
            kept[i] = rgb.copy()
        video.send(rgb)

    return on_frame


def _render_and_write(
    cfg, spec, traj, geometry, classes, renderer, out: Path, times, tracer=None
) -> dict:
    """Render every camera, derive its labels, write its files into ``out``, scan and
    write every LiDAR, save the trajectory and preview; returns the clip's annotations.

    Writing overlaps the other stages: each camera's colour frames go to ffmpeg (its
    own process) as they are rendered, and two writer threads encode and deflate the
    label files, a file each at a time (numpy and zlib release the GIL), while this
    thread derives the labels and saves the trajectory, and while the LiDARs' points
    are written. A camera is rendered only once the previous camera's files are
    written, and the LiDARs are scanned once the last camera's files are written, so
    that at most one camera's arrays are held and never during a scan (a worker's two
    largest peaks of memory). The files are the same, byte for byte, as written one
    after the other. Stage times are this thread's; ``write`` counts only the time spent
    waiting for the writers.
    With a path ``tracer``, its frames replace the raster's colour (labels still come
    from the raster passes).
    """
    export = cfg["export"]
    table = class_table()
    cameras, lidars, files = {}, {}, {"clip": ["annotations.json", "trajectory.npz"]}
    times["render"] = times["labels"] = times["write"] = 0.0
    t = time.perf_counter()
    people = people_keypoints(spec, traj)
    drawn = [drawn_vertices(c, v) for c, v in zip(spec.cloths, traj.cloth_vertices, strict=True)]
    cloth_boxes = deformable_boxes(drawn, [bool(c.skin) for c in spec.cloths])
    times["labels"] += time.perf_counter() - t
    with ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="simfactory-writer") as writer:
        pending: list = []

        def finish() -> None:  # wait for the files submitted so far (raising their errors)
            t = time.perf_counter()
            while pending:
                pending.pop(0).result()
            times["write"] += time.perf_counter() - t

        for cam in spec.cameras:
            finish()
            t = time.perf_counter()
            K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
            T_wc = camera_poses(cam, traj.times, spec, traj)
            cam_dir = out / cam.name
            cam_dir.mkdir()
            video = open_video(cam_dir, cam.width, cam.height, cfg["fps"], export)
            previewed = export["preview"] and cam is spec.cameras[0]
            shown = preview_frames(traj.num_frames) if previewed else ()
            kept_rgb: dict[int, np.ndarray] = {}  # the preview's frames of colour only
            on_frame = _video_feed(video, shown, kept_rgb)
            try:
                shot = render_camera(
                    renderer, cam, K, T_wc, traj.poses, cfg["render"]["exposure"], traj.times,
                    traj.present, traj.cloth_vertices,
                    on_frame=on_frame if tracer is None else None,
                    encoding=export["label_encoding"], keep_flow=shown, keep_rgb=False,
                )  # fmt: skip
                if tracer is not None:
                    t_trace = time.perf_counter()
                    render = render_settings(cfg)
                    shot.rgb = tracer.render_camera(
                        cam, K, T_wc, traj.poses, render["exposure"], render["auto_exposure"],
                        traj.times, traj.present, traj.cloth_vertices,
                        auto_exposure_max=render["auto_exposure_max"],
                    )  # fmt: skip
                    elapsed = time.perf_counter() - t_trace
                    times["pathtrace"] = times.get("pathtrace", 0.0) + elapsed
                    t += elapsed  # the path tracer's time is not the raster's
                    for frame in shot.rgb:
                        video.send(frame)
            except BaseException:
                video.close()
                raise
            streams = geometry_streams(shot)
            flow = {"flow": streams.pop("flow")}  # the largest: a thread of its own
            pending.append(writer.submit(write_label_files, cam_dir, flow, export))
            pending.append(writer.submit(video.close))
            pending.append(writer.submit(write_label_files, cam_dir, streams, export))
            times["render"] += time.perf_counter() - t

            t = time.perf_counter()
            semantic, objects = camera_labels(
                shot.instance, shot.unoccluded, K, T_wc, traj.poses, geometry, traj.present,
                drawn, [table.id_of(c.semantic_class) for c in spec.cloths],
                [bool(c.skin) for c in spec.cloths], cloth_boxes,
            )  # fmt: skip
            keypoints = keypoint_labels(people, K, T_wc, shot.depth, shot.instance, cam)
            times["labels"] += time.perf_counter() - t

            pending.append(
                writer.submit(write_label_files, cam_dir, id_streams(shot, semantic), export)
            )
            if previewed:
                rgb = kept_rgb if tracer is None else None
                pending.append(
                    writer.submit(write_preview, out / "preview.png", shot, semantic, rgb)
                )
            cameras[cam.name] = camera_entry(cam, K, T_wc, objects, keypoints)
            # Only the writers' queue holds the arrays now: each is freed once written.
            del shot, semantic, streams, flow

        if spec.lidars:  # the camera's arrays freed before the scan: their peaks apart
            finish()
            release_free_memory()
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
            (out / lidar.name).mkdir()
            pending.append(
                writer.submit(
                    write_lidar_files,
                    out / lidar.name,
                    points,
                    int(export["compress_level"]),
                    export["label_encoding"],
                )  # fmt: skip
            )
            files[lidar.name] = ["points.npz"]
            lidars[lidar.name] = lidar_entry(lidar, T_wl, points.offsets)
            del points
        times["lidar"] = time.perf_counter() - t

        t = time.perf_counter()
        traj.save(out / "trajectory.npz")
        if export["preview"]:
            files["clip"].append("preview.png")
        times["write"] += time.perf_counter() - t
        finish()
    for cam in spec.cameras:
        files[cam.name] = sorted(p.name for p in (out / cam.name).iterdir())
    return clip_annotations(
        cfg, spec, traj, classes, geometry, cameras, lidars, people, files, cloth_boxes
    )


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

    config_fingerprint = dataset_fingerprint(dataset_dir) or fingerprint(cfg)
    cfg, sampled = realize_clip(cfg, index, attempt)
    if spec is None:
        spec = build_scene(cfg, index, attempt)
    times["build"] = time.perf_counter() - t0

    traj = simulate(spec, cfg, trajectory, times)
    t = time.perf_counter()
    if injected_fault(index, attempt) == "blowup":
        _blow_up(spec, traj)
    check_rollout(spec, traj)
    times["physics"] += time.perf_counter() - t

    visuals = part_visuals(spec, traj)
    classes = part_classes(spec, traj)
    geometry = part_geometry(visuals, classes)
    renderer = raster_renderer(cfg, spec, traj, visuals, geometry)
    tracer = path_tracer(cfg, spec, traj, visuals)

    clips_dir = dataset_dir / "clips"
    for stale in clips_dir.glob(f".tmp-{name}-*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = clips_dir / f".tmp-{name}-{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        annotations = _render_and_write(
            cfg, spec, traj, geometry, classes, renderer, tmp, times, tracer
        )
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
            config_fingerprint=config_fingerprint,
        )
        annotations["sampled"] = sampled
        annotations["captions"] = clip_captions(annotations)
        annotations["render"] = {**render_settings(cfg), **annotations.get("render", {})}
        detail = {b.name: b.urdf_cell_m for b in spec.bodies if b.urdf_cell_m}
        if detail:  # the bodies whose dense meshes were drawn coarser (``urdf.choose_detail``)
            annotations["render"]["urdf_cell_m"] = detail
        t = time.perf_counter()
        write_json(tmp / "annotations.json", annotations)
        times["write"] += time.perf_counter() - t
        if orphaned():  # the run this clip was for is gone: write nothing
            raise Orphaned(f"clip {index}: the run that asked for it has ended")
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
        "objects": len(traj.part_names) + len(traj.cloth_names),  # annotations' objects
        "status": "ok",
        "attempt": attempt,
        "rollout": rollout_of(cfg, index)[0],
        "variant": rollout_of(cfg, index)[1],
        "path": f"clips/{name}",
        "renderer": renderer.device_name + (f"; {tracer.device_name}" if tracer else ""),
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
