"""Declarative randomization: distributions in the config are checked before any work,
sampled per clip from their own streams, and recorded in the clip and the manifest."""

import csv
import json

import numpy as np
import pytest
import yaml
from scipy import stats

from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, load_config, validate
from simfactory.sim.run.randomize import apply_preset, check, find, preset, realize
from tests.test_cli import TINY, simfactory

CLIPS = 400


def _values(cfg, key, n=CLIPS):
    return [realize(cfg, 7, i)[1][key] for i in range(n)]


def test_yaml_distributions_are_found_inside_dicts_and_lists():
    cfg = yaml.safe_load(
        """
        scene:
          name: furniture
          num_pieces: {dist: randint, low: 3, high: 9}
          room_size: [4.0, {dist: uniform, low: 5.0, high: 8.0}]
        """
    )
    assert sorted(find(cfg)) == ["scene.num_pieces", "scene.room_size.1"]
    realized, sampled = realize(cfg, 0, 0)
    assert realized["scene"]["room_size"][0] == 4.0
    assert 5.0 <= realized["scene"]["room_size"][1] <= 8.0
    assert realized["scene"]["num_pieces"] == sampled["scene.num_pieces"]
    assert find(realized) == {}
    assert cfg["scene"]["num_pieces"]["dist"] == "randint"  # the input is left as it was


def test_uniform_and_loguniform_follow_their_distribution():
    cfg = load_config(
        [
            "camera.fov_deg={dist:uniform,low:40,high:80}",
            "render.exposure={dist:loguniform,low:0.5,high:2}",
        ]
    )
    fov = np.array(_values(cfg, "camera.fov_deg"))
    assert stats.kstest((fov - 40) / 40, "uniform").pvalue > 0.01
    exposure = np.array(_values(cfg, "render.exposure"))
    assert stats.kstest(np.log(exposure / 0.5) / np.log(4), "uniform").pvalue > 0.01


def test_clipped_normal_stays_in_bounds_and_keeps_its_centre():
    cfg = load_config(["camera.fov_deg={dist:normal,mean:60,std:5,low:52,high:75}"])
    fov = np.array(_values(cfg, "camera.fov_deg"))
    assert fov.min() >= 52 and fov.max() <= 75
    assert (fov == 52).any()  # 1.6 sigma below: about 5% are clipped
    assert abs(np.median(fov) - 60) < 1.0


def test_randint_includes_both_ends_and_choice_follows_its_weights():
    cfg = load_config(
        [
            "scene.num_pieces={dist:randint,low:2,high:4}",
            "scene.room_shape={dist:choice,values:[rect,L],weights:[3,1]}",
        ]
    )
    pieces = _values(cfg, "scene.num_pieces")
    assert set(pieces) == {2, 3, 4} and all(isinstance(v, int) for v in pieces)
    counts = np.bincount(np.array(pieces) - 2)
    assert stats.chisquare(counts).pvalue > 0.01
    shapes = _values(cfg, "scene.room_shape")
    share = shapes.count("rect") / len(shapes)
    assert abs(share - 0.75) < 0.07


def test_each_value_has_its_own_stream():
    one = load_config(["camera.fov_deg={dist:uniform,low:40,high:80}"])
    two = load_config(
        [
            "camera.fov_deg={dist:uniform,low:40,high:80}",
            "render.exposure={dist:uniform,low:0.5,high:2}",
        ]
    )
    assert _values(one, "camera.fov_deg", 20) == _values(two, "camera.fov_deg", 20)


def test_widening_a_lighting_range_does_not_move_the_furniture():
    narrow = load_config(["render.exposure={dist:uniform,low:0.9,high:1.1}", *TINY])
    wide = load_config(["render.exposure={dist:uniform,low:0.2,high:3.0}", *TINY])
    a, b = build_scene(narrow, 3), build_scene(wide, 3)
    assert [x.name for x in a.bodies] == [x.name for x in b.bodies]
    for x, y in zip(a.bodies, b.bodies, strict=True):
        assert np.array_equal(x.pose, y.pose)
    assert realize(narrow, 0, 3)[1] != realize(wide, 0, 3)[1]


@pytest.mark.parametrize(
    "value, message",
    [
        ("{dist:gauss,mean:1}", "unknown distribution 'gauss'"),
        ("{dist:uniform,low:1}", "uniform needs high"),
        ("{dist:uniform,low:3,high:1}", "low must not exceed high"),
        ("{dist:uniform,low:1,high:3,std:2}", "uniform takes no std"),
        ("{dist:loguniform,low:0,high:3}", "loguniform needs low > 0"),
        ("{dist:randint,low:1.5,high:3}", "randint low and high must be integers"),
        ("{dist:choice,values:[]}", "non-empty list"),
        ("{dist:choice,values:[1,2],weights:[1]}", "one non-negative number per value"),
        ("{dist:uniform,low:2,high:6}", "must be an integer"),  # pieces are counted
        ("{dist:randint,low:2,high:400}", "400"),
    ],
)
def test_bad_distributions_name_the_key(value, message):
    with pytest.raises(ConfigError, match="scene.num_pieces") as info:
        validate(load_config([f"scene.num_pieces={value}"]))
    assert message in str(info.value)


def test_dataset_wide_keys_cannot_be_randomized():
    with pytest.raises(ConfigError, match="frames: cannot be randomized"):
        validate(load_config(["frames={dist:randint,low:2,high:4}"]))
    assert check("seed", {"dist": "randint", "low": 0, "high": 3})


def test_presets_set_distributions_except_where_the_user_pinned_a_value():
    assert preset("furniture", "none") == {}
    strong = preset("furniture", "strong")
    assert "scene.num_pieces" in strong
    cfg = load_config(["randomize=strong", "scene.num_pieces=5"])
    validate(cfg)
    assert cfg["scene"]["num_pieces"] == 5
    assert cfg["scene"]["num_clutter"] == strong["scene.num_clutter"]
    for family in ("furniture", "driving", "hoi"):
        for strength in ("light", "strong"):
            table = preset(family, strength)
            assert table, (family, strength)
            validate(load_config([f"scene={family}", f"randomize={strength}"]))
    base = load_config(["randomize=light"])
    assert apply_preset(base, {"camera.fov_deg"}) == base


def test_sampled_values_are_in_the_annotations_and_the_manifest(tmp_path):
    out = tmp_path / "ds"
    result = simfactory(
        f"output_dir={out}",
        *TINY,
        "num_clips=2",
        "executor.workers=1",
        "randomize=light",
        "scene.num_pieces=2",
        "scene.num_clutter={dist:randint,low:0,high:2}",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    for row in rows:
        ann = json.loads((out / row["path"] / "annotations.json").read_text())
        sampled = ann["sampled"]
        assert set(sampled) == {"scene.num_clutter", "camera.fov_deg", "render.exposure"}
        assert 0 <= sampled["scene.num_clutter"] <= 2
        assert int(row["scene.num_clutter"]) == sampled["scene.num_clutter"]
        assert float(row["camera.fov_deg"]) == sampled["camera.fov_deg"]
        fov = np.degrees(2 * np.arctan(24 / 2 / ann["cameras"]["cam0"]["K"][1][1]))
        assert abs(fov - sampled["camera.fov_deg"]) < 1e-3
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["randomize"] == "none"  # the preset is written out as distributions
    assert saved["scene"]["num_pieces"] == 2
    assert saved["camera"]["fov_deg"]["dist"] == "uniform"
    # Rendering one clip again from the saved config gives the same sampled values.
    again = generate_clip({**saved, "output_dir": str(tmp_path / "again")}, 1, tmp_path / "again")
    assert again["camera.fov_deg"] == float(rows[1]["camera.fov_deg"])
