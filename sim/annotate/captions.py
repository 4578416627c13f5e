"""Captions of a clip written from its annotations (simulator truth): the setting and
what is in it, what moves, falls, collides, is picked up, cut, folded or placed, how the
camera moves, the light, the time of day and the weather.

Three styles: ``short`` (one sentence), ``medium`` (two or three) and ``dense`` (a
paragraph with every fact below). The wording varies between clips with synonyms drawn
from the clip's seed, so the same clip always gets the same captions. Plurals, articles
and numbers come from ``inflect`` ("a box", "four boxes", "an SUV", "eight people").

Facts and their thresholds:

- Objects: bodies (base parts) by class, walls, floors, roads and other surfaces left
  out; a driving agent is named by its kind (sedan, SUV, van, truck, bus), an HOI object
  by its colour and kind ("green towel"), a tree or street lamp by its name.
- Motion: a dynamic body moves when its base travels more than 5 cm; it falls when it
  ends more than 10 cm lower, onto the body it touches in the last frame; direction is
  taken in the first frame's camera axes. A new contact between two bodies, one of
  them moving, is a collision.
- Actions: the family's action segments (HOI: reach, grasp, lift, carry, place, push,
  stack, open, close, fold, cut, release, retreat) in order, and its outcome.
- Driving: the ego's speed (km/h) and its events (lane changes, stops, giving way),
  other vehicles and pedestrians in motion, crossings and near misses.
- Camera: still when it travels less than 5 cm and turns less than 3 degrees, else its
  travel (m, in its first frame's axes) and turn (degrees about world up), with the
  family's path name where it has one (walkthrough, orbit, follow).
- Light: the family's time of day, weather, sun height, fog and road wetness, or its
  sun and lamps.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np

STRUCTURE = {"background", "sky", "floor", "wall", "ceiling", "road", "sidewalk", "terrain"}
NOUNS = {"rider": "cyclist", "robot": "robot arm", "pole": "pole", "vegetation": "plant"}
KINDS = {"suv": "SUV", "pedestrian": "person"}
ROBOTS = {"panda": "Franka Panda robot arm", "kuka": "KUKA iiwa robot arm"}
BLOCKS = {  # the driving family's road blocks ("straight" goes unsaid)
    "four_way": "a four-way junction",
    "t": "a T-junction",
    "roundabout": "a roundabout",
    "curve": "a bend",
}
VEHICLES = {"car", "truck", "bus"}
WEATHER = {
    "clear": "under a clear sky",
    "overcast": "under an overcast sky",
    "fog": "in fog",
    "rain": "in the rain",
}
EGO_EVENTS = {
    "lane_change": "changes lanes",
    "stop_at_red_light": "stops at a red light",
    "stop_at_stop_line": "stops at the stop line",
    "give_way": "gives way",
    "stop_for_pedestrian": "stops for a pedestrian",
}
# Other agents' events: (verb for one, verb for several, who).
EVENTS = {
    "give_way": ("gives way", "give way", "vehicle"),
    "lane_change": ("changes lanes", "change lanes", "vehicle"),
    "stop_at_red_light": ("stops at a red light", "stop at red lights", "vehicle"),
    "stop_at_stop_line": ("stops at a stop line", "stop at stop lines", "vehicle"),
    "stop_for_pedestrian": ("stops for a pedestrian", "stop for pedestrians", "vehicle"),
    "pedestrian_crossing": (
        "crosses the road at a crosswalk",
        "cross the road at crosswalks",
        "person",
    ),
}
MOVE_M = 0.05  # a body or camera travelling less is still
FALL_M = 0.10  # a body ending this much lower has fallen
TURN_DEG = 3.0


# Plurals of the nouns captions use most, as inflect writes them: they spare worker
# processes inflect's import (about 2 s of CPU); any other noun goes to inflect.
PLURALS = {
    "box": "boxes", "bus": "buses", "person": "people", "shelf": "shelves",
    "knife": "knives", "sofa": "sofas", "glass": "glasses", "cloth": "cloths",
    "cutting board": "cutting boards", "traffic light": "traffic lights",
    "traffic sign": "traffic signs", "street lamp": "street lamps", "robot arm": "robot arms",
    "other object": "other objects", "other vehicle": "other vehicles",
    "electric light": "electric lights", "peach": "peaches", "dish": "dishes",
}  # fmt: skip
REGULAR = {
    "bed", "book", "bottle", "bowl", "building", "cabinet", "can", "car", "chair", "cup",
    "cyclist", "door", "drawer", "fence", "fruit", "lamp", "lane", "plant", "pole", "robot",
    "sedan", "table", "toy", "tree", "truck", "van", "window", "block", "apple", "orange",
    "lemon", "pear", "towel", "banana", "mug", "plate", "sponge", "bicycle", "rider",
}  # fmt: skip
AN = {"SUV": "an", "KUKA": "a", "hour": "an", "honest": "an", "one": "a", "once": "a", "unit": "a",
      "uniform": "a", "user": "a", "european": "a", "useful": "a", "unique": "a"}  # fmt: skip


@cache
def engine():
    """The inflect engine (imported on first use), taught the acronyms we use."""
    import inflect

    p = inflect.engine()
    p.defan("SUV")
    return p


def article(phrase: str) -> str:
    """ "a box", "an orange block", "an SUV"."""
    first = phrase.split()[0]
    if first in AN or first.lower() in AN:
        return f"{AN.get(first, AN.get(first.lower()))} {phrase}"
    if first[0].lower() in "aeio":
        return f"an {phrase}"
    if first[0].lower() not in "hu" and first[0].isalpha() and not first.isupper():
        return f"a {phrase}"
    return engine().a(phrase)


def plural(noun: str) -> str:
    """The plural of a noun phrase; acronyms take a plain s ("SUVs")."""
    words = noun.split()
    head = words[-1]
    if head.isupper():
        return noun + "s"
    if noun in PLURALS:
        return PLURALS[noun]
    if head in PLURALS:
        return " ".join([*words[:-1], PLURALS[head]])
    if head in REGULAR:
        return noun + "s"
    return engine().plural(noun)


NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def amount(n: int, noun: str) -> str:
    """ "1 clip", "48 frames": digits, for messages and cards."""
    return f"{n} {noun if n == 1 else plural(noun)}"


def count(noun: str, n: int) -> str:
    """ "a box", "four boxes", "23 plants": words up to ten, digits above."""
    if n == 1:
        return article(noun)
    number = NUMBERS[n] if 0 <= n <= 10 else str(n)
    return f"{number} {plural(noun)}"


def verb(n: int, singular: str) -> str:
    """ "walks" for one, "walk" for several."""
    if n == 1:
        return singular
    return singular[:-2] if singular.endswith(("shes", "ches", "sses")) else singular[:-1]


def join(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = [i for i in items if i]
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


class Words:
    """Names of the clip's bodies and the synonyms chosen by its seed."""

    def __init__(self, annotations: dict):
        self.annotations = annotations
        seed = int(annotations.get("clip", {}).get("clip_seed", 0) or 0)
        self.rng = np.random.default_rng(seed)
        self.family = annotations.get("family", {}) or {}
        self.params = annotations.get("params", {}) or {}
        self.parts = annotations.get("objects", [])
        self.base = {}
        for o in self.parts:
            if o.get("link") is None and o["body"] not in self.base:
                self.base[o["body"]] = o
        self.by_id = {o["id"]: o for o in self.parts}
        self.by_name = {o["name"]: o for o in self.parts}
        self.mentioned: set[str] = set()  # classes the captions name
        self.shared: dict[str, int] = {}  # bodies per noun
        for body in self.base:
            noun = self.noun(body, mention=False)
            self.shared[noun] = self.shared.get(noun, 0) + 1
        self.referred: dict[str, str] = {}  # bodies named by "the" so far, and their noun

    def pick(self, *options: str) -> str:
        return options[int(self.rng.integers(len(options)))]

    def noun(self, body: str, mention: bool = True) -> str:
        """What a body (or a part, by its full name) is called, without article."""
        record = self.base.get(body) or self.by_name.get(body)
        cls = record["class"] if record else body
        if mention:
            self.mentioned.add(cls)
        objects = self.params.get("objects")
        if isinstance(objects, dict) and isinstance(objects.get(body), dict):
            info = objects[body]
            kind = str(info.get("kind", cls)).replace("_", " ")
            return f"{info['colour']} {kind}" if info.get("colour") else kind
        agent = (self.family.get("agents") or {}).get(body)
        if isinstance(agent, dict) and agent.get("kind"):
            return KINDS.get(agent["kind"], agent["kind"])
        if cls == "vegetation" and body.startswith("tree"):
            return "tree"
        if cls == "pole" and body.startswith("street_lamp"):
            return "street lamp"
        return NOUNS.get(cls, cls.replace("_", " "))

    def the(self, body: str) -> str:
        """The body as a definite noun phrase: "the sofa"; where several bodies share
        its noun, "one of the chairs", then "another chair", and "that chair" again."""
        noun = self.noun(body)
        if self.shared.get(noun, 0) <= 1:
            return f"the {noun}"
        if body in self.referred:
            return f"that {noun}"
        first = noun not in self.referred.values()
        self.referred[body] = noun
        return f"one of the {plural(noun)}" if first else f"another {noun}"


def _positions(record: dict) -> np.ndarray:
    T = np.asarray(record["T_world_part"], dtype=float)
    present = np.asarray(record.get("present", [True] * len(T)), dtype=bool)
    return T[present, :3, 3] if present.any() else T[:1, :3, 3]


def _last_supports(words: Words, body: str, frame: int) -> list[str]:
    """Bodies touching ``body`` in ``frame`` (contacts), most force first."""
    touching: dict[str, float] = {}
    for c in words.annotations.get("contacts", []):
        if c["frame"] != frame:
            continue
        a, b = words.by_id.get(c["a"]), words.by_id.get(c["b"])
        if not a or not b:
            continue
        for mine, other in ((a, b), (b, a)):
            if mine["body"] == body and other["body"] != body:
                touching[other["body"]] = touching.get(other["body"], 0) + c.get("force", 0)
    return sorted(touching, key=lambda k: -touching[k])


def _camera_frame(annotations: dict) -> np.ndarray | None:
    cameras = annotations.get("cameras") or {}
    if not cameras:
        return None
    return np.asarray(next(iter(cameras.values()))["T_world_camera"], dtype=float)


def _direction(words: Words, delta: np.ndarray, own: bool = False) -> str:
    """Where a world displacement points as the first frame's camera sees it (``own``:
    the camera's own travel)."""
    T = _camera_frame(words.annotations)
    if T is None:
        return ""
    x, _, z = T[0, :3, :3].T @ delta
    if abs(x) >= abs(z):
        return "to the right" if x > 0 else "to the left"
    if own:
        return "forward" if z > 0 else "backward"
    return "away from the camera" if z > 0 else "towards the camera"


def movers(words: Words, skip: set[str]) -> list[tuple[str, float, float, np.ndarray]]:
    """Bodies that move: (body, path length, height change, displacement), longest first."""
    out = []
    for body, record in words.base.items():
        if body in skip or not record.get("dynamic") or record["class"] in STRUCTURE:
            continue
        p = _positions(record)
        path = float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0
        if path > MOVE_M:
            out.append((body, path, float(p[-1, 2] - p[0, 2]), p[-1] - p[0]))
    return sorted(out, key=lambda m: -m[1])


def collisions(words: Words, moving: set[str]) -> list[tuple[int, str, str]]:
    """New contacts (frame, body, other body) after the first frame with a moving body."""
    pairs: dict[int, set] = {}
    for c in words.annotations.get("contacts", []):
        a, b = words.by_id.get(c["a"]), words.by_id.get(c["b"])
        if a and b and a["body"] != b["body"]:
            pairs.setdefault(c["frame"], set()).add(tuple(sorted((a["body"], b["body"]))))
    out, seen = [], set()
    for frame in sorted(pairs):
        for pair in sorted(pairs[frame]):
            if pair in seen:
                continue
            seen.add(pair)
            before = pairs.get(frame - 1, set())
            if frame > 0 and pair not in before and (pair[0] in moving or pair[1] in moving):
                first, second = pair if pair[0] in moving else pair[::-1]
                out.append((frame, first, second))
    return out


def motion_sentences(words: Words, skip: set[str]) -> list[str]:
    """What moves, falls and collides (bodies in ``skip`` are described elsewhere)."""
    moving = movers(words, skip)
    last = len(next(iter(words.base.values()))["T_world_part"]) - 1 if words.base else 0
    said, sentences, landed = set(), [], set()
    for body, path, dz, delta in moving[:4]:
        if dz < -FALL_M:
            support = [s for s in _last_supports(words, body, last) if s != body]
            onto = f" onto {words.the(support[0])}" if support else ""
            landed |= {tuple(sorted((body, s))) for s in support[:1]}
            act = words.pick("falls", "drops")
            sentences.append(f"{words.the(body)} {act}{onto}")
        elif dz > FALL_M:
            sentences.append(f"{words.the(body)} rises {_metres(dz)}")
        else:
            where = _direction(words, delta)
            act = words.pick("moves", "slides")
            sentences.append(f"{words.the(body)} {act} about {_metres(path)} {where}".strip())
        said.add(body)
    rest = len(moving) - len(said)
    if rest > 0:
        sentences.append(f"{count('other object', rest)} {verb(rest, 'moves')}")
    hits = [
        h for h in collisions(words, {m[0] for m in moving}) if tuple(sorted(h[1:])) not in landed
    ]
    for _, first, second in hits[:3]:
        act = words.pick("hits", "bumps into", "knocks against")
        sentences.append(f"{words.the(first)} {act} {words.the(second)}")
    return [sentence(s) for s in sentences]


def _metres(d: float) -> str:
    if d < 1.0:
        return f"{int(round(d * 100 / 5) * 5) or 5} cm"
    return f"{d:.1f} m"


def inventory(words: Words, skip: set[str]) -> list[str]:
    """Counted noun phrases of the bodies in view of the labels, most numerous first."""
    counts: dict[str, int] = {}
    for body, record in words.base.items():
        if body in skip or record["class"] in STRUCTURE or not record.get("present", [1])[0]:
            continue
        counts[words.noun(body)] = counts.get(words.noun(body), 0) + 1
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [count(noun, n) for noun, n in order]


def camera_sentence(words: Words) -> str:
    """How the camera moves, from its poses (and the family's path name)."""
    T = _camera_frame(words.annotations)
    if T is None:
        return ""
    travel = float(np.linalg.norm(np.diff(T[:, :3, 3], axis=0), axis=1).sum())
    f0, f1 = T[0, :3, 2], T[-1, :3, 2]
    turn = np.degrees(np.arctan2(f0[0] * f1[1] - f0[1] * f1[0], f0[0] * f1[0] + f0[1] * f1[1]))
    subject = words.pick("the camera", "the view")
    if travel < MOVE_M and abs(turn) < TURN_DEG:
        return sentence(f"{subject} {words.pick('stays still', 'does not move')}")
    camera = words.params.get("camera")
    path = camera.get("requested") or camera.get("kind") if isinstance(camera, dict) else camera
    named = {"walkthrough": "walks through the room", "orbit": "circles the scene",
             "follow": "follows the action"}.get(str(path), "")  # fmt: skip
    parts = []
    if travel >= MOVE_M:
        where = _direction(words, T[-1, :3, 3] - T[0, :3, 3], own=True)
        parts.append(f"moves {_metres(travel)} {where}")
    if abs(turn) >= TURN_DEG:
        parts.append(f"turns {abs(turn):.0f} degrees to the {'left' if turn > 0 else 'right'}")
    text = f"the camera {named}, " + " and ".join(parts) if named else subject + " " + join(parts)
    return sentence(text.replace("  ", " "))


def _time_of_day(hour: float, night: bool) -> str:
    if night or hour < 5 or hour >= 21:
        return "night"
    for end, name in ((8, "early morning"), (11, "morning"), (14, "midday"),
                      (17, "afternoon"), (19, "evening")):  # fmt: skip
        if hour < end:
            return name
    return "dusk"


def light_sentence(words: Words) -> str:
    """Time of day, weather and light from the family's parameters."""
    p = words.params
    if "time_of_day_h" in p or "weather" in p:
        when = _time_of_day(float(p.get("time_of_day_h", 12.0)), bool(p.get("night")))
        weather = WEATHER.get(str(p.get("weather")), "")
        extras = []
        if p.get("weather") != "fog" and float(p.get("fog_density_per_m", 0)) > 0.01:
            extras.append("in haze")
        if p.get("weather") != "rain" and float(p.get("road_wetness", 0)) > 0.5:
            extras.append("on a wet road")
        elevation = float(p.get("sun_elevation_deg", 45.0))
        if not p.get("night") and 0 < elevation < 10:
            extras.append("with the sun low in the sky")
        return sentence(f"it is {when}" + "".join(f" {w}" for w in [weather, *extras] if w))

    lights = p.get("lights")
    if isinstance(lights, list) and lights:
        sun = any(light.get("kind") == "directional" for light in lights)
        lamps = sum(light.get("kind") in ("point", "spot") for light in lights)
        parts = (["sunlight"] if sun else []) + ([count("electric light", lamps)] if lamps else [])
        if parts:
            verb = "illuminate" if len(parts) > 1 or lamps > 1 else "illuminates"
            return sentence(f"{join(parts)} {verb} the room")
    return ""


def when_phrase(words: Words) -> str:
    """ "at night", "in the early morning", "at midday" (driving), or ""."""
    p = words.params
    if "time_of_day_h" not in p:
        return ""
    when = _time_of_day(float(p["time_of_day_h"]), bool(p.get("night")))
    return {"night": "at night", "midday": "at midday", "dusk": "at dusk"}.get(
        when, f"in the {when}"
    )


ACTIONS = {
    "reach": "reaches for {0}", "grasp": "grasps {0}", "lift": "lifts {0}",
    "carry": "carries {0} to {1}", "place": "places {0} {in} {1}", "push": "pushes {0}",
    "stack": "stacks {0} on {1}", "open": "opens {0}", "close": "closes {0}",
    "fold": "folds {0}", "cut": "cuts {0}{halves}", "release": "lets go of {0}",
    "retreat": "pulls back", "walk": "walks to {0}", "move": "moves {0} over {1}",
    "hold": "steadies {0}",
}  # fmt: skip


INSIDE = {"bowl", "box", "cup"}  # placed "in" these, "on" anything else


def action_sentence(words: Words, actor: str) -> str:
    """The family's action segments in order, as one sentence of the actor."""
    phrases, previous = [], None
    for segment in words.family.get("segments", []):
        template = ACTIONS.get(segment.get("verb"))
        if template is None:
            continue
        objects = [o for o in segment.get("objects", []) if o in words.base or o in words.by_name]
        slots = len(re.findall(r"\{\d\}", template))
        if slots > len(objects):
            template = re.sub(r" (to|over|on|\{in\}) \{1\}", "", template)
            slots = len(re.findall(r"\{\d\}", template))
            if slots > len(objects):
                continue
        names = ["it" if o == previous else words.the(o) for o in objects[:slots]]
        target = objects[1] if slots > 1 else None
        record = words.base.get(target) or words.by_name.get(target) if target else None
        inside = "in" if record and record["class"] in INSIDE else "on"
        cut = objects[0] if objects else ""
        halves = any(b.startswith(f"{cut}_half") for b in words.base) if cut else False
        phrases.append(
            template.format(*names, **{"in": inside, "halves": " in half" if halves else ""})
        )
        previous = objects[0] if objects else previous
    deduped = [p for i, p in enumerate(phrases) if i == 0 or p != phrases[i - 1]]
    return sentence(f"{actor} {join(deduped)}") if deduped else ""


def _hoi(words: Words) -> dict:
    actor_info = words.family.get("actor") or {}
    body = actor_info.get("body")
    if actor_info.get("kind") == "robot":
        words.mentioned.add("robot")
        actor = ROBOTS.get(str(actor_info.get("model")), "robot arm")
    else:
        words.mentioned.add("person")
        actor = "person"
    used = {o for s in words.family.get("segments", []) for o in s.get("objects", [])}
    skip = {b for b in words.base if b == body or b.startswith(f"{body}/")}
    room = {b for b, r in words.base.items() if r["class"] in ("door", "window", "table")}
    things = inventory(words, skip | room | {body})
    actions = action_sentence(words, f"the {actor.split()[-2]} {actor.split()[-1]}"
                              if actor.endswith("robot arm") else f"the {actor}")  # fmt: skip
    outcome = words.family.get("outcome") or {}
    result = "" if outcome.get("success", True) else sentence("the attempt does not succeed")
    table = "table" if "table" in {r["class"] for r in words.base.values()} else ""
    if table:
        words.mentioned.add("table")
        on = (
            f"; on it {'are' if len(things) > 1 or things[0].split()[0] != 'a' else 'is'} "
            f"{join(things)}"
            if things
            else ""
        )
        setting = sentence(f"{article(actor)} works at a table{on}")
    else:
        setting = sentence(f"{article(actor)} in a room with {join(things) or 'nothing else'}")
    tools = set(words.family.get("tools") or [])
    tools |= {a.get("child") for a in words.family.get("attachments") or []}
    motion = motion_sentences(words, skip | used | tools | {body})
    short = words.family.get("caption") or actions or setting
    return {"setting": setting, "actions": [actions, result, *motion], "short": short}


def _furniture(words: Words) -> dict:
    theme = str(words.params.get("theme", "")).replace("_", " ")
    room = {"dining": "dining room", "living": "living room"}.get(theme, theme or "room")
    words.mentioned.update({"floor", "wall"})
    things = inventory(words, set())
    setting = sentence(f"{article(room)} with {join(things)}" if things else article(room))
    motion = motion_sentences(words, set())
    falls = [s for s in motion if " falls" in s or " drops" in s]
    short = (falls[0][:-1] + f" in {article(room)}.") if falls else setting
    return {"setting": setting, "actions": motion, "short": short}


def _driving(words: Words) -> dict:
    agents = words.family.get("agents") or {}
    ego = next((b for b, a in agents.items() if a.get("ego")), None)
    blocks = words.params.get("blocks") or []
    features = []
    for kind in dict.fromkeys(blocks):
        features.append(BLOCKS.get(str(kind), ""))
    lanes = int(words.params.get("lanes_per_direction", 1))
    road = f"a road with {count('lane', lanes)} in each direction"
    if any(features):
        road += f", {join([f for f in features if f])}"
    things = inventory(words, {ego} if ego else set())
    setting = sentence(f"{road}; around it {join(things)}" if things else road)
    sentences = []
    state = words.family.get("ego") or {}
    speeds = np.asarray(state.get("speed_mps", [0.0]), dtype=float)
    events = words.family.get("events") or []
    ego_name = words.the(ego) if ego else "the car"
    if ego:
        kmh = float(speeds.mean()) * 3.6
        if kmh < 2:
            drive = "stands still"
        else:
            drive = f"drives at about {int(round(kmh / 5) * 5) or 5} km/h"
            change = float(speeds[-1] - speeds[0])
            if change > 1.0:
                drive += ", speeding up"
            elif change < -1.0:
                drive += ", slowing down"
        own = [e["type"] for e in events if e.get("actor") == ego]
        done = [EGO_EVENTS[t] for t in dict.fromkeys(own) if t in EGO_EVENTS]
        sentences.append(sentence(f"the camera rides on {ego_name}, which {join([drive, *done])}"))
    moving = movers(words, {ego} if ego else set())
    vehicles = [m for m in moving if words.base[m[0]]["class"] in VEHICLES]
    people = [m for m in moving if words.base[m[0]]["class"] == "person"]
    if vehicles:
        n = len(vehicles)
        sentences.append(sentence(f"{count('other vehicle', n)} {verb(n, 'drives')} past"))
    if people:
        sentences.append(sentence(f"{count('person', len(people))} {verb(len(people), 'walks')}"))
    for kind, (one, many, noun) in EVENTS.items():
        actors = sorted({e["actor"] for e in events if e["type"] == kind and e.get("actor") != ego})
        if actors:
            words.mentioned.add("person" if noun == "person" else "car")
            subject = count(noun if noun == "person" else "vehicle", len(actors))
            sentences.append(sentence(f"{subject} {one if len(actors) == 1 else many}"))
    for e in events:
        if e["type"] == "near_miss" and e.get("actor") in agents and e.get("other") in agents:
            sentences.append(
                sentence(f"{words.the(e['actor'])} comes within a metre of {words.the(e['other'])}")
            )
            break
    kind = words.noun(ego) if ego else "car"
    when = when_phrase(words)
    short = sentence(
        f"{article(kind)} drives along {road.split(',')[0]}" + (f" {when}" if when else "")
    )
    return {"setting": setting, "actions": sentences, "short": short}


def _generic(words: Words) -> dict:
    things = inventory(words, set())
    setting = sentence(f"a scene with {join(things)}" if things else "an empty scene")
    motion = motion_sentences(words, set())
    return {"setting": setting, "actions": motion, "short": motion[0] if motion else setting}


def clip_captions(annotations: dict) -> dict:
    """``short``, ``medium`` and ``dense`` captions of a clip from its annotations, and
    the classes they name (``mentions``)."""
    words = Words(annotations)
    family = annotations.get("clip", {}).get("family")
    builder = {"hoi": _hoi, "furniture": _furniture, "driving": _driving}.get(family, _generic)
    facts = builder(words)
    camera = camera_sentence(words) if family != "driving" else ""
    light = light_sentence(words)
    actions = [a for a in facts["actions"] if a]
    short = sentence(facts["short"])
    medium = " ".join([facts["setting"], *actions[:1], light][:3])
    dense = " ".join([facts["setting"], *actions, camera, light])
    clean = [re.sub(r"\s+", " ", s).strip() for s in (short, medium, dense)]
    return {
        "short": clean[0],
        "medium": clean[1],
        "dense": clean[2],
        "mentions": sorted(words.mentioned),
    }
