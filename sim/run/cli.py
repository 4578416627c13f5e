"""The ``simfactory`` command: a Hydra app that generates a dataset.

    simfactory scene=furniture num_clips=4 resolution=[320,180] frames=48 seed=7 \\
        output_dir=data/rooms
    simfactory -m scene.num_pieces=3,8        # one dataset per sweep point
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simfactory.sim.annotate.captions import amount
from simfactory.sim.run.build import family_module
from simfactory.sim.run.config import ConfigError, override_keys, validate
from simfactory.sim.run.executor import Progress, default_workers, run_clips
from simfactory.sim.run.guard import DatasetError, DatasetLock, check_identity, write_identity
from simfactory.sim.run.lifetime import exit_code, stop_on_signals
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
    return point_dir(out, list(hc.overrides.task), hc.job.num)


def point_dir(out: Path, point: list[str], num: int) -> Path:
    """The folder of the sweep point with overrides ``point`` (job number ``num``)."""
    keys = set(swept_keys(sys.argv[1:]))
    chosen = [o for o in point if o.split("=", 1)[0].lstrip("+~") in keys]
    name = ",".join(chosen) or f"job{num}"
    return out / re.sub(r"[^A-Za-z0-9_.,=+-]", "_", name)


def sweep_points(overrides: list[str]) -> list[list[str]]:
    """Every point of a sweep given by ``overrides`` (``key=a,b`` ...), as the overrides
    of one job each, in the order Hydra's basic sweeper runs them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [point for batch in BasicSweeper.split_arguments(parsed, None) for point in batch]


_SWEEP_CHECKED: list[bool] = []


def command_overrides() -> list[str]:
    """The overrides of this process's command line (sweeps unexpanded)."""
    from hydra._internal.utils import get_args_parser

    return list(get_args_parser().parse_intermixed_args(sys.argv[1:]).overrides or [])


def validate_sweep(overrides: list[str], config_name: str | None) -> None:
    """Compose and validate every point of a -m sweep (and check its dataset folder's
    identity) before the first point runs; raise ConfigError naming each bad point."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    loader = GlobalHydra.instance().config_loader()
    errors: list[str] = []
    swept = set(swept_keys(overrides))
    for num, point in enumerate(sweep_points(overrides)):
        where = ",".join(o for o in point if o.split("=", 1)[0].lstrip("+~") in swept)
        where = where or f"job{num}"
        try:
            composed = loader.load_configuration(
                config_name=config_name, overrides=list(point), run_mode=RunMode.RUN
            )
            with open_dict(composed):
                del composed["hydra"]
            cfg = OmegaConf.to_container(composed, resolve=True)
            cfg = apply_preset(cfg, override_keys(list(point)))
            validate(cfg)
            check_identity(point_dir(Path(cfg["output_dir"]), list(point), num), cfg)
        except ConfigError as exc:
            errors += [f"{e} [sweep point {where}]" for e in exc.errors]
        except DatasetError as exc:
            errors.append(f"{exc} [sweep point {where}]")
        except Exception as exc:  # a point Hydra cannot compose (unknown group option...)
            errors.append(f"{str(exc).splitlines()[0]} [sweep point {where}]")
    _SWEEP_CHECKED.append(True)
    if errors:
        raise ConfigError(errors)


class SweepCheck(Callback):
    """Hydra callback (``hydra.callbacks`` in config.yaml): checks every sweep point
    before Hydra writes anything (multirun.yaml) or runs the first one."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            validate_sweep(list(config.hydra.overrides.task), config.hydra.job.config_name)
        except ConfigError as exc:
            print(f"simfactory: {exc}", file=sys.stderr)
            sys.exit(2)


def generate_dataset(cfg: dict, dataset_dir: Path, command: str) -> int:
    """Generate every missing clip; returns the number of failed clips. The run holds
    the dataset's lock throughout, and refuses (DatasetError) a folder that another run
    holds or that holds clips of another config."""
    dataset_dir = Path(dataset_dir)
    try:
        dataset_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"output_dir: cannot create {dataset_dir}: {exc.strerror}") from exc
    with DatasetLock(dataset_dir, command):
        check_identity(dataset_dir, cfg)
        write_identity(dataset_dir, cfg)
        return _generate(cfg, dataset_dir, command)


def _generate(cfg: dict, dataset_dir: Path, command: str) -> int:
    ex = cfg["executor"]
    workers = default_workers() if ex["workers"] is None else ex["workers"]
    workers = min(workers, cfg["num_clips"])
    done = {
        int(r["index"]): r
        for r in _manifest_rows(dataset_dir)
        if r["status"] == "ok" and (dataset_dir / r["path"] / "annotations.json").exists()
    }
    write_card(dataset_dir, cfg, command)
    todo = [i for i in range(cfg["num_clips"]) if i not in done]
    rows = dict(done)
    write_manifest(dataset_dir, list(rows.values()))  # from the start: the clips it lists
    how = "Ray tasks" if ex["name"] == "ray" else f"{workers} worker(s)"
    print(
        f"simfactory: {amount(len(todo), 'clip')} to generate ({len(done)} already done) "
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


def _manifest_rows(dataset_dir: Path) -> list[dict]:
    """The dataset's manifest rows; DatasetError when the file does not read as one."""
    try:
        rows = read_manifest(dataset_dir)
        for row in rows:
            int(row["index"]), row["status"].strip(), row["path"].strip()
    except (UnicodeDecodeError, csv.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(
            f"output_dir: {dataset_dir / 'manifest.csv'} is damaged ({type(exc).__name__}: "
            f"{exc}); restore it, or delete it and rerun to make its clips again"
        ) from exc
    return rows


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
    _STARTED.append(True)
    cfg = OmegaConf.to_container(dcfg, resolve=True)
    cfg = apply_preset(cfg, override_keys(list(HydraConfig.get().overrides.task)))
    hc = HydraConfig.get()
    try:
        validate(cfg)
        if hc.mode == RunMode.MULTIRUN and hc.job.num == 0 and not _SWEEP_CHECKED:
            validate_sweep(command_overrides(), hc.job.config_name)
    except ConfigError as exc:
        print(f"simfactory: {exc}", file=sys.stderr)
        sys.exit(2)
    dataset_dir = dataset_dir_for(cfg)
    command = "simfactory " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    stop_on_signals()
    try:
        failed = generate_dataset(cfg, dataset_dir, command)
        if dataset_dir != Path(cfg["output_dir"]):
            report = success_report(combine_sweep(Path(cfg["output_dir"])))
            if report:
                print(
                    report.replace("success rates:", "success rates, sweep so far:"),
                    file=sys.stderr,
                )
    except DatasetError as exc:
        print(f"simfactory: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        print(
            f"\nsimfactory: interrupted ({exc or 'SIGINT'}); finished clips are in "
            f"{dataset_dir.resolve()} and running the same command again completes the dataset",
            file=sys.stderr,
        )
        sys.exit(exit_code(exc))
    print(f"dataset: {dataset_dir.resolve()}")
    if failed:
        print(f"simfactory: {failed} clip(s) failed; see manifest.csv", file=sys.stderr)
        sys.exit(1)


_STARTED: list[bool] = []


def main() -> None:
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    try:
        app()
    except KeyboardInterrupt as exc:  # a signal between the points of a sweep
        print(f"\nsimfactory: interrupted ({exc or 'SIGINT'})", file=sys.stderr)
        sys.exit(exit_code(exc))
    except SystemExit as exc:
        if exc.code == 1 and not _STARTED:  # Hydra refused the command line (an unknown
            sys.exit(2)  # group option, an override that does not parse): no work began
        raise
