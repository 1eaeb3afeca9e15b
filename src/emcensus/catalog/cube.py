"""The census cube (schema 10): files and bytes per combination of the low-cardinality columns.

At a million images a group-by reads a million index entries (0.4–3 s); the cube holds ~82 k rows
and gives the same numbers, because a query keeps its one WHERE clause and GROUP BY (the cube's
columns have the names and types of `images`) and only its table and aggregate change. Triggers keep
the cube in each writer's own transaction, so it is never behind the table. Queries that read any
other column go to the detail cube (schema 11, ~147 k rows), which does the same for magnification,
FOV and project with the columns that add few rows to them (`schema.DETAIL_COLUMNS`); the time cubes
(schema 12, ~90-100 k rows each) do it for magnification, and project, with year, month and
detector, which neither holds together; queries that read a column of none (path, quality, or
magnification with a layout column and a time) go to `images` as before. The folder table (schema
12) counts files per folder, extension and file state: a `--path` count whose glob these decide
(`query.path_in_folders`) is a sum over it, and with other filters `--path` finds its folders in it.

A bulk load (`catalog.bulk`) drops the triggers while it writes and refills the cube at its end, in
the transaction that brings them back: a cube is read only while all its triggers exist, checked in
the same read snapshot as the query (`one_snapshot`), so a dashboard or a `count` in another shell
never reads a cube that lags behind the table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from emcensus.catalog.connection import canonical_objects, file_stamp
from emcensus.catalog.quality import CURRENT_FILE
from emcensus.catalog.query import (FOLDER_FILES, GROUP_FIELDS, QUALITY_SORTS, SORT_FIELDS, FolderGlob, ImageFilter,
                                   group_columns, literal_extension)
from emcensus.catalog.schema import (CUBE_COLUMNS, DETAIL_COLUMNS, FOLDER_COLUMNS, MAGNIFICATION_TIME_COLUMNS,
                                     MIGRATIONS, PROJECT_TIME_COLUMNS, SCHEMA_VERSION)

if TYPE_CHECKING:
    _Base = Any  # the Catalog this mixes into: db
else:
    _Base = object

#: What a query may read from each cube, in the order they are tried, the smaller first (the census
#: cube: its columns, the month only as `--by month` reads it; the time cubes, migration 12, as the
#: census cube, ~90-100 k rows at 1 M; the detail cube, migration 11: its columns, ~147 k rows (1 M,
#: `--by magnification` 45 -> 22 ms CPU from the magnification time cube); the folder table,
#: migration 12: the file state, and the folder and extension that `ImageFilter.columns` names for a
#: `--path` they decide).
CUBE_EXPRESSIONS = {
    "census_cube": frozenset(CUBE_COLUMNS.keys() - {"acquired_at"} | {GROUP_FIELDS["month"]}),
    **{cube: frozenset(columns.keys() - {"acquired_at"} | {GROUP_FIELDS["month"]})
       for cube, columns in (("census_magnification", MAGNIFICATION_TIME_COLUMNS), ("census_project", PROJECT_TIME_COLUMNS))},
    "census_detail": frozenset(DETAIL_COLUMNS),
    "census_folders": frozenset(FOLDER_COLUMNS),
}

#: List orders a page of which `CubeMixin.window_of_page` narrows to the values holding it: the
#: column and what a cube counts files by for it. Time and magnification have an index each (schema
#: 12); the others none: a page within one value is read in id order, stopped at the page.
WINDOW_KEYS = {"acquired_at": GROUP_FIELDS["month"],
               **{column: column for column in ("magnification", "year", "instrument", "technique", "detector_family",
                                                "vendor", "group_name", "project")}}

#: Quality sort keys (a subquery per row: the metric of the file's current state, NULL when not
#: measured) and their metric: `CubeMixin.window_of_page` finds a page's files from the quality table
#: or, among the files not measured, in id order, instead of a sort of every file by the subquery.
QUALITY_KEYS = {SORT_FIELDS[name]: name for name in QUALITY_SORTS}
WINDOW_KEYS.update(dict.fromkeys(QUALITY_KEYS, ""))

#: Group fields whose counts `Catalog.count` rewrites after the read (`CubeMixin.count_several` leaves them to it).
_POST_PROCESSED = frozenset({"root", "scalebar_decade"})

#: (folder rows, files) left undecided by a `--path` glob up to which their files are read apart
#: (`CubeMixin.folders_and_files`, ~4 µs a file: 10 k files ~40 ms) rather than every path (~0.12 µs
#: each, 0.13-0.14 s of CPU at 1 M images).
_FEW_UNDECIDED = (1000, 10_000)

#: The file state each folder table row holds (`CubeMixin.matches_less_failing`).
_FILE_STATE = frozenset(FOLDER_COLUMNS) - {"folder", "extension"}

#: Aggregates over `images` that the cube answers, and their form over the cube.
CUBE_AGGREGATES = {"count(*)": "coalesce(sum(n), 0)", "coalesce(sum(size_bytes), 0)": "coalesce(sum(bytes), 0)"}


#: Each cube and the SQL that fills it from `images` (an empty cube): a bulk load's end, or the
#: first writable open after a killed one, refills a cube whose triggers were missing. A new cube
#: (a later migration) adds its own line.
CUBE_FILLS = {
    "census_cube": next(sql for sql in MIGRATIONS[9] if sql.lstrip().startswith("INSERT INTO census_cube")),
    "census_detail": next(sql for sql in MIGRATIONS[10] if sql.lstrip().startswith("INSERT INTO census_detail")),
    **{cube: next(sql for sql in MIGRATIONS[11] if sql.lstrip().startswith(f"INSERT INTO {cube} "))
       for cube in ("census_magnification", "census_project", "census_folders")},
}


@functools.cache
def cube_triggers(version: int, cube: str) -> frozenset[str]:
    """Names of the triggers that keep `cube` in step with `images` in a catalog of schema `version`."""
    return frozenset(name for name, (kind, _, sql) in canonical_objects(version).items()
                     if kind == "trigger" and re.search(rf"\b{cube}\b", sql))


def cube_in_step(db: sqlite3.Connection, cube: str) -> bool:
    """Whether every trigger of `cube` exists (a few µs: sqlite_master is small), i.e. no bulk load
    is writing around it."""
    names = sorted(cube_triggers(SCHEMA_VERSION, cube))
    found = db.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({', '.join('?' * len(names))})",
                       names).fetchone()[0]
    return bool(names) and found == len(names)


def values_source(db: sqlite3.Connection, column: str) -> str:
    """A table holding every value `images` holds in `column` and no other: the first cube with that
    column while it is in step (thousands of rows), else `images` (a million)."""
    return next((cube for cube, expressions in CUBE_EXPRESSIONS.items()
                 if column in expressions and cube_in_step(db, cube)), "images")


#: Files whose quality was measured on their current state, joined on `quality.CURRENT_FILE` itself
#: (the per-file form's condition: the split can not drift from it): each quality row (CROSS JOIN:
#: read first, however many `images` has) with its file's `images` row, found by id; `{where}` is
#: resolved in a subquery of `images` alone, which SQLite flattens into the join. A group field with
#: a quality column's name would be ambiguous here (an SQL error, not a wrong count).
_MEASURED = f"quality q CROSS JOIN (SELECT * FROM images WHERE {{where}}) AS i ON {CURRENT_FILE}"


def _after_prefix(prefix: str | bytes) -> str | bytes | None:
    """The least text above every text starting with `prefix` (its last character the next one up),
    or blob above every blob (its last byte), None when that character or byte is the last there is."""
    if isinstance(prefix, bytes):
        return prefix[:-1] + bytes([prefix[-1] + 1]) if prefix[-1] < 0xFF else None
    code = ord(prefix[-1]) + 1
    code = 0xE000 if 0xD800 <= code < 0xE000 else code  # no text holds a surrogate
    return prefix[:-1] + chr(code) if code <= 0x10FFFF else None


def _sql_order(value: Any) -> tuple[int, Any]:
    """Where `ORDER BY` puts a value: NULL, then numbers, then text (binary), then blobs."""
    if value is None:
        return 0, 0
    return (1 if isinstance(value, (int, float)) else 2 if isinstance(value, str) else 3), value


class CubeMixin(_Base):
    """Chooses the census cube for a query when it holds every column the query reads."""

    def counts_by_quality_flag(self, groups: list[tuple[str, str]], where: str, params: list[Any],
                               columns: set[str]) -> list[tuple[Any, ...]]:
        """The rows of `SELECT <groups>, count(*) FROM images WHERE <where> GROUP BY .. ORDER BY ..` with
        `quality_flag` among `groups`, from two smaller reads: the measured files counted from the
        quality table joined to theirs, and the others (no flag: NULL) as the count per the other fields
        less the measured — a cube's count when one holds those fields and the filter's `columns`.
        The flag per file read for each of a million rows took 0.5–3 s, with no file measured."""
        at = [name for name, _ in groups].index("quality_flag")
        others = [expr for name, expr in groups if name != "quality_flag"]

        def grouped(select: list[str], source: str) -> list[tuple[Any, ...]]:
            sql = f"SELECT {', '.join(select)} FROM {source}"
            if len(select) > 1:
                sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(select) - 1))}"
            return self._fetch(sql, params)[1]

        with self.one_snapshot():
            measured = grouped(["q.quality_flag" if name == "quality_flag" else expr for name, expr in groups] + ["count(*)"],
                               _MEASURED.format(where=where))
            # `where` is the clause for `images`: a path filter in it (`columns` names the folder
            # table's columns for it) is read there, not from a cube
            read = columns | set(others) | ({"path"} if {"folder", "extension"} & columns else set())
            table, aggregate = self.census_source("count(*)", read)
            unmeasured = {row[:-1]: row[-1] for row in grouped([*others, aggregate], f"{table} WHERE {where}")}
        for row in measured:
            if row[at] is not None:
                unmeasured[row[:at] + row[at + 1:-1]] -= row[-1]
        rows = [row for row in measured if row[at] is not None]
        rows += [(*key[:at], None, *key[at:], count) for key, count in unmeasured.items() if count]
        return sorted(rows, key=lambda row: tuple(map(_sql_order, row[:-1])))

    def count_several(self, queries: Sequence[tuple[str, bool]]) -> list[list[dict[str, Any]]]:
        """`count(by, files=files)` of each (by, files) in `queries`, unfiltered, from one grouped read
        of a cube holding all their fields, rolled up here: the Overview asks five counts of the
        census cube, each a scan of its ~82 k rows (1 M images, after a write: 133 -> 71 ms CPU).
        Counted one by one when no cube holds them all, or a field's rows are post-processed (the
        root's path, decades in size order)."""
        groupings = [group_columns(by) for by, _ in queries]
        fields = dict(field for groups in groupings for field in groups)
        expressions = list(dict.fromkeys(fields.values()))
        with self.one_snapshot():
            table, aggregate = self.census_source("count(*)", ImageFilter().columns() | set(expressions) | {"is_primary"})
            if table == "images" or fields.keys() & _POST_PROCESSED:
                return [self.count(by, files=files) for by, files in queries]
            where, params = ImageFilter().where(self.db, table=table)
            select = ", ".join(["is_primary", *expressions])
            rows = self._fetch(f"SELECT {select}, {aggregate} FROM {table} WHERE {where}"
                               f" GROUP BY {', '.join(str(at + 1) for at in range(len(expressions) + 1))}", params)[1]
        results = []
        for groups, (_, files) in zip(groupings, queries, strict=True):
            at = [expressions.index(expression) + 1 for _, expression in groups]
            counts: dict[tuple[Any, ...], int] = {} if groups else {(): 0}  # no group: one row, 0 when none
            for row in rows:
                if files or row[0] == 1:
                    key = tuple(row[i] for i in at)
                    counts[key] = counts.get(key, 0) + row[-1]
            names = [name for name, _ in groups]
            results.append([{**dict(zip(names, key, strict=True)), "count": count}
                            for key, count in sorted(counts.items(), key=lambda item: tuple(map(_sql_order, item[0])))])
        return results

    def window_of_page(self, image_filter: ImageFilter, column: str, direction: str, offset: int, limit: int
                       ) -> tuple[str, list[Any], int] | None:
        """(clause, its parameters, files before it) that narrows a page of the files `image_filter`
        matches in the order of `column` (a key of `WINDOW_KEYS`; `direction`: ASC or DESC) to the
        values holding it (acquisition time: its months), as a cube counts the matches per value: the
        page is then the rows at `offset` less the files before, read from the column's index within
        those values, or in id order within the one value holding the page. Walking that index from
        its end stops at the page for a common filter, but reads every row for a rare one or one
        whose files all lie at the other end (1 M images, newest first: 0.8-5 s CPU; here both
        ~10-70 ms). None when no cube holds the filter's columns with the
        key, or a month's end can not be written (call it in `one_snapshot`)."""
        if column in QUALITY_KEYS:
            return self._measured_window(image_filter, QUALITY_KEYS[column], direction, offset, limit)
        key = WINDOW_KEYS[column]
        table, aggregate = self.census_source("count(*)", image_filter.columns() | {key})
        if table == "images":
            return None
        where, params = image_filter.where(self.db, table=table)
        values = self._fetch(f"SELECT {key}, {aggregate} FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1 {direction}",
                             params)[1]
        seen, held, before = 0, [], 0
        for value, files in values:  # NULL first ascending, last descending: as ORDER BY puts them
            if seen + files > offset:
                before = before if held else seen
                held.append(value)
            seen += files
            if seen >= offset + limit:
                break
        known = sorted((value for value in held if value is not None), key=_sql_order)
        if not held:
            return "0", [], 0  # past the last match
        if not known:
            return f"{column} IS NULL", [], before
        if key == column and held == known[:1]:
            # one value: SQLite drops an ORDER BY term the WHERE holds equal, so the rows come in id
            # order (the table's own, or an index's within the value) and the read stops at the page,
            # with no sort of the value's files (1 M images by instrument, a first page: 0.22 -> 0.09 s
            # CPU; at offset 577 k: 11 -> 0.06 s)
            return f"{column} = ?", known, before
        high, below_high = known[-1], "<= ?"
        if column == "acquired_at" and len(high) == len("2019-06"):  # every time in that month: below the next text
            high, below_high = _after_prefix(high), "< ?"
            if high is None:
                return None
        span = f"{column} >= ? AND {column} {below_high}"
        return (f"({column} IS NULL OR {span})" if None in held else span), [known[0], high], before

    def _measured_window(self, image_filter: ImageFilter, metric: str, direction: str, offset: int, limit: int
                         ) -> tuple[str, list[Any], int] | None:
        """`window_of_page` for a quality metric: the page's ids, read from the quality table joined to
        the matches (the measured files, in the metric's order) or by a walk of the matches in id order
        that checks each for a value (the others: NULL, first ascending, last descending); the page
        then sorts those ids alone. None for a page holding both (1 M images, nothing measured,
        `-sharpness_pct`: 0.32 s CPU, a sort of every file by its subquery, -> ms)."""
        where, params = image_filter.where(self.db)
        value = SORT_FIELDS[metric]
        measured = self._fetch(f"SELECT count(*) FROM {_MEASURED.format(where=where)} WHERE q.{metric} IS NOT NULL",
                               params)[1][0][0]
        unmeasured = self.count((), files=True, filter=image_filter)[0]["count"] - measured
        first, second = (unmeasured, measured) if direction == "ASC" else (measured, unmeasured)
        if offset < first < offset + limit:
            return None
        if (offset < first) == (direction == "DESC"):  # among the measured files
            sql = (f"SELECT i.id FROM {_MEASURED.format(where=where)} WHERE q.{metric} IS NOT NULL"
                   f" ORDER BY q.{metric} {direction}, i.id {direction} LIMIT ? OFFSET ?")
        else:
            sql = f"SELECT id FROM images WHERE {where} AND {value} IS NULL ORDER BY id {direction} LIMIT ? OFFSET ?"
        ids = [row[0] for row in self._fetch(sql, [*params, limit, offset - (0 if offset < first else first)])[1]]
        # one parameter however long the page: SQLite takes at most 32,766
        return ("id IN (SELECT value FROM json_each(?))", [json.dumps(ids)], offset) if ids else ("0", [], 0)

    def roots_of_page(self, image_filter: ImageFilter, direction: str) -> tuple[str, list[Any]] | None:
        """(clause, its parameters) that starts a walk of the path index (`direction`: ASC or DESC) at
        the first scan root holding a file `image_filter` matches, as a cube counts them per root: the
        files before it, in roots holding none, match nothing (a root's files start with its path, and
        end below it and '0', the character after '/'). The path order is the roots' order first: a
        filter on a technique or instrument other than the first root's walked that root's every row
        (1 M images, `technique=SEM&year=2019` in path order: 331 ms CPU). None when no cube holds the
        filter's columns (call it in `one_snapshot`)."""
        table, aggregate = self.census_source("count(*)", image_filter.columns() | {"root_id"})
        if table == "images":
            return None
        where, params = image_filter.where(self.db, table=table)
        roots = dict(self.db.execute("SELECT id, path FROM roots"))
        held = [roots[root_id].rstrip("/") for root_id, files in self._fetch(
            f"SELECT root_id, {aggregate} FROM {table} WHERE {where} GROUP BY 1", params)[1] if files and root_id in roots]
        if not held:
            return "0", []
        return ("path >= ?", [min(held)]) if direction == "ASC" else ("path < ?", [max(path + "0" for path in held)])

    def few_matches(self, image_filter: ImageFilter, rows: int) -> bool:
        """Whether a cube counts at most twice `rows` files matching `image_filter` (False when none
        holds its columns): the first `rows` of them in the order of an indexed column are then best
        found by the filter and sorted, since a walk of the column's index would look up most rows to find them
        (1 M images, a FOV range matching none: 1.43 s CPU walked, 0.83 s scanned; a lookup in that
        order costs about two rows of a scan)."""
        table, aggregate = self.census_source("count(*)", image_filter.columns())
        if table == "images":
            return False
        where, params = image_filter.where(self.db, table=table)
        return self._fetch(f"SELECT {aggregate} FROM {table} WHERE {where}", params)[1][0][0] <= 2 * rows

    def census_source(self, aggregate: str, columns: Iterable[str]) -> tuple[str, str]:
        """(table, aggregate) to compute `aggregate` over the images filtered and grouped on `columns`:
        the cube's when it can answer and is in step, `images` and `aggregate` itself otherwise. Call
        it and run the query inside `one_snapshot`."""
        if aggregate in CUBE_AGGREGATES:
            read = set(columns)
            globs = {column for column in read if isinstance(column, FolderGlob)}
            for cube, expressions in CUBE_EXPRESSIONS.items():
                if read - globs <= expressions and cube_in_step(self.db, cube) and \
                        (not globs or cube == "census_folders" and not self._leaves_undecided(globs)):
                    return cube, CUBE_AGGREGATES[aggregate]
        return "images", aggregate

    def folders_and_files(self, image_filter: ImageFilter, aggregate: str, columns: Iterable[str], extra: str = ""
                          ) -> list[tuple[str, str, str, list[Any]]] | None:
        """(table, aggregate, WHERE clause, parameters) of the two reads that answer a `--path` count
        the folder table decides but for a few undecided rows (`census_source` then chose `images`: a
        name without an extension, `*.t?f` against `x.t.f`): the decided rows summed there, and the
        undecided rows' files read from their folders' ranges of the path index, not every path.
        None when the folder table can not answer for another reason (a column it lacks, not in step).
        `extra`: " AND <clause>" on both (`is_primary` for acquisitions)."""
        read = set(columns)
        globs = [column for column in read if isinstance(column, FolderGlob)]
        if aggregate not in CUBE_AGGREGATES or len(globs) != 1 or not read - set(globs) <= CUBE_EXPRESSIONS["census_folders"] \
                or not cube_in_step(self.db, "census_folders"):
            return None
        clause, params = globs[0].undecided()
        undecided = self.db.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT n FROM census_folders"
                                    f" WHERE {clause} LIMIT {_FEW_UNDECIDED[0] + 1})", params).fetchone()
        if undecided[0] > _FEW_UNDECIDED[0] or undecided[1] > _FEW_UNDECIDED[1]:
            return None  # most rows undecided (`*.b.tif` against `.tif` rows): every path read is faster
        where, params = dataclasses.replace(image_filter, path=None).where(self.db)
        files, file_params = globs[0].undecided_files()
        decided, decided_params = image_filter.where(self.db, table="census_folders")
        return [("census_folders", CUBE_AGGREGATES[aggregate], decided + extra, decided_params),
                ("images", aggregate, f"{where} AND {files}{extra}", [*params, *file_params])]

    def matches_less_failing(self, image_filter: ImageFilter, extra: str, columns: Iterable[str]
                             ) -> list[tuple[str, str, str, list[Any]]] | None:
        """(table, aggregate, WHERE clause, parameters) of the two reads that count the files of a
        `--path` glob ending in an extension and holding no '/' (`*_001.tif`, `*.b.tif`) that the
        folder table leaves undecided, when the other filters (with `extra`, " AND <clause>":
        `is_primary` for acquisitions) are the file state it holds: every match, read from the path
        index alone, less the matches failing the filters, read with their rows from the folders of
        the rows that fail them, few or none (1 M images, `*_001.tif`: 21,863 rows not looked up, 0.21
        -> 0.15 s of CPU). None for another count, or past a few such rows."""
        extension = literal_extension(image_filter.path or "")
        state = {column for column in columns if not isinstance(column, FolderGlob)} - {"path", "folder", "extension"}
        if extension is None or not state <= _FILE_STATE or not cube_in_step(self.db, "census_folders"):
            return None
        where, params = dataclasses.replace(image_filter, path=None).where(self.db)
        where += extra
        failing_rows = f"NOT ({where}) AND extension = ?"
        rows, files = self.db.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT n FROM census_folders"
                                      f" WHERE {failing_rows} LIMIT {_FEW_UNDECIDED[0] + 1})", [*params, extension]).fetchone()
        if rows > _FEW_UNDECIDED[0] or files > _FEW_UNDECIDED[1]:
            return None
        matches = [("images", "count(*)", "path GLOB ?", [image_filter.path])]
        if not rows:
            return matches
        failing = (f"NOT ({where}) AND rowid IN (SELECT i.rowid FROM (SELECT DISTINCT folder FROM census_folders"
                   f" WHERE {failing_rows}) f {FOLDER_FILES} AND i.path GLOB ?)")
        return [*matches, ("images", "-count(*)", failing, [*params, *params, extension, image_filter.path])]

    def _leaves_undecided(self, globs: Iterable[FolderGlob]) -> bool:
        """Whether the folder table holds a row some files of which match one of `globs` and others
        may not (`FolderGlob.undecided`): its files' paths must then be read."""
        for glob in globs:
            clause, params = glob.undecided()
            if clause != "0" and self.db.execute(f"SELECT 1 FROM census_folders WHERE {clause} LIMIT 1", params).fetchone():
                return True
        return False

    @contextlib.contextmanager
    def one_snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the catalog (a read transaction, unless one is open): the
        cube's triggers as `census_source` found them are those of the rows the query reads."""
        if self.db.in_transaction:
            yield
            return
        # the cache keys every read inside by the file as it was before the snapshot began: a write
        # committed meanwhile must not label this snapshot's rows as its own
        self.snapshot_stamp = file_stamp(self.path) if self._readonly else None
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.snapshot_stamp = None
            if self.db.in_transaction:  # SQLite may have rolled it back already (BUSY, IOERR): keep that error
                self.db.execute("COMMIT")  # a read transaction: nothing to write
