"""A generated clip's files, checked against each other and against geometry."""

import json

import imageio_ffmpeg
import numpy as np
import pytest

from simfactory.sim.write.dataset import read_manifest
from simfactory.sim.write.encodings import load_labels


def _clip(tiny_dataset, index=0):
    cfg, out = tiny_dataset
    clip = out / "clips" / f"clip_{index:06d}"
    ann = json.loads((clip / "annotations.json").read_text())
    cam = clip / "cam0"
    arrays = {
        name: load_labels(cam / f"{name}.npz") for name in ("depth", "instance", "semantic", "flow")
    }
    return cfg, clip, ann, arrays


def test_clip_folder_is_complete(tiny_dataset):
    cfg, out = tiny_dataset
    rows = read_manifest(out)
    assert [int(r["index"]) for r in rows] == [0, 1]
    assert all(r["status"] == "ok" for r in rows)
    for row in rows:
        clip = out / row["path"]
        for name in ("annotations.json", "trajectory.npz", "preview.png"):
            assert (clip / name).stat().st_size > 0
        for name in ("rgb.mp4", "depth.npz", "instance.npz", "semantic.npz", "normals.npz"):
            assert (clip / "cam0" / name).stat().st_size > 0
    assert (out / "README.md").read_text().count("synthetic") >= 1
    assert (out / "config.yaml").exists()


def test_video_decodes_to_every_frame(tiny_dataset):
    cfg, clip, _, _ = _clip(tiny_dataset)
    reader = imageio_ffmpeg.read_frames(str(clip / "cam0" / "rgb.mp4"))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"] == tuple(cfg["resolution"])
    assert len(frames) == cfg["frames"]


def test_label_arrays_have_one_frame_each(tiny_dataset):
    cfg, _, ann, arrays = _clip(tiny_dataset)
    W, H = cfg["resolution"]
    F = cfg["frames"]
    assert arrays["depth"]["depth"].shape == (F, H, W)
    assert arrays["instance"]["instance"].dtype == np.uint16
    assert arrays["flow"]["forward"].shape == (F, H, W, 2)
    assert len(ann["cameras"]["cam0"]["T_world_camera"]) == F


def test_semantic_is_the_class_of_the_instance(tiny_dataset):
    _, _, ann, arrays = _clip(tiny_dataset)
    lut = np.zeros(len(ann["objects"]) + 1, dtype=np.int64)
    for obj in ann["objects"]:
        lut[obj["id"]] = obj["class_id"]
    np.testing.assert_array_equal(
        arrays["semantic"]["semantic"], lut[arrays["instance"]["instance"]]
    )


def test_visible_box_is_the_box_of_the_mask(tiny_dataset):
    _, _, ann, arrays = _clip(tiny_dataset)
    ids = arrays["instance"]["instance"]
    checked = 0
    for frame in ann["cameras"]["cam0"]["frames"]:
        for obj in frame["objects"]:
            rows, cols = np.nonzero(ids[frame["frame"]] == obj["id"])
            assert obj["visible_pixels"] == len(rows)
            if len(rows):
                box = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
                assert obj["bbox_visible"] == box
                checked += 1
    assert checked > 10


def test_depth_lands_inside_each_objects_3d_box(tiny_dataset):
    _, _, ann, arrays = _clip(tiny_dataset)
    cam = ann["cameras"]["cam0"]
    K = np.array(cam["K"])
    depth, ids = arrays["depth"]["depth"], arrays["instance"]["instance"]
    for t in (0, len(depth) - 1):
        for obj in cam["frames"][t]["objects"]:
            mask = ids[t] == obj["id"]
            if not mask.any():
                continue
            v, u = np.nonzero(mask)
            z = depth[t][mask].astype(float)
            pts = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], 1)
            box = obj["box3d"]
            center = np.array(box["center_camera"])
            R = np.array(box["rotation_camera"])
            local = (pts - center) @ R  # camera frame -> box frame
            half = np.array(box["size"]) / 2
            # The rendered depth is float32 and the box is rounded to 1e-6 m.
            assert np.all(np.abs(local) <= half + 2e-3), obj["id"]
            # The same box from the world pose of the object agrees.
            obj_world = ann["objects"][obj["id"] - 1]
            T_wb = np.array(obj_world["T_world_part"][t]) @ np.array(obj_world["T_part_box"])
            np.testing.assert_allclose(T_wb[:3, 3], box["center_world"], atol=1e-5)


def test_forward_flow_lands_on_the_same_surface_point(tiny_dataset):
    _, _, ann, arrays = _clip(tiny_dataset)
    cam = ann["cameras"]["cam0"]
    K = np.array(cam["K"])
    depth, ids = arrays["depth"]["depth"], arrays["instance"]["instance"]
    flow, valid = arrays["flow"]["forward"], arrays["flow"]["forward_valid"]
    H, W = depth.shape[1:]
    pose = {o["id"]: np.array(o["T_world_part"]) for o in ann["objects"]}
    checked = 0
    for t in range(len(depth) - 1):
        v, u = np.nonzero(valid[t])
        if not len(v):
            continue
        T0, T1 = np.array(cam["T_world_camera"][t]), np.array(cam["T_world_camera"][t + 1])
        u1 = np.rint(u + flow[t, v, u, 0]).astype(int)
        v1 = np.rint(v + flow[t, v, u, 1]).astype(int)
        assert np.all((u1 >= 0) & (u1 < W) & (v1 >= 0) & (v1 < H))
        assert np.all(ids[t + 1, v1, u1] == ids[t, v, u])
        # Surface point at t, carried with its part to t+1, versus the point seen at t+1.
        for k in range(0, len(v), max(1, len(v) // 400)):
            i = int(ids[t, v[k], u[k]])
            z0, z1 = float(depth[t, v[k], u[k]]), float(depth[t + 1, v1[k], u1[k]])
            p0 = T0 @ [(u[k] - K[0, 2]) * z0 / K[0, 0], (v[k] - K[1, 2]) * z0 / K[1, 1], z0, 1]
            p1 = T1 @ [(u1[k] - K[0, 2]) * z1 / K[0, 0], (v1[k] - K[1, 2]) * z1 / K[1, 1], z1, 1]
            carried = pose[i][t + 1] @ np.linalg.inv(pose[i][t]) @ p0
            pixel = max(z0, z1) / K[0, 0]  # metres per pixel at that depth
            assert np.linalg.norm(carried[:3] - p1[:3]) < 3 * pixel + 0.01
            checked += 1
    assert checked > 100


def test_visibility_is_a_fraction_and_flags_occlusion(tiny_dataset):
    _, _, ann, _ = _clip(tiny_dataset)
    values = [o["visibility"] for f in ann["cameras"]["cam0"]["frames"] for o in f["objects"]]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert any(v == 1.0 for v in values) and any(v < 1.0 for v in values)


@pytest.mark.parametrize("index", [0, 1])
def test_annotations_record_seed_params_and_conventions(tiny_dataset, index):
    cfg, _, ann, _ = _clip(tiny_dataset, index)
    assert ann["clip"]["dataset_seed"] == cfg["seed"]
    assert ann["clip"]["index"] == index
    assert "world_frame" in ann["conventions"] and ann["params"]
    names = [o["name"] for o in ann["objects"]]
    assert len(names) == len(set(names))


def test_rendered_flow_agrees_with_flow_from_depth_and_poses(tiny_dataset):
    from simfactory.sim.annotate.flow import optical_flow

    _, _, ann, arrays = _clip(tiny_dataset)
    cam = ann["cameras"]["cam0"]
    K = np.array(cam["K"])
    depth, ids = arrays["depth"]["depth"], arrays["instance"]["instance"]
    poses = np.array([o["T_world_part"] for o in ann["objects"]]).transpose(1, 0, 2, 3)
    id_to_part = np.arange(-1, poses.shape[1])
    T = np.array(cam["T_world_camera"])
    with np.load(tiny_dataset[1] / "clips" / "clip_000000" / "cam0" / "flow.npz") as data:
        scale = float(data["flow_scale"]) if "flow_scale" in data else 0.0
    for key, step in (("forward", 1), ("backward", -1)):
        stored, stored_valid = arrays["flow"][key], arrays["flow"][f"{key}_valid"]
        for t in range(1, len(depth) - 1):
            s = t + step
            ref, ref_valid = optical_flow(
                depth[t], ids[t], K, T[t], poses[t], depth[s], ids[s], K, T[s], poses[s], id_to_part
            )
            both = ref_valid & stored_valid[t]
            assert both.sum() > 0.98 * max(ref_valid.sum(), stored_valid[t].sum())
            # Poses in annotations.json are rounded to 1e-6: allow a few thousandths of a
            # pixel, plus the compact encoding's bound (flow_scale) if the file has one.
            assert np.abs(ref[both] - stored[t][both]).max() < 0.02 + scale


def test_contacts_lie_on_both_parts_they_name(tmp_path):
    from simfactory.sim.run.clip import generate_clip
    from tests.conftest import tiny_config

    # Long enough for clutter to be released and land (32x24 keeps it cheap).
    cfg = tiny_config(frames=30, resolution=[32, 24], **{"scene.num_pieces": 3})
    generate_clip(cfg, 0, tmp_path)
    ann = json.loads((tmp_path / "clips/clip_000000/annotations.json").read_text())
    objects = {o["id"]: o for o in ann["objects"]}
    assert ann["contacts"]
    for c in ann["contacts"]:
        p = np.array(c["position"])
        assert c["force"] >= 0 and c["points"] >= 1
        assert np.linalg.norm(c["normal_b_to_a"]) == pytest.approx(1, abs=1e-5)
        assert objects[c["a"]]["dynamic"] or objects[c["b"]]["dynamic"]
        for key in ("a", "b"):
            obj = objects[c[key]]
            T = np.array(obj["T_world_part"][c["frame"]]) @ np.array(obj["T_part_box"])
            local = np.linalg.inv(T) @ [*p, 1]
            # Within the part's 3D box, give or take pybullet's contact margin.
            assert np.all(np.abs(local[:3]) <= np.array(obj["box_size"]) / 2 + 0.02)
