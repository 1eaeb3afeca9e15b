"""Reads of a read-only catalog are kept while the catalog file is unchanged (the dashboard asks the
same counts on every visit) and computed again after any write."""

from __future__ import annotations

from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.catalog.query import ResultCache
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff


def _add_frame(root: Path, name: str) -> None:
    write_tiff(root / "groupB" / "2020-05-06" / f"{name}.tif", seed=len(name))
    (root / "groupB" / "2020-05-06" / f"{name}.txt").write_text(hitachi_sidecar(20000, "SE(U)", "05/06/2020"))


def _statements(catalog: Catalog) -> list[str]:
    seen: list[str] = []
    catalog.db.set_trace_callback(seen.append)
    return seen


def test_a_repeated_count_is_not_computed_again_until_the_catalog_changes(tiny_archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    with Catalog(path, readonly=True) as reader:
        first = reader.count("year,technique")
        before = reader.total(files=True)
    with Catalog(path, readonly=True) as reader:  # a new request of the dashboard: a new connection
        statements = _statements(reader)
        assert reader.count("year,technique") == first
        assert not any("GROUP BY" in sql for sql in statements)  # answered from the cache

        _add_frame(tiny_archive, "new_frame")
        with Catalog(path) as writer:
            scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert reader.total(files=True) == before + 1  # the write changed the file: counted again
        assert any("GROUP BY" not in sql and "count(*)" in sql for sql in statements)
        assert sum(row["count"] for row in reader.count("year,technique")) == sum(row["count"] for row in first) + 1


def test_a_writer_reads_its_own_rows_and_large_results_are_not_kept(tiny_archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        statements = _statements(writer)
        writer.count("year")
        writer.count("year")
        assert sum("GROUP BY" in sql for sql in statements) == 2  # a writable catalog is never cached

    cache = ResultCache(max_rows=2)
    with Catalog(path, readonly=True) as reader:
        statements = _statements(reader)
        sql = "SELECT path FROM images ORDER BY path"
        names, rows = cache.fetch(reader.db, reader.path, sql)
        assert names == ["path"] and len(rows) > 2
        assert cache.fetch(reader.db, reader.path, sql) == (names, rows)
        assert statements.count(sql) == 2  # more rows than max_rows: read again, never held in memory
        small = "SELECT count(*) FROM images"
        names, rows = cache.fetch(reader.db, reader.path, small)
        rows += [("added by the caller",)]  # what a caller does with its rows is not kept
        assert cache.fetch(reader.db, reader.path, small) == (names, rows[:1])
        assert statements.count(small) == 1
