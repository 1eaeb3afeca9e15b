"""Bulk loads (catalog.bulk): a census written without per-row index and cube upkeep leaves the catalog
a row-by-row census leaves, and a load that is killed, interrupted or read meanwhile never shows a
catalog without its indexes or with a cube behind its table."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emcensus.catalog import Catalog, bulk
from emcensus.catalog.connection import canonical_objects, scan_lock
from emcensus.catalog.cube import CUBE_FILLS
from emcensus.catalog.paths import db_text
from emcensus.catalog.schema import EXTENSION_CHARACTERS, EXTENSION_SQL, FOLDER_SQL, SCHEMA_VERSION, cube_values
from emcensus.demo.generate import generate_archive
from emcensus.scan import RootSpec, scan
from support import InterruptAfter, instrument_roots


def _specs(archive: Path) -> list[RootSpec]:
    return instrument_roots(archive, "{group}/{project}/**")


def _archive(tmp_path: Path, images: int, *, seed: int) -> tuple[Path, Path]:
    """A generated archive of `images` and where its catalog goes."""
    archive = tmp_path / "archive"
    generate_archive(archive, images, seed=seed)
    return archive, tmp_path / "c.sqlite"


def _contents(path: Path) -> dict[str, list[tuple]]:
    """Everything a catalog holds that a census writes, joined by path (ids left out), and its schema."""
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(images)") if row[1] != "id"]
        return {
            "images": db.execute(f"SELECT {', '.join(columns)} FROM images ORDER BY path").fetchall(),
            "metadata": db.execute("SELECT i.path, m.json FROM metadata m JOIN images i ON i.id = m.image_id"
                                   " ORDER BY i.path").fetchall(),
            "problems": db.execute("SELECT group_key, path, severity, reason, scan_id FROM problems"
                                   " ORDER BY group_key, path, reason").fetchall(),
            **{cube: db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall() for cube in CUBE_FILLS},
            "folders": db.execute("SELECT root_id, rel_path, fingerprint FROM folders ORDER BY 1, 2").fetchall(),
            # a table's indexes in the order the planner weighs them (created), not only the same set
            "schema": db.execute("SELECT tbl_name, type, name, sql FROM sqlite_master ORDER BY tbl_name, type, rowid").fetchall(),
        }


def _recounted_cube(db: sqlite3.Connection) -> list[tuple]:
    """The cube as `images` gives it now, in the cube's order (the key first)."""
    values = cube_values("images")
    key = " || ',' || ".join(f"quote({value})" for value in values)
    return db.execute(f"SELECT {key}, {', '.join(values)}, count(*), sum(size_bytes) FROM images"
                      f" GROUP BY {', '.join(values)} ORDER BY 1").fetchall()


def _assert_whole(path: Path) -> None:
    """Every index and trigger of the schema there, the indexes consistent, each cube what filling it
    afresh from the table gives."""
    with sqlite3.connect(path) as db:
        present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
        assert set(canonical_objects(SCHEMA_VERSION)) <= present
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT * FROM census_cube ORDER BY key").fetchall() == _recounted_cube(db)
        for cube, fill in CUBE_FILLS.items():
            kept = db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall()
            db.execute("SAVEPOINT refill")
            db.execute(f"DELETE FROM {cube}")
            db.execute(fill)
            assert db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall() == kept, cube
            db.execute("ROLLBACK TO refill")
            db.execute("RELEASE refill")


@pytest.fixture
def drops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows present each time a bulk load dropped the indexes (the real drop still runs)."""
    seen: list[int] = []
    real = bulk.BulkLoad._drop

    def recorded(self: bulk.BulkLoad) -> None:
        seen.append(self.rows_present)
        real(self)

    monkeypatch.setattr(bulk.BulkLoad, "_drop", recorded)
    return seen


def test_cost_model_goes_bulk_for_a_first_census_and_a_big_new_root_only() -> None:
    assert bulk.worth_bulk(1, 0)  # a first census
    assert bulk.worth_bulk(50_000, 100_000, counted=True)  # a new root half the size of the catalog
    assert not bulk.worth_bulk(10_000, 100_000)  # a new folder: row by row
    assert not bulk.worth_bulk(0, 0) and not bulk.worth_bulk(100, 1_000_000)  # a rescan


def test_cost_model_weighs_a_counted_load_apart_from_one_that_refills_the_cubes() -> None:
    """New rows only are counted as they go in (the end rebuilds one index); rows that may be changed
    files have the end refill five cubes too: the same rows are worth a bulk load in one case only."""
    assert bulk.worth_bulk(20_000, 100_000, counted=True)  # a new root a fifth of the catalog
    assert not bulk.worth_bulk(20_000, 100_000)  # as many changed files: row by row
    assert not bulk.worth_bulk(5_000, 100_000, counted=True)  # a small new root: row by row
    assert bulk.worth_bulk(70_000, 100_000) and not bulk.worth_bulk(50_000, 100_000)  # most files changed


def test_forecast_extrapolates_a_new_root_only(tmp_path: Path) -> None:
    """A root the catalog does not hold yet writes every file its walk finds: its first surveyed parts
    tell its size early; a root with rows counts only what its walk found changed."""
    archive = tmp_path / "archive"
    generate_archive(archive, 60, seed=2)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, _specs(archive)[:1], workers=0)
        held = catalog.roots()[0]["id"]
        new = catalog.ensure_root(str(archive / "elsewhere"), "SU8230", None, None)
        with catalog.bulk_load({held: 10, new: 10}) as load:
            present = load.rows_present
            assert present > 10
            load.surveyed(held, present // 5)  # a fifth of the catalog changed: row by row
            assert load.forecast() == present // 5 and not load.active
            load.surveyed(new, 0)  # the new root's top folder: nothing yet
            assert not load.active
            load.surveyed(new, present // 10)  # a tenth of the catalog in 2 of its 10 parts: ~half of it coming
            assert load.forecast() == present // 5 + present // 10 * 5
            assert not load.active, "with the held root's changed files the end refills the cubes: not yet worth it"
            load.surveyed(new, present // 10)  # two tenths in 3 of its parts: two thirds of the catalog coming
            assert load.active
        _assert_whole(tmp_path / "c.sqlite")


def test_a_new_roots_top_folder_is_not_multiplied_by_its_parts(tmp_path: Path) -> None:
    """The files directly in a new root's top folder (its first survey) say nothing of the folders
    below it: 5,000 of them beside 100 small folders do not send a million-row catalog into a
    rebuild of every index (multiplied by its 101 parts they forecast 505,000 rows)."""
    with Catalog(tmp_path / "c.sqlite") as catalog:
        new = catalog.ensure_root(str(tmp_path / "flat"), "SU8230", None, None)
        with catalog.bulk_load({new: 101}) as load:
            load.rows_present = 1_000_000  # what the walk is weighed against
            load.surveyed(new, 5_000)  # its top folder
            assert load.forecast() == 5_000 and not load.active
            for _ in range(10):
                load.surveyed(new, 10)  # its folders, ten files each
            assert 5_000 + 100 < load.forecast() <= 5_000 + 100 * 10
            assert not load.active
            load.surveyed(new, 2_000_000)  # a big folder after all: the rest is weighed as before
            assert load.active
        _assert_whole(tmp_path / "c.sqlite")


def test_bulk_census_equals_row_by_row_census(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drops: list[int]) -> None:
    archive = tmp_path / "archive"
    generate_archive(archive, 300, seed=11)
    specs = _specs(archive)

    def census(path: Path) -> dict[str, list[tuple]]:
        with Catalog(path) as catalog:  # one root per command: the later roots arrive with rows present
            for spec in specs:
                scan(catalog, [spec], workers=0)
            gone = sorted((archive / specs[0].instrument).rglob("*.tif"))[0]
            moved = gone.with_name("renamed-" + gone.name)
            gone.rename(moved)  # a rescan with a change: row by row
            scan(catalog, specs, workers=0)
            moved.rename(gone)
        return _contents(path)

    bulky = census(tmp_path / "bulk.sqlite")
    assert drops and drops[0] == 0, "the first census went bulk"
    went_bulk = len(drops)
    monkeypatch.setattr(bulk, "worth_bulk", lambda rows, present, counted=False: False)
    plain = census(tmp_path / "plain.sqlite")
    assert len(drops) == went_bulk, "the plain census never dropped an index"
    assert went_bulk == len(specs), "each root (as big as the catalog before it) went bulk; the rescan did not"
    for part, rows in plain.items():
        assert bulky[part] == rows, part
    assert len(plain["images"]) > 300 and plain["census_cube"] and plain["metadata"]
    _assert_whole(tmp_path / "bulk.sqlite")




def test_interrupted_bulk_load_leaves_a_whole_catalog(tmp_path: Path, drops: list[int]) -> None:
    archive, path = _archive(tmp_path, 400, seed=3)
    with Catalog(path) as catalog:
        with pytest.raises(KeyboardInterrupt):
            scan(catalog, _specs(archive), workers=0, progress=InterruptAfter(100), batch_size=16)
        assert drops == [0]
        assert 100 <= catalog.total(files=True, include_missing=True) < 400
        assert catalog.scans()[0]["status"] == "interrupted"
    _assert_whole(path)
    with Catalog(path) as catalog:  # resumed: the rest is read, row by row or not, into a whole catalog
        assert scan(catalog, _specs(archive), workers=0).complete
    _assert_whole(path)


def test_an_interrupt_as_the_drop_commits_is_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, path = _archive(tmp_path, 20, seed=8)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive), workers=0)
        root_id = catalog.roots()[0]["id"]

        class Interrupted(sqlite3.Connection):
            """Ctrl-C as its first transaction (the drop) has committed."""

            pressed = False

            def __exit__(self, *exc: object) -> bool:
                super().__exit__(*exc)
                if not Interrupted.pressed:
                    Interrupted.pressed = True
                    raise KeyboardInterrupt
                return False

        real = catalog.db
        with pytest.raises(KeyboardInterrupt), catalog.bulk_load({root_id: 1}) as load:
            load.db = sqlite3.connect(path, factory=Interrupted, isolation_level=None)
            load.surveyed(root_id, 10_000)
        load.db.close()
        assert not bulk.missing_objects(real)
    _assert_whole(path)


def test_readers_never_see_a_stale_cube_during_a_bulk_load(tmp_path: Path) -> None:
    archive, path = _archive(tmp_path, 120, seed=5)
    with Catalog(path) as writer:
        scan(writer, _specs(archive), workers=0)
        with Catalog(path, readonly=True) as reader:
            before = reader.count(by="year")
            assert reader.census_source("count(*)", {"year"})[0] == "census_cube"
        root_id = writer.roots()[0]["id"]
        with writer.bulk_load({root_id: 1}) as load:
            load.surveyed(root_id, 10_000)
            assert load.active
            with writer.db:  # what the load writes: rows the cube does not follow
                writer.db.execute("UPDATE images SET year = 1999 WHERE is_primary = 1 AND year = ?", (before[0]["year"],))
            with Catalog(path, readonly=True) as reader:  # another process: the dashboard, `count`
                assert reader.census_source("count(*)", {"year"})[0] == "images"
                during = reader.count(by="year")
                audit = reader.audit()
            assert during[0] == {"year": 1999, "count": before[0]["count"]}
            assert during[1:] == before[1:]
            assert audit["acquisitions"] == sum(group["count"] for group in before)
        _assert_whole(path)
        with Catalog(path, readonly=True) as reader:
            assert reader.census_source("count(*)", {"year"})[0] == "census_cube"
            assert reader.count(by="year") == during


def _typed(db: sqlite3.Connection, cube: str) -> list[tuple]:
    """A cube's rows with each value's type (Python's == takes 1 for 1.0: a key must not)."""
    return [tuple((value, type(value)) for value in row) for row in db.execute(f"SELECT * FROM {cube} ORDER BY key")]


#: Values a cube column may meet, of every type SQLite stores (a reader's bug, a text where a number
#: belongs): each is written as it is, so that the column's type affinity converts it or not.
_ODD = {
    "magnification": [50_000, 50_000.0, "50000", "5e4", "x", None, -0.0, 0.0, 1e308, 2**62],
    "year": [2019, 2019.0, "2019", "20x9", None, 2019.5, -1],
    "detector": ["SE", "", None, 1, 1.0, "1", "é", b"SE", "SE "],
    "acquired_at": ["2019-06-01T10:00:00", 20190601, None, "2019", "ü2019-06-01", "2019-06-02", 2019.06, ""],
    "project": ["p1", "P1", None, 7, 7.5, "ñ"],
    "size_bytes": [1, 2**40, 0],
}


@contextmanager
def _one_root_censused(tmp_path: Path, *, seed: int) -> Iterator[tuple[Catalog, Path, int, list[str]]]:
    """A catalog holding one root's census (40 images), its file, its root id, and the `images` columns
    a test copies rows by (all but id and path)."""
    archive, path = _archive(tmp_path, 40, seed=seed)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive)[:1], workers=0)
        columns = [row[1] for row in catalog.db.execute("PRAGMA table_info(images)") if row[1] not in ("id", "path")]
        yield catalog, path, catalog.roots()[0]["id"], columns


@pytest.mark.parametrize("max_keys", [1_000_000, 3])
def test_a_loads_counts_equal_the_group_by_fill_whatever_the_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    max_keys: int) -> None:
    """The cubes a bulk load counts itself (`CubeSums`: values read back, grouped in Python, keyed in
    SQL) are the fill's, value and type, on values of every storage class, on a catalog with rows
    counted by the triggers before the drop, and when the counts go to the cubes several times during
    the load (`max_keys` 3)."""
    monkeypatch.setattr(bulk.CubeSums, "MAX_KEYS", max_keys)
    with _one_root_censused(tmp_path, seed=8) as (catalog, path, root_id, columns):
        db = catalog.db
        present = db.execute("SELECT count(*) FROM images").fetchone()[0]
        with catalog.bulk_load({root_id: 1}) as load:
            load.surveyed(root_id, 10 * present)
            assert load.active
            copies = 0
            for column, values in _ODD.items():
                for value in values:
                    with db:
                        db.execute(f"INSERT INTO images(path, {', '.join(columns)}) SELECT path || ?, "
                                   f"{', '.join('?' if name == column else name for name in columns)} FROM images"
                                   f" WHERE id <= ?", (f".{copies}", value, present))
                        load.written(present)
                    copies += 1
            assert load.sums is not None, "every row written was new: counted, not refilled"
        with sqlite3.connect(path) as check:
            kept = {cube: _typed(check, cube) for cube in CUBE_FILLS}
            for cube, fill in CUBE_FILLS.items():
                check.execute(f"DELETE FROM {cube}")
                check.execute(fill)
                assert _typed(check, cube) == kept[cube], cube
            check.rollback()
    _assert_whole(path)


#: Paths made of what decides a folder and an extension: separators, dots, extension characters and
#: others (non-ASCII, an undecodable byte and a reserved character as the catalog stores them
#: (`paths.db_text`), a NUL that SQLite's text functions stop at), short or past the 256 characters
#: the folder's SQL splits at.
_PATH_PIECES = st.lists(st.sampled_from(["/", ".", "..", "a", "Z", "9", "_", "-", "tif", "é", "段", " ", "~", "\x00",
                                         db_text("\udcf6"), db_text("\U0010ff90"),
                                         "x" * 120]), max_size=12).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=st.lists(_PATH_PIECES | st.text(max_size=300), min_size=1, max_size=20))
@example(paths=["/a/b.tar.gz", "/a/B.TIF", "/a.d/b", "/a/b/", "/a/b.", "/a/.hidden", "b.tif", "", "/", "/a/b.tif~",
                "/a/b.emd_1", db_text("/a/Gr\udcf6\udcdfe.tif"), db_text("/a\udcf6.d/b\udcf6"), "/" + "x" * 300 + "/y.z"])
def test_the_path_values_a_load_computes_in_python_are_sqlites(paths: list[str]) -> None:
    """The folder and extension a bulk load's counting computes from the stored path in Python
    (`bulk._FROM_PATH`) are what the cubes' fills compute in SQL, value and type; a path holding a NUL,
    or stored as a blob, a number or NULL, goes to SQL."""
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE images(id INTEGER PRIMARY KEY, path TEXT, size_bytes INTEGER)")
        db.executemany("INSERT INTO images(path, size_bytes) VALUES (?, 1)",
                       [(path,) for path in paths if not any(0xD800 <= ord(c) <= 0xDFFF for c in path)])
        db.execute("INSERT INTO images(path, size_bytes) VALUES (CAST('a/b.tif' AS BLOB), 1), (12, 1), (NULL, 1)")
        plan = bulk._cube_plan()
        assert set(plan.from_path) == {FOLDER_SQL.format(path="images.path"), EXTENSION_SQL.format(path="images.path")}
        bare = bulk._CubePlan("SELECT size_bytes, path FROM images WHERE id > ?", (), plan.from_path, 0)
        expected = db.execute(f"SELECT size_bytes, path, {', '.join(plan.from_path)} FROM images").fetchall()
        got = bare.read(db, 0)
        assert [[(type(v), v) for v in row] for row in got] == [[(type(v), v) for v in row] for row in expected]
    assert bulk.extension_of("a/b.TIF") == ".TIF" and bulk.extension_of("a.b/c") is None
    assert bulk.folder_of("a/b/c.tif") == "a/b/" and set(EXTENSION_CHARACTERS) >= set("tif_-09")


def test_a_load_that_updates_rows_refills_the_cubes(tmp_path: Path) -> None:
    """A row written again (a changed file) takes its old values out of no cube: such a load stops
    counting and refills the cubes at its end."""
    archive, path = _archive(tmp_path, 40, seed=9)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive)[:1], workers=0)
        root_id = catalog.roots()[0]["id"]
        with catalog.bulk_load({root_id: 1}) as load:
            load.surveyed(root_id, 10_000)
            with catalog.db:
                catalog.db.execute("UPDATE images SET year = 1999, size_bytes = size_bytes + 1 WHERE is_primary = 1")
                load.written(1)
            assert load.sums is None
    _assert_whole(path)


@pytest.mark.parametrize("write", ["another connection updates", "another connection inserts", "this one deletes",
                                   "this one inserts untold"])
def test_a_load_refills_the_cubes_after_any_write_it_did_not_count(tmp_path: Path, write: str) -> None:
    """Besides the rows it counts, a load's cubes must take in every other change of `images` made
    while their triggers are gone: by another connection (told by the file's data version, or by ids
    that do not follow on), a row deleted by the load's own connection, rows it added untold."""
    with _one_root_censused(tmp_path, seed=10) as (catalog, path, root_id, columns):
        db = catalog.db
        present = db.execute("SELECT max(id) FROM images").fetchone()[0]
        copy = (f"INSERT INTO images(path, {', '.join(columns)}) SELECT path || ?, {', '.join(columns)} FROM images"
                " WHERE id BETWEEN ? AND ?")

        def counted_batch(suffix: str) -> None:  # copies of the rows present but the first
            with db:
                db.execute(copy, (suffix, 2, present))
                load.written(present - 1)

        with catalog.bulk_load({root_id: 1}) as load:
            load.surveyed(root_id, 10 * present)
            assert load.active
            counted_batch(".a")
            counted_batch(".b")
            assert load.sums is not None
            # the write last: only what the load checks at its end or while it runs can tell it
            if write.startswith("another connection"):
                with sqlite3.connect(path, timeout=10) as other:
                    if write.endswith("updates"):
                        other.execute("UPDATE images SET year = 1999, size_bytes = size_bytes + 1 WHERE id = 1")
                    else:
                        other.execute(f"INSERT INTO images(path, {', '.join(columns)}) SELECT path || '.other',"
                                      f" {', '.join(columns)} FROM images WHERE id = 1")
                other.close()
            elif write == "this one deletes":
                with db:
                    db.execute("DELETE FROM images WHERE id = 1")
            else:
                with db:
                    db.execute(copy, (".untold", 1, 1))
        assert load.sums is None, write
    _assert_whole(path)


def test_an_interrupt_while_counting_refills_the_cubes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of counting a batch: its transaction is rolled back, the counts made of
    its rows so far must not reach a cube (the load refills them)."""
    plan = bulk._cube_plan()
    calls = {"n": 0}

    def interrupted(row: tuple) -> tuple:
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return plan.cubes[0].pick(row)

    first = bulk._CubeAdd(plan.cubes[0].cube, interrupted, plan.cubes[0].width, plan.cubes[0].add)
    monkeypatch.setattr(bulk, "_cube_plan", lambda: bulk._CubePlan(plan.select, (first, *plan.cubes[1:]), plan.from_path,
                                                                   plan.size_at))
    archive, path = _archive(tmp_path, 200, seed=4)
    with Catalog(path) as catalog:
        with pytest.raises(KeyboardInterrupt):
            scan(catalog, _specs(archive), workers=0, batch_size=8)
        assert 0 < catalog.total(files=True, include_missing=True) < 200
    _assert_whole(path)


_KILLED_SCAN = """
import os
import sys
from emcensus.catalog import Catalog
from emcensus.scan import RootSpec, scan
with Catalog(sys.argv[1]) as catalog:
    scan(catalog, [RootSpec(root, os.path.basename(root)) for root in sys.argv[2:]], workers=0, batch_size=8)
"""


def test_killed_bulk_load_is_restored_by_the_next_writable_open(tmp_path: Path) -> None:
    archive, path = _archive(tmp_path, 1500, seed=9)
    process = subprocess.Popen([sys.executable, "-c", _KILLED_SCAN, str(path), *(str(p) for p in sorted(archive.iterdir())
                                                                                  if p.is_dir())])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if path.exists() and os.path.getsize(path):
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
                    if (db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'images_census'").fetchone() == (0,)
                            and db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'images'").fetchone() == (1,)
                            and db.execute("SELECT count(*) FROM images").fetchone()[0] > 200):
                        process.send_signal(signal.SIGKILL)
                        break
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "killed mid-load"
    with sqlite3.connect(path) as db:
        assert bulk.missing_objects(db), "the kill left the load's dropped indexes and triggers"
        rows = db.execute("SELECT count(*) FROM images WHERE status = 'present' AND readable = 1"
                          " AND is_primary = 1 AND kind = 'image'").fetchone()[0]
        assert db.execute("SELECT coalesce(sum(n), 0) FROM census_cube").fetchone()[0] < rows, "its cube is behind"
    with Catalog(path, readonly=True) as reader:  # before any writer: counts from the table, not the stale cube
        assert reader.total() == rows
    with Catalog(path) as catalog:
        assert catalog.total() == rows
    _assert_whole(path)
    with Catalog(path, readonly=True) as reader:
        assert reader.census_source("count(*)", ())[0] == "census_cube"
        assert reader.total() == rows


_HOLD_LOCK = """
import sys, time
from emcensus.catalog.connection import scan_lock
with scan_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_writable_open_leaves_a_live_load_alone_and_restores_a_dead_one(tmp_path: Path) -> None:
    """Another command opening the catalog for writing while a scan loads in bulk (a decision on the
    dashboard, `figures accept`) does not rebuild the indexes under it (at a million rows that holds
    the catalog for longer than the scan waits for it); once no scan holds the lock, it does."""
    archive, path = _archive(tmp_path, 40, seed=4)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive), workers=0)
        root_id = catalog.roots()[0]["id"]
        load = catalog.bulk_load({root_id: 1})
        load.surveyed(root_id, 10_000)  # the load's process dies here, its lock with it or not
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with Catalog(path) as other:
            assert bulk.missing_objects(other.db), "left to the scan that holds the lock"
            assert other.census_source("count(*)", {"year"})[0] == "images"
    finally:
        holder.communicate("\n", timeout=60)
    with Catalog(path) as other:
        assert not bulk.missing_objects(other.db)
    _assert_whole(path)


def test_a_scan_restores_what_a_load_killed_since_its_catalog_was_opened(tmp_path: Path) -> None:
    """A catalog opened while another scan loaded in bulk (its open left the load alone), scanned
    after that scan died: the scan, holding the lock now, makes it whole even if it writes row by row."""
    archive, path = _archive(tmp_path, 40, seed=4)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive), workers=0)
        root_id = catalog.roots()[0]["id"]
        catalog.bulk_load({root_id: 1}).surveyed(root_id, 10_000)  # the other scan's load, never ended
        assert bulk.missing_objects(catalog.db)
        assert scan(catalog, _specs(archive), workers=0).complete  # a rescan: nothing to write in bulk
        assert not bulk.missing_objects(catalog.db)
    _assert_whole(path)


def test_a_writable_open_asks_for_a_live_scan_only_under_the_write_lock_and_when_something_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole catalog opens without taking the scan lock for an instant; a broken one asks whether a
    scan's load owns what is missing while it holds the write lock, which a load needs to drop."""
    archive, path = _archive(tmp_path, 20, seed=6)
    with Catalog(path) as catalog:
        scan(catalog, _specs(archive), workers=0)
        root_id = catalog.roots()[0]["id"]
    asked: list[str] = []

    def scan_running(catalog_path: Path) -> bool:
        with sqlite3.connect(catalog_path, timeout=0) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
                asked.append("unlocked")
                other.rollback()
            except sqlite3.OperationalError:
                asked.append("write lock held")
        return False

    monkeypatch.setattr("emcensus.catalog.scan_running", scan_running)
    with Catalog(path) as catalog:
        assert asked == []
        catalog.bulk_load({root_id: 1}).surveyed(root_id, 10_000)  # a load whose scan dies
    with Catalog(path):
        assert asked == ["write lock held"]
    _assert_whole(path)


_PROBE = """
import os, sys
from emcensus.catalog.connection import scan_running
assert not scan_running(sys.argv[1])
print("probing", flush=True)
while os.path.exists(sys.argv[2]):  # until the scans are done
    scan_running(sys.argv[1])
"""


def test_the_probe_of_a_running_scan_never_refuses_a_scan(tmp_path: Path) -> None:
    path, probing = tmp_path / "c.sqlite", tmp_path / "probing"
    with scan_lock(path):  # the lock file exists: the probe takes the lock, not just finds no file
        pass
    probing.touch()
    probe = subprocess.Popen([sys.executable, "-c", _PROBE, str(path), str(probing)], stdout=subprocess.PIPE, text=True)
    try:
        assert probe.stdout.readline() == "probing\n"  # the probe is running (however slowly it started)
        scans, end = 0, time.monotonic() + 2
        while scans < 200 or time.monotonic() < end:  # without the wait: refusals in each of 5 runs
            with scan_lock(path):
                scans += 1
    finally:
        probing.unlink()
        probe.communicate(timeout=60)
    assert probe.returncode == 0


def test_each_files_metadata_is_stored_under_its_own_row_however_its_id_came(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A write stores each read file's original metadata under the id its row was just given when
    every row it wrote is new (the next ids, in order), else found by path: new rows past the last id
    SQLite counts to (their ids then drawn at random) and changed rows (their ids kept) get their own
    file's metadata, as a census that finds every file by its path stores it."""
    archive, path = _archive(tmp_path, 60, seed=3)
    roots = _specs(archive)
    with monkeypatch.context() as by_path:
        by_path.setattr(Catalog, "_last_image_id", lambda self: -1)
        with Catalog(tmp_path / "by-path.sqlite") as catalog:
            scan(catalog, roots, workers=0)
    with Catalog(path) as catalog:
        scan(catalog, roots[:1], workers=0)
        columns = [row[1] for row in catalog.db.execute("PRAGMA table_info(images)") if row[1] not in ("id", "path")]
        last = 2**63 - 1
        with catalog.db:
            catalog.db.execute(f"INSERT INTO images(id, path, {', '.join(columns)}) SELECT ?, path || '.x', "
                               f"{', '.join(columns)} FROM images LIMIT 1", (last,))
        scan(catalog, roots[1:], workers=0)
        drawn = [row[0] for row in catalog.db.execute("SELECT id FROM images WHERE root_id > 1 ORDER BY id")]
        assert drawn != list(range(drawn[0], drawn[0] + len(drawn))), "ids past the last are drawn at random"
        with catalog.db:
            catalog.db.execute("DELETE FROM images WHERE id = ?", (last,))
        changed = sorted(Path(roots[0].path).rglob("*.tif"))[:5]
        for image in changed:
            os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
        assert scan(catalog, roots, workers=0).read == len(changed)
    assert _contents(path)["metadata"] == _contents(tmp_path / "by-path.sqlite")["metadata"]
