"""A catalog of a million images for the scale benchmark, written without an archive on disk.

Files for a million images would take hours to write and scan on a 2-core machine; what the 1 M
targets measure is the catalog, so the rows are written through the census's own writer
(`Catalog.write_groups`) from the demo generator's plan: its years, instruments, techniques,
detectors, magnifications, groups, projects, exports, copies, missing sidecars and orphan sidecars,
with the original metadata parsed by the Hitachi reader from the sidecar text the generator would
write. The archive is planned in volumes of `VOLUME` images (`vol00/`, `vol01/`, ... under each
instrument root, each its own seeded plan); the publication ledger is the demo's, per volume.
Same arguments, same catalog.

    .venv/bin/python bench/scale_catalog.py [IMAGES]     # builds $TMPDIR/scale-census/census.sqlite
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import closing
from datetime import datetime
from pathlib import Path

from emcensus.analysis.publications import read_ledger
from emcensus.catalog import Catalog, FileResult, GroupResult
from emcensus.catalog.schema import SCHEMA_VERSION
from emcensus.demo.generate import INSTRUMENT_TECHNIQUE, INSTRUMENTS, _outputs, plan_archive
from emcensus.demo.publications import LEDGER_COLUMNS, demo_ledger_rows
from emcensus.demo.manifest import Manifest, ManifestFile
from emcensus.demo.sidecars import TEM_CAMERA_WIDTH_NM, sidecar_text
from emcensus.readers.hitachi import parse_hitachi
from emcensus.record import ImageRecord

CATALOG = Path(tempfile.gettempdir()) / "scale-census" / "census.sqlite"
#: Where the (absent) archive lives: the catalog stores absolute paths under it.
ARCHIVE = "/archive/scale"
VOLUME = 100_000
LAYOUT = "vol*/{group}/{project}/**"
#: Bytes per pixel of each generated format (the images are small, as the demo's are).
_BYTES_PER_PIXEL = {".tif": 1.0, ".jpg": 0.3, ".bmp": 1.0}
_HEADER_BYTES = {".tif": 200, ".jpg": 600, ".bmp": 1078}


def _ns(local_iso: datetime) -> int:
    return int(local_iso.timestamp() * 1e9)


def _record(frame: dict, path: str, mtime: datetime, metadata: dict | None, kind: str = "image") -> ImageRecord:
    """The normalised record a scan makes of one file: from the sidecar when the frame has one,
    otherwise the file's size and mtime only (no vendor tags in the generated TIFFs)."""
    instrument = frame["instrument"]
    common = {"path": path, "vendor": "Hitachi", "instrument": instrument, "width_px": frame["width"],
              "height_px": frame["height"], "kind": kind}
    if metadata is None:
        return ImageRecord(**common, technique=INSTRUMENT_TECHNIQUE[instrument], acquired_at=mtime.isoformat(),
                           acquired_at_source="mtime", metadata_source="none")
    reading = metadata["reading"]
    return ImageRecord(
        **common, technique=frame["technique"], detector=reading.detector, detector_family=frame["family"],
        magnification=reading.magnification, accelerating_voltage_v=reading.accelerating_voltage_v,
        working_distance_m=reading.working_distance_m, pixel_size_m=reading.pixel_size_m,
        fov_width_m=reading.pixel_size_m * frame["width"] if reading.pixel_size_m else None,
        acquired_at=reading.acquired_at.isoformat(), acquired_at_source="metadata",
        metadata_source=reading.metadata_source,
    )


def volume_groups(frames: list[dict], volume: int) -> dict[str, list[GroupResult]]:
    """GroupResults per instrument for one planned volume, as a scan of its files would store them."""
    groups: dict[str, list[GroupResult]] = defaultdict(list)
    for frame in frames:
        metadata = None
        if frame["sidecar"]:
            text = sidecar_text(frame)
            reading = parse_hitachi(text)
            metadata = {"reading": reading, "json": json.dumps(reading.original_metadata, ensure_ascii=False),
                        "size": len(text.encode("utf-8"))}
        by_folder: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        sidecars: dict[str, tuple[str, int]] = {}
        for rel, content, mtime, _role in _outputs(frame):
            instrument, rest = rel.split("/", 1)
            path = f"{ARCHIVE}/{instrument}/vol{volume:02d}/{rest}"
            folder = path.rsplit("/", 1)[0]
            if content == "txt":
                sidecars[folder] = (path, _ns(mtime))
            else:
                by_folder[folder].append((path, mtime))
        root = f"{ARCHIVE}/{frame['instrument']}/"
        if frame["orphan"]:  # a sidecar whose image is gone: an acquisition without an image file
            (path, mtime_ns), = sidecars.values()
            record = _record(frame, path, datetime.fromtimestamp(mtime_ns / 1e9), metadata, "sidecar-only")
            result = FileResult(path, path[len(root):], metadata["size"], mtime_ns, record, None, metadata["json"])
            groups[frame["instrument"]].append(
                GroupResult(path.rsplit(".", 1)[0].casefold(), [result], None, None, None, [], sidecar_only=True))
            continue
        for folder, files in by_folder.items():
            results = []
            for path, mtime in files:
                ext = "." + path.rsplit(".", 1)[1]
                size = int(frame["width"] * frame["height"] * _BYTES_PER_PIXEL[ext]) + _HEADER_BYTES[ext]
                record = _record(frame, path, mtime, metadata)
                results.append(FileResult(path, path[len(root):], size, _ns(mtime), record, None,
                                          metadata["json"] if metadata else "{}"))
            sidecar, sidecar_mtime = sidecars.get(folder, (None, None))
            key = f"{folder}/{files[0][0].rsplit('/', 1)[1].rsplit('.', 1)[0].casefold()}"
            groups[frame["instrument"]].append(GroupResult(
                key, results, sidecar, metadata["size"] if sidecar else None, sidecar_mtime, []))
    return groups


def volume_ledger(frames: list[dict], volume: int) -> list[dict[str, object]]:
    """The demo ledger of one volume: its image paths under the volume, its article ids its own."""
    files = [ManifestFile(
        path=rel, frame=f["id"], instrument=f["instrument"], model=f["model"], technique=f["technique"],
        detector=f["detector"], detector_family=f["family"], magnification=f["magnification"],
        accelerating_voltage_v=0, working_distance_m=None, pixel_size_m=f["pixel_size_m"], width=f["width"],
        height=f["height"], year=f["year"], acquired_at="", mtime="", format="", sidecar=None,
        sidecar_encoding=None, date_format=None, image_name=None, duplicate_export=role.endswith("export"),
        copy=role.startswith("copy"),
    ) for f in frames if not f["orphan"] for rel, content, _, role in _outputs(f) if content != "txt"]
    manifest = Manifest(root=Path(ARCHIVE), seed=volume, n_images=len(frames), years=(2011, 2023),
                        instruments=INSTRUMENTS, files=files)
    rows = []
    for row in demo_ledger_rows(manifest, seed=2011 + volume):
        row = dict(row, article=f"{row['article']}.v{volume:02d}")
        if row.get("image"):
            instrument, rest = str(row["image"]).split("/", 1)
            row["image"] = f"{instrument}/vol{volume:02d}/{rest}"
        rows.append(row)
    return rows


def scale_catalog(path: Path = CATALOG, images: int = 1_000_000) -> Path:
    """The catalog of `images` acquisitions at `path`: built when absent (a few minutes), reused after
    (migrated first when an older emcensus built it: the benchmarks open it read-only)."""
    if path.exists():
        with closing(sqlite3.connect(path)) as db:
            migrate = db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION
        if migrate:
            Catalog(path).close()
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    ledger_rows: list[dict[str, object]] = []
    with Catalog(partial) as catalog:
        root_ids = {name: catalog.ensure_root(
            f"{ARCHIVE}/{name}", name, "Hitachi", INSTRUMENT_TECHNIQUE[name], layout=LAYOUT,
            magnification_reference_m=TEM_CAMERA_WIDTH_NM * 1e-9 if name == "HT7700" else None)
            for name in INSTRUMENTS}
        scan_id = catalog.begin_scan(list(root_ids))
        for volume, first in enumerate(range(0, images, VOLUME)):
            frames = plan_archive(min(VOLUME, images - first), seed=volume).frames
            for instrument, groups in volume_groups(frames, volume).items():
                for batch in range(0, len(groups), 2000):
                    catalog.write_groups(scan_id, root_ids[instrument], groups[batch:batch + 2000])
            ledger_rows += volume_ledger(frames, volume)
            print(f"  volume {volume}: {first + len(frames):,} acquisitions planned and written "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
        catalog.finish_scan(scan_id, "complete", {"seen": catalog.total(files=True, kind="all")})
        ledger = path.parent / "publications.csv"
        with ledger.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(ledger_rows)
        catalog.import_ledger(read_ledger(ledger))
        catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    print(f"built {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


if __name__ == "__main__":
    scale_catalog(images=int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
