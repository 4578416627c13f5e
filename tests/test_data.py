"""The PyTorch datasets: DataLoader batches over a tiny dataset and over its WebDataset
shards, compared with the decoded files."""

import json

import numpy as np
import pytest

from simfactory.sim.export import read_video
from simfactory.sim.export.webdataset import export_webdataset

torch = pytest.importorskip("torch")
pytest.importorskip("webdataset")

from simfactory.sim.data import ClipDataset, collate_clips, shard_dataset  # noqa: E402
from simfactory.sim.write.encodings import load_labels  # noqa: E402

ALL = ["rgb", "depth", "instance", "semantic", "flow", "flow_backward", "normals"]


def _files(clip) -> dict[str, np.ndarray]:
    """Every modality of cam0 decoded straight from the clip's files, in item layout."""
    cam = clip / "cam0"
    flow = load_labels(cam / "flow.npz")
    normals = load_labels(cam / "normals.npz")["normals"]
    return {
        "rgb": np.stack(list(read_video(cam / "rgb.mp4"))).transpose(0, 3, 1, 2),
        "depth": load_labels(cam / "depth.npz")["depth"][:, None],
        "instance": np.load(cam / "instance.npz")["instance"].astype(np.int32),
        "semantic": np.load(cam / "semantic.npz")["semantic"],
        "flow": flow["forward"].transpose(0, 3, 1, 2),
        "flow_valid": flow["forward_valid"],
        "flow_backward": flow["backward"].transpose(0, 3, 1, 2),
        "flow_backward_valid": flow["backward_valid"],
        "normals": normals.astype(np.float32).transpose(0, 3, 1, 2),
    }


def _check_batch(batch: dict, dataset, frames: list[range]) -> None:
    for b, (clip_id, window) in enumerate(zip(batch["clip_id"], frames, strict=True)):
        truth = _files(dataset / "clips" / clip_id)
        ann = json.loads((dataset / "clips" / clip_id / "annotations.json").read_text())
        assert batch["annotations"][b] == ann
        assert batch["frames"][b].tolist() == list(window)
        for key, array in truth.items():
            assert np.array_equal(batch[key][b].numpy(), array[list(window)]), key


def test_clip_dataset_in_a_dataloader(tiny_dataset):
    cfg, dataset = tiny_dataset
    F, (W, H) = cfg["frames"], cfg["resolution"]
    data = ClipDataset(dataset, modalities=ALL, camera="cam0")
    assert len(data) == cfg["num_clips"]
    loader = torch.utils.data.DataLoader(data, batch_size=2, collate_fn=collate_clips)
    (batch,) = list(loader)
    assert batch["rgb"].shape == (2, F, 3, H, W) and batch["rgb"].dtype == torch.uint8
    assert batch["depth"].shape == (2, F, 1, H, W) and batch["depth"].dtype == torch.float32
    assert batch["instance"].shape == (2, F, H, W) and batch["instance"].dtype == torch.int32
    assert batch["semantic"].shape == (2, F, H, W) and batch["semantic"].dtype == torch.uint8
    assert batch["flow"].shape == (2, F, 2, H, W) and batch["flow_valid"].dtype == torch.bool
    assert batch["normals"].shape == (2, F, 3, H, W)
    assert batch["clip_id"] == ["clip_000000", "clip_000001"]
    _check_batch(batch, dataset, [range(F)] * 2)
    assert batch["depth"].max() > 0 and batch["instance"].max() > 0

    windows = ClipDataset(
        dataset, modalities=["rgb", "depth"], clip_length=4, stride=2, rgb_dtype="float32"
    )
    assert len(windows) == 2 * 2  # frames 0-3 and 2-5 of each clip
    serial = list(torch.utils.data.DataLoader(windows, batch_size=2, collate_fn=collate_clips))
    parallel = torch.utils.data.DataLoader(
        windows, batch_size=2, num_workers=2, collate_fn=collate_clips
    )
    for one, two in zip(serial, parallel, strict=True):
        assert one["clip_id"] == two["clip_id"]
        assert torch.equal(one["rgb"], two["rgb"]) and torch.equal(one["depth"], two["depth"])
    first = serial[0]
    assert first["frames"].tolist() == [[0, 1, 2, 3], [2, 3, 4, 5]]
    assert first["rgb"].dtype == torch.float32 and first["rgb"].max() <= 1.0
    rgb = _files(dataset / "clips" / "clip_000000")["rgb"]
    assert torch.allclose(first["rgb"][1], torch.from_numpy(rgb[2:6]).float() / 255)

    with pytest.raises(ValueError, match="modalities"):
        ClipDataset(dataset, modalities=["rgb", "albedo"])
    with pytest.raises(ValueError, match="no camera 'cam9'"):
        ClipDataset(dataset, camera="cam9")[0]


def test_shard_dataset_in_a_dataloader(tiny_dataset, tmp_path):
    cfg, dataset = tiny_dataset
    shards = export_webdataset(dataset, tmp_path / "wds", max_shard_bytes=1000)
    assert len(shards) == cfg["num_clips"]
    urls = [str(s.path) for s in shards]

    data = shard_dataset(urls, modalities=ALL, frames=slice(1, 5))
    (batch,) = list(torch.utils.data.DataLoader(data, batch_size=2, collate_fn=collate_clips))
    assert batch["clip_id"] == ["clip_000000", "clip_000001"]
    assert batch["rgb"].shape == (2, 4, 3, *cfg["resolution"][::-1])
    _check_batch(batch, dataset, [range(1, 5)] * 2)

    per_worker = shard_dataset(urls, modalities=["depth"], clip_length=3, annotations=False)
    loader = torch.utils.data.DataLoader(
        per_worker, batch_size=1, num_workers=2, collate_fn=collate_clips
    )
    seen = sorted((b["clip_id"][0], b["frames"][0, 0].item()) for b in loader)
    assert seen == [("clip_000000", 0), ("clip_000000", 3), ("clip_000001", 0), ("clip_000001", 3)]


def test_torch_is_optional(monkeypatch):
    import importlib
    import subprocess
    import sys

    code = (
        "import sys, simfactory.sim.run.cli, simfactory.sim.export.cli;"
        "import simfactory.sim.export.parquet;"
        "assert 'torch' not in sys.modules and 'pyarrow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "simfactory.sim.data")
    with pytest.raises(ImportError, match=r"pip install 'simfactory\[torch\]'"):
        importlib.import_module("simfactory.sim.data")
