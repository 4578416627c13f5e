#!/usr/bin/env bash
# Throughput of the three standard clips on an NVIDIA GPU through EGL (run by hand on a
# GPU machine, never in CI):
#
#   benchmarks/gpu.sh                      # every family, then workers 1 2 4 8 on one GPU
#   WORKERS="1 2 4" CLIPS=8 benchmarks/gpu.sh
#   EGL_DEVICE_ID=1 benchmarks/gpu.sh      # another EGL device (EGL order is not CUDA order)
#
# 1. Checks that EGL renders on the NVIDIA driver (not Mesa's llvmpipe) and names it.
# 2. Runs benchmarks/bench_clip.py for furniture, hoi and driving (640x360, 48 frames,
#    every modality; TinyRenderer measured in the same run) and prints frames/s per
#    family and milliseconds per frame per stage.
# 3. Runs benchmarks/scaling.py for each family's standard clip with WORKERS worker
#    processes sharing the one GPU: clips/s, frames/s, efficiency, worker memory.
#
# Everything goes to OUT (default benchmarks/gpu-results/<date>): the JSON of every
# run, its printed report, and summary.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
WORKERS=${WORKERS:-"1 2 4 8"}
CLIPS=${CLIPS:-16}
SCENES=${SCENES:-"furniture hoi driving"}
OUT=${OUT:-benchmarks/gpu-results/$(date -u +%Y%m%dT%H%M%SZ)}
export PYOPENGL_PLATFORM=egl

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu.sh: nvidia-smi not found: this benchmark needs an NVIDIA GPU and its driver" >&2
    exit 2
fi
mkdir -p "$OUT"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(hostname), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$OUT/summary.txt"

# The renderer must be the NVIDIA driver's, not a software fallback.
"$PY" - <<'EOF' | tee -a "$OUT/summary.txt"
from simfactory.sim.render.raster import process_renderer

name = process_renderer(None).device_name
print(f"EGL renderer: {name}")
if "llvmpipe" in name.lower() or "softpipe" in name.lower():
    raise SystemExit(
        "gpu.sh: EGL gave Mesa's software rasterizer: install the NVIDIA EGL libraries "
        "(libnvidia-gl) or choose the device with EGL_DEVICE_ID"
    )
EOF

for scene in $SCENES; do
    echo "== $scene: one clip, one process" | tee -a "$OUT/summary.txt"
    "$PY" benchmarks/bench_clip.py --scene "$scene" --json "$OUT/clip_$scene.json" \
        > "$OUT/clip_$scene.txt"
    "$PY" - "$OUT/clip_$scene.json" <<'EOF' | tee -a "$OUT/summary.txt"
import json
import sys

r = json.load(open(sys.argv[1]))
sf, tiny = r["simfactory"], r["tinyrenderer"]
frames = sf["frames"]
ours = frames / sf["seconds"]["total"]
theirs = tiny["frames"] / tiny["seconds"]["total"]
print(f"  simfactory {ours:.1f} frames/s, TinyRenderer {theirs:.1f} frames/s, "
      f"ratio {ours / theirs:.2f}x, {sf['bytes_per_frame'] / 1e6:.2f} MB/frame on disk")
for stage, seconds in sf["seconds"].items():
    print(f"  {stage:<8} {1000 * seconds / frames:8.1f} ms/frame")
EOF
done

for scene in $SCENES; do
    echo "== $scene: workers sharing one GPU, $CLIPS clips per point" | tee -a "$OUT/summary.txt"
    # The standard clip's overrides, as bench_clip.py builds it.
    mapfile -t overrides < <("$PY" - "$scene" <<'EOF'
import ast
import sys

# Read from the source: importing bench_clip loads pybullet, which prints to stdout.
tree = ast.parse(open("benchmarks/bench_clip.py").read())
node = next(n for n in tree.body if isinstance(n, ast.Assign)
            and getattr(n.targets[0], "id", "") == "STANDARD_SCENES")
for item in ast.literal_eval(node.value)[sys.argv[1]] + ["resolution=[640,360]", "frames=48"]:
    print(item)
EOF
)
    # shellcheck disable=SC2086
    "$PY" benchmarks/scaling.py --workers $WORKERS --clips "$CLIPS" \
        --json "$OUT/scaling_$scene.json" "${overrides[@]}" | tee -a "$OUT/summary.txt"
done
echo "results: $OUT"
