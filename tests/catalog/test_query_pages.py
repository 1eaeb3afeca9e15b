"""`Catalog.images` pages far into a long list are read from the end of their order: the same rows in
the same order as the plain OFFSET walk gives, for every offset, order and filter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emcensus.catalog import Catalog
from emcensus.catalog.query import SORT_FIELDS, ImageFilter
from emcensus.errors import QueryError
from support import demo_census


@pytest.fixture(scope="module")
def census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_census(tmp_path_factory.mktemp("pages"), 40, seed=5)[1]


@pytest.mark.parametrize("order", ["path", "-path", "-acquired_at", "magnification", "-sharpness_pct", "month"])
@pytest.mark.parametrize("filters", [{}, {"kind": "all"}, {"path": "*/SU8230/*"}, {"magnification": "1000-50000"}])
def test_a_page_from_the_end_is_the_page_the_walk_gives(census: Path, order: str, filters: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with Catalog(census, readonly=True) as catalog:
        total = catalog.total(files=True, **filters)
        walked = {(offset, limit): catalog.images(limit=limit, offset=offset, order=order, **filters)
                  for offset in range(total + 3) for limit in (1, 7)}
        assert total > 10 and walked[(0, 7)] and walked[(total - 1, 7)] and not walked[(total, 1)]
        monkeypatch.setattr(Catalog, "PAGE_FROM_THE_END", 1)
        for (offset, limit), rows in walked.items():
            assert catalog.images(limit=limit, offset=offset, order=order, **filters) == rows, (offset, limit)


@pytest.mark.parametrize("limit, offset", [(-1, 0), (-1, 20_000), (5, -1)])
def test_a_negative_limit_or_offset_is_refused_not_read_as_no_limit(census: Path, limit: int, offset: int) -> None:
    """SQLite reads LIMIT -1 as no limit: a library caller's negative page would list every row, or
    other rows than the walk when read from the end."""
    with Catalog(census, readonly=True) as catalog:
        with pytest.raises(QueryError, match="limit and an offset"):
            catalog.images(limit=limit, offset=offset)
        with pytest.raises(QueryError, match="limit and an offset"):
            catalog.audit_list("no-metadata", limit=limit, offset=offset)


@pytest.mark.parametrize("by", [(), ("instrument",), ("quality_flag", "instrument")])
def test_a_count_checks_its_named_values_in_the_snapshot_it_counts_in(census: Path, by: tuple,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The filter's check that a named instrument exists (in a cube, or in `images` while a bulk load
    writes) and the count read one state: a load committing between them could refuse a known value."""
    from emcensus.catalog.query import ImageFilter

    real_where, inside = ImageFilter.where, []

    def where(self: ImageFilter, db, **kwargs):
        inside.append(db.in_transaction)
        return real_where(self, db, **kwargs)

    monkeypatch.setattr(ImageFilter, "where", where)
    with Catalog(census, readonly=True) as catalog:
        instrument = catalog.count("instrument", files=True)[0]["instrument"]
        assert catalog.count(by, instrument=instrument) and catalog.storage(by, instrument=instrument)
        assert not catalog.db.in_transaction  # the snapshot ends with the count
    assert inside == [True, True, True], inside


@pytest.fixture(scope="module")
def awkward_times(census: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The census with acquisition times a month window must take whole: none, ties, texts shorter
    than a month, a month whose end can not be written (its last character the last there is), a blob
    (after every text); magnifications none, tied, text (after every number in SQL's order) or a blob;
    instruments none, empty, beyond ASCII or a blob; projects none, empty or a blob."""
    path = tmp_path_factory.mktemp("times") / "c.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(path) as db:
        source.backup(db)
        for every, value in [(5, None), (7, "2019-06-01T10:00:00"), (11, "2019"), (13, ""), (17, "2019-0\U0010ffff:x"),
                             (19, "2019-06"), (23, "2020-01-01T00:00:00.5"), (29, b"2019-06-01")]:
            db.execute("UPDATE images SET acquired_at = ? WHERE id % ? = 0", (value, every))
        for every, value in [(6, None), (8, 50000.0), (9, "x50k"), (10, 1e-3), (29, b"\x00x")]:
            db.execute("UPDATE images SET magnification = ? WHERE id % ? = 0", (value, every))
        for every, value in [(12, None), (14, "\u00c9"), (15, b"SU"), (16, "")]:
            db.execute("UPDATE images SET instrument = ? WHERE id % ? = 0", (value, every))
        for every, value in [(5, None), (11, b"p"), (13, "")]:
            db.execute("UPDATE images SET project = ? WHERE id % ? = 0", (value, every))
    return path


@pytest.mark.parametrize("filters", [{}, {"kind": "all"}, {"instrument": "SU8230"}, {"magnification": "1000-50000"},
                                     {"year": 2019, "include_missing": True}, {"fov": "1um-"}, {"fov": "1nm-2nm"}, {"technique": "TEM"},
                                     {"path": "*/SU8230/*"}, {"path": "*.jpg"}])
@pytest.mark.parametrize("order", ["acquired_at", "-acquired_at", "magnification", "-magnification", "instrument",
                                   "-instrument", "detector", "-year", "-project", "group", "vendor", "-technique"])
def test_a_page_in_the_order_of_a_value_a_cube_counts_read_within_its_values_is_the_page_of_the_whole_order(
        awkward_times: Path, filters: dict, order: str) -> None:
    """`window_of_page` (a cube's count per month, magnification or another value a cube counts narrows
    the page to the values holding it, one value read in id order) gives every page, the last and
    those past it included, as the plain ORDER BY .. LIMIT .. OFFSET does."""
    direction, column = ("DESC", order[1:]) if order.startswith("-") else ("ASC", order)
    column = SORT_FIELDS[column]
    with Catalog(awkward_times, readonly=True) as catalog:
        image_filter = ImageFilter(**filters)
        where, params = image_filter.where(catalog.db)
        everything = catalog.db.execute(f"SELECT id FROM images WHERE {where} ORDER BY {column} {direction}, id {direction}",
                                        params).fetchall()
        with catalog.one_snapshot():
            windowed = catalog.window_of_page(image_filter, column, direction, 0, 5) is not None
        # no cube holds the folder with any, nor the FOV with the month, detector or year
        with_fov = ("magnification", "instrument", "project", "group_name", "vendor", "technique")
        assert windowed == (not ({"path"} if column in with_fov else {"fov", "path"}) & set(filters))
        for offset in range(0, len(everything) + 3, 3):
            for limit in (1, 4, 25):
                page = [row["id"] for row in catalog.images(limit=limit, offset=offset, order=order, **filters)]
                assert page == [row[0] for row in everything[offset:offset + limit]], (offset, limit)


def test_a_filter_a_cube_counts_few_files_of_sorts_its_matches_instead_of_walking_the_time_index(census: Path) -> None:
    with Catalog(census, readonly=True) as catalog, catalog.one_snapshot():
        total = catalog.total(files=True)
        assert catalog.few_matches(ImageFilter(fov="1nm-2nm"), 1)  # none
        half = -(-total // 2)  # the least `rows` whose double reaches the total
        assert not catalog.few_matches(ImageFilter(), half - 1) and catalog.few_matches(ImageFilter(), half)
        assert not catalog.few_matches(ImageFilter(path="?*.tif"), 10 ** 9)  # no cube counts it: the walk


@pytest.mark.parametrize("filters", [{"instrument": "SU8000"}, {"technique": "TEM"}, {"year": 2019, "kind": "all"},
                                     {"path": "*/SU8230/*", "detector": "SE"}, {"fov": "1um-"}, {"instrument": "SU8230"}])
@pytest.mark.parametrize("order", ["path", "-path"])
def test_a_page_in_path_order_started_at_the_first_root_with_a_match_is_the_page_of_the_whole_order(
        census: Path, filters: dict, order: str) -> None:
    """`roots_of_page` (a walk of the path index starts at the first root a cube counts a match in)
    gives every page as the plain ORDER BY .. LIMIT .. OFFSET does."""
    direction = "DESC" if order.startswith("-") else "ASC"
    with Catalog(census, readonly=True) as catalog:
        where, params = ImageFilter(**filters).where(catalog.db)
        everything = catalog.db.execute(f"SELECT id FROM images WHERE {where} ORDER BY path {direction}, id {direction}",
                                        params).fetchall()
        with catalog.one_snapshot():
            started = catalog.roots_of_page(ImageFilter(**filters), direction)
        assert (started is None) == ("path" in filters) and everything  # no cube holds the folder with the root
        for offset in range(0, len(everything) + 3, 4):
            for limit in (1, 9):
                page = [row["id"] for row in catalog.images(limit=limit, offset=offset, order=order, **filters)]
                assert page == [row[0] for row in everything[offset:offset + limit]], (offset, limit)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog with quality metrics (17 files), one file changed since it was measured (its metrics
    are no longer its own: NULL as a sort key) and one measured file whose sharpness is unknown."""
    from emcensus.quality.runner import update_quality
    from quality.quality_support import build_duplicate_archive

    archive = build_duplicate_archive(tmp_path_factory.mktemp("measured"))
    with archive.catalog as catalog:
        update_quality(catalog, workers=0)
        changed, unknown = catalog.db.execute("SELECT image_id FROM quality ORDER BY image_id LIMIT 2").fetchall()
        catalog.db.execute("UPDATE images SET mtime_ns = mtime_ns + 1 WHERE id = ?", changed)
        catalog.db.execute("UPDATE quality SET sharpness_pct = NULL WHERE image_id = ?", unknown)
        catalog.db.commit()
    return archive.catalog.path


@pytest.mark.parametrize("order", ["sharpness_pct", "-sharpness_pct", "snr", "-dup_group", "resolution_m", "-noise_sigma"])
@pytest.mark.parametrize("filters", [{}, {"blank": "no"}, {"kind": "all"}, {"path": "*/2019-01-02/*"}])
def test_a_page_in_a_quality_order_read_from_the_measured_or_in_id_order_is_the_page_of_the_whole_order(
        measured: Path, filters: dict, order: str) -> None:
    """The measured files' page from the quality table, the others' in id order, a page holding both
    sorted as before: every page, the last and those past it included, is the plain ORDER BY's."""
    direction, column = ("DESC", order[1:]) if order.startswith("-") else ("ASC", order)
    with Catalog(measured, readonly=True) as catalog:
        where, params = ImageFilter(**filters).where(catalog.db)
        everything = [row[0] for row in catalog.db.execute(
            f"SELECT id FROM images WHERE {where} ORDER BY {SORT_FIELDS[column]} {direction}, id {direction}", params)]
        values = [row[0] for row in catalog.db.execute(f"SELECT {SORT_FIELDS[column]} FROM images WHERE {where}", params)]
        assert set(values) - {None} and (None in values or "blank" in filters), values  # both kinds (dup_group: ties)
        for offset in range(len(everything) + 3):
            for limit in (1, 4, 25):
                page = [row["id"] for row in catalog.images(limit=limit, offset=offset, order=order, **filters)]
                assert page == everything[offset:offset + limit], (offset, limit)


def test_a_page_in_a_quality_order_of_more_files_than_sqlite_takes_parameters_is_the_page_of_the_whole_order(
        census: Path, tmp_path: Path) -> None:
    """A page in a quality order is read by its files' ids: a library caller's page of more of them than
    SQLite's 32,766 parameters (its default limit; this Python's build allows more) is read with one
    parameter, not one per id (it failed)."""
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(path) as db:
        source.backup(db)
        copied = [row[1] for row in db.execute("PRAGMA table_info(images)") if row[1] not in ("id", "path", "rel_path")]
        db.execute(f"""WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 33000)
            INSERT INTO images (path, rel_path, {', '.join(copied)})
            SELECT i.path || '.' || k || '.tif', i.rel_path || '.' || k || '.tif', {', '.join('i.' + name for name in copied)}
            FROM n CROSS JOIN (SELECT * FROM images WHERE kind = 'image' AND status = 'present' AND readable = 1 LIMIT 1) i""")
    with Catalog(path, readonly=True) as catalog:
        catalog.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
        assert catalog.db.execute("SELECT count(*) FROM quality").fetchone()[0] == 0  # every file: NULL, in id order
        where, params = ImageFilter().where(catalog.db)
        for order, direction in (("sharpness_pct", "ASC"), ("-snr", "DESC")):
            everything = [row[0] for row in catalog.db.execute(
                f"SELECT id FROM images WHERE {where} ORDER BY id {direction}", params)]
            assert len(everything) > 33_000
            for offset in (0, 1):
                limit = len(everything) - offset  # the whole page among the files not measured: read by id
                with catalog.one_snapshot():
                    assert catalog.window_of_page(ImageFilter(), SORT_FIELDS[order.lstrip("-")], direction, offset, limit)
                page = [row["id"] for row in catalog.images(limit=limit, offset=offset, order=order)]
                assert page == everything[offset:], (order, offset)


def test_each_audit_list_counts_what_it_lists(census: Path, tmp_path: Path) -> None:
    """`Catalog.audit` counts the lists of `images` rows on their partial indexes alone: each count is
    the length of its list (a file made missing, one with dates apart and one with disagreeing FOVs
    added, so that every such list holds rows)."""
    from emcensus.catalog import _AUDIT_INDEXES, _audit_count, _audit_queries
    from emcensus.catalog.bulk import dropped_indexes
    from emcensus.catalog.schema import SCHEMA_VERSION

    # INDEXED BY an index that is not there fails: a bulk load keeps these, so audits during one answer
    assert not {*_AUDIT_INDEXES.values(), "audit_exports"} & set(dropped_indexes(SCHEMA_VERSION))
    for kind, index in _AUDIT_INDEXES.items():  # each list's query keeps the form its count is read from
        assert f"FROM images INDEXED BY {index} WHERE " in _audit_count(kind, _audit_queries()[kind][0]), kind
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(census) as source, sqlite3.connect(path) as db:
        source.backup(db)
        db.execute("UPDATE images SET status = 'missing' WHERE id = (SELECT min(id) FROM images)")
        db.execute("UPDATE images SET date_gap_days = 3.5 WHERE id % 3 = 0")
        db.execute("UPDATE images SET fov_disagreement = 0.5 WHERE id % 4 = 0")
    with Catalog(path, readonly=True) as catalog:
        counts = catalog.audit()
        for kind in _AUDIT_INDEXES:
            assert counts[kind] == len(catalog.audit_list(kind)) > 0, kind
        assert counts["duplicate-exports"] == len(catalog.audit_list("duplicate-exports")) > 0
