"""Camera paths of the furniture family, checked on the simulated trajectory."""

import numpy as np
import pytest

from simfactory.sim.model.camera import camera_poses, intrinsics
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.physics import rollout


@pytest.mark.parametrize("path", ["walkthrough", "orbit", "static", "follow"])
def test_camera_path_is_a_rigid_pose_inside_the_room(path):
    cfg = load_config([f"camera={path}", "frames=12", "resolution=[64,48]", "seed=4"])
    spec = build_scene(cfg, 0)
    traj = rollout(spec, cfg["fps"], cfg["frames"])
    cam = spec.cameras[0]
    T = camera_poses(cam, traj.times, spec, traj)
    R = T[:, :3, :3]
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(R), 1.0)
    floor = traj.part_names.index("floor")
    assert np.all(T[:, 2, 3] > traj.poses[0, floor, 2, 3] + 0.3)
    if path == "follow":
        assert spec.params["camera"]["kind"] == "follow"
        body = traj.part_names.index(cam.path.body)
        K = intrinsics(cam.width, cam.height, cam.fov_y_deg)
        aim = traj.poses[:, body, :3, 3] + np.asarray(cam.path.target)
        local = np.einsum("fji,fj->fi", R, aim - T[:, :3, 3])  # world -> camera frame
        u = K[0, 0] * local[:, 0] / local[:, 2] + K[0, 2]
        v = K[1, 1] * local[:, 1] / local[:, 2] + K[1, 2]
        # The followed piece stays at the image centre while it moves.
        np.testing.assert_allclose(u, K[0, 2], atol=1e-6)
        np.testing.assert_allclose(v, K[1, 2], atol=1e-6)
        moved = np.linalg.norm(traj.poses[-1, body, :3, 3] - traj.poses[0, body, :3, 3])
        eye_moved = np.linalg.norm(T[-1, :3, 3] - T[0, :3, 3])
        assert eye_moved == pytest.approx(moved, abs=1e-9)
