"""The command line: errors before any work, sweeps, determinism of what it writes."""

import csv
import subprocess
import sys

import pytest

from simfactory.sim.run.cli import generate_dataset
from tests.conftest import tiny_config

TINY = [
    "num_clips=1",
    "frames=3",
    "resolution=[32,24]",
    "scene.num_pieces=2",
    "scene.num_clutter=1",
]


def simfactory(*args, cwd=None):
    cmd = [sys.executable, "-c", "from simfactory.sim.run.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    "override, key",
    [
        ("resolution=[321,180]", "resolution"),
        ("resolution=[-64,48]", "resolution"),
        ("frames=0", "frames"),
        ("scene=driving_typo", "scene"),
        ("scene.name=nope", "scene.name"),
        ("num_clips=-1", "num_clips"),
        ("camera.fov_deg=0", "camera.fov_deg"),
        ("scene.num_pieces=-2", "scene.num_pieces"),
        ("export.video_preset=quick", "export.video_preset"),
    ],
)
def test_invalid_values_stop_before_any_clip(tmp_path, override, key):
    out = tmp_path / "ds"
    result = simfactory(f"output_dir={out}", *TINY, override)
    assert result.returncode != 0
    assert key in result.stderr
    assert not out.exists()


def test_output_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    result = simfactory(f"output_dir={target}", *TINY)
    assert result.returncode == 2
    assert "output_dir" in result.stderr
    assert target.read_text() == "keep me"


def test_run_prints_the_dataset_path(tmp_path):
    out = tmp_path / "ds"
    result = simfactory(f"output_dir={out}", "seed=0", *TINY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(str(out.resolve()))
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert rows[0]["status"] == "ok" and rows[0]["seed"] == "0"


def test_multirun_sweep_writes_one_dataset_per_point(tmp_path):
    result = simfactory("-m", "scene.num_pieces=1,3", f"output_dir={tmp_path}", *TINY[:3])
    assert result.returncode == 0, result.stderr
    made = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert made == ["scene.num_pieces=1", "scene.num_pieces=3"]
    assert (tmp_path / "multirun.yaml").exists()
    for name in made:
        assert (tmp_path / name / "manifest.csv").exists()
    combined = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert [r["scene.num_pieces"] for r in combined] == ["1", "3"]
    assert [r["sweep_point"] for r in combined] == made
    for row in combined:
        assert (tmp_path / row["path"] / "annotations.json").exists()


def test_same_config_and_seed_give_identical_files(tmp_path):
    cfg = tiny_config(num_clips=1, seed=0)
    for name in ("a", "b"):
        assert generate_dataset(cfg, tmp_path / name, "test") == 0
    clip = "clips/clip_000000"
    for f in ("annotations.json", "trajectory.npz"):
        assert (tmp_path / "a" / clip / f).read_bytes() == (tmp_path / "b" / clip / f).read_bytes()
    other = tiny_config(num_clips=1, seed=1)
    generate_dataset(other, tmp_path / "c", "test")
    a = (tmp_path / "a" / clip / "annotations.json").read_bytes()
    assert a != (tmp_path / "c" / clip / "annotations.json").read_bytes()


def test_rerun_skips_finished_clips(tmp_path):
    cfg = tiny_config(num_clips=2)
    generate_dataset(cfg, tmp_path, "test")
    before = (tmp_path / "clips/clip_000000/annotations.json").stat().st_mtime_ns
    generate_dataset(cfg, tmp_path, "test")
    assert (tmp_path / "clips/clip_000000/annotations.json").stat().st_mtime_ns == before


def test_saved_config_reproduces_the_dataset(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert simfactory(f"output_dir={first}", "seed=5", *TINY).returncode == 0
    result = simfactory(
        "--config-path", str(first), "--config-name", "config", f"output_dir={again}"
    )
    assert result.returncode == 0, result.stderr
    clip = "clips/clip_000000/annotations.json"
    assert (first / clip).read_bytes() == (again / clip).read_bytes()
    assert not (tmp_path / "outputs").exists()


def test_worker_pool_gives_the_same_clips_as_one_process(tmp_path):
    for name, workers in (("serial", 0), ("pool", 2)):
        cfg = tiny_config(num_clips=2, frames=3, **{"executor.workers": workers})
        assert generate_dataset(cfg, tmp_path / name, "test") == 0
    for i in range(2):
        clip = f"clips/clip_{i:06d}"
        for f in ("annotations.json", "trajectory.npz"):
            a = (tmp_path / "serial" / clip / f).read_bytes()
            assert a == (tmp_path / "pool" / clip / f).read_bytes()


def test_a_failing_clip_is_reported_and_leaves_no_partial_files(tmp_path, monkeypatch):
    from simfactory.sim.run import clip as pipeline

    real = pipeline.camera_labels

    def fail_on_second_clip(*args, **kwargs):
        if (tmp_path / "clips" / "clip_000000").exists():
            raise RuntimeError("injected failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "camera_labels", fail_on_second_clip)
    cfg = tiny_config(num_clips=2, frames=3, **{"executor.workers": 0})
    assert generate_dataset(cfg, tmp_path, "test") == 1
    rows = {r["index"]: r for r in csv.DictReader(open(tmp_path / "manifest.csv"))}
    assert rows["0"]["status"] == "ok"
    assert rows["1"]["status"] == "failed" and "injected failure" in rows["1"]["error"]
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["clip_000000"]
    # Rerunning without the fault completes the dataset and keeps the finished clip.
    monkeypatch.setattr(pipeline, "camera_labels", real)
    assert generate_dataset(cfg, tmp_path, "test") == 0
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["clip_000000", "clip_000001"]
