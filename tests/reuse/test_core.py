"""The pure core of the reuse export: sessions, leakage-free splits, pseudonyms, clean TIFFs."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from emcensus.catalog import Catalog
from emcensus.errors import ConfigError
from emcensus.quality.pixels import pixel_sha256
from emcensus.reuse.export import embargo_until, normalise_license
from emcensus.reuse.pseudonyms import Pseudonyms, load_secret, operator_of
from emcensus.reuse.splits import assign_splits, components, parse_splits
from emcensus.reuse.stage import TAG_WHITELIST, StageItem, StageTask, stage_batch, write_clean_tiff
from emcensus.scan import RootSpec, scan
from reuse.support_reuse import tiff_tags

SALT = b"k" * 32


@settings(max_examples=60, deadline=None)
@given(projects=st.lists(st.integers(0, 12) | st.none(), min_size=1, max_size=120),
       data=st.data(), seed=st.integers(0, 5))
def test_no_component_and_no_project_lands_in_two_splits(projects, data, seed):
    n = len(projects)
    sessions_ = data.draw(st.lists(st.integers(0, 30) | st.none(), min_size=n, max_size=n))
    duplicates = data.draw(st.lists(st.integers(0, 8) | st.none(), min_size=n, max_size=n))
    component_of = components(n, [projects, sessions_, duplicates])
    ratios = parse_splits("70,15,15")
    split_of, rank = assign_splits(component_of, [f"img{i:04d}" for i in range(n)], ratios, SALT, seed)
    assert set(split_of) <= set(ratios) and "" not in split_of
    for family in (component_of, projects, sessions_, duplicates):
        seen: dict = {}
        for key, split in zip(family, split_of, strict=True):
            if key is not None:
                assert seen.setdefault(key, split) == split
    assert sorted(rank.values()) == list(range(len(set(component_of))))


def test_splits_follow_the_ratios_when_components_are_small():
    n = 1000
    component_of = components(n, [[i // 2 for i in range(n)]])  # pairs
    split_of, _ = assign_splits(component_of, [f"{i:05d}" for i in range(n)], parse_splits("80,10,10"), SALT)
    counts = {name: split_of.count(name) for name in ("train", "validation", "test")}
    assert counts == {"train": 800, "validation": 100, "test": 100}
    again, _ = assign_splits(component_of, [f"{i:05d}" for i in range(n)], parse_splits("80,10,10"), SALT)
    other, _ = assign_splits(component_of, [f"{i:05d}" for i in range(n)], parse_splits("80,10,10"), b"other")
    assert again == split_of != other  # the salt (from the secret) decides the order, reproducibly


def test_a_zero_split_gets_nothing():
    split_of, _ = assign_splits(list(range(50)), [str(i) for i in range(50)], parse_splits("90,0,10"), SALT)
    assert "validation" not in split_of and split_of.count("test") == 5


@pytest.mark.parametrize("text", ["80,10", "80,10,20", "a,b,c", "0,50,50", "80.5,9.5,10"])
def test_bad_splits_are_refused(text):
    with pytest.raises(ConfigError):
        parse_splits(text)


def test_pseudonyms_are_keyed_and_stable():
    one, other = Pseudonyms(b"a" * 16), Pseudonyms(b"b" * 16)
    assert one("group", "Catalysis") == one("group", "Catalysis") != other("group", "Catalysis")
    assert one("group", "Catalysis") != one("project", "Catalysis")
    assert one("group", "Catalysis").startswith("group-") and "Catalysis" not in one("group", "Catalysis")
    assert one("group", None) is None and "a" * 16 not in repr(one)


def test_secret_from_file_or_environment(tmp_path: Path):
    path = tmp_path / "secret"
    path.write_text("  0123456789abcdef0123  \n")
    assert load_secret(path, {}) == b"0123456789abcdef0123"
    assert load_secret(None, {"EMCENSUS_SECRET": "x" * 20}) == b"x" * 20
    with pytest.raises(ConfigError, match="facility secret is needed"):
        load_secret(None, {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_secret(tmp_path / "missing", {})


@pytest.mark.parametrize(("metadata", "name"), [
    ({"SemImageFile": {"UserName": "kashin", "SampleName": "PdC"}}, "kashin"),  # Hitachi
    ({"User": {"Date": "01/02/2020", "User": "mkatz", "UserText": "label"}}, "mkatz"),  # FEI [User] User=
    ({"sv": {"User Name": "jdoe", "User Level": "Novice"}}, "jdoe"),  # Zeiss
    ({"SemImageFile": {"UserName": ""}, "ImageName": "x.tif"}, None),
])
def test_operator_names_from_vendor_metadata(metadata, name):
    assert operator_of(metadata) == name


def test_licences_are_spdx():
    assert normalise_license("cc-by-4.0") == "CC-BY-4.0"
    assert normalise_license("MIT OR Apache-2.0") == "MIT OR Apache-2.0"
    for bad in ("", "CC-BY", "public domain"):
        with pytest.raises(ConfigError):
            normalise_license(bad)


def test_embargo_end():
    from datetime import date

    assert embargo_until(date(2020, 2, 29), 2) == date(2022, 2, 28)
    assert embargo_until(date(2020, 5, 1), 0) == date(2020, 5, 1)


def test_clean_tiff_keeps_16_bit_pixels_and_only_whitelisted_tags(tmp_path: Path):
    pixels = np.random.default_rng(1).integers(0, 65535, (40, 50), dtype=np.uint16)
    source = tmp_path / "fei.tif"
    fei = b"[User]\r\nDate=01/02/2020\r\nUser=jdoe-operator\r\n[Beam]\r\nHV=5000\r\n"
    tifffile.imwrite(source, pixels, description="operator jdoe-operator", software="xT",
                     extratags=[(34682, "s", 0, fei.decode(), False), (34118, "s", 0, "User Name = jdoe-operator", False)])
    assert b"jdoe-operator" in source.read_bytes()
    write_clean_tiff(str(tmp_path / "clean.tif"), tifffile.imread(source), 2e-9)
    data = (tmp_path / "clean.tif").read_bytes()
    assert b"jdoe-operator" not in data and b"xT" not in data
    assert tiff_tags(data) <= TAG_WHITELIST
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages.first
        assert np.array_equal(page.asarray(), pixels) and page.dtype == np.uint16
        assert page.tags["XResolution"].value[0] / page.tags["XResolution"].value[1] == pytest.approx(5e6)  # px per cm


def test_real_vendor_files_lose_their_operators(vendor_samples: Path, tmp_path: Path):
    """FEI Helios (16-bit, `User=supervisor`) and a FEI quad image (`User=mkatz`): staged through the
    export's worker, the names are gone, the pixels and bit depth stay, the operator is found."""
    root = tmp_path / "fei"
    root.mkdir()
    for name in ("FEI-Helios-Ebeam-16bits.tif", "quad1image_001.tif"):
        shutil.copy(vendor_samples / "fei-tfs-tiff" / name, root / name)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root), "Helios")], workers=0)
        rows = list(catalog.reuse_candidates())
    assert {operator_of(row["original_metadata"]) for row in rows} == {"supervisor", "mkatz"}
    staging = tmp_path / "staging"
    staging.mkdir()
    results = stage_batch(StageTask([StageItem(row["id"], row["path"], row["pixel_size_m"]) for row in rows],
                                    str(staging)))
    for row, result in zip(rows, results, strict=True):
        assert result.error is None
        data = (staging / f"{row['id']}.tif").read_bytes()
        assert b"supervisor" not in data and b"mkatz" not in data and tiff_tags(data) <= TAG_WHITELIST
        original = tifffile.imread(row["path"])
        exported = tifffile.imread(io.BytesIO(data))
        assert exported.dtype == original.dtype and np.array_equal(exported, original)
        assert result.pixel_sha256 == pixel_sha256(original)


def test_microscope_formats_are_exported_as_tiff(vendor_samples: Path, tmp_path: Path):
    """Gatan DM3 (float32, non-square) and MRC images, read as quality reads them (rsciio): their
    pixels, bit depth included, in a clean TIFF."""
    from rsciio import digitalmicrograph, mrc

    root = tmp_path / "native"
    root.mkdir()
    shutil.copy(vendor_samples / "gatan-dm" / "dmTest_float32_nonSquare_diffPixelSize.dm3", root / "a.dm3")
    shutil.copy(vendor_samples / "mrc" / "HAADFscan.mrc", root / "b.mrc")
    staging = tmp_path / "staging"
    staging.mkdir()
    results = stage_batch(StageTask([StageItem(1, str(root / "a.dm3")), StageItem(2, str(root / "b.mrc"))],
                                    str(staging)))
    for result, reader, name in zip(results, (digitalmicrograph, mrc), ("a.dm3", "b.mrc"), strict=True):
        assert result.error is None, result.error
        original = np.asarray(reader.file_reader(str(root / name))[0]["data"])
        while original.ndim > 2:
            original = original[0]
        exported = tifffile.imread(staging / f"{result.image_id}.tif")
        assert exported.dtype == original.dtype and np.array_equal(exported, original)
        assert tiff_tags((staging / f"{result.image_id}.tif").read_bytes()) <= TAG_WHITELIST


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    fifo = tmp_path / "pipe.tif"
    import os

    os.mkfifo(fifo)
    results = stage_batch(StageTask([StageItem(1, str(bad)), StageItem(2, str(fifo))], str(tmp_path), 5))
    assert all(result.error for result in results)
    assert "not a regular file" in results[1].error


def test_the_summary_says_when_linked_images_made_the_splits_uneven(tmp_path: Path):
    from emcensus.reuse.export import ReuseSummary

    ratios = parse_splits("80,10,10")
    even = ReuseSummary(tmp_path, {"train": 79, "validation": 11, "test": 10}, {}, 0, 40, 12, ratios)
    assert even.uneven_splits() == [] and "NOTE" not in even.paragraph()
    lumpy = ReuseSummary(tmp_path, {"train": 296, "validation": 4, "test": 0}, {}, 0, 2, 50, ratios)
    assert lumpy.uneven_splits() == ["validation", "test"]
    assert "validation 1 %, test 0 % instead of 10 %, 10 %" in lumpy.paragraph() and "only 2 components" in lumpy.paragraph()


def test_shards_start_anew_past_their_size_and_per_split():
    from emcensus.reuse.writers import shard_names

    rows = [{"image_id": f"i{n}", "split": split} for n, split in enumerate(["train"] * 5 + ["test"] * 2)]
    shard_names(rows, {row["image_id"]: 400 for row in rows}, shard_bytes=1000)
    assert [row["file_name"] for row in rows] == [
        "shards/train-000000.tar/i0.tif", "shards/train-000000.tar/i1.tif", "shards/train-000001.tar/i2.tif",
        "shards/train-000001.tar/i3.tif", "shards/train-000002.tar/i4.tif",
        "shards/test-000000.tar/i5.tif", "shards/test-000000.tar/i6.tif"]


def test_metadata_parquet_with_images_inside_is_written_in_batches_bounded_by_bytes(tmp_path: Path, monkeypatch):
    import pyarrow.parquet as pq

    from emcensus.reuse import writers

    monkeypatch.setattr(writers, "_BATCH_BYTES", 2500)
    rows = [{name: None for name in writers.COLUMN_TYPES} | {"image_id": f"i{n}", "split": "train"} for n in range(5)]
    images = {f"i{n}": bytes([n]) * 1000 for n in range(5)}
    path = tmp_path / "metadata.parquet"
    writers.write_parquet(path, rows, lambda row: {"bytes": images[row["image_id"]], "path": row["image_id"]})
    written = pq.ParquetFile(path)
    assert [written.metadata.row_group(g).num_rows for g in range(written.num_row_groups)] == [3, 2]
    table = written.read().to_pylist()
    assert [row["image"]["bytes"] for row in table] == [images[f"i{n}"] for n in range(5)]
    empty = tmp_path / "empty.parquet"
    writers.write_parquet(empty, [], None)  # no rows: still a file with the columns and their features
    assert pq.read_table(empty).num_rows == 0 and b"huggingface" in pq.read_schema(empty).metadata


def test_nothing_to_export_is_said_and_nothing_is_written(catalog: Catalog, tmp_path: Path):
    """tiny_archive's frames were acquired in 2016 and 2019: a 20-year embargo leaves none."""
    from emcensus.reuse.export import ReuseOptions, export_reuse

    out = tmp_path / "empty-set"
    with pytest.raises(ConfigError, match=r"nothing to export: \d+ under embargo \(20 years"):
        export_reuse(catalog, out, ReuseOptions(license="CC0-1.0", embargo_years=20), b"k" * 16, workers=0)
    assert not out.exists()


def test_a_file_damaged_or_replaced_by_a_fifo_since_the_scan_is_left_out_and_counted(
        catalog: Catalog, tiny_archive: Path, tmp_path: Path):
    import os

    from emcensus.reuse.export import ReuseOptions, export_reuse

    damaged = tiny_archive / "groupA/p1/2016-06-23/img002.tif"
    damaged.write_bytes(b"II*\x00" + b"\x00" * 40)
    fifo = tiny_archive / "groupB/p2/2019-01-02/img003.tif"
    fifo.unlink()
    os.mkfifo(fifo)
    summary = export_reuse(catalog, tmp_path / "out", ReuseOptions(license="CC0-1.0"), b"k" * 16, workers=0,
                           file_timeout=5)
    assert summary.excluded["unreadable when exported"] == 2
    assert sum(summary.splits.values()) == 2  # img001 and img004 (nosidecar.tif is under embargo: dated by its mtime)


def test_names_that_are_not_utf8_are_read_and_never_exported(tmp_path: Path):
    """A Latin-1 folder and file name (`Müller`, `Größe`): read through the catalog's file-system
    path, pseudonymised from its bytes, absent from the export."""
    import os

    from emcensus.reuse.export import ReuseOptions, export_reuse
    from support import write_tiff

    root = tmp_path / "archive"
    folder = os.path.join(os.fsencode(root), "M\xfcller".encode("latin-1"), b"p1")
    os.makedirs(folder)
    for index, stem in enumerate((b"Gr\xf6\xdfe", b"plain")):
        write_tiff(Path(os.fsdecode(os.path.join(folder, stem + b".tif"))), seed=index)
        os.utime(os.path.join(folder, stem + b".tif"), (1.4e9, 1.4e9))  # 2014: no embargo
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230", None, None, None, "{group}/{project}/**")], workers=0)
        summary = export_reuse(catalog, tmp_path / "out", ReuseOptions(license="CC0-1.0"), b"k" * 16, workers=0)
    assert sum(summary.splits.values()) == 2
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"M\xfcller" not in data and "Müller".encode() not in data and b"Gr\xf6\xdfe" not in data
