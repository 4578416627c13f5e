"""Compact label encodings: their error bounds, and that every loader gives back what
was written."""

from types import SimpleNamespace

import numpy as np
import pytest

from simfactory.sim.export.parquet import mean_flow_magnitude
from simfactory.sim.render.shots import CameraShot
from simfactory.sim.run.config import ConfigError, validate
from simfactory.sim.write.clip_files import write_camera_files
from simfactory.sim.write.encodings import (
    decode,
    encode_depth,
    encode_flow,
    encode_lidar,
    encode_normals,
    fixed_flow_frame,
    flow_scale_for,
    flow_work,
    load_labels,
)
from tests.conftest import tiny_config

F, H, W = 3, 24, 32


def _depth(rng, far: float) -> np.ndarray:
    depth = rng.uniform(0.05, far, (F, H, W)).astype(np.float32)
    depth[:, :4] = 0.0  # no surface
    depth[0, 5, 5] = 0.0003  # closer than half a unit: must not become "no surface"
    return depth


@pytest.mark.parametrize(("far", "scale"), [(60.0, 0.001), (65.5, 0.001), (300.0, 0.008)])
def test_depth_error_is_at_most_half_a_unit(far, scale):
    depth = _depth(np.random.default_rng(0), far)
    depth[1, 10, 10] = far
    encoded = encode_depth(depth)
    assert encoded["depth"].dtype == np.uint16 and encoded["depth_scale"].shape == ()
    assert float(encoded["depth_scale"]) == pytest.approx(scale)
    decoded = decode(encoded, "depth")
    assert decoded.dtype == np.float32
    surface = depth > 0
    assert np.array_equal(decoded > 0, surface)
    error = np.abs(decoded - depth)[surface & (depth > scale)]
    assert error.max() <= scale / 2 + 1e-6 * far
    assert error.max() > scale / 4  # the bound is not loose by much


@pytest.mark.parametrize(("largest", "scale"), [(300.0, 1 / 64), (2000.0, 1 / 16)])
def test_flow_error_is_bounded_and_lands_on_the_same_pixel(largest, scale):
    rng = np.random.default_rng(1)
    flows = rng.uniform(-largest, largest, (2, F, H, W, 2)).astype(np.float32)
    # Points landing close to pixel edges, where rounding to the nearest unit would cross.
    flows[:, :, :8, :, 0] = np.float32(0.5 - rng.uniform(0, scale, (2, F, 8, W)))
    valid = rng.random((2, F, H, W)) < 0.7
    encoded = encode_flow(flows[0], valid[0], flows[1], valid[1])
    assert float(encoded["flow_scale"]) == scale
    rows, cols = np.mgrid[0:H, 0:W]
    for k, key in enumerate(("forward", "backward")):
        stored = encoded[key]
        assert stored.dtype == np.int16 and stored.shape == (F, 2, H, W)  # planar
        stored = np.moveaxis(stored, 1, -1)
        assert np.array_equal(encoded[f"{key}_valid"], valid[k])
        assert not stored[~valid[k]].any()  # 0 where not valid
        decoded = decode(encoded, key)
        error = np.abs(decoded - flows[k])
        assert error[valid[k]].max() <= scale * (1 + 1e-6)
        for c, grid in ((0, cols), (1, rows)):
            edge = grid + flows[k][..., c].astype(np.float64) + 0.5  # pixel edges at integers
            inner = valid[k] & (np.abs(edge - np.rint(edge)) > scale / 2)
            assert error[..., c][inner].max() <= scale / 2 * (1 + 1e-6)
            assert (valid[k] & ~inner).sum() > 10  # the edge case was exercised
            exact = np.floor(grid + flows[k][..., c].astype(np.float64) + 0.5)[valid[k]]
            landed = (grid + decoded[..., c].astype(np.float64))[valid[k]]
            assert np.array_equal(np.floor(landed + 0.5), exact)
            assert np.array_equal(np.rint(landed), exact)


def _plain_fixed_flow(flow: np.ndarray, valid: np.ndarray, scale: float) -> np.ndarray:
    """``fixed_flow``'s rule for one frame written plainly, in float64 (exact there)."""
    exact = flow.astype(np.float64)
    units = np.rint(exact / scale)
    nearest = np.floor(exact + 0.5)  # the landing pixel's offset
    landed = units * scale
    units -= landed >= nearest + 0.5
    units += landed <= nearest - 0.5
    units[~valid] = 0
    return np.moveaxis(units, -1, 0).astype(np.int16)


def test_flow_encoded_frame_by_frame_in_reused_buffers_is_the_plain_rule():
    rng = np.random.default_rng(5)
    work = flow_work(H, W)  # one set of buffers for every frame and scale below
    out = np.empty((2, H, W), np.int16)
    for scale, largest in ((1 / 64, 20.0), (1 / 64, 500.0), (1 / 16, 2000.0), (2.0, 60000.0)):
        for _ in range(2):
            flow = rng.uniform(-largest, largest, (H, W, 2)).astype(np.float32)
            flow[:4] = np.rint(flow[:4] * 2) / 2  # integers and halves
            flow[4:8] = np.float32(0.5) - rng.uniform(0, scale, (4, W, 2)).astype(np.float32)
            valid = rng.random((H, W)) < 0.7
            flow[~valid & (rng.random((H, W)) < 0.5)] = np.nan  # anything where not valid
            flow[0, 0], valid[0, 0] = (np.inf, -1e30), False
            fixed_flow_frame(flow, valid, scale, out, work)
            assert np.array_equal(out, _plain_fixed_flow(flow, valid, scale)), scale
            assert not out[:, ~valid].any()


def test_largest_flow_bound_picks_the_scale_of_the_largest_valid_flow():
    from simfactory.sim.render.shots import _largest_valid

    rng = np.random.default_rng(6)
    for largest in (3.0, 511.0, 600.0, 5000.0):
        flow = rng.uniform(-largest, largest, (H, W, 2)).astype(np.float32)
        valid = rng.random((H, W)) < 0.5
        for junk in (0.0, 700.0, np.nan, np.inf):  # what pixels not valid may hold
            flow[~valid] = junk
            exact = float(np.abs(flow[valid]).max())
            assert flow_scale_for(_largest_valid(flow, valid)) == flow_scale_for(exact)
            assert _largest_valid(flow, valid) >= exact
    assert _largest_valid(flow, np.zeros((H, W), bool)) == 0.0


def test_normals_error_is_at_most_half_a_unit():
    rng = np.random.default_rng(2)
    normals = rng.normal(size=(F, H, W, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals[:, :3] = 0
    normals = normals.astype(np.float16)
    encoded = encode_normals(normals)
    assert encoded["normals"].dtype == np.int8
    error = np.abs(decode(encoded, "normals") - normals.astype(np.float32))
    assert error.max() <= 1 / 254 + 1e-6
    assert not encoded["normals"][:, :3].any()


def _shot(rng) -> CameraShot:
    depth = _depth(rng, 20.0)
    depth[0, 5, 5] = 0.05  # the nearest a camera sees
    instance = rng.integers(0, 5, (F, H, W)).astype(np.uint16)
    normals = rng.normal(size=(F, H, W, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    valid = rng.random((2, F, H, W)) < 0.6
    valid[0, -1] = valid[1, 0] = False
    flow = rng.uniform(-5, 5, (2, F, H, W, 2)).astype(np.float32)
    return CameraShot(
        rgb=rng.integers(0, 255, (F, H, W, 3)).astype(np.uint8),
        depth=depth,
        instance=instance,
        normals=normals.astype(np.float16),
        unoccluded=np.zeros((F, 5), np.int64),
        flow_forward=flow[0],
        flow_forward_valid=valid[0],
        flow_backward=flow[1],
        flow_backward_valid=valid[1],
    )


def _export(encoding: str) -> dict:
    return {"video_crf": 18, "video_preset": "ultrafast", "compress_level": 1,
            "compress_floats": False, "label_encoding": encoding}  # fmt: skip


@pytest.mark.parametrize("encoding", ["compact", "float32"])
def test_loaders_give_back_what_was_written(tmp_path, encoding):
    torch = pytest.importorskip("torch")
    from simfactory.sim.data import load_item

    shot = _shot(np.random.default_rng(3))
    semantic = (shot.instance * 2).astype(np.uint8)
    write_camera_files(tmp_path / "cam0", shot, semantic, 24, _export(encoding))
    files = {p.name: load_labels(p) for p in (tmp_path / "cam0").glob("*.npz")}
    compact = encoding == "compact"
    tolerance = {"depth": 0.0005, "flow": 1 / 64, "normals": 1 / 254} if compact else {}

    def close(got, want, key):
        want = np.asarray(want, np.float32)
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance.get(key, 0) + 1e-6)

    assert np.array_equal(files["instance.npz"]["instance"], shot.instance)
    assert np.array_equal(files["semantic.npz"]["semantic"], semantic)
    close(files["depth.npz"]["depth"], shot.depth, "depth")
    close(files["normals.npz"]["normals"].astype(np.float32), shot.normals, "normals")
    flow = files["flow.npz"]
    for key, exact, valid in (
        ("forward", shot.flow_forward, shot.flow_forward_valid),
        ("backward", shot.flow_backward, shot.flow_backward_valid),
    ):
        assert np.array_equal(flow[f"{key}_valid"], valid)
        close(flow[key][valid], exact[valid], "flow")
        if compact:
            assert not flow[key][~valid].any()
    assert set(flow) == {"forward", "forward_valid", "backward", "backward_valid"}

    # The PyTorch loader, frames 1 and 2.
    item = load_item(lambda name: tmp_path / name, "cam0", range(1, 3), ["depth", "flow",
                     "flow_backward", "normals", "instance"])  # fmt: skip
    close(item["depth"][:, 0].numpy(), shot.depth[1:3], "depth")
    close(item["normals"].permute(0, 2, 3, 1).numpy(), shot.normals[1:3], "normals")
    got = item["flow"].permute(0, 2, 3, 1).numpy()
    valid = shot.flow_forward_valid[1:3]
    close(got[valid], shot.flow_forward[1:3][valid], "flow")
    assert torch.equal(item["flow_valid"], torch.from_numpy(valid))
    assert np.array_equal(item["instance"].numpy(), shot.instance[1:3])

    # The Parquet manifest's mean flow length, read frame by frame from the file.
    lengths = np.linalg.norm(flow["forward"][shot.flow_forward_valid].astype(np.float64), axis=-1)
    assert mean_flow_magnitude(tmp_path / "cam0" / "flow.npz") == pytest.approx(lengths.mean())


def test_compact_files_are_plain_numpy(tmp_path):
    shot = _shot(np.random.default_rng(4))
    write_camera_files(tmp_path / "cam0", shot, shot.instance.astype(np.uint8), 24,
                       _export("compact"))  # fmt: skip
    with np.load(tmp_path / "cam0" / "depth.npz") as data:
        metres = data["depth"] * data["depth_scale"]  # what the README tells users to do
    assert metres.dtype == np.float32
    assert np.abs(metres - shot.depth).max() <= 0.0005 + 1e-6
    with np.load(tmp_path / "cam0" / "flow.npz") as data:
        pixels = data["forward"] * data["flow_scale"]  # (F, 2, H, W)
        valid = data["forward_valid"]
    assert pixels.dtype == np.float32 and pixels.shape == (F, 2, H, W)
    exact = shot.flow_forward.transpose(0, 3, 1, 2)
    assert np.abs(pixels - exact).transpose(0, 2, 3, 1)[valid].max() <= 1 / 64 + 1e-6


def test_label_encoding_is_validated():
    with pytest.raises(ConfigError, match="export.label_encoding"):
        validate(tiny_config(**{"export.label_encoding": "png"}))


def test_lidar_points_error_is_at_most_half_a_unit():
    rng = np.random.default_rng(6)
    xyz = rng.uniform(-100, 100, (5000, 3)).astype(np.float32)
    arrays = {
        "xyz": xyz,
        "intensity": rng.random(5000).astype(np.float32),
        "instance": rng.integers(1, 9, 5000).astype(np.uint16),
        "offsets": np.array([0, 2000, 5000]),
    }
    encoded = encode_lidar(arrays)
    assert encoded["xyz"].dtype == np.int16
    assert float(encoded["xyz_scale"]) == pytest.approx(0.004)
    assert np.abs(decode(encoded, "xyz") - xyz).max() <= 0.002 + 1e-5
    assert encoded["intensity"].dtype == np.uint8
    assert np.abs(decode(encoded, "intensity") - arrays["intensity"]).max() <= 1 / 510 + 1e-6
    assert np.array_equal(encoded["instance"], arrays["instance"])
    assert np.array_equal(encoded["offsets"], arrays["offsets"])


def _moving_box_frames():
    """A sunlit box sliding across a 64x48 camera over 4 frames, and the camera."""
    import trimesh

    from simfactory.sim.model.camera import intrinsics, look_at
    from simfactory.sim.model.spec import Light, Material, Visual

    floor = trimesh.creation.box((6, 6, 0.1))
    floor.apply_translation((0, 0, -0.05))
    visuals = [
        [Visual(floor, Material("floor", (0.7, 0.7, 0.7, 1.0)))],
        [Visual(trimesh.creation.box((0.6, 0.6, 0.6)), Material("red", (0.8, 0.2, 0.2, 1.0)))],
    ]
    sun = Light("directional", direction=(0.8, 0.3, -0.45), cast_shadows=True)
    poses = []
    for x in (-1.2, -0.4, 0.5, 1.1):
        box = np.eye(4)
        box[:3, 3] = (x, 0.1 * x, 0.3)
        poses.append(np.stack([np.eye(4), box]))
    cam = SimpleNamespace(width=64, height=48, near=0.1, far=50.0)
    K = intrinsics(64, 48, 60.0)
    T_wc = np.stack([look_at((0.0, -3.0, 2.2), (0.0, 0.0, 0.2))] * 4)
    return visuals, [sun], np.stack(poses), cam, K, T_wc


@pytest.mark.parametrize("rerendered", [False, True])
def test_compact_shot_writes_the_bytes_of_encoding_float_frames(tmp_path, monkeypatch, rerendered):
    """Normals and flow encoded frame by frame as they are rendered give the files of
    encoding the clip's float arrays at once, also where the flow is too large for the
    finest scale and the camera is rendered again (forced here with a finer one)."""
    from simfactory.sim.model.spec import Sky
    from simfactory.sim.render import shots
    from simfactory.sim.render.raster import process_renderer

    visuals, lights, poses, cam, K, T_wc = _moving_box_frames()
    renderer = process_renderer(None)
    renderer.load_scene(visuals, lights, Sky(), np.array([[-3, -3, -0.1], [3, 3, 1.5]]))
    exact = shots.render_camera(renderer, cam, K, T_wc, poses, 1.0)
    if rerendered:
        monkeypatch.setattr(shots, "FLOW_UNIT", 1.0 / 4096)
    calls = []
    compact = shots.render_camera(
        renderer, cam, K, T_wc, poses, 1.0, on_frame=calls.append, encoding="compact",
        keep_flow=[0, 2],
    )  # fmt: skip
    assert len(calls) == 4  # the colour is sent once, whether or not it is rendered again
    assert compact.normals.dtype == np.int8 and compact.flow_forward.dtype == np.int16
    assert exact.flow_forward_valid.any() and np.abs(exact.flow_forward).max() > 1.0
    for k in (0, 2):
        assert np.array_equal(compact.kept_flow[k], exact.flow_forward[k])
    semantic = exact.instance.astype(np.uint8)
    export = _export("compact")
    write_camera_files(tmp_path / "exact", exact, semantic, 24, export)
    write_camera_files(tmp_path / "compact", compact, semantic, 24, export)
    for name in ("depth.npz", "normals.npz", "flow.npz", "instance.npz", "semantic.npz"):
        exact_bytes = (tmp_path / "exact" / name).read_bytes()
        assert exact_bytes == (tmp_path / "compact" / name).read_bytes(), name
