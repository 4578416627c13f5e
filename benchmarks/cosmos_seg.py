"""Time the Cosmos-Transfer1 segmentation pickles of one chunk: the run-based encoder
(``seg_masks``) against encoding every id's full mask with pycocotools.

    python benchmarks/cosmos_seg.py --frames 93 --objects 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pycocotools import mask as mask_utils

from simfactory.sim.export.cosmos import seg_masks


def chunk_ids(frames: int, objects: int, width: int = 1280, height: int = 704) -> np.ndarray:
    """Instance frames with ``objects`` boxes drifting right one pixel per frame."""
    rng = np.random.default_rng(0)
    ids = np.zeros((frames, height, width), np.uint16)
    for k in range(1, objects + 1):
        x, y = rng.integers(0, width - 200), rng.integers(0, height - 150)
        w, h = rng.integers(40, 200), rng.integers(40, 150)
        for t in range(frames):
            ids[t, y : y + h, x + t : x + t + w] = k
    return ids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=93)
    p.add_argument("--objects", type=int, default=30)
    args = p.parse_args()
    ids = chunk_ids(args.frames, args.objects)
    t0 = time.perf_counter()
    records = seg_masks(ids, {})
    t1 = time.perf_counter()
    full = [
        mask_utils.encode(np.asfortranarray((ids == k).reshape(-1, 1).astype(np.uint8)))
        for k in range(1, args.objects + 1)
    ]
    t2 = time.perf_counter()
    same = all(r["segmentation_mask_rle"]["data"] == f for r, f in zip(records, full, strict=True))
    print(f"{args.frames} frames 1280x704, {args.objects} objects: runs {t1 - t0:.2f} s, "
          f"full masks {t2 - t1:.2f} s, identical {same}")  # fmt: skip


if __name__ == "__main__":
    main()
