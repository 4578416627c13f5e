"""Captions written from the scene graph and the task: several phrasings per task,
one chosen by the clip's seed, and every phrasing kept in the annotations."""

from __future__ import annotations

import numpy as np

from simfactory.scenes.hoi.objects import colour_name

ROBOT_NAMES = {"panda": "Franka Panda robot arm", "kuka": "KUKA iiwa robot arm"}
NOUNS = {"block": "block", "can": "can", "fruit": "fruit", "bowl": "bowl"}
SURFACES = {"table": "side table", "cabinet": "cabinet", "shelf": "shelf"}


def _noun(placed) -> str:
    model = placed.model
    kind = model.kind if hasattr(model, "kind") else model.name_class
    colour = getattr(model, "colour", None) or surface_colour(model.visuals[0].material)
    noun = NOUNS.get(kind, kind)
    return f"{colour} {noun}" if colour else noun


def captions(task: str, actor: str, facts: dict, table: str) -> list[str]:
    """All phrasings of the clip's caption (the first is the plainest)."""
    if actor == "human":
        return _person_captions(task, facts, table)
    arm = ROBOT_NAMES[actor]
    short = "robot arm"
    if task == "fold_cloth" and facts["kind"] == "tshirt":
        cloth = f"{surface_colour(facts['cloth'].material)} T-shirt"
        return [
            f"A {arm} folds the {cloth} in half on the {table} table.",
            f"The {short} takes the {cloth} by its hem and lays it up to its collar.",
            f"On a {table} table, a {short} folds a {cloth} hem to collar.",
        ]
    if task == "fold_cloth":
        cloth = f"{surface_colour(facts['cloth'].material)} {facts['kind']}"
        return [
            f"A {arm} folds the {cloth} in half on the {table} table.",
            f"The {short} picks up a corner of the {cloth} and lays it on the opposite "
            "corner, folding it into a triangle.",
            f"On a {table} table, a {short} folds a {cloth} corner to corner.",
        ]
    obj = _noun(facts["object"])
    if task == "pick_place":
        target = _noun(facts["target"])
        bowl = getattr(facts["target"].model, "name_class", "") == "bowl"
        into, onto = ("in", "into") if bowl else ("on", "onto")
        out = [
            f"A {arm} picks up the {obj} from the {table} table and places it {into} the {target}.",
            f"The {short} grasps the {obj} and puts it {into} the {target} on the {table} table.",
            f"On a {table} table, a {short} moves a {obj} {onto} the {target}.",
        ]
    elif task == "push":
        cm = int(round(100 * facts["distance"]))
        out = [
            f"A {arm} pushes the {obj} about {cm} cm across the {table} table.",
            f"The {short} slides the {obj} along the {table} table.",
            f"A {short} nudges a {obj} across a {table} tabletop.",
        ]
    elif task == "stack":
        target = _noun(facts["target"])
        out = [
            f"A {arm} stacks the {obj} on top of the {target} on the {table} table.",
            f"The {short} picks up the {obj} and sets it on the {target}.",
            f"On a {table} table, a {short} builds a two-block tower: the {obj} on the {target}.",
        ]
    elif task == "cut_fruit":
        fruit = facts["object"].model.noun
        colour = facts["board"].model.colour
        board = "wooden" if colour == "wooden" else f"{colour} plastic"
        out = [
            f"A {arm} cuts the {fruit} on the {board} cutting board in half.",
            f"A {short} cuts the {fruit} on the {board} cutting board in half.",
            f"The {short} slices {_article(fruit)} {fruit} in two with a kitchen knife on a "
            f"{table} table.",
            f"Holding a knife, a {short} halves the {fruit}; the two halves fall apart on the "
            f"{board} cutting board.",
        ]
    elif task in ("open_drawer", "close_drawer", "open_door", "close_door"):
        out = _articulated(task, arm, short, obj, facts["part"], table)
    else:
        raise ValueError(f"no captions for task {task!r}")
    return out


def describe_person(phenotype: dict, height: float, top) -> str:
    """Who a person is, in a few words: "tall older man in a blue top" (age from the
    phenotype's years, sex from its gender, tall or short for its sex, the top's colour)."""
    years, female = phenotype["age_years"], phenotype["gender"] >= 0.5
    if years < 13:
        noun, age = ("girl" if female else "boy"), ""
    elif years < 18:
        noun, age = ("teenage girl" if female else "teenage boy"), ""
    else:
        noun = "woman" if female else "man"
        age = "young " if years < 30 else "older " if years >= 60 else ""
    tall, short = (1.74, 1.58) if female else (1.86, 1.68)
    size = "tall " if height >= tall else "short " if height <= short else ""
    return f"{size}{age}{noun} in {_article(colour_name(top))} {colour_name(top)} top"


def name_the_person(phrasings: list[str], who: str) -> list[str]:
    """Phrasings that start "A person ..." say who instead ("A tall older man in a blue
    top ...")."""
    return [
        f"{_article(who).capitalize()} {who}{p[len('A person'):]}" if p.startswith("A person ")
        else p
        for p in phrasings
    ]  # fmt: skip


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _person_captions(task: str, facts: dict, table: str) -> list[str]:
    """Phrasings for a person doing ``task``."""
    if task in REACH_TASKS or facts.get("place_on") in PLACE_SURFACES:
        return _person_reach_captions(task, facts, table)
    if task in ("cut_fruit", "fold_cloth"):
        return _person_two_hands(task, facts, table)
    if task == "push_chair":
        chair = f"{surface_colour(facts['chair'].visuals[0].material)} chair"
        return [
            f"A person pushes the {chair} up to the {table} table.",
            f"Someone walks over to a {chair}, grips its backrest and slides it to the table.",
            f"A person tucks the {chair} in at the {table} table.",
        ]
    obj = _noun(facts["object"])
    if task == "carry":
        piece = facts["surface_piece"]
        surface = f"{surface_colour(piece.visuals[0].material)} {SURFACES[facts['surface']]}"
        return [
            f"A person picks up the {obj} from the {table} table and carries it to the {surface}.",
            f"Someone walks to the table, takes the {obj} and puts it on the {surface}.",
            f"A person carries a {obj} across the room from the {table} table to the {surface}.",
        ]
    if task == "pick_place":
        target = _noun(facts["target"])
        bowl = getattr(facts["target"].model, "name_class", "") == "bowl"
        into = "in" if bowl else "on"
        return [
            f"A person picks up the {obj} from the {table} table and places it {into} the "
            f"{target}.",
            f"Standing at a {table} table, someone puts the {obj} {into} the {target}.",
            f"A person's hand moves the {obj} {into} the {target}.",
        ]
    if task == "push":
        cm = int(round(100 * facts["distance"]))
        return [
            f"A person pushes the {obj} about {cm} cm across the {table} table.",
            f"Someone slides the {obj} along the {table} table with their hand.",
            f"Standing at the table, a person nudges a {obj} away from them.",
        ]
    if task == "stack":
        target = _noun(facts["target"])
        return [
            f"A person stacks the {obj} on top of the {target} on the {table} table.",
            f"Someone picks up the {obj} and sets it on the {target}.",
            f"At a {table} table, a person builds a two-block tower: the {obj} on the {target}.",
        ]
    raise ValueError(f"no captions for task {task!r}")


def _person_two_hands(task: str, facts: dict, table: str) -> list[str]:
    """Phrasings for a person cutting fruit or folding a cloth (a towel, a napkin or a
    T-shirt: "folding laundry")."""
    if task == "fold_cloth":
        kind = {"tshirt": "T-shirt"}.get(facts["kind"], facts["kind"])
        cloth = f"{surface_colour(facts['cloth'].material)} {kind}"
        if facts["kind"] == "tshirt":
            return [
                f"A person folds the {cloth} on the {table} table.",
                f"Someone folds a {cloth} in half, hem to shoulders, then tucks both sleeves in.",
                f"Folding laundry, a person folds a {cloth} on the {table} table.",
            ]
        return [
            f"A person folds the {cloth} in half on the {table} table.",
            f"With both hands, someone picks up two corners of the {cloth} and lays them on "
            "the other two.",
            f"Folding laundry, a person folds a {cloth} in half on the {table} table.",
        ]
    fruit = facts["object"].model.noun
    colour = facts["board"].model.colour
    board = "wooden" if colour == "wooden" else f"{colour} plastic"
    return [
        f"A person cuts the {fruit} on the {board} cutting board in half.",
        f"Holding the {fruit} steady with one hand, someone slices it in two with a kitchen "
        f"knife on a {table} table.",
        f"A person halves {_article(fruit)} {fruit} with a knife; the two halves fall apart "
        f"on the {board} cutting board.",
    ]


def _articulated(task: str, arm: str, short: str, obj: str, part: str, table: str) -> list[str]:
    """Phrasings of opening or closing a drawer or door (``part``: "top drawer") of a
    cabinet (``obj``: "white cabinet")."""
    kind = part.split()[-1]
    if task == "open_drawer":
        return [
            f"A {arm} pulls open the {part} of the {obj} on the {table} table.",
            f"The {short} grasps the handle of the {part} and pulls it out of the {obj}.",
            f"A {short} opens a drawer of a {obj} standing on a {table} table.",
        ]
    if task == "close_drawer":
        return [
            f"A {arm} pushes the open {part} of the {obj} shut.",
            f"The {short} grasps the handle of the open {part} and slides it back into the {obj}.",
            f"A {short} closes an open drawer of a {obj} on a {table} table.",
        ]
    if task == "open_door":
        return [
            f"A {arm} swings open the {part} of the {obj} on the {table} table.",
            f"The {short} takes the handle of the {obj}'s {part} and pulls the {kind} open.",
            f"A {short} opens a {kind} of a {obj} standing on a {table} table.",
        ]
    return [
        f"A {arm} swings the open {part} of the {obj} shut.",
        f"The {short} takes the handle of the {obj}'s open {part} and pushes it closed.",
        f"A {short} closes an open {kind} of a {obj} on a {table} table.",
    ]


def surface_colour(material) -> str:
    """The colour name of a material as seen: its base colour times its texture's mean."""
    rgb = np.asarray(material.base_color[:3], dtype=float)
    if material.texture is not None:
        srgb = material.texture.reshape(-1, 3).mean(0) / 255.0
        rgb = rgb * srgb**2.2
    return colour_name(rgb)


def pick_caption(rng: np.random.Generator, phrasings: list[str]) -> str:
    return phrasings[int(rng.integers(len(phrasings)))]


REACH_TASKS = ("open_drawer", "close_drawer", "open_door", "close_door")
PLACE_SURFACES = ("shelf", "side_table")


def _person_reach_captions(task: str, facts: dict, table: str) -> list[str]:
    """Phrasings for a person opening or closing a drawer or door, or putting something
    on a shelf or a side table (``facts["place_words"]``: "top shelf", "low side table")."""
    obj = _noun(facts["object"])
    if task == "pick_place":
        where = facts["place_words"]
        cm = int(round(100 * facts["place_height_m"]))
        return [
            f"A person picks up the {obj} from the {table} table and places it on the {where}.",
            f"Someone takes the {obj} off the table and puts it on the {where}, {cm} cm up.",
            f"A person moves a {obj} from a {table} table onto the {where}.",
        ]
    part = facts["part"]
    kind = part.split()[-1]
    if task == "open_drawer":
        return [
            f"A person pulls open the {part} of the {obj} on the {table} table.",
            f"Someone grips the handle of the {part} and pulls it out of the {obj}.",
            f"A person opens a drawer of a {obj} standing on a {table} table.",
        ]
    if task == "close_drawer":
        return [
            f"A person pushes the open {part} of the {obj} shut.",
            f"Someone grips the handle of the open {part} and slides it back into the {obj}.",
            f"A person closes an open drawer of a {obj} on a {table} table.",
        ]
    if task == "open_door":
        return [
            f"A person swings open the {part} of the {obj} on the {table} table.",
            f"Someone takes the handle of the {obj}'s {part} and pulls the {kind} open.",
            f"A person opens a {kind} of a {obj} standing on a {table} table.",
        ]
    return [
        f"A person swings the open {part} of the {obj} shut.",
        f"Someone takes the handle of the {obj}'s open {part} and pushes it closed.",
        f"A person closes an open {kind} of a {obj} on a {table} table.",
    ]
