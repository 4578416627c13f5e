"""The Ray executor against a local Ray started here: the same clips as one process,
and crashes and blow-ups retried."""

import csv

import pytest

from simfactory.sim.run.cli import generate_dataset
from tests.conftest import tiny_config

ray = pytest.importorskip("ray")

SMALL = {"frames": 3, "resolution": [32, 24], "scene.num_pieces": 2, "scene.num_clutter": 2}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _annotations(out):
    return {p.parent.name: p.read_bytes() for p in sorted(out.glob("clips/*/annotations.json"))}


def test_ray_gives_the_same_dataset_as_one_process(tmp_path, local_ray):
    serial = tiny_config(num_clips=3, **SMALL, **{"executor.workers": 0})
    assert generate_dataset(serial, tmp_path / "serial", "test") == 0
    on_ray = tiny_config(num_clips=3, **SMALL, executor="ray")
    assert generate_dataset(on_ray, tmp_path / "ray", "test") == 0
    assert _annotations(tmp_path / "ray") == _annotations(tmp_path / "serial")
    assert len(_annotations(tmp_path / "ray")) == 3


def test_ray_retries_crashes_and_blow_ups(tmp_path, local_ray, monkeypatch):
    monkeypatch.setenv("SIMFACTORY_FAULTS", "crash@0,blowup@1")
    cfg = tiny_config(num_clips=2, **SMALL, executor="ray")
    assert generate_dataset(cfg, tmp_path, "test") == 0
    rows = {int(r["index"]): r for r in csv.DictReader(open(tmp_path / "manifest.csv"))}
    assert rows[0]["attempts"] == "2" and "WorkerCrash" in rows[0]["retried_errors"]
    assert rows[1]["attempts"] == "2" and "blew up" in rows[1]["retried_errors"]
