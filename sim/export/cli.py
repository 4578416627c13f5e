"""The ``simfactory-export`` command: convert a simfactory dataset to another layout.

    simfactory-export kitti data/driving data/driving_kitti --camera cam0 --lidar lidar
    simfactory-export parquet data/rooms                 # data/rooms/manifest.parquet
    simfactory-export webdataset data/rooms data/rooms_wds --max-shard-mb 1000
    simfactory-export coco data/rooms data/rooms_coco --every 2
    simfactory-export youtube-vis data/rooms data/rooms_ytvis
    simfactory-export cosmos data/rooms data/rooms_cosmos --chunk 93
    simfactory-export gallery data/rooms                  # data/rooms/gallery/index.html

Problems with the dataset (a missing folder, camera or LiDAR, a damaged clip) or a
non-empty output folder are reported before anything is written, with exit status 2.
An export that fails part way (exit status 1) leaves the output as it was.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
import zlib

from simfactory.sim.export import ExportError
from simfactory.sim.export.coco import GROUPS, IMAGE_FORMATS, export_coco, export_youtube_vis
from simfactory.sim.export.cosmos import export_cosmos
from simfactory.sim.export.gallery import export_gallery
from simfactory.sim.export.kitti import export_kitti
from simfactory.sim.export.parquet import export_parquet
from simfactory.sim.export.webdataset import export_webdataset


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simfactory-export", description="Convert a simfactory dataset to another layout."
    )
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    kitti = formats.add_parser(
        "kitti", help="KITTI 3D object layout (image_2, label_2, calib, velodyne)"
    )
    kitti.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
    kitti.add_argument("out", help="output folder (must be empty unless --overwrite)")
    kitti.add_argument("--camera", default="cam0", help="camera written as image_2")
    kitti.add_argument("--right-camera", default=None, help="stereo right camera (image_3)")
    kitti.add_argument("--lidar", default="lidar", help="LiDAR written as velodyne")
    kitti.add_argument(
        "--min-visible-pixels", type=int, default=25,
        help="objects with fewer visible pixels are written as DontCare",
    )  # fmt: skip
    kitti.add_argument(
        "--val-fraction", type=float, default=0.2,
        help="share of the clips in ImageSets/val.txt (split by clip)",
    )  # fmt: skip
    kitti.add_argument(
        "--test-fraction", type=float, default=0.0,
        help="share of the clips in ImageSets/test.txt, written under testing/ without labels",
    )  # fmt: skip
    kitti.add_argument("--split-seed", type=int, default=0, help="seed of the clip shuffle")
    kitti.add_argument("--overwrite", action="store_true", help="replace a previous export")

    parquet = formats.add_parser("parquet", help="one Parquet row per clip: manifest and stats")
    parquet.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
    parquet.add_argument("out", nargs="?", default=None, help="default DATASET/manifest.parquet")
    parquet.add_argument("--overwrite", action="store_true", help="replace an existing file")

    wds = formats.add_parser("webdataset", help="tar shards, one sample per clip")
    wds.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
    wds.add_argument("out", help="output folder (must be empty unless --overwrite)")
    wds.add_argument(
        "--max-shard-mb", type=float, default=1000.0,
        help="largest shard in MB (10^6 bytes); a clip larger alone gets a shard of its own",
    )  # fmt: skip
    wds.add_argument("--overwrite", action="store_true", help="replace a previous export")
    for name, help_text in (
        ("coco", "COCO instance segmentation, one image per frame (pycocotools RLE masks)"),
        ("youtube-vis", "YouTube-VIS video instance segmentation, one video per clip"),
    ):
        coco = formats.add_parser(name, help=help_text)
        coco.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
        coco.add_argument("out", help="output folder (must be empty unless --overwrite)")
        coco.add_argument(
            "--camera", default="cam0",
            help="camera whose frames are written; several as cam0,cam1, or all",
        )  # fmt: skip
        coco.add_argument("--every", type=int, default=1, help="keep every Nth frame")
        coco.add_argument(
            "--min-visible-pixels", type=int, default=1,
            help="objects with fewer visible pixels in a frame are not annotated there",
        )  # fmt: skip
        coco.add_argument("--image-format", choices=IMAGE_FORMATS, default="jpg")
        coco.add_argument(
            "--instances", choices=GROUPS, default="parts",
            help="one instance per rigid part, or per body (its parts of the base's class)",
        )  # fmt: skip
        coco.add_argument("--overwrite", action="store_true", help="replace a previous export")
    cosmos = formats.add_parser(
        "cosmos", help="Cosmos-Transfer bundle: RGB chunks, depth/seg/edge controls, specs"
    )
    cosmos.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
    cosmos.add_argument("out", help="output folder (must be empty unless --overwrite)")
    cosmos.add_argument(
        "--resolution", default="auto", choices=["auto", "1280x704", "704x1280"],
        help="resolution bucket; auto picks by the camera's aspect ratio",
    )  # fmt: skip
    cosmos.add_argument("--chunk", type=int, default=93, choices=[93, 121], help="chunk frames")
    cosmos.add_argument("--camera", default="cam0", help="camera to export")
    cosmos.add_argument(
        "--fit", default="crop", choices=["crop", "letterbox"],
        help="cover the bucket and crop, or fit inside it and pad with black",
    )  # fmt: skip
    cosmos.add_argument(
        "--short", default="pad", choices=["pad", "keep", "skip"],
        help="a clip shorter than a chunk: hold its last frame, write a shorter chunk "
        "(inference only), or leave it out (training bundles)",
    )  # fmt: skip
    cosmos.add_argument(
        "--paths", default="relative", choices=["relative", "absolute"],
        help="spec paths relative (Transfer2.5: to the spec's folder; Transfer1: to the "
        "output folder, its working folder) or absolute",
    )  # fmt: skip
    cosmos.add_argument(
        "--absolute-paths", dest="paths", action="store_const", const="absolute",
        help="the same as --paths absolute",
    )  # fmt: skip
    cosmos.add_argument("--overwrite", action="store_true", help="replace a previous export")

    gallery = formats.add_parser(
        "gallery", help="static HTML page of the clips with overlay videos, and contact sheets"
    )
    gallery.add_argument("dataset", help="simfactory dataset folder (holding clips/)")
    gallery.add_argument(
        "out", nargs="?", default=None, help="page to write (default DATASET/gallery/index.html)"
    )  # fmt: skip
    gallery.add_argument("--camera", default="cam0", help="camera to show")
    gallery.add_argument("--overwrite", action="store_true", help="replace a previous gallery")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.format == "kitti":
            count = export_kitti(
                args.dataset, args.out, camera=args.camera, right_camera=args.right_camera,
                lidar=args.lidar, min_visible_pixels=args.min_visible_pixels,
                val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                split_seed=args.split_seed, overwrite=args.overwrite,
            )  # fmt: skip
        elif args.format == "parquet":
            rows = export_parquet(args.dataset, args.out, overwrite=args.overwrite)
            out = args.out or f"{args.dataset}/manifest.parquet"
            print(f"wrote {rows} parquet rows to {out}")
            return 0
        elif args.format == "webdataset":
            shards = export_webdataset(
                args.dataset, args.out, max_shard_bytes=int(args.max_shard_mb * 1e6),
                overwrite=args.overwrite,
            )  # fmt: skip
            clips = sum(len(s.keys) for s in shards)
            print(f"wrote {clips} clips in {len(shards)} webdataset shards to {args.out}")
            return 0
        elif args.format in ("coco", "youtube-vis"):
            export = export_coco if args.format == "coco" else export_youtube_vis
            count = export(
                args.dataset, args.out, camera=args.camera, every=args.every,
                min_visible_pixels=args.min_visible_pixels, image_format=args.image_format,
                instances=args.instances, overwrite=args.overwrite,
            )  # fmt: skip
        elif args.format == "cosmos":
            count = export_cosmos(
                args.dataset, args.out, resolution=args.resolution, chunk=args.chunk,
                camera=args.camera, fit=args.fit, short=args.short, paths=args.paths,
                overwrite=args.overwrite,
            )  # fmt: skip
            print(f"wrote {count} cosmos chunks to {args.out}")
            return 0
        elif args.format == "gallery":
            page = export_gallery(
                args.dataset, args.out, camera=args.camera, overwrite=args.overwrite
            )
            print(f"gallery: {page}")
            return 0
    except ExportError as error:
        print(f"simfactory-export: error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        # Damage the clip check cannot see without reading every array (a corrupted
        # member inside an intact archive): the export stops and leaves nothing behind.
        print(
            f"simfactory-export: error: {type(error).__name__}: {error}; nothing was "
            "written (simfactory-validate DATASET finds the damaged clip)",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {count} {args.format} samples to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
