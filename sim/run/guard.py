"""What keeps a dataset folder whole: one writer at a time (an exclusive lock), and one
config per dataset (its identity, the fingerprint of every key that shapes its clips).

``identity.json`` records the clip-shaping config and its fingerprint; every clip's
``annotations.json`` records the fingerprint too (``clip.config_fingerprint``), so a
dataset whose clips came from different configs can be told by ``simfactory-validate``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from pathlib import Path

import yaml

LOCK_FILE = ".simfactory.lock"
IDENTITY_FILE = "identity.json"
# Keys that do not change any clip's content: how and where the clips are made, and
# how many (adding clips of the same config to a dataset is allowed).
NOT_CONTENT = (
    "executor", "output_dir", "num_clips", "progress", "randomize", "hydra", "defaults",
    "render.egl_device",
)  # fmt: skip


class DatasetError(ValueError):
    """A dataset folder this run must not write into; the message says why."""


def content_config(cfg: dict) -> dict:
    """``cfg`` without the ``NOT_CONTENT`` keys (``randomize`` is left out because the
    preset's distributions are already written into the config)."""

    def strip(node: dict, prefix: str) -> dict:
        out = {}
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if dotted in NOT_CONTENT:
                continue
            out[key] = strip(value, dotted + ".") if isinstance(value, dict) else value
        return out

    return strip(cfg, "")


def fingerprint(cfg: dict) -> str:
    """A short hash of the clip-shaping part of ``cfg`` (same config, same hash)."""
    text = json.dumps(content_config(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten(node, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay whole values, empty mappings
    leave no key."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return {k.rstrip("."): v for k, v in out.items()}


def differing_keys(recorded: dict, cfg: dict) -> list[str]:
    """Dotted keys of the ``recorded`` config whose value ``cfg`` does not share (or
    lacks). Keys only ``cfg`` has are not compared: a key a newer simfactory added keeps,
    by its default, what the dataset's clips were made with."""
    fa, fb = flatten(content_config(recorded)), flatten(content_config(cfg))
    return sorted(k for k in fa if k not in fb or fa[k] != fb[k])


def dataset_fingerprint(dataset_dir: Path) -> str | None:
    """The fingerprint ``identity.json`` records, or None."""
    identity = read_identity(dataset_dir)
    return identity.get("fingerprint") if isinstance(identity, dict) else None


def recorded_config(dataset_dir: Path) -> dict | None:
    """The config a dataset folder was made with: ``identity.json``, else (a dataset
    written before identities existed, holding clips) its ``config.yaml``; None for a
    new folder."""
    path = dataset_dir / IDENTITY_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text())["config"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path} is damaged ({exc}); restore or delete it") from exc
    saved = dataset_dir / "config.yaml"
    has_clips = any((dataset_dir / "clips").glob("clip_*"))
    if saved.is_file() and has_clips:
        try:
            return yaml.safe_load(saved.read_text())
        except yaml.YAMLError as exc:
            raise DatasetError(f"{saved} is damaged ({exc})") from exc
    return None


def check_identity(dataset_dir: Path, cfg: dict) -> None:
    """Raise DatasetError when ``dataset_dir`` holds clips of another config, naming
    the keys that differ (with both values, the first few)."""
    recorded = recorded_config(dataset_dir)
    if recorded is None or fingerprint(recorded) == fingerprint(cfg):
        return
    keys = differing_keys(recorded, cfg)
    if not keys:
        return
    fa, fb = flatten(content_config(recorded)), flatten(content_config(cfg))
    shown = ", ".join(
        f"{k} (dataset {fa.get(k, '<absent>')!r}, this run {fb.get(k, '<absent>')!r})"
        for k in keys[:6]
    )
    more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
    raise DatasetError(
        f"output_dir: {dataset_dir} holds a dataset of another config; keys that differ: "
        f"{shown}{more}. Use another output_dir, or run with the dataset's own config "
        f"(--config-path {dataset_dir} --config-name config)"
    )


def write_identity(dataset_dir: Path, cfg: dict, extra: dict | None = None) -> None:
    """Record the dataset's clip-shaping config and fingerprint (atomically), once."""
    path = dataset_dir / IDENTITY_FILE
    if path.is_file():
        return
    record = {"fingerprint": fingerprint(cfg), "config": content_config(cfg), **(extra or {})}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def read_identity(dataset_dir: Path) -> dict | None:
    path = Path(dataset_dir) / IDENTITY_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


class DatasetLock:
    """An exclusive ``flock`` on ``<dataset>/.simfactory.lock`` for the life of a run;
    the file names the holder (pid, host, start time, command). A second run is refused
    at once (DatasetError naming the holder). The kernel drops the lock when the
    holder exits, however it exits."""

    def __init__(self, dataset_dir: Path, command: str = ""):
        self.path = Path(dataset_dir) / LOCK_FILE
        self.command = command
        self.fd: int | None = None

    def __enter__(self) -> DatasetLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DatasetError(f"output_dir: cannot create {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DatasetError(f"output_dir: cannot lock {self.path}: {exc}") from exc
            raise DatasetError(
                f"output_dir: {self.path.parent} is in use by {self.holder()}"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self.fd = fd
        return self

    def holder(self) -> str:
        try:
            h = json.loads(self.path.read_text())
            return f"pid {h['pid']} on host {h['host']} since {h['started']}" + (
                f" ({h['command']})" if h.get("command") else ""
            )
        except (OSError, ValueError, KeyError):
            return "another process (its details are not written yet)"

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
