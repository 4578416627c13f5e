"""The Cosmos-Transfer bundle, read back with PyAV and compared with the dataset's labels."""

import json
import pickle
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from scipy import ndimage

from simfactory.sim.export import ExportError, dataset_clips, read_annotations
from simfactory.sim.export.cli import main, parser
from simfactory.sim.export.cosmos import (
    choose_resolution,
    chunk_frames,
    clip_caption,
    decode_seg_masks,
    edge_control,
    export_cosmos,
    fit_box,
    fit_frames,
    seg_masks,
    seg_palette,
    transfer1_spec,
    transfer2_spec,
)
from simfactory.sim.run.config import load_config
from simfactory.sim.write.encodings import load_labels


def decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def interior(ids: np.ndarray, radius: int = 3) -> np.ndarray:
    """Pixels whose neighbourhood holds one id (away from edges H.264 blurs)."""
    size = 2 * radius + 1
    same = ndimage.maximum_filter(ids, size) == ndimage.minimum_filter(ids, size)
    return same


@pytest.fixture(scope="module")
def bundle(tiny_dataset, tmp_path_factory):
    _, dataset = tiny_dataset
    out = tmp_path_factory.mktemp("cosmos")
    count = export_cosmos(dataset, out, chunk=4, overwrite=True)
    return dataset, out, count


def test_chunk_frames_cover_the_clip():
    chunks = chunk_frames(200, 93)
    assert [c[0] for c in chunks] == [0, 93, 107]
    assert all(len(c) == 93 for c in chunks)
    assert set(np.concatenate(chunks)) == set(range(200))
    assert [len(c) for c in chunk_frames(186, 93)] == [93, 93]
    padded = chunk_frames(6, 93, "pad")[0]
    assert len(padded) == 93 and list(padded[:6]) == list(range(6)) and set(padded[5:]) == {5}
    assert list(chunk_frames(6, 93, "keep")[0]) == list(range(6))
    assert chunk_frames(6, 93, "skip") == [] and len(chunk_frames(93, 93, "skip")) == 1


def test_resolution_buckets():
    assert choose_resolution(1920, 1080) == (1280, 704)
    assert choose_resolution(48, 64) == (704, 1280)
    assert choose_resolution(64, 48, "704x1280") == (704, 1280)
    with pytest.raises(ExportError, match="resolution"):
        choose_resolution(64, 48, "640x480")


def test_controls_are_frame_aligned_and_specs_point_at_them(bundle):
    dataset, out, count = bundle
    specs = sorted((out / "specs").glob("*.json"))
    assert count == len(specs) == 4  # two 6-frame clips in chunks of 4: 0-3 and 2-5
    covered: dict[str, set] = {}
    for spec_path in specs:
        spec = json.loads(spec_path.read_text())
        name = spec["name"]
        source = json.loads((out / "chunks" / f"{name}.json").read_text())
        covered.setdefault(source["clip"], set()).update(source["source_frames"])
        here = out / "specs"  # Transfer2.5 resolves a spec's paths from its folder
        assert spec["video_path"] == f"../videos/{name}.mp4"
        rgb = decode(here / spec["video_path"])
        assert rgb.shape == (4, 704, 1280, 3)
        assert len(source["source_frames"]) == 4
        for modality in ("depth", "seg", "edge"):
            control = here / spec[modality]["control_path"]
            assert control.exists() and control.parent.name == modality
            assert decode(control).shape == rgb.shape
            assert 0 < spec[modality]["control_weight"] <= 1
        caption = (here / spec["prompt_path"]).read_text().strip()
        assert caption and json.loads((out / "captions" / f"{name}.json").read_text()) == {
            "caption": caption
        }
        spec1 = json.loads((out / "specs_transfer1" / f"{name}.json").read_text())
        assert spec1["prompt"] == caption
        assert spec1["input_video_path"] == f"videos/{name}.mp4"  # from its working folder
        assert (out / spec1["input_video_path"]).exists()
        assert all((out / spec1[m]["input_control"]).exists() for m in ("depth", "seg", "edge"))
        # 64x48 frames enlarged 20 times have gradients too weak for Canny at 100/200:
        # the clients find no edges in them either (the presets render at 1280x704).
        assert decode(out / "edge" / f"{name}.mp4").shape == rgb.shape
    for clip in dataset_clips(dataset):
        frames = read_annotations(clip)["clip"]["num_frames"]
        assert covered[clip.name] == set(range(frames))


def test_depth_brightness_orders_like_depth(bundle):
    dataset, out, _ = bundle
    source = json.loads((out / "chunks" / "clip_000000_000.json").read_text())
    frames = source["source_frames"]
    clip = dataset / "clips" / "clip_000000" / "cam0"
    depth = fit_frames(load_labels(clip / "depth.npz")["depth"][frames], (1280, 704), "crop", True)
    ids = fit_frames(np.load(clip / "instance.npz")["instance"][frames], (1280, 704), "crop", True)
    grey = decode(out / "depth" / "clip_000000_000.mp4")[..., 0].astype(float)
    keep = np.stack([interior(i, 6) for i in ids])
    hit = keep & (depth > 0)
    assert hit.sum() > 10000
    if (keep & (depth == 0)).any():
        assert np.median(grey[keep & (depth == 0)]) < 8  # no surface is black
    rng = np.random.default_rng(0)
    a, b = rng.choice(np.flatnonzero(hit), size=(2, 4000))
    d, g = depth.ravel(), grey.ravel()
    apart = np.abs(1 / d[a] - 1 / d[b]) > 0.05 * (1 / source["depth_near"])
    agree = np.sign(d[b[apart]] - d[a[apart]]) == np.sign(g[a[apart]] - g[b[apart]])
    assert apart.sum() > 500 and agree.mean() > 0.98  # nearer is brighter
    near, far = source["depth_near"], source["depth_far"]
    expected = 1 + 254 * (1 / depth[hit] - 1 / far) / (1 / near - 1 / far)
    assert np.abs(grey[hit] - expected).mean() < 3  # the documented scale


def test_seg_colours_map_back_to_instance_ids(bundle):
    dataset, out, _ = bundle
    tables = {}
    for name in ("clip_000000_000", "clip_000001_001"):
        source = json.loads((out / "chunks" / f"{name}.json").read_text())
        clip = dataset / "clips" / source["clip"] / "cam0"
        ids = fit_frames(
            np.load(clip / "instance.npz")["instance"][source["source_frames"]],
            (1280, 704), "crop", True,
        )  # fmt: skip
        table = {int(k): v["color"] for k, v in source["seg_colors"].items()}
        assert set(np.unique(ids).tolist()) <= set(table)  # the clip's ids
        tables.update(table)
        colours = np.array(list(table.values()), dtype=float)
        seg = decode(out / "seg" / f"{name}.mp4")[:, ::3, ::3].astype(float)
        ids = ids[:, ::3, ::3]
        keep = np.stack([interior(i, 1) for i in ids])
        nearest = np.argmin(((seg[keep][:, None, :] - colours[None]) ** 2).sum(-1), axis=1)
        decoded = np.array(list(table))[nearest]
        assert (decoded == ids[keep]).mean() > 0.99
    for k, colour in tables.items():  # one colour per id in every clip
        assert colour == seg_palette()[k].tolist()
    assert tables[0] == [0, 0, 0]


def test_caption_is_the_clips_dense_caption(bundle):
    dataset, out, _ = bundle
    annotations = read_annotations(dataset / "clips" / "clip_000001")
    dense = annotations["captions"]["dense"]
    assert clip_caption(annotations) == dense
    assert (out / "metas" / "clip_000001_000.txt").read_text() == dense + "\n"
    old = {k: v for k, v in annotations.items() if k != "captions"}  # a dataset made before
    assert clip_caption(old) == dense


def test_cli_writes_a_portrait_letterboxed_short_chunk(tiny_dataset, tmp_path):
    _, dataset = tiny_dataset
    out = tmp_path / "cosmos"
    args = ["cosmos", str(dataset), str(out), "--resolution", "704x1280", "--fit", "letterbox"]
    assert main([*args, "--chunk", "93", "--short", "keep"]) == 0
    source = json.loads((out / "chunks" / "clip_000000_000.json").read_text())
    assert source["padded"] == 0 and source["width"] == 704 and source["height"] == 1280
    rgb = decode(out / "videos" / "clip_000000_000.mp4")
    assert rgb.shape == (6, 1280, 704, 3)
    x, y = source["offset"]
    assert x == 0 and y > 0 and rgb[:, : y - 2].max() < 20  # letterbox bars are black
    assert decode(out / "seg" / "clip_000000_000.mp4").shape == rgb.shape
    assert main(args) == 2  # output not empty
    with pytest.raises(ExportError, match="camera"):
        export_cosmos(dataset, tmp_path / "other", camera="cam9")


def test_a_short_clip_is_padded_by_holding_its_last_frame(tiny_dataset, tmp_path):
    _, dataset = tiny_dataset
    assert export_cosmos(dataset, tmp_path, chunk=9) == 2  # 6-frame clips
    source = json.loads((tmp_path / "chunks" / "clip_000001_000.json").read_text())
    assert source["source_frames"] == [0, 1, 2, 3, 4, 5, 5, 5, 5] and source["padded"] == 3
    for folder in ("videos", "depth", "seg", "edge"):
        frames = decode(tmp_path / folder / "clip_000001_000.mp4")
        assert len(frames) == 9
        assert np.abs(frames[-1].astype(int) - frames[5]).mean() < 2  # held


def test_transfer1_seg_pickles_round_trip_to_our_masks(bundle):
    dataset, out, _ = bundle
    for name in ("clip_000000_000", "clip_000001_001"):
        source = json.loads((out / "chunks" / f"{name}.json").read_text())
        clip = dataset / "clips" / source["clip"] / "cam0"
        ids = fit_frames(
            np.load(clip / "instance.npz")["instance"][source["source_frames"]],
            (1280, 704), "crop", True,
        )  # fmt: skip
        with open(out / "seg" / f"{name}.pickle", "rb") as fh:
            records = pickle.load(fh)
        present = [k for k in np.unique(ids) if k != 0]
        assert len(records) == len(present) > 3
        masks = decode_seg_masks(records)
        assert masks.shape == (len(present), 4, 704, 1280)
        classes = {str(k): v["class"] for k, v in source["seg_colors"].items()}
        for k, record, mask in zip(present, records, masks, strict=True):
            assert np.array_equal(mask, ids == k)  # exact, pixel for pixel
            assert record["phrase"] == classes[str(k)].replace("_", " ")
            assert record["segmentation_mask_rle"]["mask_shape"] == (4, 704, 1280)
            assert isinstance(record["segmentation_mask_rle"]["data"]["counts"], bytes)
        assert not (masks.sum(axis=0) > 1).any()  # one object per pixel


def test_seg_rle_is_the_sam2_encoding_byte_for_byte():
    """The run-based encoder writes what pycocotools writes for the (T*H*W, 1) column."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(1)
    for _ in range(50):
        ids = (rng.integers(0, 4, (3, 4, 5)) * (rng.random((3, 4, 5)) < 0.7)).astype(np.uint16)
        present = [k for k in np.unique(ids) if k]
        records = seg_masks(ids, {1: "cup"})
        assert len(records) == len(present)
        for k, record in zip(present, records, strict=True):
            column = np.asfortranarray((ids == k).reshape(-1, 1).astype(np.uint8))
            assert record["segmentation_mask_rle"]["data"] == mask_utils.encode(column)
            assert record["phrase"] == ("cup" if k == 1 else "object")


def test_edges_are_the_clients_canny_on_colour(bundle):
    """Canny on colour at 100/200: a red-green boundary of equal grey is an edge."""
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:, :48] = (200, 0, 0)
    frame[:, 48:] = (0, 102, 0)  # about the red's luminance
    frame[20:40, 60:80] = 255  # a white square: an edge in grey and in colour
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    assert abs(int(grey[0, 0]) - int(grey[0, 95])) < 3
    edges = edge_control(frame[None])[0]
    assert edges.shape == frame.shape and set(np.unique(edges)) == {0, 255}
    assert np.array_equal(edges[..., 0], cv2.Canny(frame, 100, 200))
    assert edges[:, 46:50, 0].any() and not cv2.Canny(grey, 100, 200)[:, 46:50].any()
    assert edges[19:41, 58:62, 0].any()
    _, out, _ = bundle
    assert json.loads((out / "chunks" / "clip_000000_000.json").read_text())["edge"] == (
        "canny_rgb_100_200"
    )


def test_absolute_paths_on_request(bundle, tmp_path):
    _, out, _ = bundle
    args = parser().parse_args(["cosmos", "data", str(tmp_path / "x"), "--absolute-paths"])
    assert args.paths == "absolute"
    root = out.resolve()
    weights = {"depth": 0.5, "seg": 0.5, "edge": 1.0}
    spec = transfer2_spec("clip_000000_000", weights, root)
    spec1 = transfer1_spec("clip_000000_000", "a caption", weights, root)
    paths = [spec["video_path"], spec["prompt_path"], spec["seg"]["control_path"]]
    paths += [spec1["input_video_path"], spec1["edge"]["input_control"]]
    for path in paths:
        assert Path(path).is_absolute() and Path(path).exists()
    assert transfer2_spec("clip_000000_000", weights, "..") == json.loads(
        (out / "specs" / "clip_000000_000.json").read_text()
    )


@pytest.mark.parametrize(("preset", "chunk", "fps"), [("cosmos_transfer2", 93, 16),
                                                      ("cosmos_transfer1", 121, 24)])  # fmt: skip
def test_presets_fit_the_chunking_without_padding(preset, chunk, fps):
    cfg = load_config([f"preset={preset}", "output_dir=unused"])
    assert cfg["fps"] == fps and cfg["frames"] == chunk
    width, height = cfg["resolution"]
    assert choose_resolution(width, height) == (width, height) == (1280, 704)
    assert fit_box((width, height), (width, height), "crop") == ((width, height), (0, 0))
    (frames,) = chunk_frames(cfg["frames"], chunk)
    assert list(frames) == list(range(chunk))  # one whole chunk, no frame held
    longer = load_config([f"preset={preset}", f"frames={3 * chunk}", "output_dir=unused"])
    chunks = chunk_frames(longer["frames"], chunk)
    assert len(chunks) == 3 and len(np.unique(np.concatenate(chunks))) == 3 * chunk
