"""Dataset throughput against the number of workers, and memory per worker.

    python benchmarks/scaling.py                       # 1 and 2 workers, 8 clips each
    python benchmarks/scaling.py --workers 1 2 4 8 16 --clips 32
    python benchmarks/scaling.py --executor ray --workers 1 2
    python benchmarks/scaling.py --workers 2 --clips 4 scene=driving frames=48   # overrides

Each point generates a fresh dataset of the same clips (furniture, 320x180, 24
frames, all modalities; overrides replace these) in its own process, so that the peak
resident memory of its worker processes can be read from the operating system
(``RUSAGE_CHILDREN``: the largest worker's peak). Reported per point: clips/s,
frames/s, scaling efficiency (clips/s over workers times the clips/s of one worker,
the first point), peak resident memory of a worker, the workers' CPU seconds per clip
(theirs and their ffmpeg encoders') with the efficiency by CPU time (one worker's CPU
seconds per clip over this point's: on a machine busy with other work, where wall
times say little, what sharing the cores costs the workers themselves) and the load
average at the end of the point.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = ["scene=furniture", "resolution=[320,180]", "frames=24", "export.preview=false"]


def run_point(workers: int, clips: int, executor: str, out: Path, extra: list[str]) -> dict:
    """Generate one dataset in this process (called in a child process)."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from simfactory.sim.run.cli import generate_dataset
    from simfactory.sim.run.config import load_config

    replaced = {o.split("=")[0] for o in extra}
    base = [o for o in CLIP if o.split("=")[0] not in replaced]
    overrides = [*base, *extra, f"num_clips={clips}", f"executor={executor}", "seed=11"]
    overrides.append(f"executor.workers={workers}")
    cfg = load_config(overrides)
    t0 = time.perf_counter()
    failed = generate_dataset(cfg, out, "benchmark")
    seconds = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers (and their ffmpeg)
    peak_kib = children.ru_maxrss
    cpu = children.ru_utime + children.ru_stime
    return {
        "workers": workers,
        "clips": clips,
        "failed": failed,
        "seconds": round(seconds, 2),
        "clips_per_s": round(clips / seconds, 3),
        "frames_per_s": round(clips * cfg["frames"] / seconds, 2),
        "worker_peak_rss_mib": round(peak_kib / 1024, 1),
        "cpu_seconds_per_clip": round(cpu / clips, 3),
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--json", type=Path)
    parser.add_argument("overrides", nargs="*", help="config overrides for every point")
    parser.add_argument("--point", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point is not None:
        print(
            json.dumps(run_point(args.point, args.clips, args.executor, args.out, args.overrides))
        )
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workers:
            cmd = [sys.executable, __file__, "--point", str(w), "--clips", str(args.clips)]
            cmd += ["--executor", args.executor, "--out", str(Path(tmp) / f"w{w}")]
            cmd += args.overrides
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = results[0]["clips_per_s"] / results[0]["workers"]
    cpu_base = results[0]["cpu_seconds_per_clip"]
    print(f"{'workers':>7} {'clips/s':>8} {'frames/s':>9} {'efficiency':>10} {'worker RSS':>11} "
          f"{'CPU s/clip':>10} {'by CPU':>6} {'load':>5}")  # fmt: skip
    for r in results:
        r["efficiency"] = round(r["clips_per_s"] / (r["workers"] * base), 3)
        r["cpu_efficiency"] = round(cpu_base / r["cpu_seconds_per_clip"], 3)
        print(
            f"{r['workers']:>7} {r['clips_per_s']:>8.3f} {r['frames_per_s']:>9.2f} "
            f"{r['efficiency']:>10.2f} {r['worker_peak_rss_mib']:>8.0f} MiB "
            f"{r['cpu_seconds_per_clip']:>10.2f} {r['cpu_efficiency']:>6.2f} "
            f"{r['load_average']:>5.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
