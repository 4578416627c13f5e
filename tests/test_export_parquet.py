"""The Parquet manifest, read with pyarrow, pandas and Hugging Face ``datasets`` and
compared with manifest.csv, the annotations and the label files."""

import json

import numpy as np
import pytest

from simfactory.sim.export import ExportError
from simfactory.sim.export.cli import main as export_main
from simfactory.sim.export.parquet import export_parquet
from simfactory.sim.write.dataset import read_manifest
from simfactory.sim.write.encodings import load_labels
from tests.conftest import tiny_config

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def randomized_dataset(tmp_path_factory):
    """Two tiny clips with a randomized scalar and a randomized list entry."""
    from simfactory.sim.run.cli import generate_dataset

    cfg = tiny_config(
        frames=4,
        **{
            "executor.workers": 0,
            "camera.fov_deg": "{dist:uniform,low:50,high:70}",
            "scene.room_size": "[4.0,{dist:uniform,low:5.0,high:7.0}]",
        },
    )
    out = tmp_path_factory.mktemp("randomized")
    assert generate_dataset(cfg, out, "simfactory (test)") == 0
    return out


def _same(value, text: str) -> bool:
    """A typed Parquet value against its manifest.csv cell."""
    if text == "":
        return value is None
    if isinstance(value, bool):
        return str(value) == text
    if isinstance(value, int | float):
        return value == float(text)
    return value == text


def test_parquet_manifest_agrees_with_manifest_and_labels(randomized_dataset, tmp_path):
    dataset = randomized_dataset
    assert export_main(["parquet", str(dataset)]) == 0
    path = dataset / "manifest.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    manifest = read_manifest(dataset)
    assert [r["clip_id"] for r in rows] == [m["clip_id"] for m in manifest]
    assert table.schema.field("frames").type == pa.int64()
    assert table.schema.field("camera.fov_deg").type == pa.float64()

    for row, cells in zip(rows, manifest, strict=True):
        clip = dataset / row["path"]
        ann = json.loads((clip / "annotations.json").read_text())
        sampled = ann["sampled"]
        assert row["sampled_keys"] == sorted(sampled) == ["camera.fov_deg", "scene.room_size.1"]
        for key, text in cells.items():
            if key in sampled:
                assert row[key] == sampled[key] == json.loads(text)
            else:
                assert _same(row[key], text), key
        assert 50 <= row["camera.fov_deg"] <= 70 and 5.0 <= row["scene.room_size.1"] <= 7.0
        assert row["camera_names"] == list(ann["cameras"]) == ["cam0"]
        assert row["caption"] == ann["captions"]["dense"]
        assert row["caption_short"] == ann["captions"]["short"]
        assert row["params.room.height"] == ann["params"]["room"]["height"]
        assert row["params.cfg.room_size"] == ann["params"]["cfg"]["room_size"]

        semantic = np.load(clip / "cam0" / "semantic.npz")["semantic"]
        seen_ids = set(np.unique(semantic).tolist())
        for cls in ann["classes"]:
            bodies = {o["body"] for o in ann["objects"] if o["class"] == cls["name"]}
            assert row[f"objects.{cls['name']}"] == len(bodies)
            seen = row[f"visible.{cls['name']}"]
            assert seen > 0 if bodies and cls["id"] in seen_ids else seen == 0
        records = [r for f in ann["cameras"]["cam0"]["frames"] for r in f["objects"]]
        in_view = [r["visibility"] for r in records if r["unoccluded_pixels"] > 0]
        assert row["mean_visibility"] == pytest.approx(np.mean(in_view))

        flow = load_labels(clip / "cam0" / "flow.npz")
        valid = flow["forward_valid"]
        lengths = np.linalg.norm(flow["forward"][valid].astype(np.float64), axis=-1)
        assert row["cam0.mean_flow_px"] == pytest.approx(lengths.mean(), rel=1e-9)
        speeds = [
            np.linalg.norm(o["linear_velocity"], axis=-1) for o in ann["objects"] if o["dynamic"]
        ]
        assert row["mean_object_speed"] == pytest.approx(np.mean(speeds), abs=1e-5)
        assert row["max_object_speed"] == pytest.approx(np.max(speeds), abs=1e-5)
        positions = np.array(ann["cameras"]["cam0"]["T_world_camera"])[:, :3, 3]
        steps = np.linalg.norm(np.diff(positions, axis=0), axis=-1) * ann["clip"]["fps"]
        assert row["cam0.camera_speed"] == pytest.approx(steps.mean())

        files = sorted(p for p in clip.rglob("*") if p.is_file())
        assert len(files) >= 9
        for file in files:
            name = file.relative_to(clip).as_posix()
            assert (dataset / row[f"file.{name}"]).samefile(file)
            assert row[f"bytes.{name}"] == file.stat().st_size
        assert row["bytes_total"] == sum(f.stat().st_size for f in files)

    frame = pd.read_parquet(path)
    assert frame["clip_id"].tolist() == [r["clip_id"] for r in rows]
    assert frame["objects"].tolist() == [int(m["objects"]) for m in manifest]
    assert frame["bytes.cam0/rgb.mp4"].sum() == sum(r["bytes.cam0/rgb.mp4"] for r in rows)

    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "hf"))
    assert hf.num_rows == len(rows)
    assert hf["clip_id"] == [r["clip_id"] for r in rows]
    assert hf["mean_visibility"] == [r["mean_visibility"] for r in rows]
    assert hf[0]["params.cfg.room_size"] == rows[0]["params.cfg.room_size"]

    with pytest.raises(ExportError, match="exists"):
        export_parquet(dataset)
    assert export_parquet(dataset, tmp_path / "again.parquet") == len(rows)
    assert pq.read_table(tmp_path / "again.parquet").equals(table)


def test_manifest_cells_typed_by_column_and_params_flattened(tmp_path):
    from simfactory.sim.export.parquet import _column, flatten_params, typed_manifest

    (tmp_path / "manifest.csv").write_text(
        "clip_id,index,count,ratio,ok,name,empty\n"
        "clip_000000,0,1,1.5,True,x,\n"
        "clip_000001,1,2,,False,3,\n"  # fmt: skip
    )
    rows = typed_manifest(tmp_path)
    assert rows["clip_000000"] == {
        "clip_id": "clip_000000", "index": 0, "count": 1, "ratio": 1.5, "ok": True, "name": "x",
        "empty": None,
    }  # fmt: skip
    assert rows["clip_000001"] == {
        "clip_id": "clip_000001", "index": 1, "count": 2, "ratio": None, "ok": False, "name": "3",
        "empty": None,
    }  # fmt: skip
    table = pa.table({"empty": _column(pa, [None, None]), "keys": _column(pa, [[], []])})
    assert table.schema.field("empty").type == pa.string()
    assert table.schema.field("keys").type == pa.list_(pa.string())
    assert _column(pa, [1, "a", None]).to_pylist() == ["1", '"a"', None]
    params = {"room": {"height": 2.5, "size": [4, 5], "openings": [{"wall": 0}]}, "theme": "x"}
    assert flatten_params(params) == {
        "params.room.height": 2.5, "params.room.size": [4, 5], "params.theme": "x"
    }  # fmt: skip


def test_a_clip_with_a_cloth_counts_it_and_its_speeds_are_the_rigid_parts(tmp_path):
    """A cloth is an object after the rigid parts, with no row in the trajectory's
    velocities: the manifest and the Parquet row count it, the speeds leave it out."""
    from simfactory.sim.run.cli import generate_dataset
    from simfactory.sim.run.config import load_config

    cfg = load_config(["scene=hoi", "scene.task=fold_cloth", "scene.actor=panda", "frames=4",
                       "num_clips=1", "resolution=[64,48]", "seed=3", "executor.workers=0",
                       "export.preview=false"])  # fmt: skip
    assert generate_dataset(cfg, tmp_path / "data", "simfactory (test)") == 0
    clip = tmp_path / "data" / "clips" / "clip_000000"
    annotations = json.loads((clip / "annotations.json").read_text())
    cloths = [o for o in annotations["objects"] if o.get("deformable")]
    assert len(cloths) == 1 and cloths[0]["dynamic"]
    assert export_parquet(tmp_path / "data") == 1
    row = pq.read_table(tmp_path / "data" / "manifest.parquet").to_pylist()[0]
    assert row["objects"] == len(annotations["objects"])
    rigid = [o["id"] - 1 for o in annotations["objects"]
             if o["dynamic"] and not o.get("deformable")]  # fmt: skip
    with np.load(clip / "trajectory.npz") as trajectory:
        speed = np.linalg.norm(trajectory["linear_velocity"][:, rigid], axis=-1)
    assert row["max_object_speed"] == pytest.approx(speed.max())
