"""WebDataset shards, read back with the ``webdataset`` library and compared with the
dataset's files; the size bound and byte-identical re-exports."""

import json

import numpy as np
import pytest

from simfactory.sim.export import ExportError
from simfactory.sim.export.cli import main as export_main
from simfactory.sim.export.webdataset import (
    export_webdataset,
    members_bytes,
    plan_shards,
    sample_members,
    tar_file_bytes,
)

wds = pytest.importorskip("webdataset")


def test_shards_read_back_with_webdataset(tiny_dataset, tmp_path):
    _, dataset = tiny_dataset
    out = tmp_path / "wds"
    assert export_main(["webdataset", str(dataset), str(out)]) == 0
    urls = sorted(str(p) for p in out.glob("shard-*.tar"))
    assert [p.rsplit("/", 1)[1] for p in urls] == ["shard-000000.tar"]

    clips = sorted(dataset.glob("clips/clip_*"))
    raw = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert [s["__key__"] for s in raw] == [c.name for c in clips]
    for sample, clip in zip(raw, clips, strict=True):
        files = {
            p.relative_to(clip).as_posix().replace("/", "."): p
            for p in clip.rglob("*")
            if p.is_file() and p.name != "preview.png"
        }
        fields = {k for k in sample if not k.startswith("__")}
        assert fields == set(files)
        assert {"cam0.rgb.mp4", "cam0.depth.npz", "annotations.json", "trajectory.npz"} <= fields
        for name, path in files.items():
            assert sample[name] == path.read_bytes(), name

    decoded = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode())
    for sample, clip in zip(decoded, clips, strict=True):
        assert sample["annotations.json"] == json.loads((clip / "annotations.json").read_text())
        for name in ("depth", "instance", "semantic", "normals"):
            array = np.load(clip / "cam0" / f"{name}.npz")[name]
            assert np.array_equal(sample[f"cam0.{name}.npz"][name], array)
        flow = np.load(clip / "cam0" / "flow.npz")
        assert np.array_equal(sample["cam0.flow.npz"]["forward"], flow["forward"])
        poses = np.load(clip / "trajectory.npz")["poses"]
        assert np.array_equal(sample["trajectory.npz"]["poses"], poses)


def test_shard_size_bound_and_determinism(tiny_dataset, tmp_path):
    _, dataset = tiny_dataset
    clips = sorted(dataset.glob("clips/clip_*"))
    sample_bytes = [members_bytes([p.stat().st_size for _, p in sample_members(c)]) for c in clips]
    together = tar_file_bytes(sum(sample_bytes))

    fits = export_webdataset(dataset, tmp_path / "one", max_shard_bytes=together)
    assert [s.keys for s in fits] == [[c.name for c in clips]]
    assert fits[0].size == together == fits[0].path.stat().st_size

    split = export_webdataset(dataset, tmp_path / "two", max_shard_bytes=together - 1)
    assert [s.keys for s in split] == [[c.name] for c in clips]
    assert all(s.path.stat().st_size <= together - 1 for s in split)
    assert [s.size for s in split] == [tar_file_bytes(b) for b in sample_bytes]

    alone = export_webdataset(dataset, tmp_path / "tiny", max_shard_bytes=1000)
    assert [s.keys for s in alone] == [[c.name] for c in clips]
    urls = [str(s.path) for s in alone]
    assert [s["__key__"] for s in wds.WebDataset(urls, shardshuffle=False)] == [
        c.name for c in clips
    ]

    with pytest.raises(ExportError, match="not empty"):
        export_webdataset(dataset, tmp_path / "two")
    again = export_webdataset(
        dataset, tmp_path / "two", max_shard_bytes=together - 1, overwrite=True
    )
    for first, second in zip(split, again, strict=True):
        assert first.path.read_bytes() == second.path.read_bytes()
    other = export_webdataset(dataset, tmp_path / "three", max_shard_bytes=together - 1)
    assert [s.path.read_bytes() for s in other] == [s.path.read_bytes() for s in split]


def test_plan_shards_packs_in_order():
    record = 10240
    sizes = [3000, 3000, 3000, 9000, 40000, 100]
    plan = plan_shards(sizes, 2 * record)
    assert plan == [[0, 1, 2, 3], [4], [5]]
    for shard in plan:
        assert len(shard) == 1 or tar_file_bytes(sum(sizes[i] for i in shard)) <= 2 * record
