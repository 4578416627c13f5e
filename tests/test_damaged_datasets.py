"""Exporters, rerender and validate on damaged and mixed datasets: a clear error naming
clip and file before anything is written, nothing half-written, rerender goes on with
the intact clips and resumes."""

import csv
import json
import shutil
import sys

import pytest

from simfactory.sim.export import ExportError, dataset_clips, webdataset
from simfactory.sim.export import cli as export_cli
from simfactory.sim.export.validate import check_configs, validate_dataset
from simfactory.sim.run import rerender as rerender_cli
from simfactory.sim.run.cli import generate_dataset
from simfactory.sim.run.guard import fingerprint
from tests.conftest import tiny_config


def _copy(tiny_dataset, tmp_path):
    _, source = tiny_dataset
    copy = tmp_path / "ds"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".simfactory.lock"))
    return copy


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "truncated-npz": ("cam0/depth.npz", _truncate),
    "garbage-json": ("annotations.json", lambda p: p.write_text("{not json")),
    "missing-file": ("trajectory.npz", lambda p: p.unlink()),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("fmt", ["webdataset", "coco", "youtube-vis", "cosmos", "gallery"])
def test_exporters_refuse_a_damaged_clip_before_writing(tiny_dataset, tmp_path, capsys, damage,
                                                        fmt):  # fmt: skip
    ds = _copy(tiny_dataset, tmp_path)
    name, hurt = DAMAGE[damage]
    hurt(ds / "clips" / "clip_000001" / name)
    out = tmp_path / "out"
    args = [fmt, str(ds)] + ([] if fmt == "gallery" else [str(out)])
    assert export_cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"clip_000001/{name}" in err and "Traceback" not in err
    assert not out.exists() and not (ds / "gallery").exists()
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]


def test_damage_inside_an_archive_stops_the_export_with_nothing_written(tiny_dataset, tmp_path,
                                                                        capsys):  # fmt: skip
    ds = _copy(tiny_dataset, tmp_path)
    path = ds / "clips/clip_000001/cam0/instance.npz"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # same size: only reading the arrays finds it
    path.write_bytes(bytes(data))
    out = tmp_path / "coco"
    assert export_cli.main(["coco", str(ds), str(out)]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]


def test_parquet_refuses_a_damaged_clip(tiny_dataset, tmp_path, capsys):
    ds = _copy(tiny_dataset, tmp_path)
    _truncate(ds / "clips" / "clip_000000" / "trajectory.npz")
    assert export_cli.main(["parquet", str(ds)]) == 2
    assert "clip_000000/trajectory.npz" in capsys.readouterr().err
    assert not (ds / "manifest.parquet").exists()


def test_an_export_that_fails_midway_leaves_nothing(tiny_dataset, tmp_path, monkeypatch):
    ds = _copy(tiny_dataset, tmp_path)
    out = tmp_path / "wds"
    calls = []

    def failing_add(tar, name, path, size):
        calls.append(name)
        if len(calls) > 3:
            raise OSError("disk full")
        return add(tar, name, path, size)

    add = webdataset._add
    monkeypatch.setattr(webdataset, "_add", failing_add)
    with pytest.raises(OSError, match="disk full"):
        webdataset.export_webdataset(ds, out, max_shard_bytes=1)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    monkeypatch.setattr(webdataset, "_add", add)
    shards = webdataset.export_webdataset(ds, out, max_shard_bytes=1)
    assert [s.path for s in shards] == sorted(out.glob("shard-*.tar"))
    again = webdataset.export_webdataset(ds, out, overwrite=True)  # one shard now
    assert [s.path.name for s in again] == ["shard-000000.tar"]
    assert sorted(p.name for p in out.iterdir()) == ["shard-000000.tar"]


def test_rerender_reports_a_broken_clip_goes_on_and_resumes(tiny_dataset, tmp_path, capsys,
                                                            monkeypatch):  # fmt: skip
    _, source = tiny_dataset
    ds = _copy(tiny_dataset, tmp_path)
    _truncate(ds / "clips" / "clip_000001" / "trajectory.npz")
    out = tmp_path / "look1"
    monkeypatch.setattr(sys, "argv", ["simfactory-rerender", str(ds), str(out)])
    with pytest.raises(SystemExit) as code:
        rerender_cli.main()
    assert code.value.code == 1
    err = capsys.readouterr().err
    assert "1 clip(s) failed" in err and "clip_000001/trajectory.npz" in err
    assert err.index("damaged source clip(s) are skipped") < err.index("clip 0: ok")
    assert "pickle" not in err
    rows = {r["clip_id"] or r["index"]: r for r in csv.DictReader(open(out / "manifest.csv"))}
    assert rows["clip_000000"]["status"] == "ok" and rows["1"]["status"] == "failed"
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["clip_000000"]
    kept = (out / "clips/clip_000000/annotations.json").stat().st_mtime_ns
    shutil.copy(source / "clips/clip_000001/trajectory.npz", ds / "clips/clip_000001/")
    with pytest.raises(SystemExit) as code:
        rerender_cli.main()  # the same command resumes
    assert code.value.code == 0
    assert (out / "clips/clip_000000/annotations.json").stat().st_mtime_ns == kept
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["clip_000000", "clip_000001"]
    assert validate_dataset(out).problems == []


def test_rerender_refuses_another_rerender_in_the_output(tiny_dataset, tmp_path):
    ds = _copy(tiny_dataset, tmp_path)
    out = tmp_path / "look"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(rerender_cli.RerenderError, match="notes.txt"):
        rerender_cli.rerender(ds, out, 1, [])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_validate_finds_a_mixed_dataset(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    small = {"frames": 3, "resolution": [32, 24], "scene.num_pieces": 2, "executor.workers": 0}
    assert generate_dataset(tiny_config(num_clips=1, **small), a, "test") == 0
    other = tiny_config(num_clips=2, seed=8, **small)
    assert generate_dataset(other, b, "test") == 0
    assert check_configs(a, {"clip_000000": a / "clips/clip_000000"}) == []
    shutil.copytree(b / "clips/clip_000001", a / "clips/clip_000001")
    rows = list(csv.DictReader(open(a / "manifest.csv")))
    rows += [r for r in csv.DictReader(open(b / "manifest.csv")) if r["index"] == "1"]
    with open(a / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folders = {p.name: p for p in sorted((a / "clips").iterdir())}
    mixed = check_configs(a, folders)
    assert [(p.clip, fingerprint(other) in p.detail) for p in mixed] == [("clip_000001", True)]
    assert json.loads((a / "identity.json").read_text())["fingerprint"] in mixed[0].detail
    assert len(dataset_clips(a)) == 2  # the clips themselves are intact


def test_dataset_clips_names_every_damaged_clip(tiny_dataset, tmp_path):
    ds = _copy(tiny_dataset, tmp_path)
    (ds / "clips/clip_000000/cam0/instance.npz").write_bytes(b"PK\x03\x04garbage")
    (ds / "clips/clip_000001/cam0/rgb.mp4").write_bytes(b"")
    with pytest.raises(ExportError) as info:
        dataset_clips(ds)
    assert "clip_000000/cam0/instance.npz: not a readable archive" in str(info.value)
    assert "clip_000001/cam0/rgb.mp4: empty" in str(info.value)
