"""Export a dataset as WebDataset shards: size-bounded tar files, one sample per clip.

    OUT/shard-000000.tar  shard-000001.tar ...

A sample's key is the clip id, and its members are the clip's files named
``<clip id>.<field>``, where the field is the file's path in the clip folder with
``/`` written as ``.``::

    clip_000000.annotations.json   clip_000000.cam0.depth.npz   clip_000000.cam0.rgb.mp4
    clip_000000.trajectory.npz     clip_000000.cam0.flow.npz    clip_000000.lidar.points.npz
    ...

so ``webdataset.WebDataset(urls).decode()`` gives the annotations as a dict and each
``.npz`` as its arrays, and ``sample["cam0.rgb.mp4"]`` the video's bytes. Every file
of the clip is a member except ``preview.png``.

Shards are filled in clip order, and a clip goes to a new shard when the current one
would grow past ``max_shard_bytes`` (the shard file's size, tar headers, padding and
end blocks included); a clip larger than the bound on its own gets a shard of its own.
The same dataset gives byte-identical shards: members are in name order and stored
with mtime 0, mode 0444 and no owner (USTAR format). The files are written with the
standard library's ``tarfile`` in the layout of ``webdataset.TarWriter``, streaming
each file from disk: ``ShardWriter`` checks its bound only before each sample and
counts payload bytes alone, so its shards can exceed ``maxsize``, and it takes each
sample whole in memory (a 720p clip's flow alone is about 1 GB).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from simfactory.sim.export import (
    ExportError,
    commit_output,
    dataset_clips,
    prepare_output,
    staged,
)

SKIPPED = {"preview.png"}
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE


@dataclass
class Shard:
    """One written shard: its file, the clip ids it holds and its size in bytes."""

    path: Path
    keys: list[str] = field(default_factory=list)
    size: int = 0


def sample_members(clip_dir: Path) -> list[tuple[str, Path]]:
    """(member name, file) of a clip's sample, in name order."""
    members = []
    for path in clip_dir.rglob("*"):
        name = path.relative_to(clip_dir).as_posix()
        if path.is_file() and name not in SKIPPED:
            members.append((f"{clip_dir.name}.{name.replace('/', '.')}", path))
    for name, _ in members:
        if len(name.encode()) > 100:
            raise ExportError(f"member name {name!r} is longer than tar's 100 bytes")
    return sorted(members)


def members_bytes(sizes: list[int]) -> int:
    """Bytes that members of these sizes take in a tar: a header block each, and their
    data padded to whole blocks."""
    return sum(BLOCK + -(-size // BLOCK) * BLOCK for size in sizes)


def tar_file_bytes(members: int) -> int:
    """Size of a tar file holding ``members`` bytes of members: two zero end blocks,
    then padding to a whole record, as ``tarfile`` writes it."""
    return -(-(members + 2 * BLOCK) // RECORD) * RECORD


def plan_shards(sample_bytes: list[int], max_shard_bytes: int) -> list[list[int]]:
    """Group samples (by index, in order) into shards of at most ``max_shard_bytes``
    (file size); a sample too large on its own gets a shard of its own."""
    shards: list[list[int]] = []
    current = 0
    for i, size in enumerate(sample_bytes):
        if shards and tar_file_bytes(current + size) <= max_shard_bytes:
            shards[-1].append(i)
            current += size
        else:
            shards.append([i])
            current = size
    return shards


def _add(tar: tarfile.TarFile, name: str, path: Path, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o444
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


@staged
def export_webdataset(
    dataset_dir: str | Path,
    out_dir: str | Path,
    max_shard_bytes: int = 1_000_000_000,
    overwrite: bool = False,
) -> list[Shard]:
    """Write the dataset's clips as WebDataset shards ``OUT/shard-NNNNNN.tar``; returns
    the shards written."""
    if max_shard_bytes <= 0:
        raise ExportError(f"max shard size must be positive, got {max_shard_bytes} bytes")
    clips = dataset_clips(dataset_dir)
    samples = [sample_members(clip) for clip in clips]
    sizes = [[path.stat().st_size for _, path in members] for members in samples]
    sample_bytes = [members_bytes(s) for s in sizes]
    out_dir = Path(out_dir)
    previous = [p.name for p in out_dir.glob("shard-*.tar")] if out_dir.is_dir() else []
    out = prepare_output(out_dir, overwrite, previous)
    shards = []
    for n, indices in enumerate(plan_shards(sample_bytes, max_shard_bytes)):
        shard = Shard(out / f"shard-{n:06d}.tar")
        with tarfile.open(shard.path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in indices:
                for (name, path), size in zip(samples[i], sizes[i], strict=True):
                    _add(tar, name, path, size)
                shard.keys.append(clips[i].name)
        shard.size = shard.path.stat().st_size
        shards.append(shard)
    final = commit_output(out)
    for shard in shards:
        shard.path = final / shard.path.name
    return shards
