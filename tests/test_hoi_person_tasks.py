"""A person cutting fruit and folding cloths (a towel, a T-shirt) with both hands: the
outcome from physics, the fingers on the knife's handle, the fruit and the pinched
cloth, the same person from the same seed, and the T-shirt's garment mesh. Physics-only
rollouts (the person skinned on them), no rendering."""

import numpy as np
import pytest
import shapely
import trimesh

from simfactory.scenes.hoi import label
from simfactory.scenes.hoi.objects import tshirt_outline
from simfactory.sim.actors.body import PINCH_FINGERS, each_grip, ensure_cache, fingertip_depths
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import simulate
from simfactory.sim.run.config import load_config
from simfactory.sim.simulate.cloth import outline_mesh


@pytest.fixture(scope="module")
def anny():
    ensure_cache()


def _config(task: str, fps: int, frames: int, *extra: str) -> dict:
    return load_config(
        [
            "scene=hoi",
            f"scene.task={task}",
            "scene.actor=human",
            "camera.path=static",
            f"fps={fps}",
            f"frames={frames}",
            "resolution=[64,48]",
            "scene.num_distractors=0",
            *extra,
        ]
    )


def _run(cfg: dict, seed: int = 0):
    spec = build_scene(cfg, seed)
    traj = simulate(spec, cfg)
    return spec, traj


def _tip_depths(spec, traj, grip, side: str) -> np.ndarray:
    """Signed distances (frames held, fingers) of a hand's closing fingertips to what it
    holds in every frame its fingers are fully closed (> 0 inside; a cloth: minus the
    distance to its sheet)."""
    frames, fingers, depth = fingertip_depths(spec, traj, spec.people[0], side, grip)
    assert len(frames) and list(fingers) == list(grip.get("fingers", range(1, 6))), grip
    return depth


@pytest.fixture(scope="module")
def cuts(anny):
    """Cutting clips by seed (0-3: four people), made when a test first asks."""
    made = {}

    def clip(seed: int):
        if seed not in made:
            made[seed] = _run(_config("cut_fruit", 12, 36), seed=seed)
        return made[seed]

    return clip


@pytest.fixture(scope="module")
def cut(cuts):
    return cuts(1)


def test_a_person_cuts_the_fruit_in_half(cut):
    spec, traj = cut
    out = label(spec, traj)
    assert out["outcome"]["success"], out["outcome"]
    assert out["outcome"]["halves_present"] == 2 and not out["outcome"]["whole_present"]
    assert spec.annotations["actor"]["kind"] == "human"
    assert "knife" in spec.annotations["tools"]
    assert any(w in spec.annotations["caption"] for w in ("cuts", "slices", "halves"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_knife_hand_and_the_steadying_hand_close_on_what_they_hold(cuts, seed):
    """The right hand holds the knife's handle from the start to the end of the clip, the
    left the fruit until it is cut: in every frame its fingers are closed, every
    fingertip within 1 cm of the surface and no deeper than 5 mm inside."""
    spec, traj = cuts(seed)
    grips = spec.people[0].grips
    assert grips["right"]["object"] == "knife/handle" and grips["right"]["end"] is None
    assert grips["left"]["object"] == "object_0"
    for side in ("right", "left"):
        depth = _tip_depths(spec, traj, grips[side], side)
        assert np.all(depth > -0.01) and np.all(depth < 0.005), (seed, side, depth)
    if seed:
        assert spec.people[0].phenotype != cuts(0)[0].people[0].phenotype  # another body


def test_the_same_seed_gives_the_same_person_and_plan(anny):
    cfg = _config("cut_fruit", 12, 24)
    a, b = build_scene(cfg, 3), build_scene(cfg, 3)
    other = build_scene(cfg, 4)
    assert a.people[0].phenotype == b.people[0].phenotype
    assert a.people[0].look == b.people[0].look
    assert a.people[0].grips == b.people[0].grips
    assert a.annotations["caption"] == b.annotations["caption"]
    assert a.people[0].phenotype != other.people[0].phenotype


@pytest.fixture(scope="module")
def towel(anny):
    return _run(_config("fold_cloth", 12, 42, "scene.cloth=towel"), seed=0)


def test_a_person_folds_a_towel_with_both_hands(towel):
    spec, traj = towel
    out = label(spec, traj)
    assert out["outcome"]["success"], out["outcome"]
    assert out["outcome"]["area_ratio"] < 0.7
    anchors = spec.cloths[0].anchors
    assert {a.part for a in anchors} == {"person/right_wrist", "person/left_wrist"}
    assert len(spec.annotations["goal"]["pinches"]) == 2
    assert "towel" in spec.annotations["caption"]


def _pinches_on_the_cloth(spec, traj) -> None:
    """In every frame a hand pinches the cloth, its pinching fingertips (thumb, fore and
    middle finger) are within 1 cm of the cloth's sheet (the other two tuck in)."""
    for side, grip in each_grip(spec.people[0].grips):
        assert grip["fingers"] == list(PINCH_FINGERS)
        depth = _tip_depths(spec, traj, grip, side)
        assert np.all(depth > -0.01), (side, grip["vertex"], depth)


def test_pinching_fingers_lie_on_the_towel(towel):
    _pinches_on_the_cloth(*towel)


@pytest.fixture(scope="module")
def tshirts(anny):
    """T-shirt folds by seed, made when a test first asks (a person's fold takes 4 s)."""
    made = {}

    def clip(seed: int):
        if seed not in made:
            made[seed] = _run(_config("fold_cloth", 12, 48, "scene.cloth=tshirt"), seed=seed)
        return made[seed]

    return clip


@pytest.mark.parametrize("seed", [0, 1])
def test_a_person_folds_a_t_shirt_in_two_moves(tshirts, seed):
    spec, traj = tshirts(seed)
    out = label(spec, traj)
    assert out["outcome"]["success"], out["outcome"]
    assert out["outcome"]["area_ratio"] < 0.6
    assert spec.params["objects"]["cloth_0"]["kind"] == "tshirt"
    grips = spec.people[0].grips
    assert len(grips["left"]) == len(grips["right"]) == 2  # hem up, then a sleeve in
    assert "T-shirt" in spec.annotations["caption"]
    _pinches_on_the_cloth(spec, traj)  # the hem's corners and the sleeves


def test_the_t_shirt_mesh_fills_its_outline():
    outline = tshirt_outline(0.34, 0.44)
    mesh = outline_mesh(outline, 0.025)
    polygon = shapely.Polygon(outline)
    assert polygon.is_valid
    assert abs(mesh.area - polygon.area) < 0.12 * polygon.area
    assert len(mesh.split(only_watertight=False)) == 1
    assert np.ptp(mesh.vertices[:, 0]) > 0.34 + 0.15  # the sleeves stick out


def test_a_bad_cloth_is_a_config_error_naming_the_key():
    from simfactory.sim.run.config import ConfigError, validate

    cfg = load_config(["scene=hoi", "scene.task=fold_cloth", "scene.cloth=sock"])
    with pytest.raises(ConfigError, match=r"scene\.cloth"):
        validate(cfg)


def test_a_fingertip_stepping_through_a_thin_sheet_touches_it():
    """A curl step moves a tip further than a cloth is thick: a step from one side of
    the sheet to the other has touched it, though neither end lies in it; a step beside
    it or above it has not."""
    from simfactory.sim.actors.body import TIP_PRESS, sheet_crossed, sheet_depth, sheet_parts

    triangle = np.array([[[[0.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.2, 0.0]]]])
    start = np.array([[[0.05, 0.05, 0.01], [0.3, 0.3, 0.01], [0.05, 0.05, 0.02]]])
    end = np.array([[[0.05, 0.05, -0.01], [0.3, 0.3, -0.01], [0.05, 0.05, 0.01]]])
    assert np.all(sheet_depth(triangle, start) < TIP_PRESS)
    assert np.all(sheet_depth(triangle, end) < TIP_PRESS)
    assert sheet_crossed(triangle, start, end).tolist() == [[True, False, False]]
    assert np.allclose(sheet_depth(sheet_parts(triangle), end), sheet_depth(triangle, end))


def test_a_scan_marks_the_first_step_through_a_sheet_and_none_where_none_crosses():
    """Of the curl steps before a tip's first contact, the first that crosses the sheet
    counts as its contact; a scan where no step crosses is left as it was (a T-shirt's
    fold, seed 3, had one)."""
    from simfactory.sim.actors.body import _FingerReach

    reach = object.__new__(_FingerReach)
    tips = np.zeros((2, 3, 5, 3))
    tips[..., 2] = np.linspace(0.02, -0.02, 5)  # every tip goes down through z = 0
    blocked = np.zeros((2, 3), bool)
    inside = np.zeros((2, 3, 4), bool)
    inside[1, 2, 3] = True  # one tip's depth says it touched at its last step
    reach._crossed = lambda before, after, rows: np.zeros(len(rows), bool)
    assert np.array_equal(reach._scan_crossed(tips, inside, blocked), inside)
    reach._crossed = lambda before, after, rows: (before[:, 2] > 0) & (after[:, 2] <= 0)
    crossed = reach._scan_crossed(tips, inside, blocked)
    want = np.zeros_like(inside)
    want[..., 1] = True  # from the second point (z = 0.01) to the third (z = 0)
    want[1, 2, 3] = True
    assert np.array_equal(crossed, want)


def test_a_small_thing_held_whole_takes_the_palm_on_a_face_middle():
    """A hand coming to a block's corner puts its palm in the middle of the face it comes
    to, not on the corner, so its fingers reach round the rest."""
    from simfactory.sim.actors.body import _from_middle

    block = trimesh.creation.box((0.045, 0.045, 0.045))
    palm = np.array([[0.03, 0.05, 0.04], [0.0, 0.0, 0.2]])  # by a top corner; above
    placed = _from_middle(block, palm)
    assert np.allclose(placed, [[0.0, 0.0225, 0.0], [0.0, 0.0, 0.0225]], atol=1e-9)
