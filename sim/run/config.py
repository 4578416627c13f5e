"""Validation of a composed config, before any clip starts.

Every problem is reported with the key it concerns, so a user knows what to fix.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simfactory.sim.render.settings import check_render
from simfactory.sim.run import randomize
from simfactory.sim.run.build import families
from simfactory.sim.write.encodings import LABEL_ENCODINGS
from simfactory.sim.write.files import X264_PRESETS


class ConfigError(ValueError):
    """Config values that cannot work; ``errors`` holds one "key: problem" line each."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        if len(self.errors) == 1:
            super().__init__(f"invalid config: {self.errors[0]}")
        else:
            super().__init__("invalid config:\n  " + "\n  ".join(self.errors))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(cfg: dict) -> None:
    """Raise ConfigError listing every invalid key of ``cfg`` (a resolved plain dict).

    Distributions (``sim.randomize``) must be well formed, and the config must be valid
    with each of them at either end of its range (every value of a choice)."""
    found = randomize.find(cfg)
    errors = non_finite(cfg)
    errors += [e for key, spec in found.items() for e in randomize.check(key, spec)]
    if cfg.get("randomize", "none") not in randomize.PRESETS:
        errors.append(
            f"randomize: must be one of {', '.join(randomize.PRESETS)} "
            f"(got {cfg.get('randomize')!r})"
        )
    if errors:
        raise ConfigError(errors)
    if not found:
        _validate_values(cfg)
        return
    low = {key: randomize.extremes(spec)[0] for key, spec in found.items()}
    messages: list[str] = []
    for key, spec in found.items():
        for value in randomize.extremes(spec):
            try:
                _validate_values(randomize.substitute(cfg, {**low, key: value}))
            except ConfigError as exc:
                for line in exc.errors:
                    line = f"{line.strip()} [with {key} = {value!r}]"
                    if line not in messages:
                        messages.append(line)
    if messages:
        raise ConfigError(messages)


@dataclass(frozen=True)
class Rule:
    """The range of one numeric key: ``lo``/``hi`` bounds (None: unbounded), open or
    closed, integer only or any real number; ``optional`` keys may be absent or null."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            text = f"{kind} in {left}{self.lo}, {self.hi}{right}"
        elif self.lo is not None:
            text = f"{kind} {'>' if self.lo_open else '>='} {self.lo}"
        elif self.hi is not None:
            text = f"{kind} {'<' if self.hi_open else '<='} {self.hi}"
        else:
            text = kind
        return f"must be {text}" + (" or null" if self.optional else "")

    def accepts(self, value) -> bool:
        if self.optional and value is None:
            return True
        if not (_is_int(value) if self.integer else _is_number(value)):
            return False
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)


# Every numeric key with a range, by dotted key. A key another module adds slots in
# here; keys not listed are still held to being finite (``ALLOW_INFINITE`` excepted).
RULES: dict[str, Rule] = {
    "num_clips": Rule(lo=1, integer=True),
    "frames": Rule(lo=1, integer=True),
    "physics_hz": Rule(lo=1, hi=100_000, integer=True),
    "seed": Rule(lo=0, hi=2**63 - 1, integer=True),
    "fps": Rule(lo=0, hi=1000, lo_open=True),
    "variants_per_rollout": Rule(lo=1, integer=True),
    "camera.fov_deg": Rule(lo=1, hi=170),
    "camera.near": Rule(lo=0, lo_open=True),
    "camera.far": Rule(lo=0, lo_open=True),
    "render.egl_device": Rule(lo=0, integer=True, optional=True),
    "export.video_crf": Rule(lo=0, hi=51, integer=True),
    "export.compress_level": Rule(lo=0, hi=9, integer=True),
    "executor.workers": Rule(lo=0, hi=4096, integer=True, optional=True),
    "executor.max_attempts": Rule(lo=1, hi=1000, integer=True, optional=True),
    "executor.clips_per_worker": Rule(lo=1, integer=True, optional=True),
}
# Keys that hold true or false (checked where present).
BOOLEANS: tuple[str, ...] = ("export.compress_floats", "export.preview")
# Keys whose value may be +-inf (a limit that can be switched off); NaN never passes.
ALLOW_INFINITE: set[str] = set()


def non_finite(cfg: dict) -> list[str]:
    """ "key: ..." for every NaN or infinite number anywhere in ``cfg`` (inside lists and
    distributions too), except infinities at ``ALLOW_INFINITE`` keys."""
    errors: list[str] = []

    def walk(value, path: tuple) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if path or k != "hydra":
                    walk(v, (*path, k))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, (*path, i))
        elif isinstance(value, float) and not math.isfinite(value):
            key = ".".join(str(p) for p in path)
            if math.isnan(value) or key not in ALLOW_INFINITE:
                errors.append(f"{key}: must be a finite number (got {value!r})")

    walk(cfg, ())
    return errors


def _validate_values(cfg: dict) -> None:
    """Raise ConfigError listing every invalid key of a config without distributions."""
    errors: list[str] = []

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(f"{key}: {message} (got {_get(cfg, key)!r})")

    for key, rule in RULES.items():
        if rule.optional or _has(cfg, key):
            check(rule.accepts(_get(cfg, key)), key, rule.describe())
    family = _get(cfg, "scene.name")
    known = families()
    check(family in known, "scene.name", f"unknown scene family; known: {', '.join(known)}")
    res = cfg.get("resolution")
    check(
        isinstance(res, list | tuple) and len(res) == 2 and all(_is_int(v) for v in res),
        "resolution",
        "must be [width, height] in pixels",
    )
    if isinstance(res, list | tuple) and len(res) == 2 and all(_is_int(v) for v in res):
        check(
            all(16 <= v <= 8192 and v % 2 == 0 for v in res),
            "resolution",
            "width and height must be even integers from 16 to 8192 (H.264 yuv420p)",
        )
    for key in ("num_clips", "frames", "physics_hz", "fps", "seed", "camera.fov_deg"):
        check(_has(cfg, key), key, "is missing")
    check(isinstance(_get(cfg, "camera.path"), str), "camera.path", "must be a path name")
    near, far = _get(cfg, "camera.near"), _get(cfg, "camera.far")
    if RULES["camera.near"].accepts(near) and RULES["camera.far"].accepts(far):
        check(near < far, "camera.near", f"need camera.near < camera.far (= {far!r})")
    else:
        check(_has(cfg, "camera.near") and _has(cfg, "camera.far"), "camera.near",
              "need 0 < camera.near < camera.far")  # fmt: skip
    errors.extend(check_render(cfg.get("render")))
    check(
        _get(cfg, "export.video_preset") in X264_PRESETS,
        "export.video_preset",
        f"one of {', '.join(X264_PRESETS)}",
    )
    check(
        _get(cfg, "export.label_encoding") in LABEL_ENCODINGS,
        "export.label_encoding",
        f"one of {', '.join(LABEL_ENCODINGS)}",
    )
    for key in BOOLEANS:
        if key == "export.compress_floats" or _has(cfg, key):
            check(isinstance(_get(cfg, key), bool), key, "must be true or false")
    check(_get(cfg, "executor.name") in ("local", "ray"), "executor.name", "local or ray")
    if _get(cfg, "executor.name") == "ray":
        for key in ("executor.num_cpus", "executor.num_gpus"):
            value = _get(cfg, key)
            check(Rule(lo=0).accepts(value), key, "must be a finite number >= 0")
        address = _get(cfg, "executor.address")
        check(address is None or isinstance(address, str), "executor.address", "null or a string")
        try:
            import ray  # noqa: F401
        except ImportError:
            errors.append("executor: ray is not installed (pip install 'simfactory[ray]')")
    names = cfg.get("variant_streams", ["appearance", "lighting"])
    check(
        isinstance(names, list) and set(names) <= {"appearance", "lighting", "camera"},
        "variant_streams",
        "must list streams of the look: appearance, lighting, camera",
    )
    errors.extend(_render_errors(cfg.get("render") or {}))
    out = cfg.get("output_dir")
    check(isinstance(out, str) and out != "", "output_dir", "must be a folder path")
    if isinstance(out, str) and out:
        problem = output_problem(Path(out))
        if problem:
            errors.append(f"output_dir: {problem} (got {out!r})")
    device = _get(cfg, "render.egl_device")
    if device is None and os.environ.get("EGL_DEVICE_ID"):
        env = os.environ["EGL_DEVICE_ID"]
        if not env.strip().isdigit():
            errors.append(f"render.egl_device: EGL_DEVICE_ID must be an integer (got {env!r})")
        else:
            device = int(env)
    if _is_int(device) and device >= 0 and not errors:
        count = egl_device_count()
        if count is not None and device >= count:
            errors.append(
                f"render.egl_device: EGL device {device} does not exist; this machine has "
                f"{count} (indices 0 to {count - 1})"
            )
    if family in known:
        from simfactory.sim.run.build import family_config, family_module

        validate_scene = getattr(family_module(family), "validate", None)
        if validate_scene is not None and not errors:
            for e in validate_scene(family_config(cfg)):
                errors.append(e if e.startswith("camera.") else f"scene.{e}")
    if errors:
        raise ConfigError(errors)


def output_problem(path: Path) -> str:
    """Why clips cannot be written under ``path`` ("" when they can): it is a file, a
    folder of other files (not a dataset, whose README.md the card would replace), lies
    under a file, or its nearest existing folder refuses a new folder (a read-only
    mount, /proc, missing permissions), found by creating and removing one."""
    if path.is_file():
        return "is an existing file, not a folder"
    if path.is_dir():
        try:
            names = sorted(p.name for p in path.iterdir() if not p.name.startswith(".simfactory"))
        except OSError as exc:
            return f"cannot be read: {exc.strerror or exc}"
        if names and not set(names) & DATASET_MARKERS:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            return (
                f"is a folder of other files ({shown}), not a simfactory dataset; "
                "choose a new or empty folder"
            )
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is None:
        return ""
    if not existing.is_dir():
        return f"lies under a file ({existing})"
    try:
        probe = tempfile.mkdtemp(prefix=".simfactory-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as exc:
        return f"cannot write under {existing}: {exc.strerror or exc}"
    return ""


# What a simfactory dataset folder (or a sweep's parent folder) holds.
DATASET_MARKERS = {"identity.json", "manifest.csv", "config.yaml", "clips", "multirun.yaml"}

_EGL_DEVICES: list[int | None] = []


def egl_device_count() -> int | None:
    """The number of EGL devices on this machine, probed once per process; None where
    EGL cannot enumerate devices (the default display is then used)."""
    if not _EGL_DEVICES:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        try:
            import numpy as np

            if not hasattr(np, "infty"):  # pyrender 0.1.45 uses the alias numpy 2 removed
                np.infty = np.inf
            from pyrender.platforms import egl

            _EGL_DEVICES.append(len(egl.query_devices()))
        except Exception:
            _EGL_DEVICES.append(None)
    return _EGL_DEVICES[0]


def _has(cfg: dict, dotted: str) -> bool:
    value = cfg
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


RENDER_BACKENDS = ("raster", "pathtrace")


def _render_errors(render: dict) -> list[str]:
    """Problems with the ``render.*`` keys of the backend (missing keys take defaults)."""
    errors = []
    backend = render.get("backend", "raster")
    if backend not in RENDER_BACKENDS:
        errors.append(f"render.backend: must be raster or pathtrace (got {backend!r})")
    samples = render.get("samples", 64)
    if not (_is_int(samples) and samples >= 1):
        errors.append(f"render.samples: must be an integer >= 1 (got {samples!r})")
    if not isinstance(render.get("denoise", True), bool):
        errors.append(f"render.denoise: must be true or false (got {render.get('denoise')!r})")
    if backend == "pathtrace" and not errors:
        from simfactory.sim.render.pathtrace import missing

        reason = missing(bool(render.get("denoise", True)))
        if reason:
            errors.append(f"render.backend: pathtrace cannot run here: {reason}")
    return errors


def _get(cfg: dict, dotted: str):
    value = cfg
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def load_config(overrides: list[str] | None = None) -> dict:
    """The config the ``simfactory`` command would see with these overrides, as a plain
    dict (Hydra's compose API; for scripts, tests and notebooks)."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("simfactory.configs", version_base=None):
        cfg = compose("config", overrides=list(overrides or []))
    cfg = OmegaConf.to_container(cfg, resolve=True)
    return randomize.apply_preset(cfg, override_keys(overrides or []))


def override_keys(overrides: list[str]) -> set[str]:
    """The dotted config keys a list of Hydra overrides sets (``scene.x=1`` -> ``scene.x``;
    a group choice such as ``scene=hoi`` pins nothing)."""
    keys = set()
    for item in overrides:
        if "=" in item and not item.startswith("-"):
            key = item.split("=", 1)[0].lstrip("+~")
            if "." in key:
                keys.add(key)
    return keys
