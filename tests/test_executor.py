"""Crash safety: failed clips are retried on a new sub-seed and reported; a killed or
interrupted run resumes to exactly the dataset an uninterrupted run gives."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from simfactory.sim.model.spec import Body, SceneSpec
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.cli import generate_dataset
from simfactory.sim.simulate.physics import PhysicsError, rollout
from simfactory.sim.simulate.sanity import RolloutError, check_rollout
from tests.conftest import tiny_config

SMALL = {"frames": 3, "resolution": [32, 24], "scene.num_pieces": 2, "scene.num_clutter": 2}


def _rows(out):
    return {int(r["index"]): r for r in csv.DictReader(open(out / "manifest.csv"))}


def _annotations(out):
    return {
        p.parent.name: p.read_bytes() for p in sorted((out / "clips").glob("*/annotations.json"))
    }


def test_a_worker_crash_and_a_blow_up_are_retried_and_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMFACTORY_FAULTS", "crash@0,blowup@1")
    cfg = tiny_config(num_clips=3, **SMALL, **{"executor.workers": 2})
    assert generate_dataset(cfg, tmp_path, "test") == 0
    rows = _rows(tmp_path)
    assert [rows[i]["status"] for i in range(3)] == ["ok"] * 3
    assert rows[0]["attempts"] == "2" and "WorkerCrash" in rows[0]["retried_errors"]
    assert "signal 9" in rows[0]["retried_errors"]
    assert rows[1]["attempts"] == "2" and "blew up" in rows[1]["retried_errors"]
    assert rows[2]["attempts"] == "1" and rows[2]["retried_errors"] == ""
    for i in (0, 1):  # the retry drew from the clip's next sub-seed, and says so
        ann = json.loads((tmp_path / rows[i]["path"] / "annotations.json").read_text())
        assert ann["clip"]["attempt"] == 1
    assert not list((tmp_path / "clips").glob(".tmp-*"))


def test_retries_are_bounded_and_a_missing_clip_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMFACTORY_FAULTS", "blowup@0")
    cfg = tiny_config(num_clips=2, **SMALL, **{"executor.workers": 0, "executor.max_attempts": 1})
    assert generate_dataset(cfg, tmp_path, "test") == 1
    rows = _rows(tmp_path)
    assert rows[0]["status"] == "failed" and "blew up" in rows[0]["error"]
    assert rows[1]["status"] == "ok"
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["clip_000001"]


def test_workers_are_replaced_after_their_clips(tmp_path):
    cfg = tiny_config(
        num_clips=3, **SMALL, **{"executor.workers": 1, "executor.clips_per_worker": 1}
    )
    assert generate_dataset(cfg, tmp_path, "test") == 0
    assert len({r["worker"] for r in _rows(tmp_path).values()}) == 3


def _start(out, *extra):
    cmd = [sys.executable, "-c", "from simfactory.sim.run.cli import main; main()"]
    args = [f"output_dir={out}", "num_clips=4", "frames=3", "resolution=[32,24]", "seed=4"]
    args += ["scene.num_pieces=2", "scene.num_clutter=2", "executor.workers=1", *extra]
    return subprocess.Popen(
        cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_default_sigint,
    )  # fmt: skip


def _default_sigint() -> None:
    """Ctrl-C reaches the run even where the tests were started with SIGINT ignored (a
    background job of a non-interactive shell), which the run would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_clips(out, n, process, timeout=240):
    end = time.time() + timeout
    while time.time() < end:
        done = [p for p in (out / "clips").glob("clip_*")] if (out / "clips").exists() else []
        if len(done) >= n:
            return
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    process = _start(out)
    assert process.wait(timeout=600) == 0, process.stderr.read().decode()
    return _annotations(out)


def test_a_killed_run_resumes_to_the_same_dataset(tmp_path, uninterrupted):
    out = tmp_path / "ds"
    process = _start(out)
    _wait_for_clips(out, 1, process)
    os.killpg(process.pid, signal.SIGKILL)  # the run and its worker, mid-clip
    process.wait()
    assert len(_annotations(out)) < 4
    rerun = _start(out)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read().decode()
    assert _annotations(out) == uninterrupted
    assert not list((out / "clips").glob(".tmp-*"))


def test_ctrl_c_stops_cleanly_with_a_consistent_dataset(tmp_path, uninterrupted):
    out = tmp_path / "ds"
    process = _start(out)
    _wait_for_clips(out, 1, process)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=120) == 130
    assert b"interrupted" in process.stderr.read()
    for row in _rows(out).values():  # every row the manifest lists is complete
        assert (out / row["path"] / "annotations.json").exists()
    rerun = _start(out)
    assert rerun.wait(timeout=600) == 0
    assert _annotations(out) == uninterrupted


def _trajectory(poses, velocity):
    frames, parts = poses.shape[:2]
    return Trajectory(
        fps=24.0,
        substeps=10,
        part_names=[f"p{i}" for i in range(parts)],
        part_body=np.arange(parts, dtype=np.int32),
        part_link=-np.ones(parts, dtype=np.int32),
        poses=poses,
        linear_velocity=velocity,
        angular_velocity=np.zeros_like(velocity),
        joint_names=[],
        joint_positions=np.zeros((frames, 0)),
        contact_frame=np.zeros(0, np.int32),
        contact_parts=np.zeros((0, 2), np.int32),
        contact_position=np.zeros((0, 3)),
        contact_normal=np.zeros((0, 3)),
        contact_force=np.zeros(0),
        contact_points=np.zeros(0, np.int32),
    )


def test_sanity_checks_name_the_part_and_frame():
    spec = SceneSpec("t", [Body("floor", "floor"), Body("box", "box", mass=1.0)], [], [])
    poses = np.tile(np.eye(4), (5, 2, 1, 1))
    velocity = np.zeros((5, 2, 3))
    check_rollout(spec, _trajectory(poses, velocity))
    fast = velocity.copy()
    fast[3, 1] = (0, 0, 90.0)
    with pytest.raises(RolloutError, match="p1 moved at 90 m/s at frame 3"):
        check_rollout(spec, _trajectory(poses, fast))
    fast[3, 0] = (0, 0, 90.0)  # the static floor is not simulated: only the box counts
    fallen = poses.copy()
    fallen[4, 1, 2, 3] = -6.0
    with pytest.raises(RolloutError, match="p1 fell out of the scene"):
        check_rollout(spec, _trajectory(fallen, velocity))
    broken = poses.copy()
    broken[2, 1, 0, 3] = np.nan
    with pytest.raises(RolloutError, match="non-finite pose of p1 at frame 2"):
        check_rollout(spec, _trajectory(broken, velocity))


def test_bodies_that_start_inside_each_other_are_refused():
    import trimesh

    from simfactory.sim.model.spec import Material, Visual

    cube = [Visual(trimesh.creation.box((0.2, 0.2, 0.2)), Material("m"))]

    def at(x):
        T = np.eye(4)
        T[:3, 3] = (x, 0, 0.5)
        return T

    apart = SceneSpec(
        "t", [Body("a", "box", cube, at(0), 1.0), Body("b", "box", cube, at(0.21), 1.0)], [], []
    )
    rollout(apart, 24, 2)
    inside = SceneSpec(
        "t", [Body("a", "box", cube, at(0), 1.0), Body("b", "box", cube, at(0.1), 1.0)], [], []
    )
    with pytest.raises(PhysicsError, match=r"a and b overlap by 10\.\d cm at the start"):
        rollout(inside, 24, 2)


def test_pool_workers_share_the_cores_among_their_rasterizer_threads(monkeypatch):
    """A worker sets LP_NUM_THREADS to its share of the cores, unless it is set."""
    import queue

    from simfactory.sim.run import executor

    monkeypatch.setattr(executor.signal, "signal", lambda *args: None)
    inbox = queue.Queue()
    for given, expected in ((None, "3"), ("1", "1")):
        if given is None:
            monkeypatch.delenv("LP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("LP_NUM_THREADS", given)
        inbox.put(None)  # no clips: the worker only sets itself up
        executor._worker({}, "unused", inbox, queue.Queue(), clips=1, render_threads=3)
        assert os.environ["LP_NUM_THREADS"] == expected
