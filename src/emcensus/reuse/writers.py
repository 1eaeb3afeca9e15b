"""The three layouts of a reuse export, from images already staged as clean TIFFs.

* `folder`: `data/<split>/<image_id>.tif` + `data/<split>/metadata.parquet` (Hugging Face
  `imagefolder`), and `metadata.parquet` pointing at the files;
* `webdataset`: `shards/<split>-NNNNNN.tar` of `<image_id>.tif` + `<image_id>.json`, about
  `shard_bytes` each (streamed training on large sets);
* `parquet`: `metadata.parquet` with the image bytes inside (one file to hand over).

Every layout writes `metadata.parquet` with the `datasets` features in its schema metadata, so its
`image` column loads as an Image feature.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from emcensus.reuse.splits import SPLIT_NAMES

FORMATS = ("folder", "webdataset", "parquet")
#: Shards of about this size: what streaming loaders are tuned for.
SHARD_BYTES = 1 << 30
#: Rows, and image bytes, held before metadata.parquet writes them out (bounded memory with images inside).
_BATCH_ROWS = 256
_BATCH_BYTES = 256 << 20

#: metadata.parquet's columns and their `datasets` value types, in order (`image` is added per layout).
COLUMN_TYPES: dict[str, str] = {
    "image_id": "string", "source_sha256": "string", "file_name": "string", "split": "string",
    "component_id": "int64", "group_pseudo": "string", "project_pseudo": "string", "session_pseudo": "string",
    "operator_pseudo": "string", "folder_pseudo": "string", "instrument": "string", "vendor": "string",
    "technique": "string", "detector_family": "string", "detector_raw": "string", "magnification": "float64",
    "pixel_size_m": "float64", "fov_width_m": "float64", "scalebar_decade": "string",
    "accelerating_voltage_v": "float64", "working_distance_m": "float64", "acquired_month": "string",
    "published": "bool", "license": "string", "embargo_until": "string", "access": "string",
    "width_px": "int64", "height_px": "int64", "pixel_dtype": "string",
    "blank": "bool", "clipped_low": "float64", "clipped_high": "float64", "noise_sigma": "float64",
    "snr": "float64", "sharpness": "float64", "resolution_px": "float64", "resolution_m": "float64",
    "charging": "float64", "drift": "float64", "sharpness_pct": "float64", "quality_flag": "string",
    "dup_group": "string",
}


def _schema(with_image: bool) -> pa.Schema:
    from datasets import Features, Image, Value

    features = {name: Value(kind) for name, kind in COLUMN_TYPES.items()}
    if with_image:
        features["image"] = Image()
    return Features(features).arrow_schema


def write_parquet(path: Path, rows: Sequence[dict[str, Any]], image: Callable[[dict[str, Any]], dict | None] | None
                  ) -> None:
    """metadata.parquet: one row per image; `image(row)` gives its Image value ({bytes, path}), or
    None for a layout without one."""
    schema = _schema(image is not None)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        records: list[dict[str, Any]] = []
        held = 0  # image bytes in `records`: a batch is bounded by them, not only by its row count
        for row in rows:
            value = image(row) if image else None
            records.append({**{name: row[name] for name in COLUMN_TYPES}, **({"image": value} if image else {})})
            held += len((value or {}).get("bytes") or b"")
            if len(records) == _BATCH_ROWS or held >= _BATCH_BYTES:
                writer.write_table(pa.Table.from_pylist(records, schema=schema))
                records, held = [], 0
        if records:
            writer.write_table(pa.Table.from_pylist(records, schema=schema))


def folder_name(split: str, image_id: str) -> str:
    """Where a folder export puts an image (webdataset rows are renamed by `shard_names`)."""
    return f"data/{split}/{image_id}.tif"


def write_folder(out: Path, rows: Sequence[dict[str, Any]], staged: Callable[[dict[str, Any]], Path]) -> None:
    """Move each staged TIFF to data/<split>/ and write each split's metadata.parquet (what
    `imagefolder` reads beside the images: Parquet keeps each column's type, where JSON Lines would
    make a quality column measured in one split and null in another two different types)."""
    for split in SPLIT_NAMES:
        chosen = [row for row in rows if row["split"] == split]
        if not chosen:
            continue
        (out / "data" / split).mkdir(parents=True)
        for row in chosen:
            os.replace(staged(row), out / row["file_name"])
        write_parquet(out / "data" / split / "metadata.parquet",
                      [{**row, "file_name": Path(row["file_name"]).name} for row in chosen], None)
    write_parquet(out / "metadata.parquet", rows, lambda row: {"bytes": None, "path": row["file_name"]})


def shard_names(rows: Sequence[dict[str, Any]], sizes: dict[str, int], shard_bytes: int = SHARD_BYTES) -> None:
    """Set each row's `file_name` to `shards/<split>-NNNNNN.tar/<image_id>.tif`, starting a new
    shard when the current one would pass `shard_bytes`."""
    for split in SPLIT_NAMES:
        number, used = 0, 0
        for row in (r for r in rows if r["split"] == split):
            size = sizes[row["image_id"]]
            if used and used + size > shard_bytes:
                number, used = number + 1, 0
            used += size
            row["file_name"] = f"shards/{split}-{number:06d}.tar/{row['image_id']}.tif"


def write_webdataset(out: Path, rows: Sequence[dict[str, Any]], staged: Callable[[dict[str, Any]], Path]) -> None:
    """Tar shards of `<image_id>.tif` + `<image_id>.json` (the row), in split order."""
    (out / "shards").mkdir()
    tar: tarfile.TarFile | None = None
    current = None
    try:
        for row in rows:
            shard, member = row["file_name"].rsplit("/", 1)
            if shard != current:
                if tar is not None:
                    tar.close()
                tar, current = tarfile.open(out / shard, "w", format=tarfile.PAX_FORMAT), shard
            _add(tar, member, staged(row).read_bytes())
            meta = {k: v for k, v in row.items() if k in COLUMN_TYPES}
            _add(tar, member.rsplit(".", 1)[0] + ".json", json.dumps(meta, ensure_ascii=False).encode())
    finally:
        if tar is not None:
            tar.close()
    write_parquet(out / "metadata.parquet", rows, None)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """A member with neutral ownership and time: nothing of the exporting account or machine."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_parquet_images(out: Path, rows: Sequence[dict[str, Any]], staged: Callable[[dict[str, Any]], Path]) -> None:
    """metadata.parquet with each image's TIFF bytes in its `image` column."""
    write_parquet(out / "metadata.parquet", rows,
                  lambda row: {"bytes": staged(row).read_bytes(), "path": Path(row["file_name"]).name})


WRITERS = {"folder": write_folder, "webdataset": write_webdataset, "parquet": write_parquet_images}
