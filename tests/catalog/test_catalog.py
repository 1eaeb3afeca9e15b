"""The catalog file: versioned schema, refusal of foreign files, readers beside a writer, queries."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from emcensus.errors import CatalogError, NotFoundError, QueryError
from emcensus.scan import RootSpec, scan


def test_new_catalog_has_the_current_schema(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_catalog_is_refused_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer than this emcensus"):
        Catalog(path)


# sha256 of the JSON of MIGRATIONS[:version] as each release shipped them: a released migration is
# never edited (a catalog already at that version would never get the change); add a new one instead
RELEASED_MIGRATIONS = {
    6: "8781861717a90de87de62c2014deb99cc9be9be25cd7df8f02eaee0c086f9492",
    10: "818855391f93272b0dd1b4527e735d955c6cf913ff6479c80f9fc949950c9b93",  # the census cube
    11: "89951ac3f8a0af542509dc650ca2392a4454f23b08779e1cb9a7cec1d3a78333",  # the detail cube
    12: "1c8c02f6ce87d46fa411aea9c8eb818c6d8fd8e13b2a0d6fc539c9e42b73f6d2",  # the time cubes, the folder table, two indexes
}


@pytest.mark.parametrize("version", sorted(RELEASED_MIGRATIONS))
def test_released_migrations_are_frozen(version: int) -> None:
    shipped = hashlib.sha256(json.dumps(MIGRATIONS[:version]).encode()).hexdigest()
    assert shipped == RELEASED_MIGRATIONS[version]


@pytest.mark.parametrize("shipped", [5, 6])
def test_a_catalog_of_an_earlier_release_is_upgraded_in_place(tmp_path: Path, shipped: int) -> None:
    """Released schemas are never edited: columns added since reach old catalogs by migration."""
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:
        for statements in MIGRATIONS[:shipped]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {shipped}")
    with Catalog(path) as catalog:
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in catalog.db.execute("PRAGMA table_info(figure_matches)")}
        assert {"scale_bar_check", "panel_fov_m"} <= columns
        tables = {row[0] for row in catalog.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"folders", "quality", "figure_matches"} <= tables


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(CatalogError, match="not an emcensus catalog"):
        Catalog(path)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CatalogError):
        Catalog(tmp_path / "junk.sqlite")


def test_readonly_open_of_a_missing_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="emcensus scan"):
        Catalog(tmp_path / "absent.sqlite", readonly=True)


def test_readers_keep_working_while_a_scan_writes(tiny_archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer:
        scan(writer, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        reader = Catalog(path, readonly=True)
        writer.db.execute("BEGIN IMMEDIATE")
        writer.db.execute("UPDATE images SET magnification = 1 WHERE 1")  # uncommitted write in flight
        assert reader.total() == 5  # WAL: the reader sees the last committed census, without waiting
        assert reader.count("magnification")[0]["magnification"] != 1
        writer.db.rollback()
        reader.close()


def test_filters_and_groupings(tiny_archive: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [RootSpec(str(tiny_archive), "SU8230")], workers=0)
        assert catalog.total(year="2016-2019") == 4
        assert catalog.total(until=2016) == catalog.total(year=2016) == 2
        assert catalog.total(technique="stem") == 2
        assert catalog.total(detector=["SE", "LA-BSE"]) == 2
        assert catalog.total(path="*/groupB/*") == 3
        assert catalog.total(vendor="Hitachi") == 5
        assert catalog.total(root=str(tiny_archive)) == 5
        assert catalog.image(catalog.images()[0]["id"])["path"] == catalog.images()[0]["path"]
        with pytest.raises(NotFoundError):
            catalog.image(10**9)
        rows = catalog.count("root")
        assert rows == [{"root": str(tiny_archive), "count": 5}]
        with pytest.raises(QueryError, match="unknown filter"):
            catalog.total(colour="red")
        with pytest.raises(QueryError, match="not a scan root"):
            catalog.total(root="/nowhere")
        with pytest.raises(QueryError, match="range"):
            catalog.total(year="twenty")
