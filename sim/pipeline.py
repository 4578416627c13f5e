"""One clip end to end: config -> seed tree -> SceneSpec -> rollout -> render ->
labels -> clip folder. ``generate_clip`` is what every executor runs per clip."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from . import __version__
from .boxes import box_corners, oriented_box
from .camera import body_poses, camera_poses, intrinsics
from .classes import class_table
from .cloth import cloth_box
from .flow import flow_from_projections
from .humanoid import HUMANOID_URDF
from .keypoints import COCO_KEYPOINTS, COCO_SKELETON, keypoints_2d, keypoints_3d
from .labels import PartGeometry, camera_labels
from .lidar import scan
from .physics import rollout
from .preview import clip_preview
from .randomize import find as find_distributions
from .randomize import sample, substitute
from .render import process_renderer
from .sanity import RolloutError, check_rollout, injected_fault
from .seeds import clip_rng, clip_seed, clip_streams
from .spec import SceneSpec, Visual
from .trajectory import Trajectory
from .urdf import urdf_link_visuals
from .writer import write_json, write_npz, write_video


def families() -> list[str]:
    """Scene families: the sub-packages of ``simfactory.scenes``, each with a
    ``build(cfg, streams, width, height, duration) -> SceneSpec``."""
    from .. import scenes

    return sorted(m.name for m in pkgutil.iter_modules(scenes.__path__) if m.ispkg)


CONVENTIONS = {
    "world_frame": "right-handed, Z up; metres, seconds, kilograms",
    "poses": "4x4 row-major matrices T_world_<thing>; quaternions are named quat_wxyz",
    "camera": "K (3x3, pixels); T_world_camera per frame, OpenCV axes (x right, y down, "
    "z forward); pixel (row i, col j) is centred at image point (u, v) = (j, i)",
    "boxes_2d": "[x_min, y_min, x_max, y_max] in pixel-edge coordinates: pixel column j "
    "spans [j, j+1]; bbox_visible from the instance mask, bbox_amodal from projected "
    "geometry (not clipped to the image)",
    "boxes_3d": "oriented box: centre, rotation (rows), quat_wxyz, size (full extents)",
    "depth": "planar z-depth in metres along the camera z axis; 0 = no surface",
    "instance": "uint16; 0 = background; id k is object k of 'objects'",
    "semantic": "uint8 class id from the 'classes' table; 0 = background",
    "normals": "float16 unit vectors in the camera frame (OpenCV axes); 0 = no surface",
    "flow": "pixels (du, dv); forward t -> t+1, backward t -> t-1; *_valid marks pixels "
    "whose surface point is visible in the other frame",
    "visibility": "visible pixels / pixels the object would cover with nothing in front "
    "(inside the image); truncation: fraction of the amodal box outside the image",
    "time": "frame i is at i / fps seconds",
    "presence": "objects[].present (F,): false where the part's body is outside its "
    "lifetime (e.g. a cut fruit's halves before the cut): then it is not drawn and has no "
    "masks, boxes, keypoints, LiDAR points or contacts, and its pose is where it waits",
    "lidar": "<lidar>/points.npz: xyz (N, 3) float32 metres in the lidar frame (x forward, "
    "y left, z up) at the frame's instant; intensity float32 in [0, 1] = albedo of the "
    "surface hit x |cos(incidence)|; instance uint16 and semantic uint8 as in the camera "
    "masks; ring uint8 beam index (0 = lowest); ragged frames: frame f is rows "
    "offsets[f]:offsets[f+1]; T_world_lidar per frame in annotations 'lidars'",
    "keypoints": "COCO-17 person keypoints of every humanoid (present when the clip has "
    "one): 'keypoints' holds names, skeleton (1-based index pairs) and per person 'world' "
    "(F, 17, 3) metres and 'present' (F,); cameras.<cam>.keypoints per person 'xy' "
    "(F, 17, 2) image coordinates, pixel centres at integers as K (add 0.5 for COCO's "
    "pixel-edge coordinates), and 'visibility' (F, 17) COCO flags: 0 = not labelled "
    "(behind the camera, outside the image or absent; xy 0), 1 = occluded (another "
    "object's surface at least 5 cm nearer at that pixel), 2 = visible (the person's own "
    "body never occludes); joints at the URDF joint centres, face points on the head sphere",
}


# In the conventions of clips with cloths only.
CLOTH_CONVENTION = (
    "objects with 'deformable': true are cloths, after the rigid parts: their shape is "
    "their vertices per frame (trajectory.npz: cloth_vertices_<c> (F, V, 3) world, in the "
    "order of cloth_names); T_world_part is the pose of the frame's box of the vertices "
    "(grown 1 mm up and down), T_part_box the identity, box_size per frame (F, 3)"
)


def family_module(name: str):
    """The scene family package for a family name."""
    if name not in families():
        raise KeyError(f"unknown scene family {name!r}; known: {', '.join(families())}")
    return importlib.import_module(f"simfactory.scenes.{name}")


def clip_name(index: int) -> str:
    return f"clip_{index:06d}"


def family_config(cfg: dict) -> dict:
    """The scene config a family sees: the ``scene`` group plus the camera path
    (``camera``), its field of view (``fov_deg``), the rest of the camera group
    (``camera_options``) and the clip's ``fps`` and ``frames``."""
    scene_cfg = dict(cfg["scene"])
    scene_cfg["camera"] = cfg["camera"]["path"]
    scene_cfg["fov_deg"] = cfg["camera"]["fov_deg"]
    scene_cfg["camera_options"] = dict(cfg["camera"])
    scene_cfg["fps"] = cfg["fps"]
    scene_cfg["frames"] = cfg["frames"]
    return scene_cfg


def rollout_of(cfg: dict, index: int) -> tuple[int, int]:
    """(rollout, variant) of clip ``index``: with ``variants_per_rollout`` = K, clips
    K r .. K r + K - 1 are variants 0 .. K - 1 of rollout r."""
    return divmod(index, int(cfg.get("variants_per_rollout", 1)))


def realize_clip(cfg: dict, index: int, attempt: int = 0) -> tuple[dict, dict]:
    """The clip's config with its distributions sampled (as ``randomize.realize``):
    drawn per rollout, so the variants of a rollout share them, except keys under
    ``render`` (exposure), which each clip draws for itself."""
    rollout_index, _ = rollout_of(cfg, index)
    sampled = {}
    for key, dist in sorted(find_distributions(cfg).items()):
        which = index if key.startswith("render.") else rollout_index
        sampled[key] = sample(dist, clip_rng(cfg["seed"], which, f"param:{key}", attempt))
    return (substitute(cfg, sampled) if sampled else cfg), sampled


def build_scene(cfg: dict, index: int, attempt: int = 0, look: int | None = None) -> SceneSpec:
    """The SceneSpec of clip ``index``: the family's build() on the clip's seed tree
    (the ``attempt``-th sub-seed of it when a clip is retried). A variant (see
    ``rollout_of``) has its rollout's geometry and physics, and the look (materials,
    lights, sky; the camera too if ``camera`` is in ``variant_streams``) of a build
    whose ``variant_streams`` are drawn anew; ``look`` replaces the variant number
    (a re-render's new look)."""
    cfg, _ = realize_clip(cfg, index, attempt)
    rollout_index, variant = rollout_of(cfg, index)
    variant = variant if look is None else look
    width, height = cfg["resolution"]
    scene_cfg = family_config(cfg)
    duration = (cfg["frames"] - 1) / cfg["fps"]
    family = family_module(cfg["scene"]["name"])
    streams = clip_streams(cfg["seed"], rollout_index, attempt)
    spec = family.build(scene_cfg, streams, width, height, duration)
    if variant:
        names = list(cfg.get("variant_streams", ["appearance", "lighting"]))
        streams = clip_streams(cfg["seed"], rollout_index, attempt)
        fresh = clip_streams(cfg["seed"], rollout_index, attempt, variant=variant)
        streams.update({n: fresh[n] for n in names})
        look = family.build(scene_cfg, streams, width, height, duration)
        spec = restyle(spec, look, camera="camera" in names)
    for cam in spec.cameras:
        cam.near, cam.far = cfg["camera"]["near"], cfg["camera"]["far"]
    return spec


def restyle(spec: SceneSpec, look: SceneSpec, camera: bool = False) -> SceneSpec:
    """``spec`` (geometry, physics, motions) dressed in ``look``'s materials, lights,
    sky and fog (and cameras if ``camera``): a visual takes the material of the visual
    at the same place in the body of the same name in ``look``, where there is one."""
    looks = {b.name: b for b in look.bodies}
    bodies = []
    for body in spec.bodies:
        other = looks.get(body.name)
        visuals = list(body.visuals)
        if other is not None:
            for k, (mine, theirs) in enumerate(zip(body.visuals, other.visuals, strict=False)):
                visuals[k] = dataclasses.replace(mine, material=theirs.material)
        urdf_materials = other.urdf_materials if other is not None else body.urdf_materials
        links = body.links
        if other is not None and len(other.links) == len(links):
            links = [
                dataclasses.replace(
                    ln,
                    visuals=[
                        dataclasses.replace(v, material=w.material)
                        for v, w in zip(ln.visuals, lo.visuals, strict=False)
                    ]
                    + ln.visuals[len(lo.visuals) :],
                )
                for ln, lo in zip(links, other.links, strict=True)
            ]
        bodies.append(
            dataclasses.replace(body, visuals=visuals, urdf_materials=urdf_materials, links=links)
        )
    return dataclasses.replace(
        spec,
        bodies=bodies,
        lights=look.lights,
        sky=look.sky,
        fog=look.fog,
        cameras=look.cameras if camera else spec.cameras,
        params={**spec.params, "look": look.params},
    )


def part_visuals(spec: SceneSpec, trajectory: Trajectory) -> list[list[Visual]]:
    """The visuals of every part of the trajectory, in the part's frame."""
    out = []
    for b, link in zip(trajectory.part_body, trajectory.part_link, strict=True):
        body = spec.bodies[b]
        if body.urdf_path:
            visuals = urdf_link_visuals(body.urdf_path, body.urdf_scale)[int(link)]
            name = "base" if link < 0 else trajectory.part_names[len(out)].split("/", 1)[1]
            material = body.urdf_materials.get(name)
            if material is not None:
                visuals = [Visual(v.mesh, material) for v in visuals]
            out.append(visuals)
        else:
            out.append(list(body.visuals if link < 0 else body.links[link].visuals))
    return out


def part_classes(spec: SceneSpec, trajectory: Trajectory) -> list[str]:
    classes = []
    for b, link in zip(trajectory.part_body, trajectory.part_link, strict=True):
        body = spec.bodies[b]
        classes.append(
            body.links[link].semantic_class if link >= 0 and body.links else body.semantic_class
        )
    return classes


def part_geometry(visuals: list[list[Visual]], classes: list[str]) -> PartGeometry:
    table = class_table()
    hulls, boxes, sizes = [], [], []
    for vis in visuals:
        if not vis:
            hulls.append(np.zeros((0, 3)))
            boxes.append(np.eye(4))
            sizes.append(np.zeros(3))
            continue
        mesh = trimesh.util.concatenate([v.mesh for v in vis])
        hull = mesh.convex_hull
        T, size = oriented_box(hull.vertices)
        hulls.append(np.asarray(hull.vertices))
        boxes.append(T)
        sizes.append(size)
    return PartGeometry(
        hull_points=hulls,
        T_part_box=np.array(boxes),
        box_size=np.array(sizes),
        class_ids=np.array([table.id_of(c) for c in classes], dtype=np.int64),
    )


def scene_bounds(
    geometry: PartGeometry, poses: np.ndarray, cloth_vertices: list[np.ndarray] = ()
) -> np.ndarray:
    """Bounds (2, 3) of every part's 3D box and every cloth vertex over every frame (for
    the sun's shadow map)."""
    parts = [p for p, hull in enumerate(geometry.hull_points) if len(hull)]
    corners = np.stack([box_corners(geometry.T_part_box[p], geometry.box_size[p]) for p in parts])
    T = poses[:, parts]  # (F, P', 4, 4)
    world = np.einsum("fpij,pnj->fpni", T[..., :3, :3], corners) + T[:, :, None, :3, 3]
    flat = np.concatenate([world.reshape(-1, 3)] + [v.reshape(-1, 3) for v in cloth_vertices])
    return np.array([flat.min(0), flat.max(0)])


def light_parts(spec: SceneSpec, trajectory: Trajectory) -> list[int]:
    """Per light, the part index of the body that carries it (-1 for fixed lights)."""
    out = []
    for light in spec.lights:
        if light.body and light.body not in trajectory.part_names:
            raise ValueError(f"light carried by unknown body {light.body!r}")
        out.append(trajectory.part_names.index(light.body) if light.body else -1)
    return out


@dataclass
class CameraShot:
    """Everything rendered for one camera, stacked over frames."""

    rgb: np.ndarray  # (F, H, W, 3) uint8
    depth: np.ndarray  # (F, H, W) float32
    instance: np.ndarray  # (F, H, W) uint16
    normals: np.ndarray  # (F, H, W, 3) float16
    unoccluded: np.ndarray  # (F, P + 1) int64
    flow_forward: np.ndarray  # (F, H, W, 2) float32; the last frame is all invalid
    flow_forward_valid: np.ndarray  # (F, H, W) bool
    flow_backward: np.ndarray  # (F, H, W, 2) float32; the first frame is all invalid
    flow_backward_valid: np.ndarray  # (F, H, W) bool


def render_camera(
    renderer, cam, K, T_wc, poses, exposure: float, times=None, present=None, cloth_vertices=()
) -> CameraShot:
    """Render every frame of one camera, with forward and backward flow computed as
    frames come out (each frame's projections into its neighbours are kept only until
    the neighbour has been rendered); ``present`` (F, P) leaves absent parts out;
    ``cloth_vertices``: each cloth's (F, V, 3)."""
    F = len(poses)
    shot, prev = None, None
    for i in range(F):
        nxt, prv = min(i + 1, F - 1), max(i - 1, 0)
        cloths = tuple([v[k] for v in cloth_vertices] for k in (i, nxt, prv))
        frame = renderer.render(
            poses[i], K, T_wc[i], cam.width, cam.height, cam.near, cam.far, exposure,
            neighbours=(poses[nxt], T_wc[nxt], poses[prv], T_wc[prv]),
            time=0.0 if times is None else float(times[i]),
            present=None if present is None else present[i],
            cloths=cloths,
        )  # fmt: skip
        if shot is None:
            shot = _empty_shot(F, frame)
        shot.rgb[i], shot.depth[i], shot.instance[i] = frame.rgb, frame.depth, frame.instance
        shot.normals[i], shot.unoccluded[i] = frame.normals, frame.unoccluded_pixels
        if prev is not None:
            shot.flow_forward[i - 1], shot.flow_forward_valid[i - 1] = flow_from_projections(
                prev.instance, prev.depth, prev.uv_next_prev[..., 0:2], prev.z_next_prev[..., 0],
                frame.instance, frame.depth,
            )  # fmt: skip
            shot.flow_backward[i], shot.flow_backward_valid[i] = flow_from_projections(
                frame.instance, frame.depth, frame.uv_next_prev[..., 2:4],
                frame.z_next_prev[..., 1], prev.instance, prev.depth,
            )  # fmt: skip
        prev = frame
    return shot


def _empty_shot(num_frames: int, frame) -> CameraShot:
    """A camera's arrays for ``num_frames`` frames shaped like ``frame``, filled as frames
    are rendered (stacking them at the end would hold every frame twice); flow is zero
    and invalid where a frame has no neighbour."""
    height, width = frame.depth.shape

    def like(a: np.ndarray) -> np.ndarray:
        return np.zeros((num_frames, *a.shape), a.dtype)

    return CameraShot(
        rgb=like(frame.rgb),
        depth=like(frame.depth),
        instance=like(frame.instance),
        normals=like(frame.normals),
        unoccluded=like(np.asarray(frame.unoccluded_pixels)),
        flow_forward=np.zeros((num_frames, height, width, 2), np.float32),
        flow_forward_valid=np.zeros((num_frames, height, width), bool),
        flow_backward=np.zeros((num_frames, height, width, 2), np.float32),
        flow_backward_valid=np.zeros((num_frames, height, width), bool),
    )


def _objects(spec, traj, classes, geometry) -> list[dict]:
    table = class_table()
    objects = []
    for p, name in enumerate(traj.part_names):
        body = spec.bodies[traj.part_body[p]]
        link = int(traj.part_link[p])
        objects.append(
            {
                "id": p + 1,
                "name": name,
                "body": body.name,
                "link": name.split("/", 1)[1] if link >= 0 else None,
                "class": classes[p],
                "class_id": table.id_of(classes[p]),
                "dynamic": bool(body.mass > 0 or link >= 0 or body.motion is not None),
                "box_size": np.round(geometry.box_size[p], 6).tolist(),
                "T_part_box": np.round(geometry.T_part_box[p], 6).tolist(),
                "present": traj.present[:, p].tolist(),
                "T_world_part": np.round(traj.poses[:, p], 6).tolist(),
                "linear_velocity": np.round(traj.linear_velocity[:, p], 6).tolist(),
                "angular_velocity": np.round(traj.angular_velocity[:, p], 6).tolist(),
            }
        )
    for c, cloth in enumerate(spec.cloths):
        boxes = [cloth_box(v) for v in traj.cloth_vertices[c]]
        objects.append(
            {
                "id": len(traj.part_names) + c + 1,
                "name": cloth.name,
                "body": cloth.name,
                "link": None,
                "class": cloth.semantic_class,
                "class_id": table.id_of(cloth.semantic_class),
                "dynamic": True,
                "deformable": True,
                "box_size": np.round([size for _, size in boxes], 6).tolist(),
                "T_part_box": np.eye(4).tolist(),
                "T_world_part": np.round([T for T, _ in boxes], 6).tolist(),
            }
        )
    return objects


def _contacts(traj: Trajectory) -> list[dict]:
    return [
        {
            "frame": int(traj.contact_frame[i]),
            "a": int(traj.contact_parts[i, 0]) + 1,
            "b": int(traj.contact_parts[i, 1]) + 1,
            "position": np.round(traj.contact_position[i], 6).tolist(),
            "normal_b_to_a": np.round(traj.contact_normal[i], 6).tolist(),
            "force": round(float(traj.contact_force[i]), 6),
            "points": int(traj.contact_points[i]),
        }
        for i in range(len(traj.contact_frame))
    ]


def _write_lidars(spec, traj, geometry, out: Path, files: dict, level: int) -> dict:
    """Scan every LiDAR of the spec, write ``<name>/points.npz`` and list it in ``files``;
    returns each LiDAR's annotations by name."""
    lidars = {}
    visuals = part_visuals(spec, traj) if spec.lidars else []
    for lidar in spec.lidars:
        T_wl = body_poses(lidar.body, traj) @ np.asarray(lidar.T_body_lidar, dtype=float)
        points = scan(
            lidar, visuals, traj.poses, T_wl, geometry.class_ids, traj.fps, traj.part_names,
            traj.present,
        )  # fmt: skip
        lidar_dir = out / lidar.name
        lidar_dir.mkdir()
        keys = ("xyz", "intensity", "instance", "semantic", "ring", "offsets")
        arrays = {k: getattr(points, k) for k in keys}
        write_npz(lidar_dir / "points.npz", arrays, level, compress_floats=False)
        files[lidar.name] = ["points.npz"]
        lidars[lidar.name] = {
            "body": lidar.body,
            "channels": lidar.channels,
            "vertical_fov_deg": list(lidar.vertical_fov_deg),
            "horizontal_resolution_deg": lidar.horizontal_resolution_deg,
            "range_m": lidar.range_m,
            "rotation_hz": lidar.rotation_hz,
            "T_body_lidar": np.round(np.asarray(lidar.T_body_lidar, dtype=float), 6).tolist(),
            "T_world_lidar": np.round(T_wl, 6).tolist(),
            "points_per_frame": np.diff(points.offsets).tolist(),
        }
    return lidars


def _people_keypoints(spec, traj) -> dict[str, tuple[np.ndarray, set[int], np.ndarray]]:
    """World keypoints (F, 17, 3), instance ids and presence (F,) of every humanoid
    body, by name."""
    people = {}
    for b, body in enumerate(spec.bodies):
        if body.urdf_path == HUMANOID_URDF:
            world = keypoints_3d(body.name, traj.part_names, traj.poses, body.urdf_scale)
            parts = np.flatnonzero(traj.part_body == b)
            ids = {int(p) + 1 for p in parts}
            people[body.name] = (world, ids, traj.present[:, parts[0]])
    return people


def _keypoints_entry(people: dict) -> dict:
    """The clip's ``keypoints`` annotation: names, skeleton, and per person the world
    keypoints and the frames it is present in."""
    return {
        "names": list(COCO_KEYPOINTS),
        "skeleton": COCO_SKELETON,
        "people": {
            name: {"world": np.round(w, 6).tolist(), "present": present.tolist()}
            for name, (w, _, present) in people.items()
        },
    }


def _keypoint_labels(people: dict, K, T_wc, shot: CameraShot, cam) -> dict:
    """Per person, the keypoints' image positions and COCO visibility in one camera
    (0 and not labelled in frames where the person is absent)."""
    labels = {}
    for name, (world, ids, present) in people.items():
        xy, visibility = keypoints_2d(
            world, K, T_wc, shot.depth, shot.instance, ids, cam.width, cam.height
        )
        xy[~present], visibility[~present] = 0.0, 0
        labels[name] = {"xy": np.round(xy, 3).tolist(), "visibility": visibility.tolist()}
    return labels


def _render_and_write(cfg, spec, traj, geometry, classes, renderer, out: Path, times) -> dict:
    """Render every camera, derive its labels, write its files into ``out``, save the
    trajectory and preview; returns the clip's annotations."""
    export = cfg["export"]
    table = class_table()
    level, floats = int(export["compress_level"]), bool(export["compress_floats"])
    cameras, files = {}, {"clip": ["annotations.json", "trajectory.npz"]}
    times["render"] = times["labels"] = times["write"] = 0.0
    t = time.perf_counter()
    people = _people_keypoints(spec, traj)
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
        )  # fmt: skip
        keypoints = _keypoint_labels(people, K, T_wc, shot, cam)
        times["labels"] += time.perf_counter() - t

        t = time.perf_counter()
        cam_dir = out / cam.name
        cam_dir.mkdir()
        write_video(
            cam_dir / "rgb.mp4", shot.rgb, cfg["fps"], export["video_crf"], export["video_preset"]
        )
        streams = {
            "depth": {"depth": shot.depth},
            "instance": {"instance": shot.instance},
            "semantic": {"semantic": semantic},
            "normals": {"normals": shot.normals},
            "flow": {
                "forward": shot.flow_forward,
                "forward_valid": shot.flow_forward_valid,
                "backward": shot.flow_backward,
                "backward_valid": shot.flow_backward_valid,
            },
        }
        for stream, arrays in streams.items():
            write_npz(cam_dir / f"{stream}.npz", arrays, level, floats)
        if export["preview"] and cam is spec.cameras[0]:
            clip_preview(
                out / "preview.png", shot.rgb, shot.depth, semantic,
                shot.flow_forward, shot.flow_forward_valid,
            )  # fmt: skip
        times["write"] += time.perf_counter() - t
        files[cam.name] = sorted(p.name for p in cam_dir.iterdir())
        cameras[cam.name] = {
            "width": cam.width,
            "height": cam.height,
            "fov_y_deg": cam.fov_y_deg,
            "near": cam.near,
            "far": cam.far,
            "K": np.round(K, 6).tolist(),
            "T_world_camera": np.round(T_wc, 6).tolist(),
            "frames": [{"frame": i, "objects": objs} for i, objs in enumerate(objects)],
            **({"keypoints": keypoints} if people else {}),
        }
        del shot, semantic  # the next camera's arrays take their place

    t = time.perf_counter()
    lidars = _write_lidars(spec, traj, geometry, out, files, level)
    times["lidar"] = time.perf_counter() - t

    t = time.perf_counter()
    traj.save(out / "trajectory.npz")
    if export["preview"]:
        files["clip"].append("preview.png")
    times["write"] += time.perf_counter() - t
    return {
        "format": "simfactory-clip/1",
        "conventions": {**CONVENTIONS, "cloths": CLOTH_CONVENTION} if spec.cloths else CONVENTIONS,
        "clip": {
            "dataset_seed": cfg["seed"],
            "family": spec.family,
            "fps": cfg["fps"],
            "num_frames": traj.num_frames,
            "physics_substeps_per_frame": traj.substeps,
            "code_version": __version__,
            "synthetic": True,
        },
        "params": spec.params,
        **({"family": spec.annotations} if spec.annotations else {}),
        "classes": [
            {"id": i, "name": n, "color": table.colors[i].tolist()}
            for i, n in enumerate(table.names)
        ],
        "objects": _objects(spec, traj, classes, geometry),
        "cameras": cameras,
        "lidars": lidars,
        **({"keypoints": _keypoints_entry(people)} if people else {}),
        "contacts": _contacts(traj),
        "joints": {
            "names": traj.joint_names,
            "positions": np.round(traj.joint_positions, 6).tolist(),
        },
        "files": files,
    }


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
    if injected_fault(index, attempt) == "blowup":
        _blow_up(spec, traj)
    check_rollout(spec, traj)
    times["physics"] = time.perf_counter() - t

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
