"""COCO-17 keypoints of the humanoid: placement on the model, visibility flags, and a
rendered clip of a pedestrian walking towards a camera, seen by four cameras."""

import json

import numpy as np
import pybullet as pb
import pytest
import trimesh

from simfactory.sim.actors.humanoid import HUMANOID_URDF, pedestrian_body
from simfactory.sim.annotate.keypoints import (
    COCO_KEYPOINTS,
    COCO_SKELETON,
    OCCLUSION_TOLERANCE,
    humanoid_keypoint_offsets,
    keypoints_2d,
    keypoints_3d,
)
from simfactory.sim.model.spec import (
    Body,
    CameraPath,
    CameraSpec,
    Light,
    Material,
    SceneSpec,
    Visual,
)
from simfactory.sim.run.clip import generate_clip
from tests.conftest import tiny_config

FRAMES, FPS, SPEED = 6, 24, 1.4
KP = {name: k for k, name in enumerate(COCO_KEYPOINTS)}
FACE = [KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]


def _kp(*names: str) -> list[int]:
    return [KP[n] for n in names]


def test_coco_tables():
    assert len(COCO_KEYPOINTS) == 17 and len(COCO_SKELETON) == 19
    assert {i for pair in COCO_SKELETON for i in pair} == set(range(1, 18))
    assert [COCO_KEYPOINTS[a - 1] for a in COCO_SKELETON[0]] == ["left_ankle", "left_knee"]


def test_joints_at_link_origins_and_face_on_the_front_of_the_head():
    scale = 0.5
    offsets = humanoid_keypoint_offsets(scale)
    assert list(offsets) == list(COCO_KEYPOINTS)
    c = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(HUMANOID_URDF, globalScaling=scale, physicsClientId=c)
        links = {
            pb.getJointInfo(uid, j, physicsClientId=c)[12].decode(): j
            for j in range(pb.getNumJoints(uid, physicsClientId=c))
        }
        at_rest = {
            n: np.array(pb.getLinkState(uid, j, physicsClientId=c)[4]) for n, j in links.items()
        }
        (head,) = pb.getCollisionShapeData(uid, links["neck"], physicsClientId=c)
        head_centre = np.array(pb.getDynamicsInfo(uid, links["neck"], physicsClientId=c)[3])
    finally:
        pb.disconnect(c)
    for name in COCO_KEYPOINTS[5:]:
        link, point = offsets[name]
        assert link == name and np.allclose(point, 0.0)
    radius = head[3][0]
    face = {n: p for n, (link, p) in offsets.items() if link == "neck"}
    assert list(face) == list(COCO_KEYPOINTS[:5])
    for point in face.values():  # on the head sphere, in the neck link's frame
        assert np.linalg.norm(point - head_centre) == pytest.approx(radius, rel=1e-6)
    # The model faces +x (its feet point there) and its left side is where the left
    # shoulder sits at rest.
    assert face["nose"][0] - head_centre[0] == pytest.approx(radius, rel=0.05)
    left = np.sign(at_rest["left_shoulder"][2])
    assert left == -np.sign(at_rest["right_shoulder"][2]) != 0
    for side, sign in (("left", left), ("right", -left)):
        assert np.sign(face[f"{side}_ear"][2]) == sign and np.sign(face[f"{side}_eye"][2]) == sign
    assert face["left_eye"][1] > face["nose"][1]


def test_visibility_flags_from_depth_and_instance():
    W, H = 8, 6
    K = np.array([[4.0, 0, (W - 1) / 2], [0, 4.0, (H - 1) / 2], [0, 0, 1]])
    T = np.eye(4)[None]  # camera at the origin looking along +z
    points = np.array(
        [
            [[0.0, 0.0, 2.0],  # a foreign surface 1 m in front: occluded
             [0.5, 0.0, 2.0],  # its own part in front: visible
             [-0.5, 0.0, 2.0],  # a foreign surface within the tolerance: visible
             [0.0, 0.5, 2.0],  # nothing rendered there: visible
             [0.0, 0.0, -2.0],  # behind the camera
             [5.0, 0.0, 2.0]]  # outside the image
        ]
    )  # fmt: skip
    depth = np.zeros((1, H, W), np.float32)
    instance = np.zeros((1, H, W), np.uint16)
    u = K[0, 0] * points[0, :, 0] / points[0, :, 2] + K[0, 2]
    v = K[1, 1] * points[0, :, 1] / points[0, :, 2] + K[1, 2]
    cols, rows = np.floor(u + 0.5).astype(int), np.floor(v + 0.5).astype(int)
    for k, (d, i) in enumerate([(1.0, 5), (1.0, 3), (2.0 - 0.8 * OCCLUSION_TOLERANCE, 5)]):
        depth[0, rows[k], cols[k]], instance[0, rows[k], cols[k]] = d, i
    xy, flags = keypoints_2d(points, K, T, depth, instance, {3, 4}, W, H)
    assert flags.tolist() == [[1, 2, 2, 2, 0, 0]]
    assert np.allclose(xy[0, :4], np.stack([u, v], 1)[:4])
    assert np.all(xy[0, 4:] == 0)


def _box(name, cls, size, centre) -> Body:
    mesh = trimesh.creation.box(size, transform=trimesh.transformations.translation_matrix(centre))
    return Body(name, cls, [Visual(mesh, Material(name, (0.5, 0.5, 0.5, 1)))], collision="box")


def _camera(name, eye, target) -> CameraSpec:
    return CameraSpec(name, 64, 48, 40.0, path=CameraPath("static", eye=eye, target=target))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 1.8 m pedestrian walking along +x towards the camera "front"; a low wall hides
    its legs from "side"; "close" sees only its head and shoulders; "away" looks away."""
    t = np.linspace(0.0, 1.0, 11)
    path = np.c_[-0.6 + SPEED * t, np.zeros_like(t)]
    bodies = [
        _box("ground", "road", (20, 20, 0.2), (0, 0, -0.1)),
        pedestrian_body("ped", path, t, "walk", 1.8),
        _box("wall", "fence", (2.0, 0.2, 0.8), (-0.45, -1.5, 0.4)),
    ]
    cameras = [
        _camera("front", (3.5, 0.0, 1.0), (-0.45, 0.0, 0.9)),
        _camera("side", (-0.45, -4.5, 0.9), (-0.45, 0.0, 0.8)),
        _camera("close", (1.0, 0.0, 1.65), (-0.45, 0.0, 1.65)),
        _camera("away", (3.5, 0.0, 1.0), (6.0, 0.0, 1.0)),
    ]
    spec = SceneSpec("test", bodies, [Light("directional", direction=(-0.3, 0.2, -1.0))], cameras)
    cfg = tiny_config(frames=FRAMES, fps=FPS, **{"export.preview": False})
    out = tmp_path_factory.mktemp("keypoints")
    generate_clip(cfg, 0, out, spec=spec)
    folder = out / "clips" / "clip_000000"
    ann = json.loads((folder / "annotations.json").read_text())
    instance = {c.name: np.load(folder / c.name / "instance.npz")["instance"] for c in cameras}
    return ann, instance, spec.bodies[1].urdf_scale


def _camera_keypoints(ann, cam):
    kp = ann["cameras"][cam]["keypoints"]["ped"]
    return np.array(kp["xy"]), np.array(kp["visibility"])


def test_clip_lists_the_person_and_its_world_keypoints(clip):
    ann, _, scale = clip
    assert ann["keypoints"]["names"] == list(COCO_KEYPOINTS)
    assert ann["keypoints"]["skeleton"] == COCO_SKELETON
    assert list(ann["keypoints"]["people"]) == ["ped"]
    assert "keypoints" in ann["conventions"]
    world = np.array(ann["keypoints"]["people"]["ped"]["world"])
    assert world.shape == (FRAMES, 17, 3)
    names = [o["name"] for o in ann["objects"]]
    poses = np.array([o["T_world_part"] for o in ann["objects"]]).transpose(1, 0, 2, 3)
    assert np.allclose(keypoints_3d("ped", names, poses, scale), world, atol=1e-5)


def test_body_parts_stack_up_from_the_ground(clip):
    ann, _, _ = clip
    z = np.array(ann["keypoints"]["people"]["ped"]["world"])[..., 2]
    shoulders, hips = (
        z[:, _kp("left_shoulder", "right_shoulder")],
        z[:, _kp("left_hip", "right_hip")],
    )
    knees, ankles = z[:, _kp("left_knee", "right_knee")], z[:, _kp("left_ankle", "right_ankle")]
    assert (z[:, FACE].min(1) > shoulders.max(1)).all()
    assert (z[:, _kp("left_eye", "right_eye")].min(1) > z[:, KP["nose"]]).all()
    assert (shoulders.min(1) > hips.max(1)).all() and (hips.min(1) > knees.max(1)).all()
    assert (knees.min(1) > ankles.max(1)).all()
    assert (ankles.min(1) == z.min(1)).all()
    assert (ankles.min(1) < 0.12).all() and (ankles.max(1) < 0.4).all()  # a foot is down
    assert (z[:, KP["nose"]] > 1.55).all() and (z[:, KP["nose"]] < 1.75).all()


def test_person_facing_the_camera_shows_its_left_side_on_the_right(clip):
    ann, _, _ = clip
    world = np.array(ann["keypoints"]["people"]["ped"]["world"])
    ears = world[:, _kp("left_ear", "right_ear")].mean(1)
    assert (world[:, KP["nose"], 0] > ears[:, 0] + 0.05).all()  # faces +x, its way
    assert (world[:, KP["left_shoulder"], 1] > world[:, KP["right_shoulder"], 1]).all()
    xy, flags = _camera_keypoints(ann, "front")
    for side in ("shoulder", "hip", "ear", "eye", "knee"):
        assert (xy[:, KP[f"left_{side}"], 0] > xy[:, KP[f"right_{side}"], 0]).all(), side
    assert (xy[:, KP["nose"], 1] < xy[:, _kp("left_shoulder", "right_shoulder"), 1].min(1)).all()


def test_visible_keypoints_lie_on_the_person(clip):
    ann, instance, _ = clip
    person = {o["id"] for o in ann["objects"] if o["body"] == "ped"}
    cam = ann["cameras"]["front"]
    xy, flags = _camera_keypoints(ann, "front")
    assert (flags == 2).all()
    K = np.array(cam["K"])
    world = np.array(ann["keypoints"]["people"]["ped"]["world"])
    checked = 0
    for name in ("front", "side", "close"):
        xy, flags = _camera_keypoints(ann, name)
        T = np.array(ann["cameras"][name]["T_world_camera"])
        local = np.einsum("fji,fkj->fki", T[:, :3, :3], world - T[:, None, :3, 3])
        uv = local[..., :2] / local[..., 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
        labelled = flags > 0
        assert np.allclose(xy[labelled], uv[labelled], atol=2e-3)
        for f, k in zip(*np.nonzero(flags == 2), strict=True):
            col, row = np.floor(xy[f, k] + 0.5).astype(int)
            window = instance[name][f, max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
            assert person & set(np.unique(window).tolist()), (name, f, COCO_KEYPOINTS[k])
            checked += 1
    assert checked > 2 * FRAMES * 17


def test_legs_behind_a_wall_are_occluded(clip):
    ann, _, _ = clip
    _, flags = _camera_keypoints(ann, "side")
    legs = _kp("left_knee", "right_knee", "left_ankle", "right_ankle")
    assert (flags[:, legs] == 1).all()
    assert (flags[:, FACE + _kp("left_shoulder", "right_shoulder", "right_hip")] == 2).all()


def test_keypoints_outside_the_image_or_behind_the_camera_are_not_labelled(clip):
    ann, _, _ = clip
    xy, flags = _camera_keypoints(ann, "close")
    legs = _kp("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
    assert (flags[:, legs] == 0).all() and (xy[:, legs] == 0).all()
    assert (flags[:, FACE] == 2).all()
    xy, flags = _camera_keypoints(ann, "away")
    assert (flags == 0).all() and (xy == 0).all()


def test_keypoints_walk_with_the_person(clip):
    ann, _, _ = clip
    world = np.array(ann["keypoints"]["people"]["ped"]["world"])
    pelvis = world[:, _kp("left_hip", "right_hip")].mean(1)
    step = np.diff(pelvis, axis=0)
    assert (step[:, 0] > 0).all()
    travelled = pelvis[-1, :2] - pelvis[0, :2]
    assert travelled[0] == pytest.approx(SPEED * (FRAMES - 1) / FPS, rel=0.25)
    assert abs(travelled[1]) < 0.05
    assert np.ptp(world[:, KP["left_wrist"], 0] - pelvis[:, 0]) > 0.02  # arms swing
