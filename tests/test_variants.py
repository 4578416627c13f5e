"""Paired re-renders: the variants of a rollout share its Trajectory and geometry and
differ in their look."""

import csv
import json

import numpy as np
import pytest

from simfactory.sim.run.build import build_scene
from simfactory.sim.run.cli import generate_dataset
from simfactory.sim.run.config import ConfigError, validate
from tests.conftest import tiny_config

OPTIONS = {"frames": 4, "scene.num_pieces": 3, "scene.num_clutter": 3, "executor.workers": 0}


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    out = tmp_path_factory.mktemp("paired")
    cfg = tiny_config(num_clips=3, variants_per_rollout=2, **OPTIONS)
    assert generate_dataset(cfg, out, "test") == 0
    return out, {int(r["index"]): r for r in csv.DictReader(open(out / "manifest.csv"))}


def _load(out, row, name):
    with np.load(out / row["path"] / "cam0" / f"{name}.npz") as data:
        return data[data.files[0]]


def test_variants_share_the_rollout(paired):
    out, rows = paired
    assert [(rows[i]["rollout"], rows[i]["variant"]) for i in range(3)] == [
        ("0", "0"), ("0", "1"), ("1", "0"),
    ]  # fmt: skip
    traj = {i: (out / rows[i]["path"] / "trajectory.npz").read_bytes() for i in range(3)}
    assert traj[0] == traj[1] and traj[0] != traj[2]
    for name in ("depth", "instance"):
        assert np.array_equal(_load(out, rows[0], name), _load(out, rows[1], name))
    ann = [json.loads((out / rows[i]["path"] / "annotations.json").read_text()) for i in (0, 1)]
    assert ann[0]["objects"] == ann[1]["objects"]
    assert ann[1]["clip"]["rollout"] == 0 and ann[1]["clip"]["variant"] == 1


def test_variants_differ_in_their_look(paired):
    import imageio.v3 as iio

    out, rows = paired
    frames = [iio.imread(out / rows[i]["path"] / "cam0" / "rgb.mp4") for i in (0, 1)]
    assert np.abs(frames[0].astype(float) - frames[1]).mean() > 5.0
    a, b = (
        build_scene(tiny_config(variants_per_rollout=2, **OPTIONS), 0),
        build_scene(tiny_config(variants_per_rollout=2, **OPTIONS), 1),
    )
    materials = [
        (x.material.base_color, y.material.base_color)
        for p, q in zip(a.bodies, b.bodies, strict=True)
        for x, y in zip(p.visuals, q.visuals, strict=True)
    ]
    assert any(m != n for m, n in materials)
    for p, q in zip(a.bodies, b.bodies, strict=True):
        assert np.array_equal(p.pose, q.pose) and p.mass == q.mass
        for x, y in zip(p.visuals, q.visuals, strict=True):
            assert x.mesh is y.mesh or np.array_equal(x.mesh.vertices, y.mesh.vertices)


def test_variant_config_errors():
    with pytest.raises(ConfigError, match="variants_per_rollout"):
        validate(tiny_config(variants_per_rollout=0))
    with pytest.raises(ConfigError, match="variant_streams"):
        validate(tiny_config(variant_streams="[layout]"))


def test_rerender_draws_a_new_look_on_the_saved_rollouts(paired, tmp_path):
    from simfactory.sim.run.rerender import rerender

    source, rows = paired
    out = tmp_path / "again"
    assert rerender(source, out, 1, ["export.preview=false"]) == 0
    new = {int(r["index"]): r for r in csv.DictReader(open(out / "manifest.csv"))}
    assert sorted(new) == [0, 1, 2]
    for i in range(3):
        a = (source / rows[i]["path"] / "trajectory.npz").read_bytes()
        assert (out / new[i]["path"] / "trajectory.npz").read_bytes() == a
        assert new[i]["source_path"].endswith(rows[i]["path"])
        assert np.array_equal(_load(source, rows[i], "depth"), _load(out, new[i], "depth"))
    # Look 1 of rollout 0 is the look variant 1 of rollout 0 had in the paired dataset.
    import imageio.v3 as iio

    def frames(root, row):
        return iio.imread(root / row["path"] / "cam0" / "rgb.mp4")

    assert np.array_equal(frames(out, new[0]), frames(source, rows[1]))
    assert np.abs(frames(out, new[0]).astype(float) - frames(source, rows[0])).mean() > 5.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--look", "-1"], "--look must be >= 0"),
        (["--clips", "1,x"], "--clips must list indices"),
        (["scene.num_pieces=x"], "scene.num_pieces"),
        (["notakeyvalue"], "key=value"),
    ],
)
def test_rerender_refuses_bad_input_before_any_work(paired, tmp_path, args, message):
    import subprocess
    import sys

    source, _ = paired
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from simfactory.sim.run.rerender import main; main()"]
    result = subprocess.run(
        [*cmd, str(source), str(out), *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and message in result.stderr
    assert not out.exists()
