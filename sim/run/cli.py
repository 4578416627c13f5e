"""The ``simfactory`` command: a Hydra app that generates a dataset.

    simfactory scene=furniture num_clips=4 resolution=[320,180] frames=48 seed=7 \\
        output_dir=data/rooms
    simfactory -m scene.num_pieces=3,8        # one dataset per sweep point
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simfactory.sim.run.build import family_module
from simfactory.sim.run.config import ConfigError, override_keys, validate
from simfactory.sim.run.executor import Progress, default_workers, run_clips
from simfactory.sim.run.randomize import apply_preset
from simfactory.sim.write.dataset import read_manifest, write_card, write_manifest


def swept_keys(args: list[str]) -> list[str]:
    """Keys that a command line sweeps over (``key=a,b``, ``key=range(...)``, ...)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.key_or_group for o in parsed if o.is_sweep_override()]


def dataset_dir_for(cfg: dict) -> Path:
    """The dataset folder: ``output_dir``, or under -m one sub-folder per sweep point,
    named by the swept values (``output_dir/scene.num_pieces=3``)."""
    out = Path(cfg["output_dir"])
    try:
        hc = HydraConfig.get()
    except ValueError:
        return out
    if hc.mode != RunMode.MULTIRUN:
        return out
    keys = set(swept_keys(sys.argv[1:]))
    point = [o for o in hc.overrides.task if o.split("=", 1)[0].lstrip("+~") in keys]
    name = ",".join(point) or f"job{hc.job.num}"
    return out / re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)


def generate_dataset(cfg: dict, dataset_dir: Path, command: str) -> int:
    """Generate every missing clip; returns the number of failed clips."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    ex = cfg["executor"]
    workers = default_workers() if ex["workers"] is None else ex["workers"]
    workers = min(workers, cfg["num_clips"])
    write_card(dataset_dir, cfg, command)
    done = {
        int(r["index"]): r
        for r in read_manifest(dataset_dir)
        if r["status"] == "ok" and (dataset_dir / r["path"] / "annotations.json").exists()
    }
    todo = [i for i in range(cfg["num_clips"]) if i not in done]
    rows = dict(done)
    how = "Ray tasks" if ex["name"] == "ray" else f"{workers} worker(s)"
    print(
        f"simfactory: {len(todo)} clips to generate ({len(done)} already done) "
        f"with {how} into {dataset_dir}",
        file=sys.stderr,
    )
    draws = getattr(family_module(cfg["scene"]["name"]), "draws_people", None)
    if todo and draws is not None and draws(cfg["scene"]):
        from simfactory.sim.actors.body import ensure_cache

        ensure_cache()  # anny's model cache, once per machine before the workers start
    progress = Progress(len(todo), cfg["frames"])
    if ex["name"] == "ray":
        from simfactory.sim.run.ray_executor import run_clips_ray

        clips = run_clips_ray(cfg, todo, dataset_dir, ex.get("max_attempts", 3))
    else:
        clips = run_clips(
            cfg, todo, dataset_dir, workers, ex["max_attempts"], ex["clips_per_worker"]
        )
    for row in clips:
        rows[int(row["index"])] = row
        write_manifest(dataset_dir, list(rows.values()))
        progress.update(row)
        if row["status"] != "ok":
            print(f"\nclip {row['index']} failed: {row.get('error')}", file=sys.stderr)
    report = success_report(list(rows.values()))
    if report:
        print(report, file=sys.stderr)
    return sum(r["status"] != "ok" for r in rows.values())


def combine_sweep(parent: Path) -> list[dict]:
    """Write ``parent/manifest.csv``: the rows of every sweep point's dataset under
    ``parent``, with the point's folder (``sweep_point``), the swept values as columns
    and paths relative to ``parent``."""
    rows = []
    for manifest in sorted(parent.glob("*/manifest.csv")):
        point = manifest.parent.name
        swept = dict(item.split("=", 1) for item in point.split(",") if "=" in item)
        for row in read_manifest(manifest.parent):
            rows.append({**row, **swept, "sweep_point": point, "path": f"{point}/{row['path']}"})
    for i, row in enumerate(rows):
        row["index"] = i  # the combined manifest's own order: point by point
    write_manifest(parent, rows)
    return rows


def success_report(rows: list[dict]) -> str:
    """Success rates per task and actor of clips whose family judged an outcome
    (manifest column ``success``), or "" when none did."""
    groups: dict[str, list[bool]] = {}
    for row in rows:
        if row.get("status") == "ok" and row.get("success") not in (None, ""):
            key = " ".join(str(row[k]) for k in ("task", "actor") if row.get(k))
            groups.setdefault(key or "all", []).append(str(row["success"]) == "True")
    if not groups:
        return ""
    lines = [f"  {key}: {sum(v)}/{len(v)} succeeded" for key, v in sorted(groups.items())]
    return "success rates:\n" + "\n".join(lines)


@hydra.main(config_path="pkg://simfactory.configs", config_name="config", version_base=None)
def app(dcfg: DictConfig) -> None:
    cfg = OmegaConf.to_container(dcfg, resolve=True)
    cfg = apply_preset(cfg, override_keys(list(HydraConfig.get().overrides.task)))
    try:
        validate(cfg)
    except ConfigError as exc:
        print(f"simfactory: {exc}", file=sys.stderr)
        sys.exit(2)
    dataset_dir = dataset_dir_for(cfg)
    command = "simfactory " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        failed = generate_dataset(cfg, dataset_dir, command)
        if dataset_dir != Path(cfg["output_dir"]):
            report = success_report(combine_sweep(Path(cfg["output_dir"])))
            if report:
                print(
                    report.replace("success rates:", "success rates, sweep so far:"),
                    file=sys.stderr,
                )
    except KeyboardInterrupt:
        print(
            f"\nsimfactory: interrupted; finished clips are in {dataset_dir.resolve()} "
            "and running the same command again completes the dataset",
            file=sys.stderr,
        )
        sys.exit(130)
    print(f"dataset: {dataset_dir.resolve()}")
    if failed:
        print(f"simfactory: {failed} clip(s) failed; see manifest.csv", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    app()
