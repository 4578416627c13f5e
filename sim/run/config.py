"""Validation of a composed config, before any clip starts.

Every problem is reported with the key it concerns, so a user knows what to fix.
"""

from __future__ import annotations

from pathlib import Path

from simfactory.sim.run import randomize
from simfactory.sim.run.build import families
from simfactory.sim.write.files import X264_PRESETS


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(cfg: dict) -> None:
    """Raise ConfigError listing every invalid key of ``cfg`` (a resolved plain dict).

    Distributions (``sim.randomize``) must be well formed, and the config must be valid
    with each of them at either end of its range (every value of a choice)."""
    found = randomize.find(cfg)
    errors = [e for key, spec in found.items() for e in randomize.check(key, spec)]
    if cfg.get("randomize", "none") not in randomize.PRESETS:
        errors.append(
            f"randomize: must be one of {', '.join(randomize.PRESETS)} "
            f"(got {cfg.get('randomize')!r})"
        )
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
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
                for line in str(exc).splitlines()[1:]:
                    line = f"{line.strip()} [with {key} = {value!r}]"
                    if line not in messages:
                        messages.append(line)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))


def _validate_values(cfg: dict) -> None:
    """Raise ConfigError listing every invalid key of a config without distributions."""
    errors: list[str] = []

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(f"{key}: {message} (got {_get(cfg, key)!r})")

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
    for key, lo in (("frames", 1), ("num_clips", 1), ("physics_hz", 1)):
        value = _get(cfg, key)
        check(_is_int(value) and value >= lo, key, f"must be an integer >= {lo}")
    check(_is_number(cfg.get("fps")) and 0 < cfg["fps"] <= 1000, "fps", "must be in (0, 1000]")
    check(_is_int(cfg.get("seed")) and cfg["seed"] >= 0, "seed", "must be an integer >= 0")
    fov = _get(cfg, "camera.fov_deg")
    check(_is_number(fov) and 1 <= fov <= 170, "camera.fov_deg", "must be in [1, 170] degrees")
    check(isinstance(_get(cfg, "camera.path"), str), "camera.path", "must be a path name")
    near, far = _get(cfg, "camera.near"), _get(cfg, "camera.far")
    check(
        _is_number(near) and _is_number(far) and 0 < near < far,
        "camera.near",
        "need 0 < camera.near < camera.far",
    )
    crf = _get(cfg, "export.video_crf")
    check(_is_int(crf) and 0 <= crf <= 51, "export.video_crf", "must be an integer in [0, 51]")
    check(
        _get(cfg, "export.video_preset") in X264_PRESETS,
        "export.video_preset",
        f"one of {', '.join(X264_PRESETS)}",
    )
    level = _get(cfg, "export.compress_level")
    check(_is_int(level) and 0 <= level <= 9, "export.compress_level", "must be in [0, 9]")
    floats = _get(cfg, "export.compress_floats")
    check(isinstance(floats, bool), "export.compress_floats", "must be true or false")
    workers = _get(cfg, "executor.workers")
    check(
        workers is None or (_is_int(workers) and workers >= 0),
        "executor.workers",
        "must be null (one per core), 0 (this process) or an integer >= 1",
    )
    check(_get(cfg, "executor.name") in ("local", "ray"), "executor.name", "local or ray")
    if _get(cfg, "executor.name") == "ray":
        for key in ("executor.num_cpus", "executor.num_gpus"):
            value = _get(cfg, key)
            check(_is_number(value) and value >= 0, key, "must be a number >= 0")
        address = _get(cfg, "executor.address")
        check(address is None or isinstance(address, str), "executor.address", "null or a string")
        try:
            import ray  # noqa: F401
        except ImportError:
            errors.append("executor: ray is not installed (pip install 'simfactory[ray]')")
    for key in ("executor.max_attempts", "executor.clips_per_worker"):
        value = _get(cfg, key)
        check(value is None or (_is_int(value) and value >= 1), key, "must be an integer >= 1")
    k = cfg.get("variants_per_rollout", 1)
    check(_is_int(k) and k >= 1, "variants_per_rollout", "must be an integer >= 1")
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
        path = Path(out)
        check(not path.is_file(), "output_dir", "is an existing file, not a folder")
        parent = next((p for p in [path, *path.parents] if p.exists()), None)
        check(parent is None or parent.is_dir(), "output_dir", "lies under a file")
    if family in known:
        from simfactory.sim.run.build import family_config, family_module

        validate_scene = getattr(family_module(family), "validate", None)
        if validate_scene is not None and not errors:
            for e in validate_scene(family_config(cfg)):
                errors.append(e if e.startswith("camera.") else f"scene.{e}")
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


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
    for key in ("denoise", "auto_exposure"):
        if not isinstance(render.get(key, True), bool):
            errors.append(f"render.{key}: must be true or false (got {render.get(key)!r})")
    exposure = render.get("exposure", 1.0)
    if not (_is_number(exposure) and exposure > 0):
        errors.append(f"render.exposure: must be a number > 0 (got {exposure!r})")
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
