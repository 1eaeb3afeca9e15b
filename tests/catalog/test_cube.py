"""The census cube (schema 10), the detail cube (schema 11), the time cubes and the folder table
(schema 12) give the numbers the `images` table gives, for every filter and grouping they answer,
and stay equal to the table through every kind of write."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcensus.catalog import _SETTINGS_COLUMNS, Catalog
from emcensus.catalog.query import FILTER_COLUMNS, GROUP_FIELDS, QUALITY_FLAGS, ImageFilter, group_columns
from emcensus.catalog import cube as cube_module
from emcensus.catalog.cube import CUBE_EXPRESSIONS
from emcensus.catalog.schema import (_DERIVATION_COLUMNS, CUBE_COLUMNS, DETAIL_COLUMNS, FOLDER_COLUMNS, FOLDER_SQL,
                                     MAGNIFICATION_TIME_COLUMNS, MIGRATIONS, PROJECT_TIME_COLUMNS, changes_derivation,
                                     cube_values)
from emcensus.demo.generate import generate_archive
from emcensus.errors import QueryError
from emcensus.scan import scan
from support import demo_census, instrument_roots

_LAYOUT = "{group}/{project}/**"
CUBES = {"census_cube": CUBE_COLUMNS, "census_detail": DETAIL_COLUMNS, "census_magnification": MAGNIFICATION_TIME_COLUMNS,
         "census_project": PROJECT_TIME_COLUMNS, "census_folders": FOLDER_COLUMNS}
#: The cubes `count` reads (the folder table only finds folders for `--path`).
COUNTING = [cube for cube in CUBES if cube != "census_folders"]


def _drop(db: sqlite3.Connection, cubes: list[str], version: int) -> None:
    """Make `db` a catalog of schema `version`, without `cubes` (those of the later migrations) and
    the acquisition time and magnification indexes (migration 12)."""
    db.executescript("".join(f"DROP TRIGGER {cube}_insert; DROP TRIGGER {cube}_delete; DROP TRIGGER {cube}_update;"
                             f" DROP TABLE {cube};" for cube in cubes) + ("DROP INDEX images_acquired; DROP INDEX images_magnification;" if version < 12 else "")
                     + f"PRAGMA user_version = {version};")


def _cube(db: sqlite3.Connection, cube: str = "census_cube") -> list[tuple]:
    return db.execute(f"SELECT {', '.join(CUBES[cube])}, n, bytes FROM {cube} ORDER BY key").fetchall()


def _recounted(db: sqlite3.Connection, cube: str = "census_cube") -> list[tuple]:
    """The cube computed afresh from `images`, in the cube's order."""
    values = cube_values("images", CUBES[cube])
    key = " || ',' || ".join(f"quote({value})" for value in values)
    return db.execute(f"SELECT {', '.join(values)}, count(*), sum(size_bytes) FROM images"
                      f" GROUP BY {', '.join(values)} ORDER BY {key}").fetchall()


def _in_step(db: sqlite3.Connection) -> bool:
    """Every cube is the table counted."""
    return all(_cube(db, cube) == _recounted(db, cube) for cube in CUBES)


def _scan(catalog: Catalog, archive: Path, layout: str | None = _LAYOUT) -> None:
    scan(catalog, instrument_roots(archive, layout), workers=0)


@pytest.fixture(scope="module")
def census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of a 300-image demo archive rescanned after some files went missing."""
    archive, path = demo_census(tmp_path_factory.mktemp("cube"), 300, seed=7, layout=_LAYOUT)
    gone = sorted((archive / "SU8230").rglob("*.tif"))[::9]
    for file in gone:
        file.unlink()
    with Catalog(path) as catalog:
        _scan(catalog, archive)
        assert catalog.total(include_missing=True) > catalog.total()  # missing rows are in the cube too
    return path


def _table_only(catalog: Catalog) -> Catalog:
    """`catalog` answering every query from `images`, as before the cube."""
    catalog.census_source = lambda aggregate, columns: ("images", aggregate)
    return catalog


@pytest.mark.parametrize("cube", CUBES)
def test_cube_is_the_table_counted_after_scans(census: Path, cube: str) -> None:
    with sqlite3.connect(census) as db:
        assert _cube(db, cube) == _recounted(db, cube)
        assert 0 < len(_cube(db, cube)) < db.execute("SELECT count(*) FROM images").fetchone()[0]
        totals = db.execute("""SELECT sum(kind = 'image'), sum(is_primary AND kind = 'image'), sum(kind = 'sidecar-only'),
                                      sum(kind NOT IN ('image', 'sidecar-only'))
                               FROM images WHERE status = 'present' AND readable = 1""").fetchone()
    with Catalog(census, readonly=True) as catalog:
        audit = catalog.audit()
    assert (audit["image_files"], audit["acquisitions"], audit["sidecar_only_acquisitions"],
            audit["non_image_files"]) == totals


def test_every_filter_says_which_columns_it_reads() -> None:
    """A filter the cube cannot see would be answered wrongly: each one must be listed."""
    assert set(FILTER_COLUMNS) == {name for name in vars(ImageFilter()) if name}


_CUBE_FIELDS = {cube: sorted(name for name, expr in GROUP_FIELDS.items() if expr in expressions)
                for cube, expressions in CUBE_EXPRESSIONS.items()}
#: Filters each cube answers, by the column that holds their values (lists of values; ranges apart).
_CUBE_FILTERS = {
    "census_cube": {"instrument": "instrument", "technique": "technique", "detector": "detector_family",
                    "vendor": "vendor", "group": "group_name", "scalebar_decade": "scalebar_decade"},
    "census_detail": {"instrument": "instrument", "technique": "technique", "vendor": "vendor", "group": "group_name",
                      "project": "project", "scalebar_decade": "scalebar_decade"},
    "census_magnification": {"instrument": "instrument", "technique": "technique", "detector": "detector_family",
                             "vendor": "vendor"},
    "census_project": {"instrument": "instrument", "technique": "technique", "detector": "detector_family",
                       "vendor": "vendor", "project": "project"},
}
_RANGES = {"census_cube": {}, "census_detail": {"magnification": "magnification", "fov": "fov_m"},
           "census_magnification": {"magnification": "magnification"}, "census_project": {}}


@st.composite
def _cube_queries(draw: st.DrawFn, cube: str, values: dict[str, list]) -> tuple[str, dict]:
    """A random `count` the cube answers: up to two group fields and any of its filters."""
    by = draw(st.lists(st.sampled_from(_CUBE_FIELDS[cube]), max_size=2, unique=True))
    filters: dict = {}
    for name in _CUBE_FILTERS[cube]:
        if values[name] and draw(st.booleans()):
            filters[name] = draw(st.lists(st.sampled_from(values[name]), min_size=1, max_size=2, unique=True))
    for name in _RANGES[cube]:  # a stored value (matched within its rounding), or a range between two
        if draw(st.booleans()):
            chosen = sorted(draw(st.lists(st.sampled_from(values[name]), min_size=1, max_size=2)))
            low, high = chosen[0], chosen[-1]
            filters[name] = low if low == high else (low, high)
    if "year" in CUBES[cube]:
        low = draw(st.integers(2011, 2023))
        if draw(st.booleans()):
            filters["year"] = f"{low}-{draw(st.integers(low, 2023))}"
        if draw(st.booleans()):
            filters["until"] = draw(st.integers(low, 2023))  # a window with no year is refused, not counted
    filters["include_missing"] = draw(st.booleans())
    filters["kind"] = draw(st.sampled_from(["image", "all", "sidecar-only"]))
    return ",".join(by), filters


def _known(path: Path) -> dict[str, list]:
    columns = {name: column for filters in (*_CUBE_FILTERS.values(), *_RANGES.values()) for name, column in filters.items()}
    with Catalog(path, readonly=True) as catalog:
        values = {name: [row[0] for row in catalog.db.execute(
            f"SELECT DISTINCT {col} FROM images WHERE {col} IS NOT NULL ORDER BY 1")] for name, col in columns.items()}
        values["root"] = [root["path"] for root in catalog.roots()]
    return values


@pytest.mark.parametrize("cube", COUNTING)
def test_cube_counts_equal_table_counts_for_random_queries(census: Path, cube: str) -> None:
    assert "month" in _CUBE_FIELDS["census_cube"] and "magnification" in _CUBE_FIELDS["census_detail"]
    values = _known(census)
    assert len(values["project"]) > 1 and len(values["magnification"]) > 1

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_cube_queries(cube, values), st.booleans())
    def check(query: tuple[str, dict], files: bool) -> None:
        by, filters = query
        with Catalog(census, readonly=True) as cubed, _table_only(Catalog(census, readonly=True)) as plain:
            columns = ImageFilter(**filters).columns() | {GROUP_FIELDS[f] for f in by.split(",") if f} | {"is_primary"}
            first = next(tried for tried, expressions in CUBE_EXPRESSIONS.items() if columns <= expressions)
            assert cubed.census_source("count(*)", columns)[0] == first
            assert cubed.count(by, files=files, **filters) == plain.count(by, files=files, **filters)
            assert cubed.storage(by, **filters) == plain.storage(by, **filters)

    check()


def test_queries_the_cube_cannot_answer_read_the_table(census: Path) -> None:
    with Catalog(census, readonly=True) as cubed, _table_only(Catalog(census, readonly=True)) as plain:
        for by, filters in [("quality_flag", {}), ("magnification,year", {"fov": "1um-"}), ("", {"path": "*/SU8000/?*"}),
                            ("year", {"path": "*/SU8000/*"}), ("", {"path": "*.tif", "year": 2019}),
                            ("year", {"fov": "1um-"}), ("project,month", {"magnification": "1000-50000"}),
                            ("magnification,year", {"scalebar_decade": "10-100nm"}), ("detector", {"fov": "1um-"})]:
            columns = ImageFilter(**filters).columns() | {GROUP_FIELDS[f] for f in by.split(",") if f}
            assert cubed.census_source("count(*)", columns)[0] == "images"
            assert cubed.count(by, **filters) == plain.count(by, **filters)
        assert cubed.census_source("count(DISTINCT acquisition_key)", {"year"})[0] == "images"


def test_a_filter_given_as_false_is_still_a_filter() -> None:
    """`blank=False` (the library's spelling of `--blank no`) asks for frames measured as not blank:
    taken for "not asked", it sent the query to the cube, which has no quality (an SQL error)."""
    assert "quality" in ImageFilter(blank=False).columns()
    assert ImageFilter(include_missing=False).columns() == ImageFilter().columns()


def _writable_copy(census: Path, folder: Path) -> sqlite3.Connection:
    """A connection to a copy of `census` in `folder`, for plain SQL writes."""
    db = sqlite3.connect(folder / "c.sqlite")
    with sqlite3.connect(census) as source:
        source.backup(db)
    return db


def test_a_catalog_of_schema_9_gets_its_cube_from_its_images(census: Path, tmp_path: Path) -> None:
    old = tmp_path / "v9.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(old) as copy:
        source.backup(copy)
        _drop(copy, list(CUBES), 9)
    with Catalog(old) as migrated, Catalog(census, readonly=True) as kept:
        for cube in CUBES:
            assert _cube(migrated.db, cube) == _recounted(migrated.db, cube) == _cube(kept.db, cube)
        assert migrated.count("year,instrument", include_missing=True) == kept.count("year,instrument", include_missing=True)


def test_cube_follows_every_write(tmp_path: Path) -> None:
    """Both cubes, from an empty catalog of schema 9: new, changed, vanished and returning files, a new layout
    (derived columns recomputed), sidecar-only acquisitions coming and going, files marked missing."""
    archive = tmp_path / "archive"
    generate_archive(archive, 60, seed=3)
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:  # a catalog of schema 9, scanned before the cube existed
        for statements in MIGRATIONS[:9]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 9")
    root = archive / "HT7700"
    moved = {}
    with Catalog(path) as catalog:
        assert _cube(catalog.db) == _recounted(catalog.db) == []
        _scan(catalog, archive, layout=None)
        assert _in_step(catalog.db) and _cube(catalog.db) != [] != _cube(catalog.db, "census_detail")
        images = sorted(root.rglob("*.tif"))
        for sidecar in sorted(root.rglob("*.txt"))[:2]:        # sidecar-only acquisitions come and go
            moved[sidecar] = sidecar.read_bytes()
            sidecar.unlink()
        images[0].unlink()                                   # missing
        grown = next(image for image in images[1:] if image.parent not in {sidecar.parent for sidecar in moved})
        grown.write_bytes(grown.read_bytes() + b"x")          # only its size changes: the bytes must follow
        _scan(catalog, archive, layout=None)
        assert _in_step(catalog.db)
        _scan(catalog, archive)                               # a layout: group and project recomputed
        assert _in_step(catalog.db)
        for sidecar, text in moved.items():
            sidecar.write_bytes(text)
        _scan(catalog, archive)
        assert _in_step(catalog.db)
        catalog.mark_missing(catalog.begin_scan([str(root)]), [row[0] for row in catalog.db.execute(
            "SELECT path FROM images WHERE kind = 'sidecar-only' OR root_id = 1")])
        assert _in_step(catalog.db)


@pytest.mark.parametrize("cube", COUNTING)
def test_any_write_to_a_counted_column_moves_its_file_in_the_cube(census: Path, tmp_path: Path, cube: str) -> None:
    """Plain SQL writes, not only the scan's: each column the cube counts by (and the size) changed
    alone to another file's value or to NULL, a time moved within its month and to another month, a
    value changed only in case, a float one step from another file's (its own row: the key is exact),
    rows deleted and inserted: the cube is the table counted after each."""
    counted = CUBES[cube]
    db = _writable_copy(census, tmp_path)
    try:
        ids = [row[0] for row in db.execute("SELECT id FROM images WHERE acquired_at IS NOT NULL ORDER BY id")]
        for step, column in enumerate([*counted, "size_bytes"]):
            target = ids[step]
            other = db.execute(f"SELECT {column} FROM images WHERE {column} IS NOT NULL AND {column} IS NOT"
                               f" (SELECT {column} FROM images WHERE id = ?1) LIMIT 1", (target,)).fetchone()
            value = other[0] if other else {"INTEGER": 0}.get(counted.get(column, "INTEGER"), "other")  # readable
            db.execute(f"UPDATE images SET {column} = ? WHERE id = ?", (value, target))
            assert _cube(db, cube) == _recounted(db, cube), column
            if counted.get(column) == "REAL" and other:  # a value no key may round to the other's
                near = math.nextafter(other[0], math.inf)
                db.execute(f"UPDATE images SET {column} = ? WHERE id = ?", (near, ids[-1 - step]))
                assert _cube(db, cube) == _recounted(db, cube), column
                assert db.execute(f"SELECT n FROM {cube} WHERE {column} = ?", (near,)).fetchall() == [(1,)], column
            try:
                db.execute(f"UPDATE images SET {column} = NULL WHERE id = ?", (ids[-1 - step],))
            except sqlite3.IntegrityError:  # NOT NULL
                pass
            assert _cube(db, cube) == _recounted(db, cube), column
        before = _cube(db, cube)
        db.execute("UPDATE images SET acquired_at = substr(acquired_at, 1, 8) || '28T23:59:59' WHERE id = ?", (ids[50],))
        assert _cube(db, cube) == _recounted(db, cube) == before  # the same month: the same row
        db.execute("UPDATE images SET acquired_at = '1999-01-01T00:00:00' WHERE id IN (?, ?)", (ids[51], ids[52]))
        db.execute("UPDATE images SET instrument = lower(instrument) WHERE id % 5 = 0")
        assert _cube(db, cube) == _recounted(db, cube) != before
        columns = [row[1] for row in db.execute("PRAGMA table_info(images)")]
        copied = ", ".join("NULL" if c == "id" else "path || '.copy'" if c == "path" else c for c in columns)
        db.execute(f"INSERT INTO images({', '.join(columns)}) SELECT {copied} FROM images WHERE id % 13 = 0")
        db.execute("DELETE FROM images WHERE id % 11 = 0")
        assert _cube(db, cube) == _recounted(db, cube)
    finally:
        db.close()


def test_a_path_glob_lists_in_any_order_the_rows_it_counts(census: Path) -> None:
    """`--path` is matched two ways (the path index walked in order for a page in path order, row ids
    from it otherwise): both give the rows the count counts."""
    with Catalog(census, readonly=True) as catalog:
        for pattern in ("*/SU8230/*", "*.tif", "*/HT7700/*/2*"):
            counted = catalog.count(files=True, path=pattern, kind="all")[0]["count"]
            by_path = [row["id"] for row in catalog.images(path=pattern, kind="all", order="path")]
            by_size = [row["id"] for row in catalog.images(path=pattern, kind="all", order="-size_bytes")]
            assert counted == len(by_path) > 0 and sorted(by_path) == sorted(by_size)
            acquisitions = sum(row["is_primary"] for row in catalog.images(path=pattern, kind="all"))
            assert catalog.count(path=pattern, kind="all")[0]["count"] == acquisitions > 0
            assert by_path == [row["id"] for row in catalog.images(path=pattern, kind="all", order="path", limit=5000)]


@pytest.mark.parametrize("version", [10, 11])
def test_an_upgrade_to_a_new_cube_recomputes_no_derived_column(census: Path, tmp_path: Path, version: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrations 11 and 12 add cubes, no column the derived columns are computed from or stored in:
    the upgrade does not recompute every root's derived columns (49 s of CPU at a million images);
    only migration 2, which added them, does."""
    later = list(CUBES)[version - 9:]  # the cubes of the migrations after `version`
    old = tmp_path / f"v{version}.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(old) as copy:
        source.backup(copy)
        _drop(copy, later, version)
    recomputed: list[int] = []
    monkeypatch.setattr(Catalog, "_recompute_root", lambda self, root_id: recomputed.append(root_id))
    with Catalog(old) as migrated:
        assert recomputed == [] and migrated.roots()
        for cube in later:
            assert _cube(migrated.db, cube) == _recounted(migrated.db, cube) != []
    assert [number + 1 for number, statements in enumerate(MIGRATIONS) if changes_derivation(statements)] == [2]


@pytest.mark.parametrize("statement", [
    "ALTER TABLE images ADD COLUMN pixel_size_m REAL", "alter  table \"images\"\n  add magnification REAL",
    "ALTER TABLE images ADD COLUMN fov_m REAL", "ALTER TABLE [roots] ADD COLUMN `layout` TEXT",
    "ALTER TABLE images RENAME COLUMN old_width TO width_px", "ALTER TABLE images DROP COLUMN Project"])
def test_a_migration_altering_what_the_derived_columns_read_or_store_recomputes_them(statement: str) -> None:
    """Any spelling SQLite takes of a column the derived columns are computed from (an image's, a
    root's setting) or stored in: a miss would leave every upgraded catalog's FOVs and projects empty
    or stale; the columns are catalog.derived's names, which must be those of the tables."""
    assert changes_derivation(["CREATE TABLE t (a)", statement])
    assert not changes_derivation([statement.replace("images", "articles").replace("roots", "articles")])
    assert not changes_derivation(["ALTER TABLE images ADD COLUMN width_px_binned INTEGER"])
    db = sqlite3.connect(":memory:")
    for statements in MIGRATIONS:
        for sql in statements:
            db.execute(sql)
    for table, columns in _DERIVATION_COLUMNS.items():
        assert columns <= {row[1] for row in db.execute(f"PRAGMA table_info({table})")}, table
    assert _DERIVATION_COLUMNS["roots"] == set(_SETTINGS_COLUMNS.split(", "))


@pytest.fixture(scope="module")
def measured(census: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`census` with quality measured on half of its files (every flag, and none: a failed measure),
    one in five of them on a state the file no longer has (its size or its mtime changed since: not its
    current quality)."""
    path = tmp_path_factory.mktemp("measured") / "c.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(path) as db:
        source.backup(db)
        flags = [*QUALITY_FLAGS, None]
        rows = db.execute("SELECT id, size_bytes, mtime_ns FROM images ORDER BY id").fetchall()[::2]
        db.executemany("INSERT INTO quality(image_id, size_bytes, mtime_ns, quality_flag, metric_version, computed_at)"
                       " VALUES (?, ?, ?, ?, 1, '2026-01-01')",
                       [(image_id, size + (n % 10 == 0), mtime + (n % 10 == 5), flags[n % len(flags)])
                        for n, (image_id, size, mtime) in enumerate(rows)])
    return path


def test_counts_by_quality_flag_equal_the_flag_read_per_file(measured: Path) -> None:
    """`--by quality_flag` with another field: measured files from the quality table, the others from
    the totals less the measured (a cube's when one answers) give the rows the flag read for each
    file gives, in its order, for random filters, fields and either side of the flag."""
    values = _known(measured)
    fields = sorted(set(GROUP_FIELDS) - {"quality_flag"})

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(COUNTING).flatmap(lambda cube: _cube_queries(cube, values)),
           st.sampled_from(fields), st.booleans(), st.booleans(), st.sampled_from([None, "*/SU8230/*", "*.tif"]))
    def check(query: tuple[str, dict], other: str, flag_first: bool, files: bool, path: str | None) -> None:
        by = ["quality_flag", other] if flag_first else [other, "quality_flag"]
        image_filter = ImageFilter(**query[1], path=path)
        with Catalog(measured, readonly=True) as catalog:
            where, params = image_filter.where(catalog.db)
            where += "" if files else " AND is_primary = 1"
            groups = group_columns(by)
            order = ", ".join(str(i + 1) for i in range(len(by)))
            expected = catalog.db.execute(f"SELECT {', '.join(expr for _, expr in groups)}, count(*) FROM images"
                                          f" WHERE {where} GROUP BY {order} ORDER BY {order}", params).fetchall()
            columns = image_filter.columns() | {"is_primary"}
            assert catalog.counts_by_quality_flag(groups, where, params, columns) == expected

    check()
    with Catalog(measured, readonly=True) as catalog:
        for path in ("*/SU8230/*", "*.tif"):  # the folder table holds kind, but not the flag
            expected = catalog.db.execute(f"""SELECT kind, {GROUP_FIELDS['quality_flag']}, count(*) FROM images WHERE readable = 1
                AND status = 'present' AND kind = 'image' AND path GLOB ? GROUP BY 1, 2 ORDER BY 1, 2""", (path,)).fetchall()
            assert [tuple(row.values()) for row in catalog.count("kind,quality_flag", files=True, path=path)] == expected
        flags = {row["quality_flag"] for row in catalog.count("quality_flag,year")}
        assert flags == {*QUALITY_FLAGS, None}
        assert sum(row["count"] for row in catalog.count("year,quality_flag")) == catalog.total()
        assert catalog.count("quality_flag,quality_flag") == catalog.count("quality_flag")


@pytest.mark.parametrize("name", ["instrument", "detector", "vendor", "group", "project"])
def test_a_value_the_catalog_lacks_is_refused_with_the_same_list_from_a_cube(census: Path, name: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Known values are looked up in a cube (every value of the column is in it): the refusal lists
    what the images table lists, and a known value in another case is accepted."""
    def refusal() -> str:
        with Catalog(census, readonly=True) as catalog, pytest.raises(QueryError) as refused:
            catalog.count(**{name: "no such value"})
        return str(refused.value)

    from_cube = refusal()
    known = from_cube.split("known: ")[1].split(", ")
    with Catalog(census, readonly=True) as catalog:
        assert catalog.count(**{name: known[-1].swapcase()})[0]["count"] >= 0
    monkeypatch.setattr(cube_module, "cube_in_step", lambda db, name: False)  # as while a bulk load runs
    assert refusal() == from_cube and known


def test_the_folder_table_follows_every_write_to_a_path(census: Path, tmp_path: Path) -> None:
    """Plain SQL writes: a file moved to another folder, to a new folder, to a folder's own parent,
    its state changed (primary, kind, status, readable: to another file's value and to NULL),
    renamed within its folder, its size changed, rows inserted and deleted (a folder emptied leaves
    no row): the folder table is `images` counted by folder after each."""
    db = _writable_copy(census, tmp_path)
    try:
        ids = [row[0] for row in db.execute("SELECT id FROM images ORDER BY id")]
        other = db.execute("SELECT path FROM images WHERE id = ?", (ids[-1],)).fetchone()[0]
        for target, path in [(ids[0], other.rsplit("/", 1)[0] + "/moved.tif"), (ids[1], "/new/folder [1]/*?.tif"),
                             (ids[2], other.rsplit("/", 2)[0] + "/up.tif"), (ids[3], "no-folder.tif")]:
            db.execute("UPDATE images SET path = ? WHERE id = ?", (path, target))
            assert _cube(db, "census_folders") == _recounted(db, "census_folders"), path
        for step, column in enumerate([c for c in FOLDER_COLUMNS if c not in ("folder", "extension")]):  # the state
            target = ids[10 + step]
            found = db.execute(f"SELECT {column} FROM images WHERE {column} IS NOT NULL AND {column} IS NOT"
                               f" (SELECT {column} FROM images WHERE id = ?1) LIMIT 1", (target,)).fetchone()
            db.execute(f"UPDATE images SET {column} = ? WHERE id = ?", (found[0] if found else 0, target))
            assert _cube(db, "census_folders") == _recounted(db, "census_folders"), column
            try:
                db.execute(f"UPDATE images SET {column} = NULL WHERE id = ?", (ids[20 + step],))
            except sqlite3.IntegrityError:  # NOT NULL
                pass
            assert _cube(db, "census_folders") == _recounted(db, "census_folders"), column
        before = _cube(db, "census_folders")
        folder = FOLDER_SQL.format(path="path")
        db.execute(f"UPDATE images SET path = {folder} || 'renamed ' || substr(path, length({folder}) + 1) WHERE id = ?",
                   (ids[4],))
        assert _cube(db, "census_folders") == _recounted(db, "census_folders") == before  # the same folder and extension
        db.execute("UPDATE images SET path = path || '.renamed' WHERE id = ?", (ids[4],))
        assert _cube(db, "census_folders") == _recounted(db, "census_folders") != before  # another extension
        before = _cube(db, "census_folders")
        db.execute("UPDATE images SET size_bytes = size_bytes + 7 WHERE id = ?", (ids[5],))
        assert _cube(db, "census_folders") == _recounted(db, "census_folders") != before
        folder = other.rsplit("/", 1)[0] + "/"
        db.execute("DELETE FROM images WHERE path >= ? AND path < ?", (folder, folder[:-1] + "0"))
        assert db.execute("SELECT count(*) FROM census_folders WHERE folder = ?", (folder,)).fetchone() == (0,)
        columns = [row[1] for row in db.execute("PRAGMA table_info(images)")]
        copied = ", ".join("NULL" if c == "id" else "path || '/copy'" if c == "path" else c for c in columns)
        db.execute(f"INSERT INTO images({', '.join(columns)}) SELECT {copied} FROM images WHERE id % 13 = 0")
        db.execute("DELETE FROM images WHERE id % 11 = 0")
        assert _cube(db, "census_folders") == _recounted(db, "census_folders")
    finally:
        db.close()


@pytest.mark.parametrize("by", [f"{a},{b}" for a in ("magnification", "project")
                                for b in ("year", "detector", "detector_raw", "month")])
def test_magnification_or_project_with_a_time_or_detector_reads_a_cube(census: Path, by: str) -> None:
    """The pairs neither of the first two cubes held (0.4-2.8 s at a million images, read from the
    table) are read from a time cube, in either order, and give the table's numbers."""
    with Catalog(census, readonly=True) as cubed, _table_only(Catalog(census, readonly=True)) as plain:
        for fields in (by, ",".join(reversed(by.split(",")))):
            columns = ImageFilter().columns() | {GROUP_FIELDS[f] for f in fields.split(",")} | {"is_primary"}
            assert cubed.census_source("count(*)", columns)[0] in ("census_magnification", "census_project")
            assert cubed.count(fields) == plain.count(fields) != []


@pytest.mark.parametrize("queries", [
    [("year,technique", False), ("instrument", False), ("detector", False), ("", False), ("", True)],  # the Overview's
    [("month,detector_raw", True), ("year", False), ("kind", True), ("detector_family,detector", False)],
    [("magnification", False), ("year,magnification", True), ("", True)],  # a time cube
    [("fov_source,project", True), ("project", False)],  # the detail cube
    [("root", False), ("instrument", True)], [("scalebar_decade,technique", False)], [("quality_flag", False)],
    [("magnification,fov_source,month", False)]])  # no cube holds them together
def test_several_counts_from_one_read_are_the_counts_one_by_one(census: Path, queries: list[tuple[str, bool]]) -> None:
    """`count_several` rolls one grouped read of a cube up to each count, or counts one by one (the
    root's path, decades in size order, a quality flag, fields no cube holds together, no cube in step)."""
    with Catalog(census, readonly=True) as catalog, _table_only(Catalog(census, readonly=True)) as plain:
        expected = [plain.count(by, files=files) for by, files in queries]
        assert all(expected) and expected[0] != [{"count": 0}]
        assert catalog.count_several(queries) == expected
        assert plain.count_several(queries) == expected


def test_several_counts_of_awkward_values_are_the_counts_one_by_one(census: Path, tmp_path: Path) -> None:
    """`count_several` rolls rows up in Python: its groups and their order are SQL's for NULLs, empty
    texts, blobs, numbers in a text column, texts and fractions in the year, case, and an is_primary
    that is neither 0 nor 1."""
    path = tmp_path / "awkward.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(path) as db:
        source.backup(db)
        for column, values in [("instrument", [(12, None), (14, "\u00c9"), (15, b"SU"), (16, ""), (17, "su8230"), (18, 7)]),
                               ("year", [(5, None), (7, "2019"), (11, b"\x01"), (13, 2019.5), (19, "x")]),
                               ("detector_family", [(6, None), (9, b"SE"), (10, "")]), ("is_primary", [(4, 2)])]:
            for every, value in values:
                db.execute(f"UPDATE images SET {column} = ? WHERE id % ? = 0", (value, every))
    queries = [("year,technique", False), ("instrument", False), ("detector", False), ("", False), ("", True),
               ("year,instrument,detector", True), ("detector,year", False)]
    with Catalog(path, readonly=True) as catalog, _table_only(Catalog(path, readonly=True)) as plain:
        with catalog.one_snapshot():
            assert catalog.census_source("count(*)", ImageFilter().columns() | {"year", "instrument", "is_primary"})[0] != "images"
        expected = [plain.count(by, files=files) for by, files in queries]
        several = catalog.count_several(queries)
        assert several == expected
        assert [[[type(value) for value in row.values()] for row in rows] for rows in several] == \
            [[[type(value) for value in row.values()] for row in rows] for rows in expected]
