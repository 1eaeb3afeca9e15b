"""`export_catalog`, the library side of `emcensus export`: the format is what the name says (or
what is asked), never a guess; the output guard holds for API callers too; a failed export leaves
nothing behind; an empty catalog still gives a file with its columns."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from emcensus.catalog import Catalog
from emcensus.errors import ConfigError, OutputError
from emcensus import export
from emcensus.export import export_catalog
from emcensus.outputs import ArchiveWriteError


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_format_from_the_name_or_as_asked(catalog: Catalog, out: Path) -> None:
    rows = export_catalog(catalog, out / "all.PARQUET")
    assert rows == catalog.db.execute("SELECT count(*) FROM images").fetchone()[0]
    assert pq.read_table(out / "all.PARQUET").num_rows == rows
    assert export_catalog(catalog, out / "all.dat", "csv") == rows
    assert len(list(csv.DictReader((out / "all.dat").open(encoding="utf-8")))) == rows
    with pytest.raises(ConfigError, match="unknown file type '.json'"):
        export_catalog(catalog, out / "all.json")
    with pytest.raises(ConfigError, match="unknown export format 'xlsx'"):
        export_catalog(catalog, out / "all.xlsx", "xlsx")
    assert sorted(p.name for p in out.iterdir()) == ["all.PARQUET", "all.dat"]


def test_api_callers_cannot_export_into_the_archive(catalog: Catalog, tiny_archive: Path) -> None:
    with pytest.raises(ArchiveWriteError, match="inside the archive"):
        export_catalog(catalog, tiny_archive / "groupA" / "all.csv")
    assert not (tiny_archive / "groupA" / "all.csv").exists()


def test_a_failed_export_leaves_no_file(catalog: Catalog, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (out / "all.csv").write_text("the previous export\n")

    first_batch = next(catalog.iter_export_batches())

    def broken(batch_size: int = 0):
        yield first_batch
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(catalog, "iter_export_batches", broken)
    with pytest.raises(OutputError, match="No space left"):
        export_catalog(catalog, out / "all.csv")
    assert [p.name for p in out.iterdir()] == ["all.csv"]  # no half-written or temporary file
    assert (out / "all.csv").read_text() == "the previous export\n"


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_an_empty_catalog_exports_its_columns(tmp_path: Path, out: Path, name: str) -> None:
    with Catalog(tmp_path / "empty.sqlite") as catalog:
        assert export_catalog(catalog, out / name) == 0
        columns = catalog.export_columns()
    if name.endswith(".csv"):
        assert (out / name).read_text(encoding="utf-8").strip().split(",") == columns
    else:
        assert pq.read_table(out / name).column_names == columns


def test_parquet_row_groups_gather_small_reads(catalog: Catalog, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are read a few at a time (memory) and written in full row groups (readers), in catalog
    order, every value under its own column: 7 rows read 2 at a time make row groups of 4 and 3."""
    monkeypatch.setattr(export, "READ_BATCH", 2)
    monkeypatch.setattr(export, "ROW_GROUP", 4)
    read_sizes, read = [], catalog.iter_export_batches

    def recorded(batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        for batch in read(batch_size):
            read_sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(catalog, "iter_export_batches", recorded)
    assert export_catalog(catalog, out / "all.parquet") == 7
    assert read_sizes == [2, 2, 2, 1]
    parquet = pq.ParquetFile(out / "all.parquet")
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [4, 3]
    assert parquet.read().to_pylist() == [row for batch in catalog.iter_export_rows() for row in batch]
