"""People drawn with the anny body model: the phenotype and look a seed gives, the
whole-body keypoint layout, a person's mesh rebuilt from the recorded bones, hand
keypoints on the hand's surface, and masks, depth and 3D boxes that agree."""

import json

import numpy as np
import pytest
import trimesh

from simfactory.sim.actors.body import (
    REGIONS,
    body_model,
    bone_labels,
    ensure_cache,
    make_person,
    rest_body,
    sample_phenotype,
)
from simfactory.sim.annotate.keypoints import (
    COCO_KEYPOINTS,
    WHOLEBODY_KEYPOINTS,
    WHOLEBODY_SKELETON,
    WHOLEBODY_SLICES,
)
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import load_config
from simfactory.sim.write.encodings import load_labels

FRAMES, FPS = 6, 6
CLIP_ROOT = []  # the dataset folder of the module's clip


@pytest.fixture(scope="session")
def anny_cache():
    """anny's model cache, built once per machine (minutes the first time)."""
    ensure_cache()
    return body_model()


def _config() -> dict:
    return load_config(
        [
            "scene=hoi",
            "scene.task=pick_place",
            "scene.actor=human",
            "camera.path=static",
            f"fps={FPS}",
            f"frames={FRAMES}",
            "resolution=[64,48]",
            "export.preview=false",
            "scene.num_distractors=0",
        ]
    )


@pytest.fixture(scope="module")
def clip(anny_cache, tmp_path_factory):
    """A person picking something up at a table, 64x48, a few frames."""
    cfg = _config()
    root = tmp_path_factory.mktemp("people")
    generate_clip(cfg, 0, root)
    folder = root / "clips" / "clip_000000"
    ann = json.loads((folder / "annotations.json").read_text())
    traj = Trajectory.load(folder / "trajectory.npz")
    cam = {k: load_labels(folder / "cam0" / f"{k}.npz")[k] for k in ("depth", "instance")}
    CLIP_ROOT.append(root)
    return ann, traj, cam


def test_wholebody_layout_has_133_points_in_coco_wholebody_order():
    assert len(WHOLEBODY_KEYPOINTS) == 133 and len(set(WHOLEBODY_KEYPOINTS)) == 133
    assert WHOLEBODY_KEYPOINTS[:17] == COCO_KEYPOINTS
    sizes = {k: b - a for k, (a, b) in WHOLEBODY_SLICES.items()}
    assert sizes == {"body": 17, "foot": 6, "face": 68, "left_hand": 21, "right_hand": 21}
    assert WHOLEBODY_KEYPOINTS[17:23] == (
        "left_big_toe", "left_small_toe", "left_heel",
        "right_big_toe", "right_small_toe", "right_heel",
    )  # fmt: skip
    assert WHOLEBODY_KEYPOINTS[23] == "face-0" and WHOLEBODY_KEYPOINTS[90] == "face-67"
    assert WHOLEBODY_KEYPOINTS[91] == "left_hand_root"
    assert (
        WHOLEBODY_KEYPOINTS[95] == "left_thumb4"
        and WHOLEBODY_KEYPOINTS[111] == "left_pinky_finger4"
    )
    assert WHOLEBODY_KEYPOINTS[112] == "right_hand_root"
    assert max(max(pair) for pair in WHOLEBODY_SKELETON) == 133


def test_same_seed_same_person_and_seeds_give_a_population(anny_cache):
    a, regions_a = make_person("p", "p", np.random.default_rng(7))
    b, regions_b = make_person("p", "p", np.random.default_rng(7))
    assert a == b
    assert [r.name for r in regions_a] == [r.name for r in regions_b]
    for ra, rb in zip(regions_a, regions_b, strict=True):
        np.testing.assert_array_equal(ra.mesh.vertices, rb.mesh.vertices)
        np.testing.assert_array_equal(ra.skin_vertices, rb.skin_vertices)
    c, _ = make_person("p", "p", np.random.default_rng(8))
    assert c.phenotype != a.phenotype
    # Many seeds: children to elders, women and men, a spread of heights.
    rng = np.random.default_rng(0)
    people = [sample_phenotype(rng, (6.0, 85.0)) for _ in range(40)]
    ages = [p.age_years for p in people]
    assert min(ages) < 15 and max(ages) > 60
    assert {p.gender < 0.5 for p in people} == {True, False}
    # Heights of their age and sex: children shorter, adults 1.45-2.0 m.
    sized = [make_person("p", "p", rng, (6.0, 85.0))[0] for _ in range(12)]
    heights = np.array([p.height for p in sized])
    ages = np.array([p.phenotype["age_years"] for p in sized])
    assert heights.max() - heights.min() > 0.2
    assert np.all((heights[ages >= 18] > 1.45) & (heights[ages >= 18] < 2.0))
    assert np.all(heights[ages < 10] < 1.5)


def test_regions_cover_the_body_with_their_own_materials(anny_cache):
    person, regions = make_person("p", "p", np.random.default_rng(3))
    names = [r.name.split("/")[1] for r in regions]
    assert {"skin", "top", "bottom", "shoes"} <= set(names) <= set(REGIONS)
    covered = np.zeros(len(body_model().template_vertices), bool)
    for r in regions:
        covered[r.skin_vertices] = True
        assert r.skin == "p" and r.semantic_class == "person"
    assert covered.all()
    assert len({r.material.base_color for r in regions if "eyes" not in r.name}) >= 3


def _surface_distance(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Each of ``points``' distance (m) to the surface of ``vertices`` and ``faces``."""
    return trimesh.proximity.closest_point(trimesh.Trimesh(vertices, faces, process=False), points)[
        1
    ]


def test_a_person_is_drawn_at_the_coarsest_mesh_within_half_a_pixel(anny_cache):
    """``choose_detail`` simplifies each region over its own vertices to within half a
    pixel where the person comes nearest a camera: coarser for a far camera, the
    fingertips (down to 3 cm of error) and each region's border kept (regions still meet),
    the full mesh's vertices near the drawn surface, and the shadow maps' level the
    coarsest."""
    from types import SimpleNamespace

    from simfactory.sim.actors.body import (
        DETAIL_PIXELS,
        _tip_vertices,
        choose_detail,
        simplify_region,
    )
    from simfactory.sim.model.camera import intrinsics
    from simfactory.sim.model.spec import CameraPath, CameraSpec

    person, regions = make_person("p", "p", np.random.default_rng(3))
    full = {r.name: np.asarray(r.mesh.faces) for r in regions}
    focal = intrinsics(640, 360, 60.0)[1, 1]

    def drawn(distance: float) -> tuple[float, dict]:
        path = CameraPath(kind="static", eye=(distance, 0.0, 1.0), target=(0.0, 0.0, 1.0))
        cam = CameraSpec("cam0", 640, 360, path=path)
        spec = SimpleNamespace(cameras=[cam], people=[person], cloths=regions)
        traj = SimpleNamespace(
            times=np.zeros(1),
            cloth_names=[r.name for r in regions],
            cloth_vertices=[np.asarray(r.mesh.vertices)[None] for r in regions],
        )
        choose_detail(spec, traj)
        return person.look["drawn_error_m"], {r.name: np.asarray(r.mesh.faces) for r in regions}

    (near_error, near), (far_error, far) = drawn(1.0), drawn(30.0)
    assert 0 < near_error <= DETAIL_PIXELS * 1.0 / focal  # the body's nearest point: < 1 m
    assert DETAIL_PIXELS * 29.0 / focal < far_error <= DETAIL_PIXELS * 30.0 / focal
    count = {name: sum(len(f) for f in level.values()) for name, level in
             (("full", full), ("near", near), ("far", far))}  # fmt: skip
    assert count["far"] < count["near"] / 5 and count["near"] < count["full"]
    tips = set(_tip_vertices(rest_body(person.phenotype)).values())
    skin = next(r for r in regions if r.name == "p/skin")
    rest = np.asarray(skin.mesh.vertices)[None]
    fine = simplify_region(skin, skin.skin_levels[0][1], rest, 0.03)
    for faces in (near["p/skin"], fine):  # the fingertips (keypoints) stay on the surface
        assert tips <= set(skin.skin_vertices[np.unique(faces)].tolist())
    for region in regions:
        name, rest = region.name, np.asarray(region.mesh.vertices)
        assert [e for e, _ in region.skin_levels] == [0.0, far_error, max(far_error, 0.01)]
        assert len(region.skin_levels[2][1]) <= len(far[name])
        edges = np.sort(full[name][:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        unique, counts = np.unique(edges, axis=0, return_counts=True)
        border = np.unique(unique[counts == 1])  # where the region meets another
        for level in (near, far):
            assert level[name].max() < len(rest)
            assert set(border.tolist()) <= set(np.unique(level[name]).tolist()), name
        used = np.unique(full[name])
        distance = _surface_distance(rest, near[name], rest[used])
        assert distance.max() <= 2 * near_error, (name, distance.max(), near_error)


def test_a_coarse_person_keeps_the_vertices_its_poses_bend(anny_cache):
    """The skinned shapes of the clip's poses take part in simplifying a region: bent at
    the waist, the body simplified with that pose stays within twice its error of the
    bent full mesh, closer than the body simplified from its rest shape alone."""
    from simfactory.sim.actors.body import simplify_region

    person, regions = make_person("p", "p", np.random.default_rng(5))
    skin = next(r for r in regions if r.name == "p/skin")
    rest = np.asarray(skin.mesh.vertices)
    waist = rest[:, 2].min() + 0.55 * np.ptp(rest[:, 2])  # a hinge across the body
    angle = np.radians(80.0)
    turn = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    upper = rest[:, 2] > waist
    bent = rest.copy()
    bent[upper] = (rest[upper] - [0, 0, waist]) @ turn.T + [0, 0, waist]
    faces = skin.skin_levels[0][1]
    error = 0.004
    with_pose = simplify_region(skin, faces, np.stack([rest, bent]), error)
    rest_only = simplify_region(skin, faces, rest[None], error)
    used = np.unique(faces)
    posed = _surface_distance(bent, with_pose, bent[used]).max()
    unposed = _surface_distance(bent, rest_only, bent[used]).max()
    assert posed <= 2 * error < unposed, (posed, unposed)


def test_the_person_is_its_skinned_mesh_and_rebuilds_from_the_bones(clip):
    """The proxy humanoid is not drawn: only the regions' ids are in the instance image;
    anny rebuilds the stored vertices from the phenotype and bones in the annotations."""
    import torch

    ann, traj, cam = clip
    person = ann["keypoints"]["people"]["person"]
    body = person["body"]
    region_ids = {o["id"] for o in ann["objects"] if o.get("person") == "person"}
    proxy_ids = {o["id"] for o in ann["objects"] if o["body"] == body["proxy"]} - region_ids
    seen = set(np.unique(cam["instance"]).tolist())
    assert region_ids & seen and not proxy_ids & seen
    assert body["bone_labels"] == list(bone_labels())
    k = traj.people_names.index("person")
    bones = torch.from_numpy(traj.people_bones[k].astype(np.float64))
    phenotype = {n: body["phenotype"][n] for n in body_model().phenotype_labels}
    with torch.no_grad():
        out = body_model()(bones, phenotype, pose_parameterization=body["pose_parameterization"])
    np.testing.assert_allclose(out["vertices"].numpy(), _whole_mesh(ann, traj), atol=2e-4)


def test_hand_keypoints_lie_on_or_inside_the_hand(clip):
    """Fingertips are on the mesh's surface; the wrist and finger joints are inside the
    body's closed surface (or within 5 mm of it)."""
    ann, traj, _ = clip
    k = traj.people_names.index("person")
    points = traj.people_keypoints[k]
    verts = _whole_mesh(ann, traj)
    faces = body_model().faces.numpy()
    fingers = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
    tips = [WHOLEBODY_KEYPOINTS.index(f"{s}_{f}4") for s in ("left", "right") for f in fingers]
    joints = [i for i in range(91, 133) if i not in tips]
    for t in (0, FRAMES - 1):
        mesh = trimesh.Trimesh(verts[t], faces, process=False)
        d_tips = np.abs(trimesh.proximity.signed_distance(mesh, points[t, tips]))
        assert d_tips.max() < 2e-3
        d = trimesh.proximity.signed_distance(mesh, points[t, joints])  # > 0 inside
        assert d.min() > -5e-3, WHOLEBODY_KEYPOINTS[joints[int(np.argmin(d))]]


def _whole_mesh(ann, traj) -> np.ndarray:
    F = traj.num_frames
    verts = np.full((F, len(body_model().template_vertices), 3), np.nan)
    from simfactory.sim.actors.body import body_regions

    person = ann["keypoints"]["people"]["person"]["body"]
    regions = body_regions("person", rest_body(person["phenotype"]), person["look"])
    for region in regions:
        c = traj.cloth_names.index(region.name)
        verts[:, region.skin_vertices] = traj.cloth_vertices[c]
    assert not np.isnan(verts).any()
    return verts


def test_mask_depth_and_3d_box_of_the_person_agree(clip):
    """Every pixel of a body region, back-projected through K and the camera pose from its
    depth, lies inside that region's 3D box."""
    ann, _, cam = clip
    view = ann["cameras"]["cam0"]
    K = np.array(view["K"])
    checked = 0
    for t in range(FRAMES):
        T_wc = np.array(view["T_world_camera"][t])
        for obj in view["frames"][t]["objects"]:
            if not ann["objects"][obj["id"] - 1].get("person"):
                continue
            mask = cam["instance"][t] == obj["id"]
            assert obj["visible_pixels"] == int(mask.sum())
            if not mask.any():
                continue
            v, u = np.nonzero(mask)
            z = cam["depth"][t][mask].astype(float)
            pts = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], 1)
            world = pts @ T_wc[:3, :3].T + T_wc[:3, 3]
            box = obj["box3d"]
            local = (world - np.array(box["center_world"])) @ np.array(box["rotation_world"])
            assert np.all(np.abs(local) <= np.array(box["size"]) / 2 + 2e-3)
            x0, y0, x1, y1 = obj["bbox_visible"]
            assert u.min() >= x0 and u.max() < x1 and v.min() >= y0 and v.max() < y1
            checked += len(z)
    assert checked > 50


def test_the_clip_labels_whole_body_keypoints(clip):
    ann, traj, cam = clip
    kp = ann["keypoints"]
    assert kp["layout"] == "coco_wholebody" and kp["names"] == list(WHOLEBODY_KEYPOINTS)
    person = kp["people"]["person"]
    world, placed = np.array(person["world"]), np.array(person["placed"])
    assert world.shape == (FRAMES, 133, 3)
    face = slice(*WHOLEBODY_SLICES["face"])
    assert not placed[face].any() and placed[:23].all() and placed[91:].all()
    assert np.all(world[:, face] == 0)
    image = ann["cameras"]["cam0"]["keypoints"]["person"]
    flags = np.array(image["visibility"])
    assert np.all(flags[:, face] == 0) and (flags[:, :17] == 2).any()
    # The captions say who the person is.
    assert any(" top " in c and not c.startswith("A person") for c in ann["family"]["captions"])
    # Feet on the floor, head at the person's height (standing at frame 0).
    z = world[0, :, 2]
    assert z[17:23].min() < 0.1 and abs(z[0] - kp["people"]["person"]["body"]["height_m"]) < 0.2


def test_a_grasping_hand_closes_its_fingertips_on_the_held_object(clip):
    """While the hand holds the object (fingers fully closed), every fingertip is within
    1 cm of the object's surface and no deeper than 5 mm inside it."""
    from simfactory.sim.actors.body import grip_schedule
    from simfactory.sim.run.build import build_scene

    ann, traj, _ = clip
    spec = build_scene(_config(), 0)
    grip = spec.people[0].grips["right"]
    body = next(b for b in spec.bodies if b.name == grip["object"])
    mesh = trimesh.util.concatenate([v.mesh for v in body.visuals])
    poses = traj.poses[:, traj.part_names.index(grip["object"])]
    _, close = grip_schedule(traj.times, grip["start"], grip["end"])
    held = np.flatnonzero(close >= 1.0)
    assert len(held)
    tips = [WHOLEBODY_KEYPOINTS.index(f"right_{f}4") for f in
            ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")]  # fmt: skip
    points = traj.people_keypoints[traj.people_names.index("person")]
    for t in held:
        local = (points[t, tips] - poses[t, :3, 3]) @ poses[t, :3, :3]
        depth = trimesh.proximity.signed_distance(mesh, local)  # > 0 inside
        assert np.all(depth > -0.01) and np.all(depth < 0.005), (t, depth)


def test_driving_pedestrians_are_coarse_anny_bodies(anny_cache):
    """Pedestrians are people of the body model (all ages), each dressing a hidden
    humanoid of its height, drawn with a coarser mesh."""
    from simfactory.sim.run.build import build_scene

    cfg = load_config(
        [
            "scene=driving",
            "frames=4",
            "resolution=[64,48]",
            "scene.num_vehicles=2",
            "scene.num_pedestrians=4",
            "scene.warmup_s=1.0",
            "scene.blocks=2",
        ]
    )
    spec = build_scene(cfg, 0)
    walkers = [b for b in spec.bodies if b.name.startswith("pedestrian_")]
    assert walkers and {p.proxy for p in spec.people} == {b.name for b in walkers}
    agents = spec.annotations["agents"]
    full = len(body_model().faces)
    for person in spec.people:
        regions = [c for c in spec.cloths if c.skin == person.name]
        assert 0 < sum(len(c.mesh.faces) for c in regions) < full / 3
        assert agents[person.name]["height"] == pytest.approx(person.height, abs=1e-3)
        assert agents[person.name]["body"]["phenotype"] == person.phenotype


def test_lidar_sees_a_skinned_region_as_its_own_instance():
    """A mesh given per frame (a person's region) is hit by the LiDAR rays with its own
    instance id (after the parts) and class, where it is in that frame."""
    from simfactory.sim.annotate.lidar import Sheet, scan
    from simfactory.sim.model.spec import LidarSpec

    box = trimesh.creation.box((0.4, 0.4, 1.6))
    frames = np.stack([box.vertices + [3.0, 0.0, 0.0], box.vertices + [0.0, 3.0, 0.0]])
    lidar = LidarSpec("lidar", "ego", channels=8, vertical_fov_deg=(-10.0, 10.0),
                      horizontal_resolution_deg=2.0, range_m=20.0)  # fmt: skip
    sheet = Sheet(frames, np.asarray(box.faces), class_id=5, albedo=0.5)
    poses = np.tile(np.eye(4), (2, 1, 1, 1))
    T = np.tile(np.eye(4), (2, 1, 1))
    points = scan(lidar, [[]], poses, T, np.array([1]), 10.0, ["ego"], None, [sheet])
    for f, direction in enumerate(([1.0, 0.0], [0.0, 1.0])):
        xyz = points.xyz[points.offsets[f] : points.offsets[f + 1]]
        ids = points.instance[points.offsets[f] : points.offsets[f + 1]]
        assert len(xyz) and np.all(ids == 2) and np.all(points.semantic == 5)
        assert np.all(xyz[:, :2] @ np.array(direction) > 2.7)


def test_coco_export_carries_whole_body_keypoints(clip, tmp_path):
    """With bodies as instances the person is one COCO annotation per frame, with its 133
    keypoints in COCO's pixel-edge coordinates; the person category lists their names."""
    from simfactory.sim.export.coco import export_coco

    ann, _, _ = clip
    export_coco(CLIP_ROOT[0], tmp_path / "coco", instances="bodies", image_format="png")
    coco = json.loads((tmp_path / "coco" / "annotations" / "instances.json").read_text())
    person = next(c for c in coco["categories"] if c["name"] == "person")
    assert person["keypoints"] == list(WHOLEBODY_KEYPOINTS)
    people = [a for a in coco["annotations"] if a["object_name"] == "person"]
    assert len(people) == FRAMES
    image = ann["cameras"]["cam0"]["keypoints"]["person"]
    for a in people:
        f = next(i["frame"] for i in coco["images"] if i["id"] == a["image_id"])
        kp = np.array(a["keypoints"]).reshape(133, 3)
        v = np.array(image["visibility"][f])
        np.testing.assert_array_equal(kp[:, 2], v)
        np.testing.assert_allclose(kp[v > 0, :2], np.array(image["xy"][f])[v > 0] + 0.5, atol=1e-3)
        assert a["num_keypoints"] == int((v > 0).sum()) and np.all(kp[v == 0] == 0)


def test_a_bad_body_model_is_a_config_error_naming_the_key():
    from simfactory.sim.run.config import ConfigError, validate

    with pytest.raises(ConfigError, match="scene.body"):
        validate(load_config(["scene=hoi", "scene.body=robot"]))
    with pytest.raises(ConfigError, match="scene.pedestrian_body"):
        validate(load_config(["scene=driving", "scene.pedestrian_body=capsules"]))


def test_shadow_maps_cull_a_persons_back_faces_and_the_clip_stays_the_same(
    anny_cache, tmp_path, monkeypatch
):
    """A person's regions together bound a closed surface facing out, so the shadow
    maps leave out its back faces: the clip's files are the same, byte for byte, as
    with every face drawn."""
    from simfactory.sim.render import raster
    from simfactory.sim.run.build import build_scene
    from simfactory.sim.run.clip import simulate

    cfg = _config()
    spec = build_scene(cfg, 0)
    simulate(spec, cfg)
    regions = [c for c in spec.cloths if c.skin]
    assert len(regions) >= 5 and raster.closed_regions(regions).all()
    files = {}
    for cull in (True, False):
        monkeypatch.setattr(raster, "CULL_CLOSED_SHADOWS", cull)
        root = tmp_path / str(cull)
        generate_clip(cfg, 0, root)
        clip = root / "clips" / "clip_000000"
        files[cull] = {p.relative_to(clip): p.read_bytes() for p in clip.rglob("*") if p.is_file()}
    assert files[True].keys() == files[False].keys() and len(files[True]) >= 6
    assert all(files[True][k] == files[False][k] for k in files[True])
