"""Reads of a read-only catalog are kept while the catalog file is unchanged (the dashboard asks the
same counts on every visit) and computed again after any write."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.catalog.query import ResultCache
from emcensus.scan import RootSpec, scan
from support import hitachi_sidecar, write_tiff


def _add_frame(root: Path, name: str) -> None:
    write_tiff(root / "groupB" / "2020-05-06" / f"{name}.tif", seed=len(name))
    (root / "groupB" / "2020-05-06" / f"{name}.txt").write_text(hitachi_sidecar(20000, "SE(U)", "05/06/2020"))


def _settle(catalog_path: Path, seconds_ago: float = 10) -> None:
    """Date the catalog's files back, as if written `seconds_ago`: only settled files are cached."""
    for name in (str(catalog_path), f"{catalog_path}-wal"):
        if os.path.exists(name):
            then = os.stat(name).st_mtime_ns - int(seconds_ago * 1e9)
            os.utime(name, ns=(then, then))


def _statements(catalog: Catalog) -> list[str]:
    seen: list[str] = []
    catalog.db.set_trace_callback(seen.append)
    return seen


def test_a_repeated_count_is_not_computed_again_until_the_catalog_changes(tiny_archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    _settle(path)
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
        assert any("GROUP BY" not in sql and "FROM census_cube" in sql for sql in statements)
        assert sum(row["count"] for row in reader.count("year,technique")) == sum(row["count"] for row in first) + 1


def test_a_writer_reads_its_own_rows_and_large_results_are_not_kept(tiny_archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        statements = _statements(writer)
        writer.count("year")
        writer.count("year")
        assert sum("GROUP BY" in sql for sql in statements) == 2  # a writable catalog is never cached

    _settle(path)
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
        cache.clear()  # as after a write: read again
        assert cache.fetch(reader.db, reader.path, small) == (names, rows[:1])
        assert statements.count(small) == 2


def test_a_write_in_the_same_mtime_tick_is_never_served_stale(tmp_path: Path) -> None:
    """Two writes within one mtime tick can leave size and mtime alike: a result read while the
    file was fresh is not kept, so the write after it is always seen."""
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v INTEGER)")
        db.execute("INSERT INTO t VALUES (1)")
    db.close()
    stat = os.stat(path)
    cache = ResultCache()
    reader = sqlite3.connect(path)
    sql = "SELECT v FROM t"
    assert cache.fetch(reader, path, sql)[1] == [(1,)]
    with sqlite3.connect(path) as writer:  # in place: the file keeps its size
        writer.execute("UPDATE t SET v = 2")
    writer.close()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and, within one tick, its mtime
    assert os.stat(path).st_size == stat.st_size
    assert cache.fetch(reader, path, sql)[1] == [(2,)]

    _settle(path)  # a settled file is cached, and any later write changes its stamp
    assert cache.fetch(reader, path, sql)[1] == [(2,)]
    statements: list[str] = []
    reader.set_trace_callback(statements.append)
    assert cache.fetch(reader, path, sql)[1] == [(2,)]
    assert statements == []
    reader.close()


def test_rows_read_in_a_snapshot_are_not_kept_as_a_later_writes(tiny_archive: Path, tmp_path: Path) -> None:
    """A write committed (and settled) while a reader's snapshot is open: what the snapshot still reads
    is the state before it, so it must not be kept under the file's new stamp (the dashboard would
    serve it until the next write)."""
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
    _settle(path)
    with Catalog(path, readonly=True) as reader:
        with reader.one_snapshot():
            before = reader.total(files=True)  # the snapshot begins with this read
            _add_frame(tiny_archive, "during_the_snapshot")
            with Catalog(path) as writer:
                scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
            _settle(path)  # the write is settled by the time the snapshot reads again
            assert reader.count("year") and reader.total(files=True) == before  # still the snapshot's state
    with Catalog(path, readonly=True) as later:
        assert sum(row["count"] for row in later.count("year", files=True)) == before + 1
        assert later.total(files=True) == before + 1
