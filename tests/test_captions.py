"""Captions from simulator truth: grammar (plurals, articles) and that every object and
event a caption names is in the clip's labels."""

import json
import re

import numpy as np

from simfactory.sim.annotate.captions import (
    AN,
    PLURALS,
    REGULAR,
    article,
    clip_captions,
    count,
    engine,
    join,
    plural,
)
from simfactory.sim.model.classes import class_table

# Words a caption may use for a class (multi-word names first, so "street lamp" is not
# read as a lamp).
WORDS = {
    "street lamp": {"pole"}, "traffic light": {"traffic light"}, "traffic sign": {"traffic sign"},
    "cutting board": {"cutting board"}, "robot arm": {"robot"}, "tree": {"vegetation"},
    "plant": {"plant", "vegetation"}, "people": {"person", "rider"}, "person": {"person"},
    "sedan": {"car"}, "suv": {"car"}, "van": {"car"}, "cyclist": {"rider"},
}  # fmt: skip


def _vocabulary() -> dict[str, set[str]]:
    words = dict(WORDS)
    for name in class_table().names[1:]:
        words.setdefault(name, {name})
    return words


def unlabelled(text: str, labelled: set[str], extra: dict | None = None) -> list[str]:
    """Object words of a caption (whole words, singular or plural, longest first) that
    name no class of the clip's labels."""
    text = text.lower()
    missing = []
    vocabulary = {**_vocabulary(), **(extra or {})}
    for word in sorted(vocabulary, key=len, reverse=True):
        pattern = rf"\b{re.escape(word)}(s|es)?\b"
        if re.search(pattern, text):
            if not vocabulary[word] & labelled:
                missing.append(word)
            text = re.sub(pattern, " ", text)
    return missing


def _body(name, cls, positions, dynamic=True, link=None, ident=None):
    T = np.tile(np.eye(4), (len(positions), 1, 1))
    T[:, :3, 3] = positions
    return {"id": ident, "name": name, "body": name.split("/")[0], "link": link,
            "class": cls, "dynamic": dynamic, "T_world_part": T.tolist(),
            "present": [True] * len(positions)}  # fmt: skip


def _camera(frames, moving=False):
    T = np.tile(np.eye(4), (frames, 1, 1))
    # Camera at (-5, 0, 1.5) looking along world +x (OpenCV: z forward, y down).
    T[:, :3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    T[:, :3, 3] = (-5, 0, 1.5)
    if moving:
        T[:, 0, 3] += np.linspace(0, 2, frames)
    return {"cam0": {"T_world_camera": T.tolist()}}


def test_plurals_and_articles():
    assert count("box", 4) == "four boxes" and count("box", 1) == "a box"
    assert count("plant", 23) == "23 plants" and count("tree", 19) == "19 trees"
    assert count("person", 8) == "eight people" and count("person", 1) == "a person"
    assert count("SUV", 1) == "an SUV" and count("SUV", 5) == "five SUVs"
    assert count("shelf", 2) == "two shelves" and count("bus", 3) == "three buses"
    assert count("apple", 1) == "an apple" and count("cutting board", 2) == "two cutting boards"
    assert join(["a", "b", "c"]) == "a, b and c" and join(["a", "b"]) == "a and b"
    assert count("mouse", 2) == "two mice" and article("hour") == "an hour"  # by inflect


def test_the_fast_tables_agree_with_inflect():
    p = engine()
    for noun in [*PLURALS, *REGULAR, "green towel", "wooden cutting board"]:
        assert plural(noun) == p.plural(noun), noun
    for word in [*REGULAR, *AN, "orange block", "yellow can", "electric light", "SUV"]:
        assert article(word) == p.a(word), word


def test_falls_onto_its_support_and_collisions():
    frames = 6
    drop = np.zeros((frames, 3))
    drop[:, 2] = np.linspace(1.0, 0.55, frames)  # falls 45 cm onto the bed
    push = np.zeros((frames, 3))
    push[:, 0] = np.linspace(0.0, 0.6, frames)
    objects = [
        _body("floor", "floor", np.zeros((frames, 3)), dynamic=False, ident=1),
        _body("bed_0", "bed", np.full((frames, 3), (0, 0, 0.25)), ident=2),
        _body("toy_0", "toy", drop, ident=3),
        _body("box_0", "box", push + (2, 0, 0.1), ident=4),
        _body("chair_0", "chair", np.full((frames, 3), (2.8, 0, 0.4)), ident=5),
        *[
            _body(f"cup_{i}", "cup", np.full((frames, 3), (i, 3, 0.8)), ident=6 + i)
            for i in range(3)
        ],  # fmt: skip
    ]
    contacts = [{"frame": frames - 1, "a": 3, "b": 2, "force": 2.0},
                {"frame": 4, "a": 4, "b": 5, "force": 1.0},
                {"frame": 5, "a": 4, "b": 5, "force": 1.0}]  # fmt: skip
    annotations = {
        "clip": {"family": "furniture", "clip_seed": 7},
        "params": {"theme": "bedroom", "lights": [{"kind": "directional"}, {"kind": "point"}]},
        "objects": objects,
        "contacts": contacts,
        "cameras": _camera(frames),
    }
    captions = clip_captions(annotations)
    dense = captions["dense"]
    assert re.search(r"The toy (falls|drops) onto the bed\.", dense)
    assert re.search(r"The box (moves|slides) about 60 cm away from the camera\.", dense)
    assert re.search(r"The box (hits|bumps into|knocks against) the chair\.", dense)
    assert "three cups" in dense and "A bedroom with" in dense
    assert "The camera stays still." in dense or "The view does not move." in dense
    assert "Sunlight and an electric light illuminate the room." in dense
    assert re.match(r"The toy (falls|drops) onto the bed in a bedroom\.$", captions["short"])
    assert captions == clip_captions(json.loads(json.dumps(annotations)))  # deterministic
    assert not unlabelled(dense, {o["class"] for o in objects})
    assert set(captions["mentions"]) <= {o["class"] for o in objects} | {"floor", "wall"}
    # Nothing falls or collides: neither is said.
    still = {**annotations, "contacts": [], "objects": objects[:2] + objects[5:]}
    assert not re.search(r"falls|drops|hits|bumps|knocks", clip_captions(still)["dense"])


def test_driving_captions_follow_the_events():
    frames = 4
    walk = np.zeros((frames, 3))
    walk[:, 1] = np.linspace(0, 1, frames)
    objects = [_body("road", "road", np.zeros((frames, 3)), dynamic=False, ident=1)]
    agents = {"ego": {"kind": "suv", "ego": True, "class": "car"}}
    for i in range(8):
        objects.append(_body(f"pedestrian_{i}", "person", walk + (10, i, 0), ident=2 + i))
        agents[f"pedestrian_{i}"] = {"kind": "pedestrian", "class": "person"}
    for i, kind in enumerate(["suv", "suv", "van"]):
        objects.append(_body(f"vehicle_{i}", "car", np.full((frames, 3), (20, i, 0)), ident=20 + i))
        agents[f"vehicle_{i}"] = {"kind": kind, "class": "car"}
    objects.append(_body("ego", "car", np.zeros((frames, 3)), ident=30))
    objects += [_body(f"tree_{i}", "vegetation", np.full((frames, 3), (i, 9, 0)), False,
                      ident=40 + i) for i in range(23)]  # fmt: skip
    events = [
        {"type": "lane_change", "actor": "ego", "start_frame": 0, "end_frame": 3},
        {"type": "pedestrian_crossing", "actor": "pedestrian_1", "start_frame": 0, "end_frame": 3},
        {"type": "give_way", "actor": "vehicle_0", "start_frame": 0, "end_frame": 3},
    ]
    annotations = {
        "clip": {"family": "driving", "clip_seed": 1},
        "params": {
            "time_of_day_h": 22.5,
            "night": True,
            "weather": "rain",
            "blocks": ["straight", "roundabout", "t"],
            "lanes_per_direction": 1,
            "road_wetness": 1.0,
        },  # fmt: skip
        "family": {
            "agents": agents,
            "events": events,
            "ego": {"speed_mps": [10.0, 11.0, 12.0, 13.0]},
        },  # fmt: skip
        "objects": objects,
        "contacts": [],
        "cameras": _camera(frames, moving=True),
    }
    captions = clip_captions(annotations)
    dense = captions["dense"]
    assert "a road with a lane in each direction, a roundabout and a t-junction" in dense.lower()
    phrases = ["eight people", "23 trees", "two SUVs", "a van", "changes lanes",
               "about 40 km/h, speeding up", "A person crosses the road at a crosswalk",
               "A vehicle gives way", "Eight people walk", "It is night in the rain"]  # fmt: skip
    for phrase in phrases:
        assert phrase in dense, phrase
    assert captions["short"] == (
        "An SUV drives along a road with a lane in each direction at night."
    )
    assert not re.search(r"red light|stop line|near|vegetations|persons", dense)
    assert not unlabelled(dense, {o["class"] for o in objects})


def test_hoi_actions_from_the_segments():
    frames = 3
    still = np.zeros((frames, 3))
    objects = [
        _body("table", "table", still, dynamic=False, ident=1),
        _body("robot", "robot", still, dynamic=False, ident=2),
        _body("robot/panda_hand", "robot", still, link="panda_hand", ident=3),
        _body("fruit_0", "fruit", still + (0, 0, 0.8), ident=4),
        _body("bowl_0", "bowl", still + (0.2, 0, 0.8), ident=5),
    ]
    segments = [{"verb": v, "objects": o} for v, o in (
        ("reach", ["fruit_0"]), ("grasp", ["fruit_0"]), ("lift", ["fruit_0"]),
        ("place", ["fruit_0", "bowl_0"]), ("release", ["fruit_0"]), ("retreat", []))]  # fmt: skip
    annotations = {
        "clip": {"family": "hoi", "clip_seed": 3},
        "params": {
            "objects": {
                "fruit_0": {"colour": "red", "kind": "apple"},
                "bowl_0": {"colour": "blue", "kind": "bowl"},
            }
        },  # fmt: skip
        "family": {
            "actor": {"kind": "robot", "model": "panda", "body": "robot"},
            "segments": segments,
            "outcome": {"success": True},
        },  # fmt: skip
        "objects": objects,
        "contacts": [],
        "cameras": _camera(frames),
    }
    dense = clip_captions(annotations)["dense"]
    assert dense.startswith("A Franka Panda robot arm works at a table; on it are a blue bowl "
                            "and a red apple.")  # fmt: skip
    assert ("The robot arm reaches for the red apple, grasps it, lifts it, places it in the "
            "blue bowl, lets go of it and pulls back.") in dense  # fmt: skip
    assert not re.search(r"cuts|folds|stacks|opens|does not succeed", dense)
    annotations["family"]["outcome"] = {"success": False}
    assert "The attempt does not succeed." in clip_captions(annotations)["dense"]
    extra = {"apple": {"fruit"}}
    assert not unlabelled(dense, {o["class"] for o in objects}, extra)


def test_generated_clips_carry_their_captions(tiny_dataset):
    _, dataset = tiny_dataset
    for path in sorted(dataset.glob("clips/clip_*/annotations.json")):
        annotations = json.loads(path.read_text())
        captions = annotations["captions"]
        assert set(captions) == {"short", "medium", "dense", "mentions"}
        assert clip_captions(annotations) == captions  # a function of the labels
        assert len(captions["dense"]) > len(captions["medium"]) > len(captions["short"]) > 20
        labelled = {o["class"] for o in annotations["objects"]}
        drops = [np.asarray(o["T_world_part"])[[0, -1], 2, 3] for o in annotations["objects"]]
        fell = any(z0 - z1 > 0.1 for z0, z1 in drops)
        touched = bool(annotations["contacts"])
        for text in (captions["short"], captions["medium"], captions["dense"]):
            assert not unlabelled(text, labelled), text
            assert not re.search(r"\b(boxs|vegetations|persons|a [aeiou]\w+)\b", text), text
            assert fell or not re.search(r"\b(falls|drops)\b", text), text
            assert touched or not re.search(r"\b(hits|bumps|knocks)\b", text), text
