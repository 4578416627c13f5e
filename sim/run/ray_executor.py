"""Run a dataset's clips as Ray tasks, on a local Ray or a cluster (``executor=ray``).

Each clip is one task writing into the dataset folder, which every node must see (a
shared filesystem). A task on a GPU renders on the EGL device of the GPU Ray gave it.
Failed clips are retried on the clip's next sub-seed, as with the local pool; a task
whose worker process dies (segfault, out of memory) counts as a failed attempt.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

from simfactory.sim.simulate.sanity import injected_fault

FORWARDED = ("SIMFACTORY_", "PYOPENGL_")  # driver environment variables tasks see


def _clip_task(
    cfg: dict, index: int, dataset_dir: str, attempt: int, env: dict, owner: tuple[str, int]
) -> dict:
    """One clip in a Ray worker: take the driver's simfactory environment variables,
    give Mesa's software rasterizer as many threads as the task has CPUs, pick the EGL
    device of the task's GPU, if it has one. ``owner`` (host, pid) is the driver: on its
    host, a task whose driver is gone writes nothing."""
    import ray

    from simfactory.sim.run.lifetime import set_owner

    set_owner(*owner)

    for key in [k for k in os.environ if k.startswith(FORWARDED)]:
        del os.environ[key]
    os.environ.update(env)
    os.environ.setdefault("LP_NUM_THREADS", str(max(1, int(cfg["executor"].get("num_cpus", 1)))))
    from simfactory.sim.render.raster import egl_device_for_cuda
    from simfactory.sim.run.executor import _attempt

    gpus = ray.get_gpu_ids()
    if gpus and cfg["render"].get("egl_device") is None:
        device = egl_device_for_cuda(int(gpus[0]))
        cfg = {**cfg, "render": {**cfg["render"], "egl_device": device}}
    if injected_fault(index, attempt) == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    row = _attempt(cfg, index, dataset_dir, attempt)
    row["worker"] = f"{ray.get_runtime_context().get_node_id()[:8]}:{os.getpid()}"
    return row


def run_clips_ray(
    cfg: dict,
    indices: list[int],
    dataset_dir: Path,
    max_attempts: int = 3,
) -> Iterator[dict]:
    """Yield each clip's final manifest row as it completes. Connects to
    ``executor.address`` (null: a new local Ray on this machine; "auto": the cluster
    this machine belongs to), or uses the Ray this process already joined."""
    import ray

    from simfactory.sim.run.executor import _finish

    ex = cfg["executor"]
    if not ray.is_initialized():
        ray.init(address=ex.get("address"), include_dashboard=False, log_to_driver=False)
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED)}
    owner = (socket.gethostname(), os.getpid())
    task = ray.remote(
        num_cpus=ex.get("num_cpus", 1),
        num_gpus=ex.get("num_gpus", 0),
        max_calls=ex.get("clips_per_worker", 50),
        max_retries=0,
    )(_clip_task)
    limit = ex.get("workers") or max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending = [(i, 0) for i in indices]
    errors: dict[int, list[str]] = {i: [] for i in indices}
    running: dict = {}
    try:
        while pending or running:
            while pending and len(running) < limit:
                index, attempt = pending.pop(0)
                ref = task.remote(cfg, index, str(dataset_dir), attempt, env, owner)
                running[ref] = (index, attempt)
            ready, _ = ray.wait(list(running), num_returns=1)
            index, attempt = running.pop(ready[0])
            try:
                row = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # the worker died under the clip
                name = type(exc).__name__
                row = {
                    "index": index,
                    "status": "failed",
                    "attempt": attempt,
                    "error": f"WorkerCrash: {name}: {str(exc).splitlines()[0][:200]}",
                }
            if row["status"] != "ok":
                errors[index].append(row["error"])
                if attempt + 1 < max_attempts:
                    pending.append((index, attempt + 1))
                    continue
            yield _finish(row, errors[index])
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
