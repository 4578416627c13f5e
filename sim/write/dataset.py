"""Dataset-level files: the manifest (one row per clip) and the dataset card."""

from __future__ import annotations

import csv
import io
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

from simfactory.sim import __version__
from simfactory.sim.annotate.captions import amount

MANIFEST = "manifest.csv"
FIRST_COLUMNS = ["clip_id", "index", "seed", "clip_seed", "family", "frames", "fps", "width",
                 "height", "cameras", "objects", "status", "path"]  # fmt: skip


def read_manifest(dataset_dir: str | Path) -> list[dict]:
    path = Path(dataset_dir) / MANIFEST
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_manifest(dataset_dir: str | Path, rows: list[dict]) -> None:
    """Write the manifest sorted by clip index, atomically (temp file + rename)."""
    rows = sorted(rows, key=lambda r: int(r["index"]))
    columns = list(FIRST_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(dataset_dir) / MANIFEST
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)


def software_versions() -> dict[str, str]:
    names = ["numpy", "pybullet", "trimesh", "pyrender", "PyOpenGL", "hydra-core", "imageio-ffmpeg"]
    out = {"simfactory": __version__, "python": sys.version.split()[0]}
    out.update({n: version(n) for n in names})
    out["platform"] = platform.platform()
    return out


# Lets ``simfactory --config-path DATASET --config-name config`` run from a saved config
# without Hydra writing logs or output folders into the working directory.
HYDRA_QUIET = {
    "defaults": [
        "_self_",
        {"override hydra/job_logging": "disabled"},
        {"override hydra/hydra_logging": "disabled"},
    ],
    "hydra": {
        "run": {"dir": "."},
        "sweep": {"dir": "${output_dir}", "subdir": "."},
        "output_subdir": None,
        "job": {"chdir": False},
        "callbacks": {"validate_sweep": {"_target_": "simfactory.sim.run.cli.SweepCheck"}},
    },
}


def write_card(dataset_dir: str | Path, cfg: dict, command: str) -> None:
    """Write ``config.yaml`` (the resolved config) and ``README.md``, the dataset card."""
    dataset_dir = Path(dataset_dir)
    # A randomize preset is already written out as distributions in the config.
    saved = {**cfg, "randomize": "none", **HYDRA_QUIET}
    note = ""
    if cfg.get("randomize", "none") != "none":
        note = f"# randomize={cfg['randomize']} was applied: its distributions are below.\n"
    (dataset_dir / "config.yaml").write_text(note + yaml.safe_dump(saved, sort_keys=False))
    versions = "\n".join(f"- {k}: {v}" for k, v in software_versions().items())
    width, height = cfg["resolution"]
    clips, frames = amount(cfg["num_clips"], "clip"), amount(cfg["frames"], "frame")
    text = f"""# simfactory dataset: {cfg["scene"]["name"]}

{clips} of {frames} at {cfg["fps"]} fps, {width}x{height},
scene family `{cfg["scene"]["name"]}`, dataset seed {cfg["seed"]}.

## Provenance

Every frame in this dataset is synthetic: each clip was built procedurally from the
configuration and seed below, simulated with pybullet and rendered with OpenGL
through EGL (the renderer of each clip is in `manifest.csv`). No footage, photograph
or scanned asset was used.

## How to reproduce

```
{command}
```

or, from this folder, `simfactory --config-path $PWD --config-name config output_dir=NEW`
(with the same `output_dir` the run resumes: finished clips are kept).
The same configuration and seed give byte-identical `annotations.json` and
`trajectory.npz` files on the same machine.

## Files

- `manifest.csv`: one row per clip (id, seed, family, frames, resolution, status, path).
- `config.yaml`: the full resolved configuration.
- `clips/clip_NNNNNN/`: `annotations.json`, `trajectory.npz`, `preview.png` and one
  folder per camera with `rgb.mp4`, `depth.npz`, `instance.npz`, `semantic.npz`,
  `normals.npz` and `flow.npz`. The conventions are in every `annotations.json`.
  Where a label `.npz` holds a scale key (`depth_scale`, `flow_scale`, `normals_scale`),
  the array times its scale is the value in metres, pixels or unit-normal components
  (`np.load(p)["depth"] * np.load(p)["depth_scale"]`).

## Software

{versions}
"""
    (dataset_dir / "README.md").write_text(text)
