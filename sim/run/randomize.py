"""Declarative randomization: config values that are distributions, sampled per clip.

Any numeric or categorical config value can be written as a distribution instead of
a constant, as a mapping with a ``dist`` key::

    scene:
      num_pieces: {dist: randint, low: 3, high: 9}           # integers, both ends included
      room_size: [4.0, {dist: uniform, low: 5.0, high: 8.0}]  # inside lists too
    camera:
      fov_deg: {dist: normal, mean: 60, std: 8, low: 45, high: 75}  # clipped to [low, high]
    render:
      exposure: {dist: loguniform, low: 0.5, high: 2.0}
    scene:
      room_shape: {dist: choice, values: [rect, L], weights: [3, 1]}

Each value is drawn from its own stream of the clip's seed tree, named by its key
(``param:scene.num_pieces``), so adding, removing or widening one distribution never
moves another value nor anything the scene family draws. The realized values are
recorded in each clip's ``annotations.json`` (``sampled``) and as manifest columns.
"""

from __future__ import annotations

import copy
from importlib.resources import files

import numpy as np
import yaml

from simfactory.sim.model.seeds import clip_rng

# name -> (required parameters, optional parameters)
DISTRIBUTIONS = {
    "uniform": (("low", "high"), ()),
    "loguniform": (("low", "high"), ()),
    "normal": (("mean", "std"), ("low", "high")),
    "randint": (("low", "high"), ()),
    "choice": (("values",), ("weights",)),
}
# Keys that must hold one value for the whole dataset.
FIXED_KEYS = (
    "num_clips", "seed", "output_dir", "resolution", "frames", "fps", "physics_hz",
    "scene.name", "camera.path", "randomize", "executor", "export", "render.egl_device",
    "variants_per_rollout", "variant_streams",
)  # fmt: skip
PRESETS = ("none", "light", "strong")


def is_distribution(value) -> bool:
    return isinstance(value, dict) and "dist" in value


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def find(cfg) -> dict[str, dict]:
    """Every distribution in ``cfg`` by its dotted key (list items by index:
    ``scene.room_size.1``)."""
    found: dict[str, dict] = {}

    def walk(value, path):
        if is_distribution(value):
            found[_key(path)] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                if path or k != "hydra":
                    walk(v, (*path, k))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    walk(cfg, ())
    return found


def check(key: str, spec: dict) -> list[str]:
    """Problems with one distribution ("key: problem"), empty when it is well formed."""
    name = spec.get("dist")
    if name not in DISTRIBUTIONS:
        return [f"{key}: unknown distribution {name!r}; known: {', '.join(DISTRIBUTIONS)}"]
    if any(key == k or key.startswith(k + ".") for k in FIXED_KEYS):
        return [f"{key}: cannot be randomized (one value holds for the whole dataset)"]
    required, optional = DISTRIBUTIONS[name]
    missing = [p for p in required if p not in spec]
    unknown = [p for p in spec if p not in ("dist", *required, *optional)]
    errors = []
    if missing:
        errors.append(f"{key}: {name} needs {', '.join(missing)}")
    if unknown:
        errors.append(f"{key}: {name} takes no {', '.join(unknown)}")
    if errors:
        return errors
    if name == "choice":
        values, weights = spec["values"], spec.get("weights")
        if not isinstance(values, list) or not values:
            return [f"{key}: choice needs a non-empty list of values (got {values!r})"]
        if weights is not None and not (
            isinstance(weights, list)
            and len(weights) == len(values)
            and all(_is_number(w) and w >= 0 for w in weights)
            and sum(weights) > 0
        ):
            return [f"{key}: choice weights must be one non-negative number per value"]
        return []
    numbers = {p: spec[p] for p in (*required, *optional) if p in spec}
    bad = [p for p, v in numbers.items() if not _is_number(v)]
    if bad:
        return [f"{key}: {name} {', '.join(bad)} must be numbers (got {spec!r})"]
    if name == "randint" and not all(isinstance(v, int) for v in numbers.values()):
        return [f"{key}: randint low and high must be integers (got {spec!r})"]
    if name == "normal" and spec["std"] < 0:
        return [f"{key}: normal std must be >= 0 (got {spec['std']!r})"]
    if "low" in numbers and "high" in numbers and numbers["low"] > numbers["high"]:
        return [f"{key}: low must not exceed high (got {spec!r})"]
    if name == "loguniform" and numbers["low"] <= 0:
        return [f"{key}: loguniform needs low > 0 (got {spec['low']!r})"]
    return []


def sample(spec: dict, rng: np.random.Generator):
    """One value of a distribution (a plain Python int, float or choice value)."""
    name = spec["dist"]
    if name == "uniform":
        return float(rng.uniform(spec["low"], spec["high"]))
    if name == "loguniform":
        return float(np.exp(rng.uniform(np.log(spec["low"]), np.log(spec["high"]))))
    if name == "normal":
        value = float(rng.normal(spec["mean"], spec["std"]))
        return float(np.clip(value, spec.get("low", -np.inf), spec.get("high", np.inf)))
    if name == "randint":
        return int(rng.integers(spec["low"], spec["high"], endpoint=True))
    weights = spec.get("weights")
    p = None if weights is None else np.asarray(weights, float) / float(np.sum(weights))
    return copy.deepcopy(spec["values"][int(rng.choice(len(spec["values"]), p=p))])


def extremes(spec: dict) -> list:
    """The values a distribution can reach at its ends (every choice), for checking a
    config before any clip starts."""
    name = spec["dist"]
    if name == "choice":
        return list(spec["values"])
    if name == "randint":
        return [spec["low"], spec["high"]]
    if name == "normal":
        lo, hi = spec.get("low", spec["mean"]), spec.get("high", spec["mean"])
        return [float(lo), float(hi)]
    return [float(spec["low"]), float(spec["high"])]  # continuous: always floats


def _set(cfg: dict, key: str, value) -> None:
    parts = key.split(".")
    node = cfg
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def substitute(cfg: dict, values: dict[str, object]) -> dict:
    """A copy of ``cfg`` with the values at the given dotted keys replaced."""
    out = copy.deepcopy(cfg)
    for key, value in values.items():
        _set(out, key, value)
    return out


def realize(cfg: dict, dataset_seed: int, clip_index: int, attempt: int = 0) -> tuple[dict, dict]:
    """The clip's config with every distribution replaced by a sampled value, and the
    sampled values by key. Stream ``param:<key>`` of the clip's seed tree draws each."""
    sampled = {
        key: sample(spec, clip_rng(dataset_seed, clip_index, f"param:{key}", attempt))
        for key, spec in sorted(find(cfg).items())
    }
    return (substitute(cfg, sampled) if sampled else cfg), sampled


def preset(family: str, strength: str) -> dict[str, dict]:
    """The distributions of a family's randomization preset (``randomize=light``), by
    dotted key, from ``configs/randomization/<family>.yaml``; empty for ``none``."""
    if strength == "none":
        return {}
    path = files("simfactory.configs") / "randomization" / f"{family}.yaml"
    if not path.is_file():
        return {}
    table = yaml.safe_load(path.read_text()) or {}
    return dict(table.get(strength) or {})


def apply_preset(cfg: dict, pinned: set[str] = frozenset()) -> dict:
    """``cfg`` with its ``randomize`` preset's distributions written in, except at keys
    the user set (``pinned``: the command line's keys, and anything under them)."""
    strength = cfg.get("randomize", "none")
    table = preset(cfg["scene"]["name"], strength) if strength in PRESETS else {}
    chosen = {
        key: spec
        for key, spec in table.items()
        if not any(key == p or key.startswith(p + ".") for p in pinned)
    }
    return substitute(cfg, chosen) if chosen else cfg
