"""The label stage's clip-level records: the conventions header, objects with their
poses and boxes, contacts, people's keypoints, each camera's entry, each LiDAR's entry
and the annotations document that ties them together (``annotations.json``)."""

from __future__ import annotations

import numpy as np

from simfactory.sim import __version__
from simfactory.sim.actors.body import drawn_vertices
from simfactory.sim.actors.humanoid import HUMANOID_URDF
from simfactory.sim.annotate.boxes import upright_box
from simfactory.sim.annotate.keypoints import (
    COCO_KEYPOINTS,
    COCO_SKELETON,
    WHOLEBODY_KEYPOINTS,
    WHOLEBODY_SKELETON,
    WHOLEBODY_SLICES,
    keypoints_2d,
    keypoints_3d,
)
from simfactory.sim.model.classes import class_table
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.simulate.cloth import cloth_box

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
    "normals": "unit vectors in the camera frame (OpenCV axes); 0 = no surface",
    "label_encoding": "depth, flow and normals .npz arrays hold stored * <key>_scale "
    "where a scale key is present (depth_scale, flow_scale, normals_scale: compact "
    "fixed-point, flow 0 where not valid), else float32 metres/pixels and float16 normals",
    "flow": "pixels (du, dv); forward t -> t+1, backward t -> t-1; *_valid marks pixels "
    "whose surface point is visible in the other frame",
    "visibility": "visible pixels / pixels the object would cover with nothing in front "
    "(inside the image); truncation: fraction of the amodal box outside the image",
    "time": "frame i is at i / fps seconds",
    "presence": "objects[].present (F,): false where the part's body is outside its "
    "lifetime (e.g. a cut fruit's halves before the cut): then it is not drawn and has no "
    "masks, boxes, keypoints, LiDAR points or contacts, and its pose is where it waits",
    "lidar": "<lidar>/points.npz: xyz (N, 3) metres in the lidar frame (x forward, "
    "y left, z up) at the frame's instant (int16 x xyz_scale when that key is present, "
    "else float32); intensity in [0, 1] (uint8 x intensity_scale, or float32) = albedo of the "
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
# In the conventions of clips with skinned people only.
PEOPLE_CONVENTION = (
    "people drawn with the anny body model have COCO-WholeBody keypoints ('layout' "
    "coco_wholebody: 133 names; body 17, feet 6, face 68, left hand 21, right hand 21; "
    "the first 17 are COCO-17): body and feet regressed on the mesh by anny's COCO "
    "regressor, hand joints at the finger bones' heads, fingertips on the mesh; points "
    "not 'placed' (the face) are 0 with visibility 0. Each such person is drawn as cloths "
    "named <person>/<region> (skin, hair, eyes, top, bottom, shoes; class person) and its "
    "'body' entry gives anny's phenotype and the per-frame bone parameters "
    "(trajectory.npz people_bones_<k>, world-orient, world frame) that rebuild the mesh; "
    "the humanoid it dresses (its proxy) moves and collides but is not drawn; a region "
    "object has 'person': <name> and an upright 3D box (vertical z axis) per frame"
)


# In the conventions of clips with cloths only.
CLOTH_CONVENTION = (
    "objects with 'deformable': true are cloths, after the rigid parts: their shape is "
    "their vertices per frame (trajectory.npz: cloth_vertices_<c> (F, V, 3) world, in the "
    "order of cloth_names); T_world_part is the pose of the frame's box of the vertices "
    "(grown 1 mm up and down), T_part_box the identity, box_size per frame (F, 3)"
)


def objects_entry(spec, traj, classes, geometry, cloth_boxes=None) -> list[dict]:
    """The objects' records: each part's and each cloth's; ``cloth_boxes`` are the
    cloths' per-frame 3D boxes when already found (``labels.deformable_boxes``)."""
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
        if cloth_boxes is not None:
            boxes = list(zip(*cloth_boxes[c], strict=True))
        else:
            box = upright_box if cloth.skin else cloth_box
            boxes = [box(v) for v in drawn_vertices(cloth, traj.cloth_vertices[c])]
        objects.append(
            {
                "id": len(traj.part_names) + c + 1,
                "name": cloth.name,
                "body": cloth.skin or cloth.name,  # a person's region: the person's
                "link": cloth.name.split("/", 1)[1] if cloth.skin else None,
                "class": cloth.semantic_class,
                "class_id": table.id_of(cloth.semantic_class),
                "dynamic": True,
                "deformable": True,
                **({"person": cloth.skin} if cloth.skin else {}),
                "box_size": np.round([size for _, size in boxes], 6).tolist(),
                "T_part_box": np.eye(4).tolist(),
                "T_world_part": np.round([T for T, _ in boxes], 6).tolist(),
            }
        )
    return objects


def contacts_entry(traj: Trajectory) -> list[dict]:
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


def people_keypoints(spec, traj) -> dict[str, tuple[np.ndarray, set[int], np.ndarray, np.ndarray]]:
    """World keypoints (F, N, 3), instance ids, presence (F,) and which points are placed
    (N,) of every person, by name: with skinned people (``spec.people``) every person has
    COCO-WholeBody's 133 points (from its mesh and bones; a bare humanoid its COCO-17
    ones, the rest unplaced), else COCO-17 from the humanoids' joints."""
    people = {}
    whole = bool(spec.people)
    P = len(traj.part_names)
    proxies = {p.proxy: p for p in spec.people}
    for b, body in enumerate(spec.bodies):
        if body.urdf_path != HUMANOID_URDF:
            continue
        parts = np.flatnonzero(traj.part_body == b)
        present = traj.present[:, parts[0]]
        if body.name in proxies:
            person = proxies[body.name]
            k = traj.people_names.index(person.name)
            world = np.asarray(traj.people_keypoints[k], dtype=float)
            ids = {P + c + 1 for c, cloth in enumerate(spec.cloths) if cloth.skin == person.name}
            placed = np.ones(len(WHOLEBODY_KEYPOINTS), dtype=bool)
            placed[slice(*WHOLEBODY_SLICES["face"])] = False
            people[person.name] = (world, ids, present, placed)
            continue
        world = keypoints_3d(body.name, traj.part_names, traj.poses, body.urdf_scale)
        placed = np.ones(len(COCO_KEYPOINTS), dtype=bool)
        if whole:
            padded = np.zeros((len(world), len(WHOLEBODY_KEYPOINTS), 3))
            padded[:, : len(COCO_KEYPOINTS)] = world
            world = padded
            placed = np.arange(len(WHOLEBODY_KEYPOINTS)) < len(COCO_KEYPOINTS)
        people[body.name] = (world, {int(p) + 1 for p in parts}, present, placed)
    return people


def keypoints_entry(people: dict, spec=None, traj=None) -> dict:
    """The clip's ``keypoints`` annotation: names, skeleton, and per person the world
    keypoints (unplaced points 0), which are placed and the frames it is present in; a
    skinned person also its body model's parameters (``body``)."""
    whole = spec is not None and bool(spec.people)
    bodies = {p.name: p for p in spec.people} if spec is not None else {}
    entry = {
        "layout": "coco_wholebody" if whole else "coco17",
        "names": list(WHOLEBODY_KEYPOINTS if whole else COCO_KEYPOINTS),
        "skeleton": WHOLEBODY_SKELETON if whole else COCO_SKELETON,
        "people": {},
    }
    if whole:
        entry["parts"] = {k: list(v) for k, v in WHOLEBODY_SLICES.items()}
    for name, (w, _, present, placed) in people.items():
        record = {
            "world": np.round(np.where(placed[:, None], w, 0.0), 6).tolist(),
            "placed": placed.tolist(),
            "present": present.tolist(),
        }
        if name in bodies:
            record["body"] = body_entry(bodies[name], traj)
        entry["people"][name] = record
    return entry


def body_entry(person, traj) -> dict:
    """How to rebuild a skinned person's mesh: the body model, its phenotype and look, and
    where its per-frame bone parameters are."""
    from simfactory.sim.actors.body import anny_version, bone_labels

    k = traj.people_names.index(person.name) if traj is not None else 0
    return {
        "model": "anny",
        "anny_version": anny_version(),
        "phenotype": person.phenotype,
        "look": person.look,
        "height_m": person.height,
        "proxy": person.proxy,
        "bones": f"trajectory.npz: people_bones_{k} (F, {len(bone_labels())}, 4, 4)",
        "bone_labels": list(bone_labels()),
        "pose_parameterization": "world-orient",
        "regions": [
            n
            for n in (traj.cloth_names if traj is not None else [])
            if n.startswith(f"{person.name}/")
        ],
    }


def keypoint_labels(people: dict, K, T_wc, depth, instance, cam) -> dict:
    """Per person, the keypoints' image positions and COCO visibility in one camera
    (0 and not labelled in frames where the person is absent and for unplaced points)."""
    labels = {}
    for name, (world, ids, present, placed) in people.items():
        xy, visibility = keypoints_2d(world, K, T_wc, depth, instance, ids, cam.width, cam.height)
        xy[~present], visibility[~present] = 0.0, 0
        xy[:, ~placed], visibility[:, ~placed] = 0.0, 0
        labels[name] = {"xy": np.round(xy, 3).tolist(), "visibility": visibility.tolist()}
    return labels


def camera_entry(cam, K, T_wc, objects: list[list[dict]], keypoints: dict | None) -> dict:
    """One camera's entry in ``annotations.json``: intrinsics, pose per frame, the
    objects it sees per frame and, where people appear, their keypoints."""
    return {
        "width": cam.width,
        "height": cam.height,
        "fov_y_deg": cam.fov_y_deg,
        "near": cam.near,
        "far": cam.far,
        "K": np.round(K, 6).tolist(),
        "T_world_camera": np.round(T_wc, 6).tolist(),
        "frames": [{"frame": i, "objects": objs} for i, objs in enumerate(objects)],
        **({"keypoints": keypoints} if keypoints else {}),
    }


def lidar_entry(lidar, T_wl: np.ndarray, offsets: np.ndarray) -> dict:
    """One LiDAR's entry in ``annotations.json``: its sensor model, mount and poses."""
    return {
        "body": lidar.body,
        "channels": lidar.channels,
        "vertical_fov_deg": list(lidar.vertical_fov_deg),
        "horizontal_resolution_deg": lidar.horizontal_resolution_deg,
        "range_m": lidar.range_m,
        "rotation_hz": lidar.rotation_hz,
        "T_body_lidar": np.round(np.asarray(lidar.T_body_lidar, dtype=float), 6).tolist(),
        "T_world_lidar": np.round(T_wl, 6).tolist(),
        "points_per_frame": np.diff(offsets).tolist(),
    }


def clip_annotations(
    cfg: dict, spec, traj: Trajectory, classes, geometry, cameras, lidars, people, files,
    cloth_boxes=None,
) -> dict:  # fmt: skip
    """The clip's annotations document (before the executor adds the clip's identity);
    ``cloth_boxes`` as in ``objects_entry``."""
    table = class_table()
    return {
        "format": "simfactory-clip/1",
        "conventions": {
            **CONVENTIONS,
            **({"cloths": CLOTH_CONVENTION} if spec.cloths else {}),
            **({"people": PEOPLE_CONVENTION} if spec.people else {}),
        },
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
        "objects": objects_entry(spec, traj, classes, geometry, cloth_boxes),
        "cameras": cameras,
        "lidars": lidars,
        **({"keypoints": keypoints_entry(people, spec, traj)} if people else {}),
        "contacts": contacts_entry(traj),
        "joints": {
            "names": traj.joint_names,
            "positions": np.round(traj.joint_positions, 6).tolist(),
        },
        "files": files,
    }
