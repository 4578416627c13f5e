"""KITTI export of a tiny hand-built drive: layout, labels, calibration and points,
checked against the clip's own annotations."""

import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import trimesh

from simfactory.sim.annotate.boxes import box_corners
from simfactory.sim.export.cli import main
from simfactory.sim.export.kitti import (
    angle_text,
    export_kitti,
    label_lines,
    split_clips,
)
from simfactory.sim.model.spec import (
    Body,
    CameraPath,
    CameraSpec,
    LidarSpec,
    Light,
    Link,
    Material,
    Motion,
    SceneSpec,
    Visual,
)
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.write.encodings import load_labels
from tests.conftest import tiny_config

FRAMES = 3
W, H = 64, 48
BASELINE = 0.5


def _pose(x, y, z, yaw=0.0):
    T = trimesh.transformations.rotation_matrix(yaw, (0, 0, 1))
    T[:3, 3] = (x, y, z)
    return T


def _box(name, cls, size, pose, color=(0.6, 0.6, 0.6, 1.0), **kw):
    mesh = trimesh.creation.box(size)
    return Body(name, cls, [Visual(mesh, Material(name, color))], pose=pose, collision="box", **kw)


def _camera_mount(y: float) -> np.ndarray:
    """Camera on the ego's bonnet looking forward (OpenCV axes in the body frame)."""
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2] = (0, -1, 0), (0, 0, -1), (1, 0, 0)
    T[:3, 3] = (2.1, y, 0.5)
    return T


def _walker() -> Body:
    """A pedestrian modelled Y up (as the humanoid URDF), stood up by its pose."""
    y_up = trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0))
    pose = _pose(7, -0.5, 0.9, 1.2) @ y_up
    return _box("walker", "person", (0.5, 1.8, 0.6), pose, (0.2, 0.3, 0.8, 1))


def _rider() -> Body:
    """A two-part body (torso base, legs link): one label whose box holds both parts."""
    torso = _box("rider", "rider", (0.4, 0.5, 0.8), _pose(6, 1.2, 1.3, 0.3), (0.1, 0.6, 0.2, 1))
    legs = Visual(trimesh.creation.box((0.6, 0.3, 0.9)), Material("legs", (0.3, 0.3, 0.1, 1)))
    torso.links = [Link("legs", "rider", [legs], _pose(0.1, 0, -0.85))]
    return torso


def _drive() -> SceneSpec:
    duration = (FRAMES - 1) / 24.0
    ego_motion = Motion(
        np.array([0.0, duration]),
        np.stack([_pose(0, 0, 0.75), _pose(0.5, 0, 0.75)]),
        interpolation="linear",
    )
    bodies = [
        _box("ground", "road", (80, 80, 0.2), _pose(0, 0, -0.1)),
        _box("ego", "car", (4.0, 1.8, 1.5), _pose(0, 0, 0.75), motion=ego_motion),
        _box("car_a", "car", (4.0, 1.8, 1.5), _pose(11, 2.5, 0.75, 0.4), (0.7, 0.1, 0.1, 1)),
        _box("van_b", "car", (5.0, 2.0, 2.0), _pose(13, -3.0, 1.0, -0.2), (0.9, 0.9, 0.9, 1)),
        _walker(),
        _box("house", "building", (3, 6, 4), _pose(20, 6, 2.0), (0.5, 0.45, 0.4, 1)),
        _rider(),
    ]
    cameras = [
        CameraSpec(name, W, H, 70.0, path=CameraPath("mounted", body="ego", T_body_camera=T))
        for name, T in (("cam0", _camera_mount(0.0)), ("cam1", _camera_mount(-BASELINE)))
    ]
    lidar = LidarSpec(
        "lidar", "ego", _pose(0, 0, 1.0), channels=16, vertical_fov_deg=(-20.0, 5.0),
        horizontal_resolution_deg=1.0, range_m=40.0,
    )  # fmt: skip
    lights = [Light("directional", direction=(0.3, 0.2, -1.0))]
    spec = SceneSpec("test", bodies, lights, cameras, lidars=[lidar])
    spec.annotations = {"agents": {"van_b": {"kind": "van"}, "car_a": {"kind": "sedan"}}}
    return spec


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    dataset = tmp_path_factory.mktemp("drive")
    cfg = tiny_config(frames=FRAMES, **{"export.preview": False})
    generate_clip(cfg, 0, dataset, spec=_drive())
    out = tmp_path_factory.mktemp("kitti") / "out"
    count = export_kitti(dataset, out, camera="cam0", right_camera="cam1", lidar="lidar")
    clip = dataset / "clips" / "clip_000000"
    annotations = json.loads((clip / "annotations.json").read_text())
    return dataset, out, count, annotations


def _calib(path) -> dict[str, np.ndarray]:
    rows = {}
    for line in path.read_text().splitlines():
        key, values = line.split(":", 1)
        rows[key] = np.array(values.split(), dtype=float)
    return {k: v.reshape(3, -1) for k, v in rows.items()}


def _labels(path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        fields = line.split()
        assert len(fields) == 15
        v = np.array(fields[1:], dtype=float)
        out.append(
            {"type": fields[0], "truncated": v[0], "occluded": int(v[1]), "alpha": v[2],
             "bbox": v[3:7], "hwl": v[7:10], "location": v[10:13], "ry": v[13]}
        )  # fmt: skip
    return out


def _kitti_corners(label: dict) -> np.ndarray:
    """The 8 corners (8, 3) of a KITTI box in camera coordinates (devkit's formula)."""
    h, w, l = label["hwl"]  # noqa: E741
    x = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * l / 2
    y = np.array([0, 0, 0, 0, -1, -1, -1, -1]) * h
    z = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * w / 2
    c, s = np.cos(label["ry"]), np.sin(label["ry"])
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return (R @ np.stack([x, y, z])).T + label["location"]


def _project(P: np.ndarray, points: np.ndarray) -> np.ndarray:
    uvw = np.column_stack([points, np.ones(len(points))]) @ P.T
    return uvw[:, :2] / uvw[:, 2:]


def _inside(label: dict, points_camera: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    c, s = np.cos(label["ry"]), np.sin(label["ry"])
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    local = (points_camera - label["location"]) @ R  # rows: R^T (p - location)
    h, w, l = label["hwl"]  # noqa: E741
    return (
        (np.abs(local[:, 0]) <= l / 2 + tol)
        & (local[:, 1] <= tol)
        & (local[:, 1] >= -h - tol)
        & (np.abs(local[:, 2]) <= w / 2 + tol)
    )


def test_layout_and_counts(exported):
    _, out, count, _ = exported
    assert count == FRAMES
    for folder, ext in (("image_2", "png"), ("image_3", "png"), ("label_2", "txt"),
                        ("calib", "txt"), ("velodyne", "bin"), ("planes", "txt")):  # fmt: skip
        names = sorted(p.name for p in (out / "training" / folder).iterdir())
        assert names == [f"{i:06d}.{ext}" for i in range(FRAMES)]
    mapping = (out / "mapping.txt").read_text().splitlines()
    assert mapping == [f"{i:06d} clip_000000 {i}" for i in range(FRAMES)]
    image = iio.imread(out / "training" / "image_2" / "000000.png")
    assert image.shape == (H, W, 3) and image.dtype == np.uint8 and image.std() > 5


def test_labels_parse_with_types(exported):
    _, out, _, _ = exported
    labels = _labels(out / "training" / "label_2" / "000000.txt")
    types = sorted(label["type"] for label in labels)
    assert types == ["Car", "Cyclist", "Pedestrian", "Van"]  # no ego, no building
    for label in labels:
        assert 0 <= label["truncated"] <= 1 and label["occluded"] in (0, 1, 2)
        assert label["location"][2] > 0 and np.all(label["hwl"] > 0)
        x1, y1, x2, y2 = label["bbox"]
        assert 0 <= x1 < x2 <= W - 1 and 0 <= y1 < y2 <= H - 1
        expected = label["ry"] - np.arctan2(label["location"][0], label["location"][2])
        assert np.isclose(np.angle(np.exp(1j * (label["alpha"] - expected))), 0, atol=1e-5)
    van = next(label for label in labels if label["type"] == "Van")
    assert np.allclose(van["hwl"], (2.0, 2.0, 5.0), atol=1e-5)
    assert np.allclose(van["location"][1], 1.25, atol=1e-4)  # camera 1.25 m above the road
    walker = next(label for label in labels if label["type"] == "Pedestrian")
    assert np.allclose(walker["hwl"], (1.8, 0.6, 0.5), atol=1e-5)  # upright though Y up
    assert np.isclose(walker["ry"], -np.pi / 2 - 1.2, atol=1e-5)
    rider = next(label for label in labels if label["type"] == "Cyclist")
    assert np.allclose(rider["hwl"], (1.7, 0.5, 0.6), atol=1e-5)  # torso and legs
    assert np.allclose(rider["location"][1], 1.25, atol=1e-4)


def test_boxes_project_onto_the_annotation_boxes(exported):
    _, out, _, annotations = exported
    cam = annotations["cameras"]["cam0"]
    K = np.array(cam["K"])
    by_body = {o["body"]: o for o in annotations["objects"]}
    for f in range(FRAMES):
        P2 = _calib(out / "training" / "calib" / f"{f:06d}.txt")["P2"]
        labels = _labels(out / "training" / "label_2" / f"{f:06d}.txt")
        T_cw = np.linalg.inv(np.array(cam["T_world_camera"][f]))
        annotated = {}
        for body in ("car_a", "van_b", "walker"):
            obj = by_body[body]
            T_wb = np.array(obj["T_world_part"][f]) @ np.array(obj["T_part_box"])
            corners = box_corners(T_cw @ T_wb, obj["box_size"])
            uv = corners @ K.T
            annotated[body] = uv[:, :2] / uv[:, 2:]
        for label in labels:
            uv = _project(P2, _kitti_corners(label))
            lo, hi = uv.min(axis=0), uv.max(axis=0)
            x1, y1, x2, y2 = label["bbox"]
            assert lo[0] <= x1 + 1 and lo[1] <= y1 + 1 and hi[0] >= x2 - 1 and hi[1] >= y2 - 1
            if label["type"] == "Cyclist":
                continue  # two parts: checked by its size in test_labels_parse_with_types
            # The same 8 corners as our annotation's box, projected independently.
            gaps = {
                body: np.abs(np.sort(uv, axis=0) - np.sort(ref, axis=0)).max()
                for body, ref in annotated.items()
            }
            assert min(gaps.values()) < 0.01


def test_velodyne_points_lie_in_their_label_boxes(exported):
    dataset, out, _, annotations = exported
    clip = dataset / "clips" / "clip_000000"
    names = {o["id"]: o["body"] for o in annotations["objects"]}
    types = {"car_a": "Car", "van_b": "Van", "walker": "Pedestrian", "rider": "Cyclist"}
    data = load_labels(clip / "lidar" / "points.npz")
    xyz, intensity, instance = data["xyz"], data["intensity"], data["instance"]
    offsets = data["offsets"]
    checked = 0
    for f in range(FRAMES):
        rows = slice(offsets[f], offsets[f + 1])
        velo = np.fromfile(out / "training" / "velodyne" / f"{f:06d}.bin", dtype=np.float32)
        assert np.array_equal(velo.reshape(-1, 4), np.column_stack([xyz[rows], intensity[rows]]))
        Tr = _calib(out / "training" / "calib" / f"{f:06d}.txt")["Tr_velo_to_cam"]
        camera_points = xyz[rows].astype(float) @ Tr[:, :3].T + Tr[:, 3]
        labels = _labels(out / "training" / "label_2" / f"{f:06d}.txt")
        for k in np.unique(instance[rows]):
            body = names[int(k)]
            assert body != "ego"
            if body not in types:
                continue
            (label,) = [lb for lb in labels if lb["type"] == types[body]]
            pts = camera_points[instance[rows] == k]
            assert _inside(label, pts).all()
            checked += len(pts)
    assert checked > 30


def test_lidar_agrees_with_the_camera_masks(exported):
    dataset, out, _, _ = exported
    clip = dataset / "clips" / "clip_000000"
    data = load_labels(clip / "lidar" / "points.npz")
    xyz, instance, offsets = data["xyz"], data["instance"], data["offsets"]
    with np.load(clip / "cam0" / "instance.npz") as data:
        masks = data["instance"]
    agree = total = 0
    for f in range(FRAMES):
        calib = _calib(out / "training" / "calib" / f"{f:06d}.txt")
        rows = slice(offsets[f], offsets[f + 1])
        Tr = calib["Tr_velo_to_cam"]
        cam = xyz[rows].astype(float) @ Tr[:, :3].T + Tr[:, 3]
        front = cam[:, 2] > 0.5
        uv = np.round(_project(calib["P2"], cam[front])).astype(int)
        ok = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
        seen = masks[f][uv[ok, 1], uv[ok, 0]]
        agree += int((seen == instance[rows][front][ok]).sum())
        total += int(ok.sum())
    assert total > 100 and agree / total > 0.85


def test_calibration_chain_matches_annotations(exported):
    _, out, _, annotations = exported
    cam0, cam1 = annotations["cameras"]["cam0"], annotations["cameras"]["cam1"]
    lidar = annotations["lidars"]["lidar"]
    ego = next(o for o in annotations["objects"] if o["body"] == "ego")
    K = np.array(cam0["K"])
    for f in range(FRAMES):
        calib = _calib(out / "training" / "calib" / f"{f:06d}.txt")
        assert set(calib) == {"P0", "P1", "P2", "P3", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"}
        assert np.allclose(calib["P2"], np.column_stack([K, np.zeros(3)]))
        assert np.allclose(calib["P0"], calib["P2"]) and np.allclose(calib["R0_rect"], np.eye(3))
        K1 = np.array(cam1["K"])
        assert np.allclose(calib["P3"], np.column_stack([K1, K1 @ [-BASELINE, 0, 0]]), atol=1e-6)
        T_wc, T_wl = np.array(cam0["T_world_camera"][f]), np.array(lidar["T_world_lidar"][f])
        T_cam_velo = np.vstack([calib["Tr_velo_to_cam"], [0, 0, 0, 1]])
        assert np.allclose(T_wc @ T_cam_velo, T_wl, atol=1e-6)
        T_velo_imu = np.vstack([calib["Tr_imu_to_velo"], [0, 0, 0, 1]])
        T_world_ego = np.array(ego["T_world_part"][f])
        assert np.allclose(T_world_ego @ np.linalg.inv(T_velo_imu), T_wl, atol=1e-6)


def test_dont_care_below_the_pixel_threshold(exported):
    _, _, _, annotations = exported
    lines = label_lines(annotations, "cam0", 0, "ego", min_visible_pixels=10**6)
    assert len(lines) == 4 and all(s.startswith("DontCare -1 -1 -10 ") for s in lines)
    assert all(s.endswith(" -1 -1 -1 -1000 -1000 -1000 -10") for s in lines)


def test_cli_errors_exit_2_without_writing(exported, tmp_path, capsys):
    dataset, _, _, _ = exported
    out = tmp_path / "out"
    assert main(["kitti", str(dataset), str(out), "--camera", "cam9"]) == 2
    assert "cam9" in capsys.readouterr().err and not out.exists()
    assert main(["kitti", str(dataset), str(out), "--lidar", "roof"]) == 2
    assert "roof" in capsys.readouterr().err and not out.exists()
    assert main(["kitti", str(tmp_path / "missing"), str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["kitti", str(dataset), str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert main(["kitti", str(dataset), str(out), "--overwrite"]) == 0
    assert len(list((out / "training" / "label_2").iterdir())) == FRAMES


def test_dont_care_rows_come_last(exported):
    """OpenPCDet keeps the first (rows - DontCare rows) rows as its objects."""
    _, _, _, annotations = exported
    records = annotations["cameras"]["cam0"]["frames"][0]["objects"]
    bodies = {o["id"]: o["body"] for o in annotations["objects"]}
    visible: dict[str, int] = {}
    for r in records:
        visible[bodies[r["id"]]] = visible.get(bodies[r["id"]], 0) + r["visible_pixels"]
    counts = sorted(v for b, v in visible.items() if b in ("car_a", "van_b", "walker", "rider"))
    for threshold in (counts[0] + 1, counts[1] + 1, counts[2] + 1):
        lines = label_lines(annotations, "cam0", 0, "ego", min_visible_pixels=threshold)
        types = [line.split()[0] for line in lines]
        kept = len([t for t in types if t != "DontCare"])
        assert 0 < kept < 4 and "DontCare" not in types[:kept]
        assert all(t == "DontCare" for t in types[kept:])


def test_angles_stay_within_pi_after_rounding(exported):
    for angle in (np.pi, -np.pi, 3 * np.pi, -np.pi + 1e-9, np.pi - 2e-7, 7.0, -0.5):
        value = float(angle_text(angle))
        assert -np.pi <= value <= np.pi
        assert np.isclose(np.angle(np.exp(1j * (value - angle))), 0, atol=2e-6)
    assert angle_text(-np.pi) == "-3.141592" and angle_text(0.0) == "0.000000"
    _, out, _, _ = exported
    for path in (out / "training" / "label_2").iterdir():
        for label in _labels(path):
            assert -np.pi <= label["alpha"] <= np.pi and -np.pi <= label["ry"] <= np.pi


def _plane(path) -> np.ndarray:
    lines = path.read_text().splitlines()
    assert lines[:3] == ["# Matrix", "WIDTH 4", "HEIGHT 1"]
    return np.array(lines[3].split(), dtype=float)


def test_road_plane_under_the_ego(exported):
    _, out, _, annotations = exported
    cam = annotations["cameras"]["cam0"]
    for f in range(FRAMES):
        plane = _plane(out / "training" / "planes" / f"{f:06d}.txt")
        assert np.allclose(plane, [0, -1, 0, 1.25], atol=1e-6)  # level camera 1.25 m up
        T_cw = np.linalg.inv(np.array(cam["T_world_camera"][f]))
        road = np.array([[5, 1, 0, 1], [12, -4, 0, 1], [30, 8, 0, 1.0]]) @ T_cw.T
        assert np.allclose(road[:, :3] @ plane[:3] + plane[3], 0, atol=1e-5)
        # Objects standing on the road have their box bottoms on the plane.
        for label in _labels(out / "training" / "label_2" / f"{f:06d}.txt"):
            if label["type"] in ("Car", "Van"):
                assert abs(label["location"] @ plane[:3] + plane[3]) < 1e-4


def test_split_clips_is_seeded_and_by_fraction():
    names = [f"clip_{i:06d}" for i in range(10)]
    split = split_clips(names, 0.2, 0.1, seed=0)
    assert split == split_clips(names, 0.2, 0.1, seed=0)
    assert split != split_clips(names, 0.2, 0.1, seed=1)
    values = list(split.values())
    assert (values.count("train"), values.count("val"), values.count("test")) == (7, 2, 1)
    assert set(split_clips(names[:2], 0.01, 0.0, seed=0).values()) == {"train", "val"}
    assert set(split_clips(names[:1], 0.2, 0.0, seed=0).values()) == {"train"}
    with pytest.raises(ValueError, match="val_fraction"):
        split_clips(names, 1.5, 0.0, seed=0)
    with pytest.raises(ValueError, match="leave clips"):
        split_clips(names, 0.5, 0.5, seed=0)


def test_image_sets_and_testing_folder(exported, tmp_path):
    dataset, out, _, _ = exported
    sets = {s: (out / "ImageSets" / f"{s}.txt").read_text().split() for s in
            ("train", "val", "trainval", "test")}  # fmt: skip
    names = [f"{i:06d}" for i in range(FRAMES)]
    assert sets == {"train": names, "val": [], "trainval": names, "test": []}
    two = tmp_path / "two"
    for i in range(3):  # the same clip three times: a train, a val and a test clip
        shutil.copytree(dataset / "clips" / "clip_000000", two / "clips" / f"clip_{i:06d}")
    out2 = tmp_path / "out"
    assert export_kitti(two, out2, val_fraction=0.3, test_fraction=0.3) == 3 * FRAMES
    sets = {s: (out2 / "ImageSets" / f"{s}.txt").read_text().split() for s in
            ("train", "val", "trainval", "test")}  # fmt: skip
    assert sorted(sets["train"] + sets["val"]) == sets["trainval"]
    assert sorted(sets["trainval"] + sets["test"]) == [f"{i:06d}" for i in range(3 * FRAMES)]
    assert len(sets["train"]) == len(sets["val"]) == len(sets["test"]) == FRAMES
    for name in sets["test"]:  # OpenPCDet reads the test split from testing/
        for folder, ext in (("image_2", "png"), ("calib", "txt"), ("velodyne", "bin"),
                            ("planes", "txt")):  # fmt: skip
            assert (out2 / "testing" / folder / f"{name}.{ext}").exists()
    assert not (out2 / "testing" / "label_2").exists()
    labelled = sorted(p.stem for p in (out2 / "training" / "label_2").iterdir())
    assert labelled == sets["trainval"]
