"""COCO and YouTube-VIS exports of the tiny dataset, read back with pycocotools and
compared with the clips' instance masks and annotations."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from simfactory.sim.export import dataset_clips, read_annotations, read_video
from simfactory.sim.export.cli import main
from simfactory.sim.export.coco import clip_instances, export_coco, frame_instances
from simfactory.sim.model.classes import class_table

# pycocotools' decode calls numpy's __array__ the pre-2.0 way.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _clips(dataset):
    """Per clip id: annotations, instance masks (F, H, W) and decoded frames (F, H, W, 3)."""
    out = {}
    for clip in dataset_clips(dataset):
        with np.load(clip / "cam0" / "instance.npz") as data:
            instance = data["instance"]
        rgb = np.stack(list(read_video(clip / "cam0" / "rgb.mp4")))
        out[clip.name] = (read_annotations(clip), instance, rgb)
    return out


def _xywh(box):
    x0, y0, x1, y1 = box
    return [x0, y0, x1 - x0, y1 - y0]


@pytest.fixture(scope="module")
def clips(tiny_dataset):
    return _clips(tiny_dataset[1])


@pytest.fixture(scope="module")
def coco(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("coco")
    count = export_coco(tiny_dataset[1], out, image_format="png")
    return out, count


def test_coco_round_trip(coco, clips):
    out, count = coco
    api = COCO(str(out / "annotations" / "instances.json"))
    assert count == len(api.imgs) == sum(len(inst) for _, inst, _ in clips.values())
    table = class_table()
    assert {c["id"]: c["name"] for c in api.loadCats(api.getCatIds())} == dict(
        enumerate(table.names[1:], start=1)
    )
    seen = 0
    for image in api.loadImgs(api.getImgIds()):
        annotations, instance, rgb = clips[image["clip_id"]]
        f = image["frame"]
        assert image["file_name"] == f"{image['clip_id']}/{f:06d}.png"
        np.testing.assert_array_equal(iio.imread(out / "images" / image["file_name"]), rgb[f])
        objects = {o["id"]: o for o in annotations["objects"]}
        records = {r["id"]: r for r in annotations["cameras"]["cam0"]["frames"][f]["objects"]}
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        ids = sorted(int(i) for i in np.unique(instance[f]) if i)
        assert sorted(a["object_ids"][0] for a in anns) == ids
        for ann in anns:
            assert len(ann["object_ids"]) == 1
            i = ann["object_ids"][0]
            assert ann["object_name"] == objects[i]["name"]
            np.testing.assert_array_equal(api.annToMask(ann), instance[f] == i)
            assert ann["area"] == records[i]["visible_pixels"]
            assert ann["bbox"] == _xywh(records[i]["bbox_visible"])
            assert ann["category_id"] == objects[i]["class_id"]
            assert api.loadCats(ann["category_id"])[0]["name"] == objects[i]["class"]
            assert ann["iscrowd"] == 0
        seen += len(anns)
    assert seen == len(api.anns) > 20


def test_coco_every_and_pixel_threshold(tiny_dataset, clips, tmp_path):
    out = tmp_path / "coco"
    assert main(["coco", str(tiny_dataset[1]), str(out), "--every", "2",
                 "--min-visible-pixels", "40"]) == 0  # fmt: skip
    content = json.loads((out / "annotations" / "instances.json").read_text())
    assert [(i["clip_id"], i["frame"]) for i in content["images"]] == [
        (clip, f) for clip in sorted(clips) for f in (0, 2, 4)
    ]
    for image in content["images"]:
        assert iio.imread(out / "images" / image["file_name"]).shape == (48, 64, 3)
    by_image = {i["id"]: (i["clip_id"], i["frame"]) for i in content["images"]}
    got = {(*by_image[a["image_id"]], *a["object_ids"]) for a in content["annotations"]}
    expected, dropped = set(), 0
    for clip, (_, instance, _) in clips.items():
        for f in (0, 2, 4):
            ids, counts = np.unique(instance[f], return_counts=True)
            kept = ids[(ids > 0) & (counts >= 40)]
            expected |= {(clip, f, int(i)) for i in kept}
            dropped += int(((ids > 0) & (counts < 40)).sum())
    assert got == expected and dropped > 0


def test_youtube_vis_tracks_decode_to_the_masks(tiny_dataset, clips, tmp_path):
    out = tmp_path / "ytvis"
    assert main(["youtube-vis", str(tiny_dataset[1]), str(out)]) == 0
    content = json.loads((out / "instances.json").read_text())
    videos = {v["id"]: v for v in content["videos"]}
    assert [v["clip_id"] for v in videos.values()] == sorted(clips)
    categories = {c["id"]: c["name"] for c in content["categories"]}
    tracks = 0
    for video in videos.values():
        annotations, instance, _ = clips[video["clip_id"]]
        frames = len(instance)
        assert video["length"] == len(video["file_names"]) == frames
        assert (video["width"], video["height"]) == (64, 48)
        for name in video["file_names"]:
            assert iio.imread(out / "JPEGImages" / name).shape == (48, 64, 3)
        objects = {o["id"]: o for o in annotations["objects"]}
        track_ids = []
        for track in content["annotations"]:
            if track["video_id"] != video["id"]:
                continue
            (i,) = track["object_ids"]
            track_ids.append(i)
            assert categories[track["category_id"]] == objects[i]["class"]
            cam_frames = annotations["cameras"]["cam0"]["frames"]
            for f, rle in enumerate(track["segmentations"]):
                mask = instance[f] == i
                if not mask.any():
                    assert rle is None and track["areas"][f] is None
                    assert track["bboxes"][f] is None
                    continue
                np.testing.assert_array_equal(mask_utils.decode(rle), mask)
                record = next(r for r in cam_frames[f]["objects"] if r["id"] == i)
                assert track["areas"][f] == record["visible_pixels"]
                assert track["bboxes"][f] == _xywh(record["bbox_visible"])
        assert sorted(track_ids) == sorted(int(i) for i in np.unique(instance) if i)
        tracks += len(track_ids)
    assert tracks == len(content["annotations"]) > 10


def test_cli_errors_exit_2_without_writing(tiny_dataset, tmp_path, capsys):
    dataset = str(tiny_dataset[1])
    out = tmp_path / "out"
    assert main(["coco", dataset, str(out), "--camera", "cam9"]) == 2
    assert "no camera 'cam9'" in capsys.readouterr().err
    assert main(["youtube-vis", dataset, str(out), "--every", "0"]) == 2
    assert "--every" in capsys.readouterr().err
    assert not out.exists()
    assert main(["coco", str(tmp_path / "nothing"), str(out)]) == 2
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["coco", dataset, str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


def _part(id_, body, link, cls, class_id):
    name = body if link is None else f"{body}/{link}"
    return {"id": id_, "name": name, "body": body, "link": link, "class": cls,
            "class_id": class_id}  # fmt: skip


def test_bodies_unite_the_parts_of_the_base_class():
    objects = [
        _part(1, "floor", None, "floor", 2),
        _part(2, "cabinet_0", None, "cabinet", 12),
        _part(3, "cabinet_0", "drawer_0", "drawer", 13),
        _part(4, "walker", None, "person", 31),
        _part(5, "walker", "chest", "person", 31),
        _part(6, "walker", "head", "person", 31),
    ]
    groups = clip_instances(objects, "bodies")
    assert [(g.ids, g.name, g.class_id) for g in groups] == [
        ((1,), "floor", 2), ((2,), "cabinet_0", 12), ((3,), "cabinet_0/drawer_0", 13),
        ((4, 5, 6), "walker", 31),
    ]  # fmt: skip
    assert [g.ids for g in clip_instances(objects, "parts")] == [(i,) for i in range(1, 7)]
    instance = np.zeros((6, 8), np.uint16)
    instance[0, 0] = 3
    instance[1:3, 2:4] = 5
    instance[4, 6] = 6  # the walker: 5 pixels in columns 2..6, rows 1..4
    seen = frame_instances(instance, groups, min_visible_pixels=2)
    assert [s["instance"].name for s in seen] == ["walker"]  # the 1-pixel drawer is left out
    walker = seen[0]
    assert walker["area"] == 5 and walker["bbox"] == [2.0, 1.0, 5.0, 4.0]
    np.testing.assert_array_equal(
        mask_utils.decode(walker["segmentation"]), np.isin(instance, [4, 5, 6])
    )


def test_coco_bodies_masks_are_the_union_of_their_parts(tiny_dataset, clips, tmp_path):
    out = tmp_path / "coco"
    assert main(["coco", str(tiny_dataset[1]), str(out), "--instances", "bodies"]) == 0
    api = COCO(str(out / "annotations" / "instances.json"))
    for image in api.loadImgs(api.getImgIds()):
        annotations, instance, _ = clips[image["clip_id"]]
        bodies = {o["id"]: o["body"] for o in annotations["objects"]}
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        covered = [i for a in anns for i in a["object_ids"]]
        assert len(covered) == len(set(covered))
        assert set(covered) >= {int(i) for i in np.unique(instance[image["frame"]]) if i}
        for ann in anns:
            mask = np.isin(instance[image["frame"]], ann["object_ids"])
            np.testing.assert_array_equal(api.annToMask(ann), mask)
            assert ann["area"] == mask.sum()
            assert len({bodies[i] for i in ann["object_ids"]}) == 1


@pytest.fixture(scope="module")
def stereo_dataset(tmp_path_factory):
    """A one-clip driving dataset with the stereo rig (cameras cam0 and cam1)."""
    from simfactory.sim.run.cli import generate_dataset
    from simfactory.sim.run.config import load_config

    cfg = load_config(
        ["scene=driving", "num_clips=1", "frames=3", "resolution=[64,48]", "seed=3",
         "camera.rig=stereo", "scene.lidar=null", "scene.num_pedestrians=2",
         "executor.workers=0"]
    )  # fmt: skip
    out = tmp_path_factory.mktemp("stereo")
    assert generate_dataset(cfg, out, "test") == 0
    return out


def test_several_cameras_each_get_their_own_images_and_masks(stereo_dataset, tmp_path):
    (clip,) = dataset_clips(stereo_dataset)
    out = tmp_path / "coco"
    assert main(["coco", str(stereo_dataset), str(out), "--camera", "all"]) == 0
    api = COCO(str(out / "annotations" / "instances.json"))
    images = api.loadImgs(api.getImgIds())
    assert sorted((i["camera"], i["frame"]) for i in images) == [
        (c, f) for c in ("cam0", "cam1") for f in range(3)
    ]
    masks = {}
    for cam in ("cam0", "cam1"):
        with np.load(clip / cam / "instance.npz") as data:
            masks[cam] = data["instance"]
    assert not np.array_equal(masks["cam0"], masks["cam1"])  # the right camera sees elsewhere
    for image in images:
        assert image["file_name"] == f"{clip.name}/{image['camera']}/{image['frame']:06d}.jpg"
        assert (out / "images" / image["file_name"]).exists()
        instance = masks[image["camera"]][image["frame"]]
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        assert sorted(a["object_ids"][0] for a in anns) == sorted(
            int(i) for i in np.unique(instance) if i
        )
        for ann in anns:
            np.testing.assert_array_equal(api.annToMask(ann), instance == ann["object_ids"][0])

    ytvis = tmp_path / "ytvis"
    assert main(["youtube-vis", str(stereo_dataset), str(ytvis), "--camera", "cam1,cam0"]) == 0
    videos = json.loads((ytvis / "instances.json").read_text())["videos"]
    assert [(v["clip_id"], v["camera"]) for v in videos] == [
        (clip.name, "cam1"),
        (clip.name, "cam0"),
    ]
    for video in videos:
        assert all(n.startswith(f"{clip.name}/{video['camera']}/") for n in video["file_names"])
    assert main(["coco", str(stereo_dataset), str(tmp_path / "x"), "--camera", "cam0,cam0"]) == 2
