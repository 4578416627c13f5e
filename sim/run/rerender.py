"""The ``simfactory-rerender`` command: render an existing dataset's saved rollouts
again with a new look, without simulating.

    simfactory-rerender data/rooms data/rooms_look2 --look 2 render.exposure=1.4
    simfactory-rerender data/rooms data/rooms_pt --look 0 render.backend=pathtrace

Each finished clip's scene is rebuilt from the dataset's ``config.yaml`` (with the
overrides) and seed, dressed in look ``N`` (materials, lights and sky drawn from the
clip's streams for variant ``N``, as ``variants_per_rollout`` does), and rendered from
its saved ``trajectory.npz``, which is copied unchanged. Look 0 keeps each clip's own
look (the variant it was in the source dataset): with only render settings overridden
(``render.backend=pathtrace``), its label files come out identical to the source's.
The new dataset's manifest links each clip to its source (``source_path``). A damaged
source clip is reported and skipped (exit status 1 at the end, listing them); rerunning
the same command resumes a rerender that stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from simfactory.sim.export import clip_problems
from simfactory.sim.model.trajectory import Trajectory
from simfactory.sim.run.build import build_scene
from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.config import ConfigError, validate
from simfactory.sim.run.guard import (
    DatasetError,
    DatasetLock,
    check_identity,
    read_identity,
    write_identity,
)
from simfactory.sim.run.lifetime import exit_code, stop_on_signals
from simfactory.sim.write.dataset import read_manifest, write_card, write_manifest


class RerenderError(ValueError):
    """A dataset or option that cannot be re-rendered; the message names why."""


def load_dataset_config(dataset_dir: Path, overrides: list[str], out: Path | None = None) -> dict:
    """The dataset's saved config with ``key=value`` overrides applied (values parsed
    as YAML) and ``output_dir`` set to ``out``, validated."""
    path = dataset_dir / "config.yaml"
    if not path.is_file():
        raise RerenderError(f"{dataset_dir} has no config.yaml: not a simfactory dataset")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RerenderError(f"{path} does not parse: {str(exc).splitlines()[0]}") from exc
    if not isinstance(cfg, dict):
        raise RerenderError(f"{path} is not a simfactory config")
    cfg.pop("defaults", None)
    cfg.pop("hydra", None)
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise RerenderError(f"overrides must be key=value (got {', '.join(bad)})")
    merged = OmegaConf.merge(OmegaConf.create(cfg), OmegaConf.from_dotlist(overrides))
    cfg = OmegaConf.to_container(merged, resolve=True)
    if out is not None:
        cfg["output_dir"] = str(out)
    try:
        validate(cfg)
    except ConfigError as exc:
        raise RerenderError(str(exc)) from exc
    return cfg


def parse_clips(text: str) -> set[int]:
    """Clip indices from ``0,3,10-12`` (ranges include both ends)."""
    out: set[int] = set()
    try:
        for item in text.split(","):
            lo, _, hi = item.strip().partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise RerenderError(
            f"--clips must list indices and ranges like 0,3,10-12 (got {text!r})"
        ) from None
    return out


def rerender(
    source: Path, out: Path, look: int, overrides: list[str], clips: set[int] | None = None
) -> int:
    """Re-render every finished clip of ``source`` (those of index in ``clips`` if given)
    into ``out`` with look ``look`` (0: each clip's own); returns the number of clips that
    failed (damaged source clips included: they are reported and skipped, the others go
    on).

    ``out`` must be new or empty, or a rerender of the same source, look and overrides
    that stopped part way: its finished clips are kept and the rest are rendered."""
    if look < 0:
        raise RerenderError(f"--look must be >= 0 (0: each clip's own look; got {look})")
    cfg = load_dataset_config(source, overrides, out)
    rows = [r for r in read_manifest(source) if r["status"] == "ok"]
    if clips is not None:
        rows = [r for r in rows if int(r["index"]) in clips]
    if not rows:
        asked = "" if clips is None else f" among --clips {sorted(clips)}"
        raise RerenderError(f"{source} has no finished clips (manifest.csv){asked}")
    if out.resolve() == source.resolve():
        raise RerenderError("the output folder must not be the source dataset")
    if out.exists() and not out.is_dir():
        raise RerenderError(f"output {out} is a file")
    cfg["output_dir"] = str(out)
    origin = {"rerender": {"source": str(source.resolve()), "look": look}}
    recorded = read_identity(out) if out.is_dir() else None
    resuming = recorded is not None and recorded.get("rerender") == origin["rerender"]
    if out.is_dir() and any(out.iterdir()) and not resuming:
        raise RerenderError(
            f"output folder {out} is not empty (and not a rerender of {source} with "
            f"look {look} to resume)"
        )
    out.mkdir(parents=True, exist_ok=True)
    try:
        with DatasetLock(out, "simfactory-rerender " + " ".join(sys.argv[1:])):
            if resuming:
                check_identity(out, cfg)
            write_identity(out, cfg, origin)
            write_card(out, cfg, "simfactory-rerender " + " ".join(sys.argv[1:]))
            return _rerender_clips(source, out, cfg, look, rows)
    except DatasetError as exc:
        raise RerenderError(str(exc)) from exc


def _rerender_clips(source: Path, out: Path, cfg: dict, look: int, rows: list[dict]) -> int:
    finished = {
        int(r["index"]): r
        for r in read_manifest(out)
        if r["status"] == "ok" and (out / r["path"] / "annotations.json").is_file()
    }
    done = list(finished.values())
    broken: list[str] = []
    damaged = {}  # every source clip is checked before the first is rendered
    for row in rows:
        clip_dir = source / row["path"]
        if int(row["index"]) not in finished:
            found = clip_problems(clip_dir) if clip_dir.is_dir() else [f"{row['path']}: missing"]
            if found:
                damaged[int(row["index"])] = found
    if damaged:
        print(
            f"simfactory-rerender: {len(damaged)} damaged source clip(s) are skipped:\n  "
            + "\n  ".join("; ".join(found) for found in damaged.values()),
            file=sys.stderr,
        )
    for row in rows:
        index, attempt = int(row["index"]), int(row.get("attempt") or 0)
        if index in finished:
            continue
        clip_dir = source / row["path"]
        problems = damaged.get(index, [])
        try:
            if problems:
                raise RerenderError("damaged source clip: " + "; ".join(problems))
            traj = Trajectory.load(clip_dir / "trajectory.npz")
            spec = build_scene(cfg, index, attempt, look=look or None)
            if {b.name for b in spec.bodies} != {n.split("/")[0] for n in traj.part_names}:
                raise RerenderError(
                    f"clip {index}: the rebuilt scene has other bodies than its saved "
                    "trajectory (an override changed the scene, or the scene code did)"
                )
            new = generate_clip(cfg, index, out, spec=spec, attempt=attempt, trajectory=traj)
        except Exception as exc:  # reported; the other clips go on
            new = {"index": index, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            broken.append(f"{row.get('clip_id') or row['path']}: {exc}")
        new.update(look=look, source_path=str(clip_dir.resolve()))
        done.append(new)
        write_manifest(out, done)
        print(f"clip {index}: {new['status']}", file=sys.stderr)
    if broken:
        print(
            f"simfactory-rerender: {len(broken)} clip(s) failed:\n  " + "\n  ".join(broken),
            file=sys.stderr,
        )
    return len(broken)


def main() -> None:
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    parser = argparse.ArgumentParser(
        prog="simfactory-rerender",
        description="Render a dataset's saved rollouts again with a new look.",
    )
    parser.add_argument("dataset", type=Path, help="the source dataset folder")
    parser.add_argument("out", type=Path, help="the new dataset folder (new or empty)")
    parser.add_argument(
        "--look",
        type=int,
        default=1,
        help="which look: 0 each clip's own, N >= 1 a new one (default 1)",
    )
    parser.add_argument(
        "--clips", default=None, help="only these clip indices, e.g. 0,3,10-12 (default: all)"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides, key=value")
    args = parser.parse_intermixed_args()  # options may follow the overrides, or precede them
    stop_on_signals()
    try:
        clips = None if args.clips is None else parse_clips(args.clips)
        failed = rerender(args.dataset, args.out, args.look, args.overrides, clips)
    except RerenderError as exc:
        print(f"simfactory-rerender: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        print(
            f"\nsimfactory-rerender: interrupted ({exc or 'SIGINT'}); the same command resumes it",
            file=sys.stderr,
        )
        sys.exit(exit_code(exc))
    print(f"dataset: {args.out.resolve()}")
    sys.exit(1 if failed else 0)
