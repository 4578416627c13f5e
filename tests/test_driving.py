"""The driving family: traffic that moves and obeys signals, stop lines and pedestrians,
never overlaps; a multi-camera clip with one consistent label set per camera; LiDAR
points on the instances they name; KITTI export of a generated drive."""

import json

import numpy as np
import pytest

from simfactory.scenes.driving.family import plan_drive
from simfactory.scenes.driving.signals import state_at
from simfactory.scenes.driving.traffic import _near_pairs, footprints_overlap, rectangle
from simfactory.sim.export.kitti import export_kitti
from simfactory.sim.model.motion import motion_pose
from simfactory.sim.model.seeds import clip_streams
from simfactory.sim.run.build import build_scene, family_config
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, load_config, validate
from simfactory.sim.write.encodings import load_labels

SEEDS = range(5)
FRAMES = 48
FPS = 24


def _cfg(*overrides):
    return load_config(
        ["scene=driving", f"frames={FRAMES}", f"fps={FPS}", "resolution=[64,48]", *overrides]
    )


@pytest.fixture(scope="module")
def drives():
    """Planned drives (traffic simulated, no meshes) for several seeds."""
    cfg = _cfg()
    duration = (FRAMES - 1) / FPS
    return [plan_drive(family_config(cfg), clip_streams(seed, 0), duration) for seed in SEEDS]


@pytest.fixture(scope="module")
def scenes():
    cfg = _cfg("scene.num_vehicles=12")
    out = []
    for seed in SEEDS[:3]:
        cfg["seed"] = seed
        out.append(build_scene(cfg, 0))
    return out


def _frame_keys(result):
    return np.searchsorted(result.times, np.arange(FRAMES) / FPS - 1e-9)


def test_traffic_moves_and_the_ego_drives(drives):
    ego_moved = []
    for drive in drives:
        keys = _frame_keys(drive.result)
        ego = drive.result.poses["ego"][keys]
        ego_moved.append(np.linalg.norm(ego[-1, :2] - ego[0, :2]))
        speeds = np.concatenate([p[keys, 3] for p in drive.result.poses.values()])
        assert speeds.mean() > 1.0
    assert np.mean(np.array(ego_moved) > 5.0) >= 0.8


def test_no_two_vehicles_overlap_at_any_frame(scenes):
    for spec in scenes:
        agents = spec.annotations["agents"]
        cars = [
            b for b in spec.bodies if agents.get(b.name, {}).get("kind") not in (None, "pedestrian")
        ]
        assert len(cars) >= 8
        for f in range(FRAMES):
            boxes = []
            for body in cars:
                T = motion_pose(body.motion, f / FPS) if body.motion else body.pose
                length, width, _ = agents[body.name]["size_lwh"]
                boxes.append(rectangle(T[:2, 3], np.arctan2(T[1, 0], T[0, 0]), length, width))
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    assert not footprints_overlap(boxes[i], boxes[j]), (
                        f,
                        cars[i].name,
                        cars[j].name,
                    )


def test_near_pairs_hold_every_overlapping_pair():
    """The traffic's quick pairing by circles keeps every pair of footprints the exact
    test finds overlapping (touching, crossing, nested) and leaves distant ones out."""
    rng = np.random.default_rng(3)
    spread = [(rng.uniform(-12, 12, 2), rng.uniform(-np.pi, np.pi), *rng.uniform(0.5, 5, 2))
              for _ in range(60)]  # fmt: skip
    ends_meet = [([40.0, 0.0], 0.0, 4.0, 2.0), ([44.0, 0.0], 0.0, 4.0, 2.0)]
    nested = [([40.0, 5.0], 0.3, 4.0, 2.0), ([40.0, 5.0], 0.3, 1.0, 0.5)]
    boxes = [rectangle(*args) for args in spread + ends_meet + nested]
    near = set(_near_pairs(boxes))
    overlapping = {
        (i, j)
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if footprints_overlap(boxes[i], boxes[j])
    }
    assert len(overlapping) > 20 and overlapping <= near
    assert (62, 63) in overlapping and (60, 61) in near
    assert len(near) < len(boxes) * (len(boxes) - 1) / 4  # distant pairs left out
    assert _near_pairs(boxes[:1]) == [] and _near_pairs([]) == []


def test_no_vehicle_enters_a_junction_on_red(drives):
    stopped_at_red = 0
    for drive in drives:
        lanes = {lane.id: lane for lane in drive.network.lanes}
        res = drive.result
        for name, lane_ids in res.lanes.items():
            length = drive.models[name].length
            for k in range(1, len(lane_ids)):
                before = lanes[int(lane_ids[k - 1])]
                if lane_ids[k] == lane_ids[k - 1] or before.signal is None:
                    continue
                # The front crossed the stop line about half a length before the centre.
                speed = max(res.poses[name][k, 3], 0.1)
                t_front = res.times[k] - length / 2 / speed
                keys = drive.states[before.signal]
                assert state_at(keys, t_front) != "red" or state_at(keys, res.times[k]) != "red", (
                    name,
                    res.times[k],
                )
            stopped_at_red += any(r == "red_light" for _, r, _ in res.stopped_for[name])
    assert stopped_at_red > 0  # the rule was exercised


def test_vehicles_keep_clear_of_pedestrians_on_crosswalks(drives):
    stops = 0
    for drive in drives:
        res = drive.result
        for plan in drive.plans:
            for _, t_in, t_out in plan.crossings:
                for k, t in enumerate(res.times):
                    if not t_in <= t <= t_out:
                        continue
                    xy = np.array([np.interp(t, plan.times, plan.xy[:, i]) for i in (0, 1)])
                    for name, pose in res.poses.items():
                        m = drive.models[name]
                        box = rectangle(pose[k, :2], pose[k, 2], m.length + 0.6, m.width + 0.6)
                        person = rectangle(xy, 0.0, 0.5, 0.5)
                        assert not footprints_overlap(box, person), (name, plan.name, t)
        stops += sum(
            any(r == "pedestrian" for _, r, _ in reasons) for reasons in res.stopped_for.values()
        )
    assert stops > 0


def test_events_name_agents_and_frames_in_the_clip(scenes):
    kinds = set()
    for spec in scenes:
        agents = spec.annotations["agents"]
        for event in spec.annotations["events"]:
            kinds.add(event["type"])
            assert event["actor"] in agents
            assert 0 <= event["start_frame"] <= event["end_frame"] < FRAMES
        states = spec.annotations["traffic_lights"]
        assert all(
            len(s) == FRAMES and set(s) <= {"red", "amber", "green"} for s in states.values()
        )
        ego = spec.annotations["ego"]
        assert len(ego["speed_mps"]) == FRAMES and len(ego["yaw_rate_radps"]) == FRAMES
        assert spec.params["weather"] in ("clear", "overcast", "fog", "rain")
    assert "pedestrian_crossing" in kinds


def test_same_seed_same_drive():
    cfg = _cfg("frames=12")
    a, b = build_scene(cfg, 3), build_scene(cfg, 3)
    assert json.dumps(a.annotations, sort_keys=True) == json.dumps(b.annotations, sort_keys=True)
    assert a.params == b.params


@pytest.mark.parametrize(
    "override, key",
    [
        ("scene.num_vehicles=-1", "scene.num_vehicles"),
        ("scene.weather=snow", "scene.weather"),
        ("scene.time_of_day=25", "scene.time_of_day"),
        ("scene.lidar.channels=0", "scene.lidar.channels"),
        ("camera.rig=fisheye", "camera.rig"),
        ("camera=orbit", "camera.path"),
    ],
)
def test_bad_driving_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(_cfg(override))


# ---------------------------------------------------------------- a rendered drive
@pytest.fixture(scope="module")
def drive_clip(tmp_path_factory):
    cfg = _cfg(
        "frames=4",
        "camera.rig=stereo_surround",
        "scene.num_pedestrians=4",
        "scene.lidar.horizontal_resolution_deg=2.0",
        "scene.lidar.channels=16",
        "export.preview=false",
    )
    out = tmp_path_factory.mktemp("drive")
    generate_clip(cfg, 0, out)
    clip = out / "clips" / "clip_000000"
    return out, clip, json.loads((clip / "annotations.json").read_text())


def test_every_rig_camera_gets_a_full_label_set(drive_clip):
    _, clip, ann = drive_clip
    names = [
        "cam0",
        "cam1",
        "cam_front_left",
        "cam_back_left",
        "cam_back",
        "cam_back_right",
        "cam_front_right",
    ]
    assert sorted(ann["cameras"]) == sorted(names)
    for name in names:
        files = sorted(p.name for p in (clip / name).iterdir())
        assert files == [
            "depth.npz",
            "flow.npz",
            "instance.npz",
            "normals.npz",
            "rgb.mp4",
            "semantic.npz",
        ]
        instance = np.load(clip / name / "instance.npz")["instance"]
        assert instance.shape == (4, 48, 64)
        frames = ann["cameras"][name]["frames"]
        assert len(frames) == 4
        for f, frame in enumerate(frames):
            ids = set(np.unique(instance[f])) - {0}
            labelled = {o["id"] for o in frame["objects"] if o["visible_pixels"] > 0}
            assert ids == labelled
            for o in frame["objects"]:
                if o["visible_pixels"]:
                    ys, xs = np.nonzero(instance[f] == o["id"])
                    box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                    assert np.allclose(o["bbox_visible"], box)


def test_stereo_pair_sees_the_same_surfaces(drive_clip):
    _, clip, ann = drive_clip
    left, right = ann["cameras"]["cam0"], ann["cameras"]["cam1"]
    depth_l = load_labels(clip / "cam0" / "depth.npz")["depth"][0]
    inst_l = np.load(clip / "cam0" / "instance.npz")["instance"][0]
    depth_r = load_labels(clip / "cam1" / "depth.npz")["depth"][0]
    inst_r = np.load(clip / "cam1" / "instance.npz")["instance"][0]
    K = np.array(left["K"])
    T_l, T_r = np.array(left["T_world_camera"][0]), np.array(right["T_world_camera"][0])
    baseline = np.linalg.norm(T_l[:3, 3] - T_r[:3, 3])
    assert abs(baseline - 0.54) < 1e-4
    v, u = np.nonzero(depth_l > 0)
    z = depth_l[v, u]
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], 1)
    world = cam @ T_l[:3, :3].T + T_l[:3, 3]
    in_r = (world - T_r[:3, 3]) @ T_r[:3, :3]
    uv = in_r[:, :2] / in_r[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    px = np.round(uv).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < 64) & (px[:, 1] >= 0) & (px[:, 1] < 48)
    px, in_r, ids = px[inside], in_r[inside], inst_l[v, u][inside]
    seen = np.abs(depth_r[px[:, 1], px[:, 0]] - in_r[:, 2]) < 0.02 * in_r[:, 2]
    assert seen.mean() > 0.6
    assert np.mean(inst_r[px[seen, 1], px[seen, 0]] == ids[seen]) > 0.97


def test_lidar_points_lie_in_the_boxes_of_the_instances_they_name(drive_clip):
    _, clip, ann = drive_clip
    scan = load_labels(clip / "lidar" / "points.npz")
    lidar = ann["lidars"]["lidar"]
    objects = {o["id"]: o for o in ann["objects"]}
    checked = 0
    for f in range(4):
        rows = slice(scan["offsets"][f], scan["offsets"][f + 1])
        xyz, inst = scan["xyz"][rows].astype(float), scan["instance"][rows]
        T_wl = np.array(lidar["T_world_lidar"][f])
        world = xyz @ T_wl[:3, :3].T + T_wl[:3, 3]
        assert set(np.unique(inst)) <= set(objects)
        for oid in np.unique(inst):
            o = objects[int(oid)]
            T_box = np.array(o["T_world_part"][f]) @ np.array(o["T_part_box"])
            local = (world[inst == oid] - T_box[:3, 3]) @ T_box[:3, :3]
            assert np.all(np.abs(local) <= np.array(o["box_size"]) / 2 + 0.01), o["name"]
            checked += 1
        classes = {c["id"]: c["name"] for c in ann["classes"]}
        sem = scan["semantic"][rows]
        assert all(
            classes[int(s)] == objects[int(i)]["class"] for s, i in zip(sem, inst, strict=True)
        )
    assert checked > 10
    assert "ego" not in {objects[int(i)]["body"] for i in np.unique(scan["instance"])}


def test_a_drive_exports_to_kitti(drive_clip, tmp_path):
    out, _, ann = drive_clip
    n = export_kitti(out, tmp_path / "kitti", camera="cam0", right_camera="cam1")
    assert n == 4
    root = tmp_path / "kitti" / "training"
    for folder, ext in [
        ("image_2", "png"),
        ("image_3", "png"),
        ("label_2", "txt"),
        ("calib", "txt"),
        ("velodyne", "bin"),
    ]:
        assert len(list((root / folder).glob(f"*.{ext}"))) == 4
    calib = {}
    for line in (root / "calib" / "000000.txt").read_text().splitlines():
        key, values = line.split(":", 1)
        calib[key] = np.array(values.split(), dtype=float)
    P2, P3 = calib["P2"].reshape(3, 4), calib["P3"].reshape(3, 4)
    assert np.isclose((P2[0, 3] - P3[0, 3]) / P2[0, 0], 0.54, atol=1e-4)  # the stereo baseline
    points = np.fromfile(root / "velodyne" / "000000.bin", dtype=np.float32).reshape(-1, 4)
    assert len(points) == ann["lidars"]["lidar"]["points_per_frame"][0]
