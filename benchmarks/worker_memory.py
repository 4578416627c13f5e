"""Peak resident memory of a worker making one standard clip, and where it peaks.

    python benchmarks/worker_memory.py --scene driving          # bench_clip.py's drive
    python benchmarks/worker_memory.py --scene hoi scene.actor=human export.preview=false

Each run is a fresh process that calls ``generate_clip`` once (as a pool worker does)
and reports ``ru_maxrss``, and, sampled every 5 ms by a thread, the largest resident
memory seen in each step of the clip (building and simulating, rendering a camera,
deriving its labels, scanning a LiDAR, saving the trajectory, waiting for the
writers, the annotations). Trailing ``key=value`` arguments are config overrides.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, os, resource, sys, tempfile, threading, time
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
from simfactory.sim.run import clip
from simfactory.sim.run.config import load_config

args = json.loads(sys.argv[1])
cfg = load_config(["num_clips=1", f"frames={args['frames']}",
                   f"resolution=[{args['width']},{args['height']}]", "seed=1"]
                  + args["scene_overrides"] + args["overrides"])
state = {"step": "build+simulate", "peaks": {}, "done": False}
PAGE = os.sysconf("SC_PAGE_SIZE")

def sample():
    with open("/proc/self/statm") as fh:
        while not state["done"]:
            fh.seek(0)
            rss = int(fh.read().split()[1]) * PAGE
            step = state["step"]
            state["peaks"][step] = max(state["peaks"].get(step, 0), rss)
            time.sleep(0.005)

def tagged(name, fn):
    def run(*a, **k):
        state["step"] = name
        try:
            return fn(*a, **k)
        finally:
            state["step"] = "after " + name
    return run

for name, attr in (("render", "render_camera"), ("labels", "camera_labels"),
                   ("lidar", "scan"), ("renderer", "raster_renderer")):
    setattr(clip, attr, tagged(name, getattr(clip, attr)))
clip.Trajectory.save = tagged("trajectory", clip.Trajectory.save)
threading.Thread(target=sample, daemon=True).start()
row = clip.generate_clip(cfg, 0, tempfile.mkdtemp())
state["done"] = True
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "peaks_mib": {k: round(v / 2**20) for k, v in state["peaks"].items()},
                  "seconds_total": row["seconds_total"]}))
"""


def main() -> None:
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from bench_clip import STANDARD_SCENES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", choices=sorted(STANDARD_SCENES), default="driving")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--runs", type=int, default=1, help="fresh workers, one after another")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    spec = dict(vars(args), scene_overrides=STANDARD_SCENES[args.scene])
    for _ in range(args.runs):
        done = subprocess.run(
            [sys.executable, "-c", WORKER, json.dumps(spec)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"peak RSS {result['rss_kib'] / 2**20:.3f} GiB "
              f"({result['seconds_total']:.1f} s); by step (MiB):")  # fmt: skip
        for step, mib in result["peaks_mib"].items():
            print(f"  {step:<20} {mib:6d}")
        with open("/proc/loadavg") as fh:
            print("load average:", " ".join(fh.read().split()[:3]))


if __name__ == "__main__":
    main()
