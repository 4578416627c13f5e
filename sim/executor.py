"""Run ``generate_clip`` for every clip of a dataset: in this process, or in a local
pool of spawned worker processes, each keeping one renderer for its whole life."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from .pipeline import generate_clip


def _run_one(cfg: dict, index: int, dataset_dir: str) -> dict:
    try:
        return generate_clip(cfg, index, dataset_dir)
    except Exception as exc:  # reported in the manifest; the run goes on
        return {"index": index, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def run_clips(cfg: dict, indices: list[int], dataset_dir: Path, workers: int) -> Iterator[dict]:
    """Yield each clip's manifest row as it completes."""
    if workers <= 1 or len(indices) <= 1:
        for i in indices:
            yield _run_one(cfg, i, str(dataset_dir))
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(_run_one, cfg, i, str(dataset_dir)) for i in indices}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class Progress:
    """One status line: clips done, failures, frames/s and the estimated time left."""

    def __init__(self, total: int, frames_per_clip: int, out: Callable = sys.stderr.write):
        self.total, self.frames_per_clip, self.out = total, frames_per_clip, out
        self.done = self.failed = 0
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, row: dict) -> None:
        self.done += 1
        self.failed += row.get("status") != "ok"
        elapsed = time.perf_counter() - self.start
        fps = self.done * self.frames_per_clip / max(elapsed, 1e-9)
        eta = elapsed / self.done * (self.total - self.done)
        line = (
            f"clips {self.done}/{self.total}  failed {self.failed}  "
            f"{fps:.1f} frames/s  elapsed {elapsed:.0f}s  ETA {eta:.0f}s"
        )
        self.out(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and self.done == self.total:
            self.out("\n")
