"""A dataset is never silently mixed, corrupted or orphaned: every value is checked
before any work, a dataset holds clips of one config and has one writer at a time,
and the processes of a run end with it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simfactory.sim.run import lifetime
from simfactory.sim.run.cli import generate_dataset
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, load_config, validate
from simfactory.sim.run.guard import (
    DatasetError,
    DatasetLock,
    check_identity,
    fingerprint,
    write_identity,
)
from tests.conftest import tiny_config

TINY = ["num_clips=1", "frames=3", "resolution=[32,24]", "scene.num_pieces=2",
        "scene.num_clutter=1"]  # fmt: skip


SERIAL = {"executor.workers": 0}


def simfactory(*args, **kwargs):
    cmd = [sys.executable, "-c", "from simfactory.sim.run.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def start_simfactory(*args) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from simfactory.sim.run.cli import main; main()", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    "override, key",
    [
        ("render.exposure=nan", "render.exposure"),
        ("render.exposure=-1", "render.exposure"),
        ("render.exposure=0", "render.exposure"),
        ("render.exposure=inf", "render.exposure"),
        ("render.exposure=bright", "render.exposure"),
        ("camera.far=inf", "camera.far"),
        ("camera.near=-0.1", "camera.near"),
        ("camera.near=500", "camera.near"),
        ("fps=nan", "fps"),
        ("frames=1.5", "frames"),
        ("seed=-3", "seed"),
        ("executor.workers=-1", "executor.workers"),
        ("executor.max_attempts=0", "executor.max_attempts"),
        ("export.video_crf=nan", "export.video_crf"),
        ("render.egl_device=-1", "render.egl_device"),
        ("render.egl_device=gpu0", "render.egl_device"),
        ("render.egl_device=99", "render.egl_device"),
        ("scene.room_size=[4.0,nan]", "scene.room_size.1"),
        ("render.exposure={dist:uniform,low:0.5,high:inf}", "render.exposure.high"),
        ("render.exposure={dist:uniform,low:0,high:2}", "render.exposure"),
        ("output_dir=/proc/simfactory/ds", "output_dir"),
        ("export.preview=yes", "export.preview"),
        ("num_clips=1e9", "num_clips"),
    ],
)
def test_bad_values_are_refused_naming_the_key(override, key):
    overrides = [override] if override.startswith("output_dir") else [override, "output_dir=x"]
    with pytest.raises(ConfigError) as info:
        validate(load_config(overrides))
    assert any(line.startswith(f"{key}:") for line in info.value.errors), info.value.errors
    assert len(str(info.value).splitlines()) == 1  # one problem, one line


def test_unlisted_numbers_must_be_finite_too():
    cfg = load_config(["output_dir=x"])
    cfg["render"]["new_effect_strength"] = float("nan")
    with pytest.raises(ConfigError, match=r"render\.new_effect_strength: must be a finite"):
        validate(cfg)


@pytest.mark.parametrize(
    "override, key",
    [
        ("camera.far=inf", "camera.far"),
        ("render.egl_device=99", "render.egl_device"),
        ("scene=driving_typo", "scene/driving_typo"),
    ],
)
def test_command_exits_2_naming_the_key_with_nothing_written(tmp_path, override, key):
    out = tmp_path / "ds"
    result = simfactory(f"output_dir={out}", *TINY, override)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_unwritable_output_dirs_exit_2(tmp_path):
    taken = tmp_path / "file"
    taken.write_text("keep")
    for out in ("/proc/simfactory/ds", f"{taken}/ds"):
        result = simfactory(f"output_dir={out}", *TINY)
        assert result.returncode == 2, result.stderr
        assert "output_dir:" in result.stderr and "Traceback" not in result.stderr
    assert taken.read_text() == "keep"


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("my notes")
    with pytest.raises(ConfigError, match="output_dir: is a folder of other files .README.md."):
        validate(load_config([f"output_dir={tmp_path}"]))
    (tmp_path / "README.md").unlink()
    validate(load_config([f"output_dir={tmp_path}"]))  # empty: fine


def test_read_only_mount_is_refused(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip("cannot mount a read-only file system here")
    try:
        with pytest.raises(ConfigError, match="output_dir: cannot write under .*Read-only"):
            validate(load_config([f"output_dir={mount}/ds"]))
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_bad_sweep_point_stops_the_sweep_before_the_first_point(tmp_path):
    result = simfactory("-m", "render.exposure=1.0,nan,2.0", f"output_dir={tmp_path}/s", *TINY)
    assert result.returncode == 2, result.stderr
    assert "render.exposure: must be a finite number" in result.stderr
    assert "[sweep point render.exposure=nan]" in result.stderr
    assert not (tmp_path / "s").exists()  # not even Hydra's multirun.yaml


def test_other_config_is_refused_and_same_config_adds_clips(tmp_path):
    cfg = tiny_config(num_clips=1, frames=3, **SERIAL)
    assert generate_dataset(cfg, tmp_path, "test") == 0
    card = (tmp_path / "config.yaml").read_text()
    other = tiny_config(num_clips=1, frames=3, seed=4, resolution=[32, 24], **SERIAL)
    with pytest.raises(DatasetError) as info:
        generate_dataset(other, tmp_path, "test")
    assert "resolution (dataset [64, 48], this run [32, 24])" in str(info.value)
    assert "seed (dataset 3, this run 4)" in str(info.value)
    assert (tmp_path / "config.yaml").read_text() == card  # nothing rewritten
    more = tiny_config(num_clips=2, frames=3, **{"executor.workers": 0})
    assert generate_dataset(more, tmp_path, "test") == 0
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == [
        "clip_000000",
        "clip_000001",
    ]
    recorded = {
        json.loads((p / "annotations.json").read_text())["clip"]["config_fingerprint"]
        for p in (tmp_path / "clips").iterdir()
    }
    assert recorded == {fingerprint(cfg)} == {fingerprint(more)}
    stored = json.loads((tmp_path / "identity.json").read_text())
    assert stored["fingerprint"] == fingerprint(cfg)


def test_identity_ignores_keys_the_dataset_does_not_record(tmp_path):
    cfg = tiny_config(num_clips=1, frames=3, **SERIAL)
    write_identity(tmp_path, {**cfg, "render": {k: v for k, v in cfg["render"].items()
                                                if k != "exposure"}})  # fmt: skip
    check_identity(tmp_path, cfg)  # a key added since: its default keeps the clips as made
    (tmp_path / "identity.json").unlink()
    write_identity(tmp_path, {**cfg, "render": {**cfg["render"], "glow": 0.5}})
    with pytest.raises(DatasetError, match=r"render\.glow \(dataset 0\.5, this run '<absent>'\)"):
        check_identity(tmp_path, cfg)


def test_a_damaged_manifest_is_refused_naming_it(tmp_path):
    cfg = tiny_config(num_clips=1, frames=3, **SERIAL)
    assert generate_dataset(cfg, tmp_path, "test") == 0
    (tmp_path / "manifest.csv").write_bytes(b"garbage\x00\xff\nmore,stuff\n")
    with pytest.raises(DatasetError, match=r"manifest\.csv is damaged"):
        generate_dataset(cfg, tmp_path, "test")
    (tmp_path / "manifest.csv").unlink()  # what the message advises: the clips come back
    assert generate_dataset(cfg, tmp_path, "test") == 0
    assert (tmp_path / "clips/clip_000000/annotations.json").exists()


def test_command_refuses_a_dataset_of_another_config(tmp_path):
    cfg = tiny_config(num_clips=1, frames=3, **SERIAL)
    assert generate_dataset(cfg, tmp_path, "test") == 0
    result = simfactory(f"output_dir={tmp_path}", *TINY, "seed=9")
    assert result.returncode == 2, result.stderr
    assert "keys that differ: frames" not in result.stderr
    assert "seed (dataset 3, this run 9)" in result.stderr


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    with DatasetLock(tmp_path, "simfactory first"):
        start = time.perf_counter()
        result = simfactory(f"output_dir={tmp_path}", *TINY)
        assert result.returncode == 2, result.stderr
        assert f"is in use by pid {os.getpid()} on host" in result.stderr
        assert "(simfactory first)" in result.stderr
        assert time.perf_counter() - start < 60
        assert not (tmp_path / "clips").exists()
        with pytest.raises(DatasetError, match="in use by pid"):
            generate_dataset(tiny_config(**SERIAL), tmp_path, "second")
    assert generate_dataset(tiny_config(num_clips=1, frames=3, **SERIAL), tmp_path, "after") == 0


def _workers_of(pid: int) -> list[int]:
    """Pool worker processes (spawned multiprocessing children) of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _start_pool_run(out: Path) -> tuple[subprocess.Popen, list[int]]:
    proc = start_simfactory(
        f"output_dir={out}", "num_clips=6", "frames=24", "resolution=[64,48]",
        "executor.workers=2", "scene.num_pieces=3", "scene.num_clutter=2",
    )  # fmt: skip
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        assert proc.poll() is None, proc.communicate()
        workers = _workers_of(proc.pid)
        time.sleep(0.2)
    assert len(workers) == 2
    return proc, workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_cleanly_and_the_workers_end(tmp_path, sig, code):
    proc, workers = _start_pool_run(tmp_path / "ds")
    time.sleep(1.0)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"interrupted ({sig.name})" in err and "Traceback" not in err
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)
    assert not list((tmp_path / "ds" / "clips").glob(".tmp-*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_write_nothing_after(tmp_path):
    proc, workers = _start_pool_run(tmp_path / "ds")
    proc.kill()
    proc.wait(timeout=30)  # (orphaned workers would still hold its pipes)
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for pid in left:  # do not leave them running when this fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers outlived their killed parent"
    clips = tmp_path / "ds" / "clips"
    before = sorted(p.name for p in clips.glob("clip_*")) if clips.exists() else []
    time.sleep(1.5)
    after = sorted(p.name for p in clips.glob("clip_*")) if clips.exists() else []
    assert after == before


def test_an_orphaned_writer_renames_nothing_into_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setitem(lifetime._OWNER, "parent", -1)  # not this process's parent
    cfg = tiny_config(num_clips=1, frames=3, **SERIAL)
    with pytest.raises(lifetime.Orphaned):
        generate_clip(cfg, 0, tmp_path)
    assert list((tmp_path / "clips").iterdir()) == []


def test_a_ray_task_whose_driver_is_gone_is_orphaned(monkeypatch):
    import socket

    monkeypatch.setattr(lifetime, "_OWNER", {})
    lifetime.set_owner(socket.gethostname(), os.getpid())
    assert not lifetime.orphaned()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid no longer exists
    lifetime.set_owner(socket.gethostname(), gone.pid)
    assert lifetime.orphaned()
    lifetime.set_owner("another-host", gone.pid)
    assert not lifetime.orphaned()  # another host's pid cannot be checked from here
