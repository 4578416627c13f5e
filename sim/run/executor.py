"""Run ``generate_clip`` for every clip of a dataset: in this process, or in a local
pool of spawned worker processes, each keeping one renderer for its life and replaced
after a number of clips.

A clip that fails (an exception, a rollout that fails its sanity checks, or a worker
process that dies under it: segfault, out of memory, EGL error) is retried with the
next sub-seed of its seed tree, up to ``max_attempts`` attempts; its manifest row
records the attempt that succeeded and the errors of those that did not.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from simfactory.sim.run.clip import generate_clip
from simfactory.sim.run.lifetime import run_child
from simfactory.sim.simulate.sanity import injected_fault


def _attempt(cfg: dict, index: int, dataset_dir: str, attempt: int) -> dict:
    try:
        return generate_clip(cfg, index, dataset_dir, attempt=attempt)
    except Exception as exc:  # reported in the manifest; the run goes on
        return {
            "index": index,
            "status": "failed",
            "attempt": attempt,
            "error": f"{type(exc).__name__}: {exc}",
        }


def _finish(row: dict, errors: list[str]) -> dict:
    row["attempts"] = int(row["attempt"]) + 1
    row["retried_errors"] = " | ".join(errors[:-1] if row["status"] != "ok" else errors)
    return row


def run_clips(
    cfg: dict,
    indices: list[int],
    dataset_dir: Path,
    workers: int,
    max_attempts: int = 3,
    clips_per_worker: int = 50,
) -> Iterator[dict]:
    """Yield each clip's final manifest row as it completes. ``workers`` = 0 runs the
    clips in this process (a crash then ends the run; rerunning resumes it)."""
    if workers == 0:
        for index in indices:
            errors: list[str] = []
            for attempt in range(max_attempts):
                row = _attempt(cfg, index, str(dataset_dir), attempt)
                if row["status"] == "ok":
                    break
                errors.append(row["error"])
            yield _finish(row, errors)
        return
    yield from _pool(cfg, indices, dataset_dir, workers, max_attempts, clips_per_worker)


def _worker(cfg: dict, dataset_dir: str, inbox, outbox, clips: int, render_threads: int) -> None:
    """A worker process (started through ``lifetime.run_child``, so it dies with the
    parent): runs the clips it is sent, then exits after ``clips`` of them. Mesa's
    software rasterizer gets ``render_threads`` threads (its default is one per core in
    every worker, which oversubscribes the cores once all workers render)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the run
    os.environ.setdefault("LP_NUM_THREADS", str(render_threads))
    for _ in range(clips):
        task = inbox.get()
        if task is None:
            return
        index, attempt = task
        if injected_fault(index, attempt) == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        row = _attempt(cfg, index, dataset_dir, attempt)
        row["worker"] = os.getpid()
        outbox.put((os.getpid(), row))


@dataclass
class _Slot:
    process: object
    inbox: object
    task: tuple[int, int] | None = None
    done: int = 0


@dataclass
class _Pool:
    cfg: dict
    dataset_dir: str
    clips_per_worker: int
    render_threads: int = 1
    ctx: object = field(default_factory=lambda: get_context("spawn"))
    outbox: object = None
    slots: dict[int, _Slot] = field(default_factory=dict)

    def __post_init__(self):
        self.outbox = self.ctx.Queue()

    def start(self) -> None:
        inbox = self.ctx.Queue()
        process = self.ctx.Process(
            target=run_child,
            args=(
                os.getpid(),
                __name__,
                "_worker",
                self.cfg,
                self.dataset_dir,
                inbox,
                self.outbox,
                self.clips_per_worker,
                self.render_threads,
            ),
            daemon=True,
        )
        process.start()
        self.slots[process.pid] = _Slot(process, inbox)

    def stop(self) -> None:
        """End the workers and remove the clip folders they left half-written (a worker
        ended mid-clip leaves its ``.tmp-<clip>-<pid>`` folder)."""
        for slot in self.slots.values():
            if slot.process.is_alive():
                slot.process.terminate()
        for slot in self.slots.values():
            slot.process.join(timeout=10)
        clips = Path(self.dataset_dir) / "clips"
        for pid, slot in self.slots.items():
            if not slot.process.is_alive():
                for tmp in clips.glob(f".tmp-clip_*-{pid}"):
                    shutil.rmtree(tmp, ignore_errors=True)
        self.slots.clear()


def _pool(cfg, indices, dataset_dir, workers, max_attempts, clips_per_worker) -> Iterator[dict]:
    pending = [(i, 0) for i in indices]
    errors: dict[int, list[str]] = {i: [] for i in indices}
    remaining = len(indices)
    pool = _Pool(cfg, str(dataset_dir), clips_per_worker, max(1, default_workers() // workers))
    finals: list[dict] = []

    def settle(row: dict) -> None:
        """A finished attempt: final, or the clip goes back in the queue."""
        index, attempt = int(row["index"]), int(row["attempt"])
        if row["status"] != "ok":
            errors[index].append(row["error"])
            if attempt + 1 < max_attempts:
                pending.append((index, attempt + 1))
                return
        finals.append(_finish(row, errors[index]))

    def receive(timeout: float) -> bool:
        try:
            pid, row = pool.outbox.get(timeout=timeout)
        except queue.Empty:
            return False
        slot = pool.slots.get(pid)
        if slot is not None:
            slot.task, slot.done = None, slot.done + 1
            if slot.done >= clips_per_worker:  # it exits by itself: replace it
                slot.process.join(timeout=30)
                del pool.slots[pid]
        settle(row)
        return True

    try:
        while remaining:
            busy = sum(s.task is not None for s in pool.slots.values())
            while len(pool.slots) < min(workers, busy + len(pending)):
                pool.start()
            for slot in pool.slots.values():
                if slot.task is None and pending:
                    slot.task = pending.pop(0)
                    slot.inbox.put(slot.task)
            if not receive(0.5):
                dead = [pid for pid, s in pool.slots.items() if not s.process.is_alive()]
                if dead:
                    while receive(0.2):  # what the dead sent before dying comes first
                        pass
                for pid in dead:
                    slot = pool.slots.pop(pid, None)
                    if slot is None or slot.task is None:
                        continue
                    code = slot.process.exitcode
                    why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                    index, attempt = slot.task
                    settle(
                        {
                            "index": index,
                            "status": "failed",
                            "attempt": attempt,
                            "error": f"WorkerCrash: the worker process died ({why})",
                        }
                    )
            while finals:
                remaining -= 1
                yield finals.pop(0)
    finally:
        for slot in pool.slots.values():
            if slot.process.is_alive() and slot.task is None:
                slot.inbox.put(None)
        pool.stop()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class Progress:
    """One status line: clips done, failures, retries, clips/s, frames/s and the ETA."""

    def __init__(self, total: int, frames_per_clip: int, out: Callable = sys.stderr.write):
        self.total, self.frames_per_clip, self.out = total, frames_per_clip, out
        self.done = self.failed = self.retried = 0
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, row: dict) -> None:
        self.done += 1
        self.failed += row.get("status") != "ok"
        self.retried += int(row.get("attempts", 1)) > 1
        elapsed = time.perf_counter() - self.start
        clips_per_s = self.done / max(elapsed, 1e-9)
        eta = elapsed / self.done * (self.total - self.done)
        line = (
            f"clips {self.done}/{self.total}  failed {self.failed}  retried {self.retried}  "
            f"{clips_per_s:.2f} clips/s  {clips_per_s * self.frames_per_clip:.1f} frames/s  "
            f"elapsed {elapsed:.0f}s  ETA {eta:.0f}s"
        )
        self.out(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and self.done == self.total:
            self.out("\n")
