"""The seed tree: one independent random stream per (dataset seed, clip, purpose).

Each stream's seed depends only on the dataset seed, the clip index, the stream
name and the retry attempt, so adding a stream or widening one parameter's range
never moves values drawn from another stream.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = (
    "layout",
    "appearance",
    "behaviour",
    "camera",
    "lighting",
    "clutter",
    "traffic",
    "pedestrians",
)


def stream_key(name: str) -> int:
    """A stable 32-bit integer for a stream name (crc32, identical across runs)."""
    return zlib.crc32(name.encode())


def clip_rng(dataset_seed: int, clip_index: int, stream: str, attempt: int = 0, variant: int = 0):
    """The generator of one named stream of one clip (of one appearance ``variant`` of
    a rollout). Seed 0 is a seed like any other."""
    key = (int(clip_index), stream_key(stream), int(attempt))
    if variant:
        key += (int(variant),)
    seq = np.random.SeedSequence(entropy=int(dataset_seed), spawn_key=key)
    return np.random.default_rng(seq)


def clip_streams(dataset_seed: int, clip_index: int, attempt: int = 0, variant: int = 0) -> dict:
    """All named streams of one clip as ``{name: numpy Generator}``."""
    return {name: clip_rng(dataset_seed, clip_index, name, attempt, variant) for name in STREAMS}


def clip_seed(dataset_seed: int, clip_index: int) -> int:
    """A single integer that identifies the clip's seed tree (recorded in the manifest)."""
    seq = np.random.SeedSequence(entropy=int(dataset_seed), spawn_key=(int(clip_index),))
    return int(seq.generate_state(1, dtype=np.uint32)[0])
