"""Levels of detail of URDF meshes (the Panda's): the clustered mesh stays on the
surface, the level follows the cameras, and a clip's labels come from the drawn mesh."""

import json

import numpy as np
import pybullet_data
import pytest
import trimesh
from scipy.spatial import cKDTree

from simfactory.sim.actors import urdf
from simfactory.sim.model.camera import intrinsics
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout
from simfactory.sim.write.encodings import load_labels


def _cfg(width: int = 64, height: int = 48):
    return load_config(
        ["scene=hoi", "scene.actor=panda", "scene.task=pick_place", "scene.num_distractors=1",
         "frames=4", "seed=0", f"resolution=[{width},{height}]"]
    )  # fmt: skip


def test_clustered_mesh_stays_within_a_cube_of_the_surface():
    path = f"{pybullet_data.getDataPath()}/franka_panda/meshes/visual/link6.obj"
    mesh = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    merged = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    merged.merge_vertices()
    cell = 0.005
    coarse = urdf.clustered(mesh, cell)
    assert len(coarse.faces) < len(merged.faces) / 2
    # Its corners are vertices of the original, and every original vertex has one of them
    # within the diagonal of its cube.
    assert cKDTree(merged.vertices).query(coarse.vertices)[0].max() == 0.0
    assert cKDTree(coarse.vertices).query(merged.vertices)[0].max() <= cell * np.sqrt(3)
    faces = coarse.faces
    assert np.all((faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]))
    assert len(np.unique(faces, axis=0)) == len(faces)  # (both sides of a thin wall kept)


def _panda_scene():
    cfg = _cfg()
    spec = build_scene(cfg, 0)
    return spec, rollout(spec, cfg["fps"], cfg["frames"], cfg["physics_hz"])


def _nearest_pixel_m(spec, traj) -> float:
    """What a pixel spans (m) where the robot's dense meshes come nearest the camera,
    from every vertex (``choose_detail`` uses their boxes' corners: never coarser)."""
    from simfactory.sim.model.camera import camera_poses

    cam = spec.cameras[0]
    T_cw = np.linalg.inv(camera_poses(cam, traj.times, spec, traj))
    focal = intrinsics(cam.width, cam.height, cam.fov_y_deg)[1, 1]
    robot = [b for b, body in enumerate(spec.bodies) if body.urdf_path][0]
    body = spec.bodies[robot]
    nearest = np.inf
    for part in np.flatnonzero(np.asarray(traj.part_body) == robot):
        for v in urdf.urdf_link_visuals(body.urdf_path, body.urdf_scale)[traj.part_link[part]]:
            if len(v.mesh.faces) > urdf.DETAIL_MIN_FACES:
                T = T_cw @ traj.poses[:, part]
                z = np.einsum("fj,vj->fv", T[:, 2, :3], v.mesh.vertices) + T[:, 2, 3][:, None]
                nearest = min(nearest, float(z[z > cam.near].min()))
    return nearest / focal


@pytest.mark.parametrize("width", [64, 640, 1920, 16000])
def test_level_is_the_coarsest_cube_of_at_most_two_pixels(width):
    spec, traj = _panda_scene()
    for cam in spec.cameras:
        cam.width, cam.height = width, width * 3 // 4
    urdf.choose_detail(spec, traj)
    (robot,) = [b for b in spec.bodies if b.urdf_path]
    pixel = _nearest_pixel_m(spec, traj)
    fitting = [c for c in urdf.DETAIL_CELLS if c <= urdf.DETAIL_PIXELS * pixel]
    assert robot.urdf_cell_m <= max(fitting, default=0.0)  # box corners: never coarser
    assert robot.urdf_cell_m in (0.0, *urdf.DETAIL_CELLS)
    if width == 64:
        assert robot.urdf_cell_m == max(urdf.DETAIL_CELLS)
    if width == 16000:
        assert robot.urdf_cell_m == 0.0  # finer than every level: the meshes as they are


def test_a_panda_clip_labels_the_drawn_meshes(tmp_path):
    cfg = _cfg(160, 120)
    generate_clip(cfg, 0, tmp_path)
    clip = tmp_path / "clips" / "clip_000000"
    ann = json.loads((clip / "annotations.json").read_text())
    cell = ann["render"]["urdf_cell_m"]["robot"]
    assert cell in urdf.DETAIL_CELLS
    cam = ann["cameras"]["cam0"]
    K = np.array(cam["K"])
    depth, ids = (load_labels(clip / "cam0" / f"{n}.npz")[n] for n in ("depth", "instance"))
    robot_ids = {o["id"] for o in ann["objects"] if o["name"].startswith("robot")}
    checked = 0
    for t, frame in enumerate(cam["frames"]):
        for obj in frame["objects"]:
            mask = ids[t] == obj["id"]
            if obj["id"] not in robot_ids or not mask.any():
                continue
            v, u = np.nonzero(mask)
            assert obj["bbox_visible"] == [u.min(), v.min(), u.max() + 1, v.max() + 1]
            z = depth[t][mask].astype(float)
            pts = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], 1)
            box = obj["box3d"]
            local = (pts - np.array(box["center_camera"])) @ np.array(box["rotation_camera"])
            # The drawn (clustered) mesh's depth lies in the box of the drawn mesh.
            assert np.all(np.abs(local) <= np.array(box["size"]) / 2 + 2e-3), obj["name"]
            checked += 1
    assert checked >= 4


def test_a_camera_inside_a_meshs_box_keeps_the_full_meshes():
    """A camera inside the box of one of the robot's dense meshes (the box partly behind
    its near plane) gets the meshes as they are at 640 pixels wide; from 40 m away, the
    coarsest cube."""
    from simfactory.sim.model.spec import CameraPath

    spec, traj = _panda_scene()
    (b,) = [b for b, body in enumerate(spec.bodies) if body.urdf_path]
    body = spec.bodies[b]

    def dense(p):
        link = urdf.urdf_link_visuals(body.urdf_path)[traj.part_link[p]]
        return [v for v in link if len(v.mesh.faces) > urdf.DETAIL_MIN_FACES]

    part = [p for p in np.flatnonzero(np.asarray(traj.part_body) == b) if dense(p)][-1]
    (visual,) = dense(part)
    centre = traj.poses[0, part] @ np.r_[visual.mesh.bounds.mean(axis=0), 1.0]
    cam = spec.cameras[0]
    cam.width, cam.height = 640, 480
    cam.path = CameraPath("static", eye=tuple(centre[:3]), target=tuple(centre[:3] + [1, 0, 0]))
    spec.cameras = [cam]
    urdf.choose_detail(spec, traj)
    assert body.urdf_cell_m == 0.0
    cam.path = CameraPath("static", eye=tuple(centre[:3] + [0, 0, 40.0]), target=tuple(centre[:3]))
    urdf.choose_detail(spec, traj)
    assert body.urdf_cell_m == max(urdf.DETAIL_CELLS)  # from 40 m: the coarsest


def test_shadow_maps_draw_coarse_meshes_and_no_label_moves(monkeypatch):
    """The robot's dense meshes carry a mesh clustered at ``SHADOW_CELL`` that the shadow
    maps draw (a fifth of the triangles or fewer): every label the camera renders is the
    same bit for bit as drawing the meshes themselves into the maps, the colour nearly."""
    from simfactory.sim.model.camera import camera_poses
    from simfactory.sim.model.parts import (
        light_parts,
        part_classes,
        part_geometry,
        part_visuals,
        scene_bounds,
    )
    from simfactory.sim.render import raster
    from simfactory.sim.render.shots import render_camera

    spec, traj = _panda_scene()
    (robot,) = [b for b in spec.bodies if b.urdf_path]
    links = urdf.urdf_link_visuals(robot.urdf_path, robot.urdf_scale).values()
    dense = [v for vs in links for v in vs if len(v.mesh.faces) > urdf.DETAIL_MIN_FACES]
    assert dense and all(v.shadow_mesh is not None for v in dense)
    assert sum(len(v.shadow_mesh.faces) for v in dense) * 5 < sum(len(v.mesh.faces) for v in dense)
    cam = spec.cameras[0]
    cam.width, cam.height = 160, 120
    K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
    T_wc = camera_poses(cam, traj.times, spec, traj)
    renderer = raster.process_renderer()
    visuals = part_visuals(spec, traj)
    bounds = scene_bounds(part_geometry(visuals, part_classes(spec, traj)), traj.poses)

    def shot():
        renderer.load_scene(
            visuals, spec.lights, spec.sky, bounds, spec.fog, light_parts(spec, traj)
        )
        return render_camera(renderer, cam, K, T_wc, traj.poses, 1.0, traj.times, traj.present)

    coarse = shot()
    shadows = [m for meshes in renderer._parts for m in meshes if m.shadow is not None]
    assert shadows and all(m.shadow.count < m.count for m in shadows)
    draw_part = raster.Renderer._draw_part
    monkeypatch.setattr(
        raster.Renderer, "_draw_part",
        lambda self, loc, poses, index, shadow=False: draw_part(self, loc, poses, index),
    )  # fmt: skip
    full = shot()
    for name in ("depth", "instance", "normals", "unoccluded", "flow_forward", "flow_backward"):
        a, b = getattr(coarse, name), getattr(full, name)
        assert a.tobytes() == b.tobytes(), name
    difference = np.abs(coarse.rgb.astype(float) - full.rgb.astype(float))
    assert difference.mean() < 0.5 and (difference > 0).any()  # (0-255)
