"""simfactory-validate: the tiny dataset passes; each injected corruption is reported by
kind, clip and frame, with exit status 1."""

import csv
import json
import shutil

import numpy as np
import pytest

from simfactory.sim.export.validate import main

CLIP = "clips/clip_000000"


def _delete_depth(root):
    (root / CLIP / "cam0" / "depth.npz").unlink()


def _truncate_video(root):
    path = root / CLIP / "cam0" / "rgb.mp4"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_npz(path, key, edit):
    with np.load(path) as data:
        arrays = dict(data)
    edit(arrays[key])
    np.savez_compressed(path, **arrays)


def _tamper_mask(root):
    def paint_corner(instance):
        frame = instance[2]
        ids, counts = np.unique(frame[frame != frame[0, 0]], return_counts=True)
        frame[0, 0] = ids[counts.argmin()]  # two objects' pixel counts change

    _edit_npz(root / CLIP / "cam0" / "instance.npz", "instance", paint_corner)


def _edit_annotations(root, edit):
    path = root / CLIP / "annotations.json"
    annotations = json.loads(path.read_text())
    edit(annotations)
    path.write_text(json.dumps(annotations))


def _tamper_box(root):
    def shift(annotations):
        record = annotations["cameras"]["cam0"]["frames"][3]["objects"][0]
        record["bbox_visible"] = [v + 1 for v in record["bbox_visible"]]

    _edit_annotations(root, shift)


def _tamper_box3d(root):
    def move(annotations):
        for record in annotations["cameras"]["cam0"]["frames"][1]["objects"]:
            record["box3d"]["center_camera"][0] += 5.0

    _edit_annotations(root, move)


def _tamper_semantic(root):
    _edit_npz(root / CLIP / "cam0" / "semantic.npz", "semantic",
              lambda s: s[4].__setitem__((slice(0, 3), slice(0, 3)), 37))  # fmt: skip


def _tamper_flow(root):
    _edit_npz(root / CLIP / "cam0" / "flow.npz", "forward_valid",
              lambda v: v[-1].__setitem__(..., True))  # fmt: skip


def _remove_clip(root):
    shutil.rmtree(root / "clips" / "clip_000001")


def _tamper_manifest(root):
    path = root / "manifest.csv"
    rows = list(csv.DictReader(path.open()))
    rows[0]["frames"] = "7"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# corruption, the kind, place and words of the problem reported, the other kinds allowed
CORRUPTIONS = {
    "deleted file": (_delete_depth, "missing-file", "clip_000000", "cam0/depth.npz", ()),
    "truncated mp4": (_truncate_video, "video", "clip_000000", "cam0/rgb.mp4", ()),
    "tampered mask": (
        _tamper_mask,
        "box",
        "clip_000000 frame 2",
        "mask has",
        ("semantic", "box3d", "depth"),
    ),
    "tampered box": (_tamper_box, "box", "clip_000000 frame 3", "mask has", ()),
    "moved 3D box": (_tamper_box3d, "box3d", "clip_000000 frame 1", "projection", ()),
    "tampered semantic": (_tamper_semantic, "semantic", "clip_000000 frame 4", "9 pixels", ()),
    "valid flow at the end": (_tamper_flow, "flow", "clip_000000 frame 5", "forward", ()),
    "missing clip folder": (_remove_clip, "missing-clip", "clip_000001", "manifest.csv", ()),
    "manifest row": (_tamper_manifest, "manifest", "clip_000000", "frames is '7'", ()),
}


def test_clean_dataset_passes(tiny_dataset, capsys):
    assert main([str(tiny_dataset[1])]) == 0
    out = capsys.readouterr().out
    assert "checked 2 clips" in out and "no problems" in out


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_is_reported(name, tiny_dataset, tmp_path, capsys):
    corrupt, kind, where, detail, others = CORRUPTIONS[name]
    root = tmp_path / "dataset"
    shutil.copytree(tiny_dataset[1], root)
    corrupt(root)
    assert main([str(root)]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(kind + " ")]
    assert any(where in line and detail in line for line in lines), out
    kinds = {line.split(":")[0].strip() for line in out.splitlines()[1:] if line[:2] == "  "}
    assert kind in kinds and kinds <= {kind, *others}, out


def test_unusable_argument_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(tmp_path)]) == 2
    assert "not a dataset" in capsys.readouterr().err


def test_lidar_points_are_checked(tiny_dataset, tmp_path, capsys):
    """A LiDAR added by hand to a clip: clean points pass, a wrong class and a lost frame
    are reported."""
    root = tmp_path / "dataset"
    shutil.copytree(tiny_dataset[1], root)
    annotations = json.loads((root / CLIP / "annotations.json").read_text())
    objects = annotations["objects"]
    counts = [3, 4, 2, 5, 1, 3]
    rng = np.random.default_rng(0)
    picked = rng.choice(len(objects), sum(counts))
    points = {
        "xyz": rng.normal(size=(sum(counts), 3)).astype(np.float32),
        "instance": np.array([objects[k]["id"] for k in picked], np.uint16),
        "semantic": np.array([objects[k]["class_id"] for k in picked], np.uint8),
        "offsets": np.concatenate([[0], np.cumsum(counts)]),
    }
    (root / CLIP / "lidar").mkdir()
    np.savez(root / CLIP / "lidar" / "points.npz", **points)
    _edit_annotations(root, lambda a: a["lidars"].update(lidar={"points_per_frame": counts}))
    assert main([str(root)]) == 0
    points["semantic"][counts[0] + counts[1]] += 1  # the first point of frame 2
    np.savez(root / CLIP / "lidar" / "points.npz", **points)
    assert main([str(root)]) == 1
    assert "clip_000000 frame 2" in capsys.readouterr().out
    np.savez(root / CLIP / "lidar" / "points.npz", **{**points, "offsets": points["offsets"][:-1]})
    assert main([str(root)]) == 1
    assert "lidar/points.npz: 5 frames, expected 6" in capsys.readouterr().out
