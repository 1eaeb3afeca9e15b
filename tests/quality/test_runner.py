"""`update_quality` on real archives: incremental (a no-change rerun reads nothing), content reuse
for a moved file, a damaged file is one error row, real vendor files never crash it, and local
worker processes give the metrics of an in-process run."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from emcensus.catalog import Catalog
from emcensus.quality import runner
from emcensus.quality.runner import BATCH, update_quality
from emcensus.scan import RootSpec, scan
from quality.quality_support import frame, measured_rows, write_frame
from support import fingerprint


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every archive file `update_quality` opens (in this process: workers=0), by path."""
    opened: list[str] = []
    for name in ("file_sha256", "read_image"):
        original = getattr(runner, name)

        def counted(path, *args, _original=original, **kwargs):
            opened.append(str(path))
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(runner, name, counted)
    return opened


def test_a_no_change_rerun_reads_no_file_and_a_changed_file_is_read_again(duplicate_archive, monkeypatch) -> None:
    archive = duplicate_archive
    before = fingerprint(archive.root)
    first = update_quality(archive.catalog, workers=0)
    assert first.measured == first.images == 17 and not first.errors
    stored = measured_rows(archive.catalog)
    opened = _counting(monkeypatch)
    rerun = update_quality(archive.catalog, workers=0)
    assert opened == [] and rerun.unchanged == 17 and rerun.measured == 0
    assert measured_rows(archive.catalog) == stored
    assert fingerprint(archive.root) == before  # contents, times and modes of the archive untouched

    changed = archive.others[0]
    write_frame(changed.with_suffix(""), frame("pores", 999, 999))
    scan(archive.catalog, [RootSpec(str(archive.root), "SU8230")], workers=0)
    third = update_quality(archive.catalog, workers=0)
    assert third.measured == 1 and third.unchanged == 16
    # the changed file, and the members of candidate pairs with it that SSIM confirms (none here)
    assert {Path(p).name for p in opened} == {changed.name}


def test_a_moved_file_takes_the_metrics_of_its_content_without_decoding(duplicate_archive, monkeypatch) -> None:
    archive = duplicate_archive
    update_quality(archive.catalog, workers=0)
    source = archive.others[1]
    old = archive.catalog.image_quality(archive.id_of(source))
    moved = source.parent.parent / "moved" / source.name
    moved.parent.mkdir()
    for suffix in (".tif", ".txt"):
        shutil.move(source.with_suffix(suffix), moved.with_suffix(suffix))
    scan(archive.catalog, [RootSpec(str(archive.root), "SU8230")], workers=0)
    opened = _counting(monkeypatch)
    summary = update_quality(archive.catalog, workers=0)
    assert summary.reused == 1 and summary.measured == 0
    assert [Path(p).name for p in opened] == [moved.name]  # hashed, never decoded
    new = archive.catalog.image_quality(archive.id_of(moved))
    for column in ("content_sha256", "pixel_sha256", "sharpness", "noise_sigma", "resolution_px", "phash"):
        assert new[column] == old[column]
    gone = archive.catalog.image_quality(archive.id_of(source))  # missing now: kept, ranked no more
    assert gone["sharpness"] == old["sharpness"] and gone["sharpness_pct"] is None and gone["quality_flag"] is None
    assert archive.id_of(source) not in {row["image_id"] for row in archive.catalog.quality_rows()}


def test_a_damaged_file_is_one_error_row_and_the_others_are_measured(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "SU8230"
    for index in range(3):
        write_frame(root / f"img{index}", frame("films", index, index, 320, 240))
    damaged = root / "img1.tif"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])  # tags intact (the scan reads them), pixels cut short
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        summary = update_quality(catalog, workers=0)
        rows = {Path(row["path"]).name: row for row in catalog.quality_rows()}
    assert rows["img0.tif"]["error"] is None and rows["img2.tif"]["error"] is None
    if "img1.tif" in rows:  # catalogued as readable: its pixels fail now, as one line
        assert rows["img1.tif"]["error"] and rows["img1.tif"]["sharpness"] is None
        assert [Path(p).name for p, _ in summary.errors] == ["img1.tif"]


def test_real_vendor_files_get_finite_metrics_or_a_recorded_error(vendor_samples: Path, tmp_path: Path) -> None:
    root = tmp_path / "vendor"
    shutil.copytree(vendor_samples, root)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root))], workers=0)
        summary = update_quality(catalog, workers=0)
        rows = catalog.quality_rows()
    assert summary.images == len(rows) > 0
    measured = [row for row in rows if row["error"] is None]
    suffixes = {Path(row["path"]).suffix.lower() for row in measured}
    assert {".tif", ".dm3", ".ser", ".emd", ".mrc"} <= suffixes, suffixes  # through rsciio beyond TIFF
    for row in measured:
        for column in ("clipped_low", "clipped_high", "noise_sigma"):
            assert math.isfinite(row[column]), (row["path"], column)
        assert 0 <= row["clipped_low"] <= 1 and 0 <= row["clipped_high"] <= 1
        assert row["blank"] or (row["sharpness"] is not None and math.isfinite(row["sharpness"]))
    for row in rows:
        if row["error"] is not None:
            assert "\n" not in row["error"] and row["sharpness"] is None


def test_local_worker_processes_measure_what_one_process_measures(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "SU8230"
    for index in range(2 * BATCH + 2):  # enough for the pool (fewer files are measured in this process)
        write_frame(root / f"day{index % 3}" / f"img{index:02d}", frame("crystals", index, index, 256, 192),
                    date=f"01/0{2 + index % 3}/2019")
    results = []
    for workers in (0, 2):
        path = tmp_path / f"c{workers}.sqlite"
        with Catalog(path) as catalog:
            scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
            update_quality(catalog, workers=workers)
            results.append(measured_rows(catalog))
    assert results[0] == results[1] and len(results[0]) == 2 * BATCH + 2
    assert not any(row["error"] for row in results[0])


def test_a_file_replaced_by_a_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "SU8230"
    for index in range(2):
        write_frame(root / f"img{index}", frame("pores", index, index, 256, 192))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        fifo = root / "img1.tif"
        fifo.unlink()
        os.mkfifo(fifo)
        # the catalog still says a TIFF of this size is there: the state differs, so it is read
        summary = update_quality(catalog, workers=0, file_timeout=5)
        rows = {Path(row["path"]).name: row for row in catalog.quality_rows()}
    assert rows["img0.tif"]["error"] is None
    assert "not a regular file" in rows["img1.tif"]["error"]
    assert len(summary.errors) == 1
    assert np.isfinite(rows["img0.tif"]["sharpness"])


def test_an_image_over_the_pixel_bound_is_refused_before_it_is_decoded(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "archive" / "SU8230"
    write_frame(root / "small", frame("pores", 1, 1, 64, 48))
    write_frame(root / "big", frame("pores", 2, 2, 256, 192))
    monkeypatch.setattr(runner, "MAX_PIXELS", 100 * 100)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        update_quality(catalog, workers=0)
        rows = {Path(row["path"]).name: row for row in catalog.quality_rows()}
    assert rows["small.tif"]["error"] is None
    assert "more than 10,000" in rows["big.tif"]["error"] and rows["big.tif"]["noise_sigma"] is None
