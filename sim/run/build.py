"""The build stage: config and clip index -> the clip's realized config and its
SceneSpec, drawn from the clip's seed tree by its scene family."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from simfactory.sim.model.seeds import clip_rng, clip_streams
from simfactory.sim.model.spec import SceneSpec
from simfactory.sim.run.randomize import find as find_distributions
from simfactory.sim.run.randomize import sample, substitute


def families() -> list[str]:
    """Scene families: the sub-packages of ``simfactory.scenes``, each with a
    ``build(cfg, streams, width, height, duration) -> SceneSpec``."""
    from simfactory import scenes

    return sorted(m.name for m in pkgutil.iter_modules(scenes.__path__) if m.ispkg)


def family_module(name: str):
    """The scene family package for a family name."""
    if name not in families():
        raise KeyError(f"unknown scene family {name!r}; known: {', '.join(families())}")
    return importlib.import_module(f"simfactory.scenes.{name}")


def clip_name(index: int) -> str:
    return f"clip_{index:06d}"


def family_config(cfg: dict) -> dict:
    """The scene config a family sees: the ``scene`` group plus the camera path
    (``camera``), its field of view (``fov_deg``), the rest of the camera group
    (``camera_options``) and the clip's ``fps`` and ``frames``."""
    scene_cfg = dict(cfg["scene"])
    scene_cfg["camera"] = cfg["camera"]["path"]
    scene_cfg["fov_deg"] = cfg["camera"]["fov_deg"]
    scene_cfg["camera_options"] = dict(cfg["camera"])
    scene_cfg["fps"] = cfg["fps"]
    scene_cfg["frames"] = cfg["frames"]
    return scene_cfg


def rollout_of(cfg: dict, index: int) -> tuple[int, int]:
    """(rollout, variant) of clip ``index``: with ``variants_per_rollout`` = K, clips
    K r .. K r + K - 1 are variants 0 .. K - 1 of rollout r."""
    return divmod(index, int(cfg.get("variants_per_rollout", 1)))


def realize_clip(cfg: dict, index: int, attempt: int = 0) -> tuple[dict, dict]:
    """The clip's config with its distributions sampled (as ``randomize.realize``):
    drawn per rollout, so the variants of a rollout share them, except keys under
    ``render`` (exposure), which each clip draws for itself."""
    rollout_index, _ = rollout_of(cfg, index)
    sampled = {}
    for key, dist in sorted(find_distributions(cfg).items()):
        which = index if key.startswith("render.") else rollout_index
        sampled[key] = sample(dist, clip_rng(cfg["seed"], which, f"param:{key}", attempt))
    return (substitute(cfg, sampled) if sampled else cfg), sampled


def build_scene(cfg: dict, index: int, attempt: int = 0, look: int | None = None) -> SceneSpec:
    """The SceneSpec of clip ``index``: the family's build() on the clip's seed tree
    (the ``attempt``-th sub-seed of it when a clip is retried). A variant (see
    ``rollout_of``) has its rollout's geometry and physics, and the look (materials,
    lights, sky; the camera too if ``camera`` is in ``variant_streams``) of a build
    whose ``variant_streams`` are drawn anew; ``look`` replaces the variant number
    (a re-render's new look)."""
    cfg, _ = realize_clip(cfg, index, attempt)
    rollout_index, variant = rollout_of(cfg, index)
    variant = variant if look is None else look
    width, height = cfg["resolution"]
    scene_cfg = family_config(cfg)
    duration = (cfg["frames"] - 1) / cfg["fps"]
    family = family_module(cfg["scene"]["name"])
    streams = clip_streams(cfg["seed"], rollout_index, attempt)
    spec = family.build(scene_cfg, streams, width, height, duration)
    if variant:
        names = list(cfg.get("variant_streams", ["appearance", "lighting"]))
        streams = clip_streams(cfg["seed"], rollout_index, attempt)
        fresh = clip_streams(cfg["seed"], rollout_index, attempt, variant=variant)
        streams.update({n: fresh[n] for n in names})
        look = family.build(scene_cfg, streams, width, height, duration)
        spec = restyle(spec, look, camera="camera" in names)
    for cam in spec.cameras:
        cam.near, cam.far = cfg["camera"]["near"], cfg["camera"]["far"]
    return spec


def restyle(spec: SceneSpec, look: SceneSpec, camera: bool = False) -> SceneSpec:
    """``spec`` (geometry, physics, motions) dressed in ``look``'s materials, lights,
    sky and fog (and cameras if ``camera``): a visual takes the material of the visual
    at the same place in the body of the same name in ``look``, where there is one."""
    looks = {b.name: b for b in look.bodies}
    bodies = []
    for body in spec.bodies:
        other = looks.get(body.name)
        visuals = list(body.visuals)
        if other is not None:
            for k, (mine, theirs) in enumerate(zip(body.visuals, other.visuals, strict=False)):
                visuals[k] = dataclasses.replace(mine, material=theirs.material)
        urdf_materials = other.urdf_materials if other is not None else body.urdf_materials
        links = body.links
        if other is not None and len(other.links) == len(links):
            links = [
                dataclasses.replace(
                    ln,
                    visuals=[
                        dataclasses.replace(v, material=w.material)
                        for v, w in zip(ln.visuals, lo.visuals, strict=False)
                    ]
                    + ln.visuals[len(lo.visuals) :],
                )
                for ln, lo in zip(links, other.links, strict=True)
            ]
        bodies.append(
            dataclasses.replace(body, visuals=visuals, urdf_materials=urdf_materials, links=links)
        )
    return dataclasses.replace(
        spec,
        bodies=bodies,
        lights=look.lights,
        sky=look.sky,
        fog=look.fog,
        cameras=look.cameras if camera else spec.cameras,
        params={**spec.params, "look": look.params},
    )
