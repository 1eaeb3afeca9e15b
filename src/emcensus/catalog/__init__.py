"""The catalog: one SQLite file (WAL) and the only code in emcensus that speaks SQL.

Writers commit in small transactions, so a scan killed at any moment leaves a consistent catalog;
readers (queries, the dashboard) keep working while a scan writes. Paths are stored losslessly, names
that are not UTF-8 included (`catalog.paths`): every path a method returns is catalog text, for
people through `display_path`, for opening a file through `fs_path`.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from emcensus.analysis.fov import FOV_TOLERANCE, FovEstimate, decade_sort_key
from emcensus.catalog.bulk import BulkLoad, restore_if_needed
from emcensus.catalog.connection import connect, scan_running
from emcensus.catalog.cube import WINDOW_KEYS, CubeMixin
from emcensus.catalog.derived import DERIVED_COLUMNS, RootSettings, date_gap_days, derive
from emcensus.catalog.figures import FiguresMixin
from emcensus.catalog.ledger import LedgerMixin
from emcensus.catalog.paths import ENCODED_SQL, db_text, display_path, fs_path, readable
from emcensus.catalog.quality import QualityMixin
from emcensus.catalog.query import RESULTS, SORT_FIELDS, ImageFilter, group_columns
from emcensus.catalog.reuse import ReuseMixin
from emcensus.catalog.schema import MIGRATIONS, SCHEMA_VERSION, changes_derivation
from emcensus.catalog.storage import StorageMixin
from emcensus.catalog.topics import TopicsMixin
from emcensus.errors import CatalogError, NotFoundError, QueryError
from emcensus.record import RECORD_FIELDS, ImageRecord, Problem, reduce_by_fields

#: Columns of `images` that hold the normalised record (original metadata lives in `metadata`).
_RECORD_COLUMNS = [name for name in RECORD_FIELDS if name not in ("path", "original_metadata")]
#: A record's values in `_RECORD_COLUMNS` order, in one call (a census writes one per file).
_record_values = operator.attrgetter(*_RECORD_COLUMNS)

#: Paths named in one statement (SQLite's bound-parameter limit was 999 before 3.32).
_PATHS_PER_STATEMENT = 500
#: Columns an incremental scan writes for every file, read or not (path and first scan first).
_STAT_COLUMNS = (
    "path", "first_seen_scan", "root_id", "rel_path", "acquisition_key", "is_primary", "status", "sidecar_path",
    "sidecar_size", "sidecar_mtime_ns", "size_bytes", "mtime_ns", "error", "missing_since_scan",
)
_READ_COLUMNS = (*_STAT_COLUMNS, *_RECORD_COLUMNS, "year", "date_gap_days", *DERIVED_COLUMNS)
#: A failed read: the stat, and on first sight what the file is (an image, or an orphan's sidecar).
_FAILED_COLUMNS = (*_STAT_COLUMNS, "kind")
#: How a census stores an acquisition's problems and its files' original metadata, by position.
_INSERT_PROBLEMS = "INSERT INTO problems(group_key, path, severity, reason, scan_id) VALUES (?, ?, ?, ?, ?)"
_STORE_METADATA = "INSERT OR REPLACE INTO metadata(image_id, json) SELECT id, ? FROM images WHERE path = ?"
#: The same, by the id a row just written was given: no look-up of its path (4.5 -> 2.5 µs a row, on the writer).
_STORE_METADATA_BY_ID = "INSERT OR REPLACE INTO metadata(image_id, json) VALUES (?, ?)"
#: The rows' column order as this code builds them (every kind of row, problems and metadata too): a
#: reading process running other emcensus code (a Dask worker installed apart from the client) builds
#: rows that must not be stored by position.
ROW_LAYOUT = hashlib.sha256(repr((_READ_COLUMNS, _FAILED_COLUMNS, _INSERT_PROBLEMS, _STORE_METADATA)).encode()).hexdigest()[:16]
_FOREIGN_ROWS = ("a reading process runs other emcensus code than this one (its catalog rows have another "
                 "column order): install the same emcensus on every Dask worker")


def _upsert(columns: Sequence[str], updated: Sequence[str], extra_insert: str = "") -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in updated)
    return (f"INSERT INTO images({names}, readable) VALUES ({marks}, {extra_insert}) "
            f"ON CONFLICT(path) DO UPDATE SET {updates}")


#: A read file: everything is replaced. A failed read: only what the disk says; earlier metadata stays.
_UPSERT_READ = _upsert(_READ_COLUMNS, [*_READ_COLUMNS[2:], "readable"], "1")
_UPSERT_FAILED = _upsert(_FAILED_COLUMNS, _STAT_COLUMNS[2:], "0")

#: The page cache of a scanning connection (KiB): at 160 k files the writer's CPU per file is 10-14 %
#: less than with SQLite's default 2 MB (16 to 128 MB alike), for at most this much more memory.
SCAN_PAGE_CACHE_KIB = 32_768

#: An image known to the catalog: what an incremental scan compares the disk against.
KnownFile = tuple[int, int, str | None, int | None, int | None, str, str]  # size, mtime, sidecar, ..., status, acq


@dataclass(slots=True)
class FileResult:
    """One image file after a read: its stat, its record (None when unreadable) and why not."""

    path: str
    rel_path: str
    size_bytes: int
    mtime_ns: int
    record: ImageRecord | None  # original_metadata travels as `metadata_json` instead
    error: str | None = None
    metadata_json: str | None = None

    __reduce__ = reduce_by_fields


@dataclass(slots=True)
class GroupResult:
    """All files of one acquisition (same folder and stem) and their shared sidecar."""

    acquisition_key: str
    files: list[FileResult]
    sidecar_path: str | None
    sidecar_size: int | None
    sidecar_mtime_ns: int | None
    problems: list[Problem]
    sidecar_only: bool = False  # a sidecar whose image is gone: an acquisition without an image file

    __reduce__ = reduce_by_fields


@dataclass(slots=True)
class GroupRows:
    """Read acquisitions as the rows `Catalog.write_rows` stores, and what they count for a scan's
    summary. `group_rows` builds them where the files were read (a census's reading processes): the
    writer, a census's critical path, then only runs SQL."""

    root_id: int
    keys: list[str]  # acquisition keys, as catalog text
    problem_rows: list[tuple]
    read_rows: list[tuple]  # `_READ_COLUMNS`
    failed_rows: list[tuple]  # `_FAILED_COLUMNS`
    metadata_rows: list[tuple]  # (JSON, path) of each read row, in the order of `read_rows`
    files: int = 0  # image files, read or not (orphan sidecars apart)
    errors: int = 0  # files nothing could be read from
    warnings: int = 0  # the acquisitions' warnings, as the readers gave them
    # the column order of the code that built them; none by default: rows unpickled from a process whose
    # GroupRows lacks the field (its values fill the fields before it, by position) are refused too
    layout: str = ""

    __reduce__ = reduce_by_fields

    def reasons(self) -> Iterator[str]:
        """Why each file not read was not."""
        at = _STAT_COLUMNS.index("error")
        return (row[at] for row in self.failed_rows if row[at])

    def extend(self, other: GroupRows) -> None:
        """Take in the rows of another batch of the same root (one transaction for both)."""
        if other.layout != self.layout:
            raise CatalogError(_FOREIGN_ROWS)
        for name in ("keys", "problem_rows", "read_rows", "failed_rows", "metadata_rows"):
            getattr(self, name).extend(getattr(other, name))
        self.files += other.files
        self.errors += other.errors
        self.warnings += other.warnings


def group_rows(settings: RootSettings, scan_id: int, root_id: int, groups: Iterable[GroupResult]) -> GroupRows:
    """The rows that store re-read acquisitions of a root with these `settings` (no SQL: runs in a
    census's reading processes). A failed read's row holds only what the disk says."""
    groups = list(groups)
    keys = [db_text(group.acquisition_key) for group in groups]
    read_rows, failed_rows, metadata_rows, row_problems = [], [], [], []
    unusable = 0  # files read whose values the rows could not be made of (a bug, said as one)
    for key, group in zip(keys, groups, strict=True):
        sidecar = group.sidecar_path and db_text(group.sidecar_path)
        made = []  # per file: what its row is made of beyond the stat and record, why it could not be made, or None
        for result in group.files:
            record = result.record
            if record is None:
                made.append(None)
                continue
            try:
                derived = derive(settings, db_text(result.rel_path), record.vendor, record.technique,
                                 record.pixel_size_m, record.width_px, record.magnification)
                made.append((derived, _year(record.acquired_at), _date_gap(record, result.mtime_ns)))
            except Exception as exc:  # noqa: BLE001 - one file's odd values must not stop a census
                made.append(readable(f"internal error ({type(exc).__name__}: {exc}); please report it"))
        # the acquisition stands on a file whose row was made, as on a file read (an export, if need be)
        primary = _primary(group.files if len(made) == 1 else
                           [result for result, row in zip(group.files, made) if type(row) is tuple] or group.files)
        for result, row in zip(group.files, made):
            path = db_text(result.path)
            stat = (
                path, scan_id, root_id, db_text(result.rel_path), key, int(result is primary), "present", sidecar,
                group.sidecar_size, group.sidecar_mtime_ns, result.size_bytes, result.mtime_ns,
                row if type(row) is str else result.error and readable(result.error), None,
            )
            if type(row) is tuple:
                derived, year, date_gap = row
                read_rows.append((*stat, *_record_values(result.record), year, date_gap, *derived.values()))
                metadata_rows.append((result.metadata_json, path))
                # an implausible value left out of the FOV, scale bar or decade is said, not dropped silently
                row_problems += [(key, path, "warning", readable(w), scan_id) for w in derived.warnings]
                continue
            if row is not None:  # read, but its row could not be made: listed as unread, with the reason
                row_problems.append((key, path, "error", row, scan_id))
                unusable += not result.error  # a read that erred too (its metadata's text, say) counts once
            failed_rows.append((*stat, "sidecar-only" if group.sidecar_only else "image"))
    problem_rows = [(key, db_text(p.path), p.severity, readable(p.reason), scan_id)
                    for key, group in zip(keys, groups, strict=True) for p in group.problems] + row_problems
    return GroupRows(
        root_id, keys, problem_rows, read_rows, failed_rows, metadata_rows,
        files=sum(len(group.files) for group in groups if not group.sidecar_only),
        errors=unusable + sum(1 for group in groups for result in group.files if result.error),
        warnings=sum(1 for group in groups for problem in group.problems if problem.severity == "warning"),
        layout=ROW_LAYOUT,
    )


AUDIT_KINDS = {
    "no-metadata": "images with no metadata (no sidecar, no vendor tags): instrument settings unknown",
    "orphan-sidecars": "metadata sidecars whose image is gone: acquisitions without an image file, not in image counts",
    "unreadable": "files no reader could read, with the reason",
    "warnings": "files read with a warning (bad sidecar, wrong extension, ...)",
    "duplicate-exports": "acquisitions saved in several formats (tif + jpg + bmp): counted once",
    "date-disagreement": "metadata date and file date more than a day apart (copied or re-saved files)",
    "missing": "files catalogued earlier that are gone from disk (history kept)",
    "fov-disagreement": "pixel-size FOV and magnification FOV more than 2 % apart (unit error or wrong reference width)",
}

#: Root columns that feed the derived image columns: a change (or one of the root's instrument)
#: means recomputing the root (`Catalog._derive_rows`).
_SETTINGS_COLUMNS = "vendor, technique, magnification_reference_m, layout"
#: the `folders` row of a root whose files are all to be read again (`Catalog._read_again`): a folder
#: below a root never has this relative path
_READ_AGAIN = os.sep


class Catalog(CubeMixin, LedgerMixin, FiguresMixin, StorageMixin, TopicsMixin, ReuseMixin, QualityMixin):
    """An emcensus catalog file. Use as a context manager or call `close()`."""

    #: A page of `images` this far in or further is read from the end of its order when that is nearer.
    PAGE_FROM_THE_END = 10_000

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = True,
                 archives: Iterable[str | os.PathLike[str]] = (), verify: bool | None = None):
        """Open (read-only, or for writing: migrated to the current schema) a checked catalog file.

        A writable open refuses a path inside `archives` or inside the roots the catalog holds, and
        creates a missing file only when `create` is true; `verify` (default: for writing) checks
        every page of the file first (see `catalog.connection`)."""
        self.path = Path(path)
        self._settings: dict[int, RootSettings] = {}
        self.db = connect(self.path, readonly=readonly, create=create, archives=archives, verify=verify)
        self._readonly = readonly
        self.snapshot_stamp: str | None = None  # the file's stamp as `one_snapshot`'s read transaction began
        self._load: BulkLoad | None = None  # the scan's bulk load, told of each write
        if not readonly:
            try:
                # what a bulk load killed midway left out (catalog.bulk), unless a live scan's load owns it
                restore_if_needed(self.db, unless=lambda: scan_running(self.path))
                if self.db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    self._migrate()
            except BaseException:
                self.db.close()
                raise

    def _migrate(self) -> None:
        """Bring the schema up to date in one transaction; a second process opening a new catalog at
        the same moment waits for the lock, then finds the work done."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")
            if any(changes_derivation(MIGRATIONS[number]) for number in range(version, SCHEMA_VERSION)):
                for (root_id,) in self.db.execute("SELECT id FROM roots").fetchall():
                    self._recompute_root(root_id)  # columns added since `version` start empty

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:  # only a clean close re-stamps the file as verified
            self.db.restamp = False
        self.close()

    # ----------------------------------------------------------------- roots and scans
    def ensure_root(self, path: str, instrument: str | None, vendor: str | None, technique: str | None, *,
                    magnification_reference_m: float | None = None, layout: str | None = None) -> int:
        """Register a scan root (or update its settings) and return its id.

        Settings not given keep their stored value; when a stored setting changes, the derived
        columns of the root's images (and their instrument) are recomputed, so counts never mix old
        and new settings."""
        settings_sql = f"SELECT instrument, {_SETTINGS_COLUMNS} FROM roots WHERE path = ?"
        path = db_text(path)
        with self.db:
            before = self.db.execute(settings_sql, (path,)).fetchone()
            root_id = self.db.execute(
                """INSERT INTO roots(path, instrument, vendor, technique, magnification_reference_m, layout, added_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET
                     instrument = coalesce(excluded.instrument, instrument),
                     vendor = coalesce(excluded.vendor, vendor),
                     technique = coalesce(excluded.technique, technique),
                     magnification_reference_m = coalesce(excluded.magnification_reference_m, magnification_reference_m),
                     layout = coalesce(excluded.layout, layout)
                   RETURNING id""",
                (path, instrument, vendor, technique, magnification_reference_m, layout, _now()),
            ).fetchone()[0]
            self._settings.pop(root_id, None)
            after = self.db.execute(settings_sql, (path,)).fetchone()
            if before is not None and before != after:
                self._recompute_root(root_id)
            if before is not None and before[1:3] != after[1:3]:
                self._read_again(root_id)
        return root_id

    def _read_again(self, root_id: int) -> None:
        """A root's vendor or technique changed: what a file reports itself is not stored apart from
        what the root implied, so every file is read again. Said in the catalog, in the transaction
        that saves the settings (caller's), so that a scan stopped before its walk completes leaves
        the rest to the next: its fingerprints dropped, the mark put in their place
        (`store_folder_fingerprints` of a complete walk, or `read_again_done`, clears it)."""
        self.db.execute("DELETE FROM folders WHERE root_id = ?", (root_id,))
        self.db.execute("INSERT INTO folders(root_id, rel_path, fingerprint, scan_id) VALUES (?, ?, x'', 0)",
                        (root_id, _READ_AGAIN))

    def reads_again(self, root_id: int) -> bool:
        """Whether the root's files are all to be read again (`_read_again`), not compared."""
        return self.db.execute("SELECT 1 FROM folders WHERE root_id = ? AND rel_path = ?",
                               (root_id, _READ_AGAIN)).fetchone() is not None

    def read_again_done(self, root_id: int) -> None:
        """Every file of the root was read again under its settings (a watch's complete sweep)."""
        with self.db:
            self.db.execute("DELETE FROM folders WHERE root_id = ? AND rel_path = ?", (root_id, _READ_AGAIN))

    def roots(self) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT id, path, instrument, vendor, technique, magnification_reference_m, layout, added_at FROM roots ORDER BY path"
        )

    def root_settings(self, root_id: int) -> RootSettings:
        """What the root's row says that its images' derived columns depend on."""
        if root_id not in self._settings:
            row = self.db.execute(f"SELECT {_SETTINGS_COLUMNS} FROM roots WHERE id = ?", (root_id,)).fetchone()
            self._settings[root_id] = RootSettings.from_row(*row)
        return self._settings[root_id]

    def _recompute_root(self, root_id: int) -> None:
        """Derived columns of every image of a root, from its current settings (caller holds the transaction)."""
        self._derive_rows(root_id, "root_id = ?", [root_id])

    def _derive_rows(self, root_id: int, where: str, params: Sequence[Any]) -> None:
        """Derived columns of the images `where` selects, from root `root_id`'s settings, and their
        instrument: a read gives a file the root's instrument when the root names one (`readers._record`),
        so a record's (read, or kept from an earlier read) takes it too (caller holds the transaction)."""
        settings = self.root_settings(root_id)
        [instrument] = self.db.execute("SELECT instrument FROM roots WHERE id = ?", (root_id,)).fetchone()
        rows = self.db.execute(
            f"SELECT id, rel_path, vendor, technique, pixel_size_m, width_px, magnification FROM images WHERE {where}",
            params,
        ).fetchall()
        assignments = ", ".join(f"{column} = ?" for column in DERIVED_COLUMNS)
        self.db.executemany(
            f"UPDATE images SET {assignments} WHERE id = ?",
            [[*derive(settings, *row[1:]).values(), row[0]] for row in rows],
        )
        if instrument is not None:
            self.db.execute(f"""UPDATE images SET instrument = ? WHERE ({where}) AND instrument IS NOT ?
                                AND (readable = 1 OR instrument IS NOT NULL)""", (instrument, *params, instrument))

    def take_over(self, scan_id: int, root_id: int, path: str, holders: Collection[int],
                  nested: Collection[str] = ()) -> int:
        """After a complete walk of root `root_id` (at `path`), nested in the roots `holders`: the rows
        under it that they still hold are files its walk did not find (each file found was written as
        its own), but for those under the roots `nested` in it (theirs, not walked). They become its
        rows (history kept, derived columns from its settings) and those still present are marked
        missing; returns how many."""
        if not holders:
            return 0
        prefix = os.path.join(db_text(path), "")
        within = "path >= ? AND path < ?"  # a range of the unique path index
        with self.db:
            moved = self.db.execute(
                f"""UPDATE images SET root_id = ?, rel_path = substr(path, ?) WHERE {within}
                    AND root_id IN ({', '.join('?' * len(holders))}){f' AND NOT ({within})' * len(nested)}
                    RETURNING id, path, status""",
                (root_id, len(prefix) + 1, *_subtree(db_text(path)), *holders,
                 *(bound for folder in nested for bound in _subtree(db_text(folder))))).fetchall()
            for start in range(0, len(moved), _PATHS_PER_STATEMENT):
                ids = [row[0] for row in moved[start:start + _PATHS_PER_STATEMENT]]
                self._derive_rows(root_id, f"id IN ({', '.join('?' * len(ids))})", ids)
        return self.mark_missing(scan_id, [fs_path(stored) for _, stored, status in moved if status == "present"])

    def _root_ids(self) -> dict[str, int]:
        return {path: rid for rid, path in self.db.execute("SELECT id, path FROM roots")}

    def begin_scan(self, roots: Sequence[str]) -> int:
        # Every file inserted updates a dozen indexes across the whole file (330 MB at 160 k files):
        # with SQLite's 2 MB page cache the writer re-reads their pages from the OS at every batch.
        self.db.execute(f"PRAGMA cache_size = -{SCAN_PAGE_CACHE_KIB}")
        with self.db:
            # A scan still 'running' was killed: say so, its work is already committed.
            self.db.execute("UPDATE scans SET status = 'interrupted' WHERE status = 'running'")
            cursor = self.db.execute(
                "INSERT INTO scans(started_at, roots, status) VALUES (?, ?, 'running')", (_now(), json.dumps(list(roots)))
            )
        return int(cursor.lastrowid)

    def finish_scan(self, scan_id: int, status: str, stats: dict[str, int]) -> None:
        with self.db:
            self.db.execute(
                """UPDATE scans SET finished_at = ?, status = ?, files_seen = ?, files_read = ?,
                   files_skipped = ?, files_missing = ?, errors = ? WHERE id = ?""",
                (
                    _now(), status, stats.get("seen", 0), stats.get("read", 0), stats.get("skipped", 0),
                    stats.get("missing", 0), stats.get("errors", 0), scan_id,
                ),
            )

    def scans(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM scans ORDER BY id DESC LIMIT ?", (limit,))

    def known_files(self, root_id: int, folder: str | None = None, *, direct: bool = False) -> dict[str, KnownFile]:
        """Files catalogued under a root, or under one `folder` of it (only those directly in it when
        `direct`), as an incremental scan compares them with the disk: paths as the walk gives them."""
        sql = """SELECT path, size_bytes, mtime_ns, sidecar_path, sidecar_size, sidecar_mtime_ns, status, acquisition_key
                 FROM images WHERE root_id = ?"""
        params: list[Any] = [root_id]
        if folder is not None:
            prefix = os.path.join(db_text(folder), "")
            sql += " AND path >= ? AND path < ?"  # a range of the unique path index
            params += _subtree(db_text(folder))
            if direct:
                sql += " AND instr(substr(path, ?), ?) = 0"
                params += [len(prefix) + 1, os.sep]
        known = {row[0]: row[1:] for row in self.db.execute(sql, params)}
        # Names that are not UTF-8 are stored encoded; only those rows are decoded (a partial index finds them).
        for path, size, mtime, sidecar, *rest, key in self.db.execute(f"{sql} AND {ENCODED_SQL}", params):
            del known[path]
            known[fs_path(path)] = (size, mtime, sidecar and fs_path(sidecar), *rest, fs_path(key))
        return known

    def unread_for_limits(self, root_id: int, reasons: Sequence[str]) -> set[str]:
        """Files of a root present but not read for a reason that begins with one of `reasons` (a limit
        of the reading: `scan.pool.LIMIT_REASONS`), by path as the walk gives them: `scan --retry-unread`."""
        begins = " OR ".join(["substr(error, 1, ?) = ?"] * len(reasons))
        rows = self.db.execute(f"SELECT path FROM images WHERE root_id = ? AND status = 'present' AND ({begins})",
                               [root_id, *(value for reason in reasons for value in (len(reason), reason))])
        return {fs_path(path) for path, in rows}

    def present_files(self, folder: str) -> tuple[int, int]:
        """(image files, orphan sidecars) catalogued as present under `folder` at any depth: what a
        rescan counts for folders it found unchanged, from indexes alone (whichever root holds them)."""
        low, high = _subtree(db_text(folder))
        within = "path >= :low AND path < :high"  # a range of each index
        files, missing, orphans = self.db.execute(
            f"""SELECT (SELECT count(*) FROM images WHERE {within}),
                       (SELECT count(*) FROM images WHERE status = 'missing' AND {within}),
                       (SELECT count(*) FROM images WHERE kind = 'sidecar-only' AND status = 'present' AND {within})""",
            {"low": low, "high": high},
        ).fetchone()
        return files - missing - orphans, orphans

    def known_folders(self, root_id: int) -> set[str]:
        """Names of a root's top-level folders that held present files at the last scan."""
        rows = self.db.execute(
            """SELECT DISTINCT substr(rel_path, 1, instr(rel_path, ?) - 1) FROM images
               WHERE root_id = ? AND status = 'present' AND instr(rel_path, ?) > 0""",
            (os.sep, root_id, os.sep),
        )
        return {fs_path(row[0]) for row in rows}

    # ----------------------------------------------------------------- folder fingerprints
    def folder_fingerprints(self, root_id: int, root_path: str, top: str | None = None, *,
                            alone: bool = False) -> dict[str, bytes]:
        """Fingerprints of a root's folders (all, or `top` and the folders below it; `alone`: `top`
        only) as stored by its last complete scan, by path as the walk gives it. A folder whose files
        were written since has none (`write_groups`, `mark_missing`): its rows may not be its listing."""
        sql, params = "SELECT rel_path, fingerprint FROM folders WHERE root_id = ? AND rel_path <> ?", [root_id, _READ_AGAIN]
        if top is not None:
            rel = _below(top, root_path)
            if alone:
                sql += " AND rel_path = ?"
                params.append(rel)
            elif rel:
                sql += " AND (rel_path = ? OR (rel_path >= ? AND rel_path < ?))"
                params += [rel, *_subtree(rel)]
        return {os.path.join(root_path, fs_path(rel)) if rel else root_path: bytes(digest)
                for rel, digest in self.db.execute(sql, params)}

    def store_folder_fingerprints(self, scan_id: int, root_id: int, root_path: str,
                                  fingerprints: dict[str, bytes]) -> None:
        """After a complete scan of a root, whose every file the catalog now holds as walked: its
        folders' fingerprints, replacing all the root's earlier ones (a folder gone has none)."""
        rows = [(root_id, _below(path, root_path), digest, scan_id) for path, digest in fingerprints.items()]
        with self.db:
            self.db.execute("DELETE FROM folders WHERE root_id = ?", (root_id,))
            self.db.executemany("INSERT INTO folders(root_id, rel_path, fingerprint, scan_id) VALUES (?, ?, ?, ?)", rows)

    def _forget_folders(self, root_id: int, rel_paths: Iterable[str]) -> None:
        """Drop the fingerprints of the folders of files about to be written, and of their parents
        (a new or vanished subfolder is in its parent's listing), in the caller's transaction: a scan
        killed before its end must not leave a fingerprint that vouches for a half-written folder."""
        # each path cut after its last "/" (a slice: the writer's ~1 us a file of `dirname` calls), then
        # `dirname` of the few distinct heads: what `dirname` gives each path
        folders = {os.path.dirname(head) for head in {rel[:rel.rfind("/") + 1] for rel in rel_paths}}
        folders |= {os.path.dirname(folder) for folder in folders if folder}
        self.db.executemany("DELETE FROM folders WHERE root_id = ? AND rel_path = ?",
                            [(root_id, folder) for folder in folders])

    # ----------------------------------------------------------------- writing
    def bulk_load(self, roots: Mapping[int, int]) -> BulkLoad:
        """A scan's writes to `roots` (id -> surveys its walk is split into), which go without
        per-row index and cube upkeep once the rows its walk finds (`BulkLoad.surveyed`) are many for
        the catalog's size; the catalog is whole again when it ends. The caller holds the scan lock
        (`scan`): what a killed load left is restored first."""
        self._load = BulkLoad(self.db, roots)
        return self._load

    def write_groups(self, scan_id: int, root_id: int, groups: Iterable[GroupResult]) -> None:
        """Store re-read acquisitions in one transaction; a failed read keeps earlier metadata."""
        self.write_rows(group_rows(self.root_settings(root_id), scan_id, root_id, groups))

    def write_rows(self, rows: GroupRows) -> None:
        """Store acquisitions as `group_rows` made them, in one transaction."""
        if rows.layout != ROW_LAYOUT:
            raise CatalogError(_FOREIGN_ROWS)
        folders = (rows.root_id, [row[3] for row in rows.read_rows] + [row[3] for row in rows.failed_rows])
        try:
            self._store_groups(folders, rows.keys, rows.problem_rows, rows.read_rows, rows.failed_rows,
                               rows.metadata_rows)
        except UnicodeEncodeError:  # vendor text holding undecodable bytes (rare): stored with U+FFFD
            self._store_groups(folders, rows.keys, rows.problem_rows, *(
                [tuple(readable(v) if isinstance(v, str) else v for v in row) for row in table]
                for table in (rows.read_rows, rows.failed_rows, rows.metadata_rows)))

    def _store_groups(self, folders: tuple[int, list[str]], keys: list[str], problem_rows: list[tuple],
                      read_rows: list[tuple], failed_rows: list[tuple], metadata_rows: list[tuple]) -> None:
        with self.db:
            self._forget_folders(*folders)
            self.db.executemany("DELETE FROM problems WHERE group_key = ?", [(key,) for key in keys])
            self.db.executemany(_INSERT_PROBLEMS, problem_rows)
            before = self._last_image_id()
            self.db.executemany(_UPSERT_READ, read_rows)
            if self._last_image_id() - before == len(read_rows):  # all new: each given the next id, in order
                self.db.executemany(_STORE_METADATA_BY_ID, [(before + number, json) for number, (json, _)
                                                            in enumerate(metadata_rows, 1)])
            else:  # some were there (their ids kept) or the ids ran out (SQLite then draws them at random)
                self.db.executemany(_STORE_METADATA, metadata_rows)
            self.db.executemany(_UPSERT_FAILED, failed_rows)
            if self._load is not None:
                self._load.written(len(read_rows) + len(failed_rows))

    def _last_image_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM images").fetchone()[0])  # an index seek

    def mark_missing(self, scan_id: int, paths: Iterable[str]) -> int:
        """Files gone from disk stay, marked missing (history is kept); returns how many. A sidecar-only
        acquisition ends instead when its sidecar goes or pairs with an image again (unless linked)."""
        unique = list(dict.fromkeys(db_text(path) for path in paths))
        marked = 0
        with self.db:
            for start in range(0, len(unique), _PATHS_PER_STATEMENT):  # one statement per chunk, not per path
                chunk = unique[start:start + _PATHS_PER_STATEMENT]
                listed = f"path IN ({', '.join('?' * len(chunk))})"
                by_root: dict[int, list[str]] = {}
                for root_id, rel_path in self.db.execute(f"SELECT root_id, rel_path FROM images WHERE {listed}", chunk):
                    by_root.setdefault(root_id, []).append(rel_path)
                for root_id, rel_paths in by_root.items():
                    self._forget_folders(root_id, rel_paths)
                self.db.execute(
                    f"""DELETE FROM images WHERE {listed} AND kind = 'sidecar-only'
                        AND NOT EXISTS (SELECT 1 FROM article_images WHERE image_id = images.id)""", chunk)
                marked += self.db.execute(
                    f"UPDATE images SET status = 'missing', missing_since_scan = ? WHERE {listed} AND status = 'present'",
                    (scan_id, *chunk)).rowcount
        return marked

    def walk_problems(self, root_id: int) -> list[Problem]:
        """A root's folder-level problems as its last complete walk found them."""
        return [Problem(fs_path(path), reason, severity) for path, reason, severity in self.db.execute(
            "SELECT path, reason, severity FROM problems WHERE group_key = ?", (_walk_key(root_id),))]

    def replace_walk_state(self, scan_id: int, root_id: int, problems: Sequence[Problem]) -> None:
        """After a complete walk of a root: its folder-level problems, as found now."""
        key = _walk_key(root_id)
        with self.db:
            self.db.execute("DELETE FROM problems WHERE group_key = ?", (key,))
            self.db.executemany(_INSERT_PROBLEMS, [(key, db_text(p.path), p.severity, readable(p.reason), scan_id)
                                                   for p in problems])

    # ----------------------------------------------------------------- reading
    def record(self, path: str) -> ImageRecord | None:
        """The catalogued record of one file, original metadata included."""
        row = self.db.execute(
            f"SELECT i.path, {', '.join('i.' + c for c in _RECORD_COLUMNS)}, m.json FROM images i "
            "LEFT JOIN metadata m ON m.image_id = i.id WHERE i.path = ?",
            (db_text(str(path)),),
        ).fetchone()
        if row is None:
            return None
        values = dict(zip(["path", *_RECORD_COLUMNS], row[:-1], strict=True))
        values["path"] = fs_path(values["path"])
        return ImageRecord(**values, original_metadata=json.loads(row[-1]) if row[-1] else {})

    def image(self, image_id: int) -> dict[str, Any]:
        """One catalogued file by id (the dashboard addresses files by id, never by path)."""
        rows = self._dicts("SELECT * FROM images WHERE id = ?", (int(image_id),))
        if not rows:
            raise NotFoundError(f"no image with id {image_id} in this catalog")
        return rows[0]

    def count(self, by: Any = (), *, files: bool = False, **filters: Any) -> list[dict[str, Any]]:
        """Images matching the filters, grouped by the `by` fields: one dict per group plus `count`.

        Counts distinct acquisitions unless `files=True` (a frame saved as tif + jpg is one image).
        """
        return self._grouped(by, "count(*)", "count", "" if files else "is_primary = 1", filters)

    def storage(self, by: Any = (), **filters: Any) -> list[dict[str, Any]]:
        """Bytes on disk of every file (exports and copies included) per group, as `bytes`."""
        return self._grouped(by, "coalesce(sum(size_bytes), 0)", "bytes", "", filters)

    def _grouped(self, by: Any, aggregate: str, label: str, extra_where: str, filters: dict[str, Any]
                 ) -> list[dict[str, Any]]:
        """One aggregate over the filtered images per group; decade groups come in size order."""
        image_filter = filters.pop("filter", None) or ImageFilter.from_kwargs(**filters)
        with self.one_snapshot():  # the filter's known-value check (cube or table) and the query read one state
            rows = self._grouped_rows(image_filter, by, aggregate, extra_where)
        names = [name for name, _ in group_columns(by)]
        result = [dict(zip([*names, label], row, strict=True)) for row in rows]
        if "root" in names:
            paths = {rid: path for path, rid in self._root_ids().items()}
            for item in result:
                item["root"] = paths.get(item["root"], item["root"])
        if "scalebar_decade" in names:
            result.sort(key=lambda item: tuple(
                decade_sort_key(item[n]) if n == "scalebar_decade" else (item[n] is None, item[n] if item[n] is not None else 0)
                for n in names))
        return result

    def _grouped_rows(self, image_filter: ImageFilter, by: Any, aggregate: str, extra_where: str) -> list[tuple]:
        """`_grouped`'s rows, read from the census cube when it can answer, from `images` otherwise."""
        groups = group_columns(by)
        # every word of extra_where counts as a column: one the cube lacks sends the query to `images`
        columns = image_filter.columns().union(re.findall(r"[A-Za-z_]\w*", extra_where))
        by_quality_flag = aggregate == "count(*)" and "quality_flag" in dict(groups) and "quality" not in columns
        read = columns.union(expr for _, expr in groups)
        table, table_aggregate = ("images", aggregate) if by_quality_flag else self.census_source(aggregate, read)
        # with --path the row ids the path index matched drive the query: `+` keeps SQLite from
        # seeking the census index on is_primary and probing every acquisition (1 M: 186 -> 19 ms CPU)
        extra = f" AND {'+' if image_filter.path else ''}{extra_where}" if extra_where else ""
        if by_quality_flag:
            where, params = image_filter.where(self.db)
            return self.counts_by_quality_flag(groups, where + extra, params, columns)
        sources = table == "images" and (self.folders_and_files(image_filter, aggregate, read, extra) or (
            aggregate == "count(*)" and not groups and self.matches_less_failing(image_filter, extra, read)))
        if not sources:
            where, params = image_filter.where(self.db, table=table)
            sources = [(table, table_aggregate, where + extra, params)]
        select = ", ".join(f"{expr} AS {name!r}" for name, expr in groups)
        order = ", ".join(str(i + 1) for i in range(len(groups)))
        grouped = f" GROUP BY {order}" if groups else ""
        reads = [f"SELECT {select + ', ' if select else ''}{source_aggregate} AS value FROM {source} WHERE {where}{grouped}"
                 for source, source_aggregate, where, _ in sources]
        names = "".join(f'"{name}", ' for name, _ in groups)
        sql = reads[0] if len(reads) == 1 else (  # two reads summed (`folders_and_files`, `matches_less_failing`)
            f"SELECT {names}coalesce(sum(value), 0) FROM ({' UNION ALL '.join(reads)}){grouped}")
        return self._fetch(sql + (f" ORDER BY {order}" if groups else ""), [p for *_, params in sources for p in params])[1]

    def total(self, *, files: bool = False, **filters: Any) -> int:
        return self.count((), files=files, **filters)[0]["count"]

    def images(
        self, *, limit: int | None = None, offset: int = 0, order: str = "path", **filters: Any
    ) -> list[dict[str, Any]]:
        """Catalogued image rows (all files, not only primaries) matching the filters."""
        if order.lstrip("-") not in SORT_FIELDS:
            raise QueryError(f"cannot sort by {order}")
        _check_page(limit, offset)
        image_filter = ImageFilter.from_kwargs(**filters)
        column = SORT_FIELDS[order.lstrip("-")]
        direction = "DESC" if order.startswith("-") else "ASC"
        with self.one_snapshot():  # the counts that plan the page (months, matches, folders) and the page: one state
            return self._page(image_filter, column, direction, limit, offset)

    def _page(self, image_filter: ImageFilter, column: str, direction: str, limit: int | None, offset: int
              ) -> list[dict[str, Any]]:
        """`images`' rows, read inside `one_snapshot`."""
        if limit is not None and column in WINDOW_KEYS:
            window = self.window_of_page(image_filter, column, direction, offset, limit)
            if window is not None:
                where, params = image_filter.where(self.db)
                clause, window_params, before = window
                return self._dicts(f"SELECT * FROM images WHERE {where} AND {clause} ORDER BY {column} {direction},"
                                   f" id {direction} LIMIT ? OFFSET ?", [*params, *window_params, limit, offset - before])
            if self.few_matches(image_filter, offset + limit):
                column = f"+{column}"  # found by the filter, then sorted: not by a walk of the column's index
        # a walk of the path index, stopped at the page, matches `--path` row by row as it goes; along the
        # time index every row walked would be looked up for its path (files of old folders newest first:
        # 1.2 s CPU at 1 M): there the matches' ids are read first, each walked row checked against them
        where, params = image_filter.where(self.db, in_index_order=column == "path")
        filtered = column == "path" and limit is not None and image_filter != ImageFilter()  # unfiltered: no root to skip
        start = self.roots_of_page(image_filter, direction) if filtered else None
        if start is not None:
            where, params = f"{where} AND {start[0]}", [*params, *start[1]]
        # ties in the order asked for too: one index on the sort key walked either way gives the page
        sql = f"SELECT * FROM images WHERE {where} ORDER BY {column} {direction}, id {direction}"
        if limit is not None and offset >= self.PAGE_FROM_THE_END:
            total = self.count((), files=True, filter=image_filter)[0]["count"]
            if offset > total // 2:
                # nearer the end: the same rows in the reverse order, skipping what follows the page
                # (1 M files, the last page: an OFFSET walk of every row, 1.07 s -> 1 ms CPU)
                reverse_direction = "ASC" if direction == "DESC" else "DESC"
                reverse = f"ORDER BY {column} {reverse_direction}, id {reverse_direction} LIMIT ? OFFSET ?"
                rows = self._dicts(f"SELECT * FROM images WHERE {where} {reverse}",
                                   [*params, max(min(limit, total - offset), 0), max(total - offset - limit, 0)])
                return rows[::-1]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, limit, offset]
        return self._dicts(sql, params)

    _EXPORT_SQL = """SELECT i.*, r.path AS root, m.json AS original_metadata FROM images i
        JOIN roots r ON r.id = i.root_id LEFT JOIN metadata m ON m.image_id = i.id ORDER BY i.id"""

    def export_columns(self) -> list[str]:
        return [d[0] for d in self.db.execute(self._EXPORT_SQL + " LIMIT 0").description]

    def iter_export_batches(self, batch_size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        """Every image row with its original metadata JSON, in batches of tuples in `export_columns()`
        order: what the exporters stream (no dict per row)."""
        cursor = self.db.execute(self._EXPORT_SQL)
        while batch := cursor.fetchmany(batch_size):
            yield batch

    def iter_export_rows(self, batch_size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
        """`iter_export_batches` as dicts keyed by column."""
        names = self.export_columns()
        for batch in self.iter_export_batches(batch_size):
            yield [dict(zip(names, row, strict=True)) for row in batch]

    # ----------------------------------------------------------------- audit
    def audit(self) -> dict[str, int]:
        """How many entries each audit list holds, plus the census totals."""
        queries = _audit_queries()
        queries["duplicate-exports"] = (f"SELECT DISTINCT acquisition_key FROM ({_EXPORTED_KEYS})", ())
        counts = {kind: self._fetch(_audit_count(kind, sql), params)[1][0][0] for kind, (sql, params) in queries.items()}
        with self.one_snapshot():  # files per kind, from the census cube when it is in step
            table, _ = self.census_source("count(*)", ("kind", "is_primary", "status", "readable"))
            n = "1" if table == "images" else "n"  # a cube row stands for n files
            files, acquisitions, sidecar_only, other = self._fetch(
                f"""SELECT coalesce(sum({n} * (kind = 'image')), 0), coalesce(sum({n} * (is_primary AND kind = 'image')), 0),
                           coalesce(sum({n} * (kind = 'sidecar-only')), 0),
                           coalesce(sum({n} * (kind NOT IN ('image', 'sidecar-only'))), 0)
                    FROM {table} WHERE status = 'present' AND readable = 1"""
            )[1][0]
        # Image totals are micrographs, as `count` counts them; the other kinds have their own totals.
        return {"image_files": files, "acquisitions": acquisitions, "sidecar_only_acquisitions": sidecar_only,
                "non_image_files": other, **counts}

    def audit_list(self, kind: str, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        _check_page(limit, offset)
        sql, params = _audit_query(kind)
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params = (*params, -1 if limit is None else int(limit), int(offset))
        rows = self._dicts(sql, params)
        if kind == "duplicate-exports":
            for row in rows:
                row["paths"] = json.loads(row["paths"])  # a list: a path may hold any character
        if kind == "fov-disagreement":
            for row in rows:
                row["reason"] = FovEstimate(row["fov_pixel_size_m"], "pixel-size", row["fov_pixel_size_m"],
                                            row["fov_magnification_m"]).note
        return rows

    def audit_columns(self, kind: str) -> list[str]:
        """The columns `audit_list(kind)` returns, also when the list is empty (a CSV header)."""
        sql, params = _audit_query(kind)
        names = [d[0] for d in self.db.execute(f"{sql} LIMIT 0", params).description]
        return [*names, "reason"] if kind == "fov-disagreement" else names

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        names, rows = self._fetch(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of a read; on a read-only catalog from `query.RESULTS` while the file is
        unchanged (a writer's reads may see its own uncommitted rows: never cached). A read-only
        transaction is `one_snapshot`'s, begun just before: the state of the file stamp once settled."""
        if self._readonly:
            return RESULTS.fetch(self.db, self.path, sql, params, stamp=self.snapshot_stamp)
        cursor = self.db.execute(sql, params)
        return [d[0] for d in cursor.description], cursor.fetchall()


def _check_page(limit: int | None, offset: int) -> None:
    """A page's bounds as SQL may take them: SQLite reads a negative LIMIT as no limit."""
    if (limit is not None and limit < 0) or offset < 0:
        raise QueryError(f"a page needs a limit and an offset of 0 or more, not {limit} and {offset}")


def _audit_query(kind: str) -> tuple[str, tuple[Any, ...]]:
    queries = _audit_queries()
    if kind not in queries:
        raise QueryError(f"unknown audit list {kind!r}; lists: {', '.join(queries)}")
    return queries[kind]


#: Acquisitions with a file that is not their primary (exports, copies), from schema 4's partial index
#: (left to itself, SQLite takes the census index and reads a table row per file: 1 s at a million).
_EXPORTED_KEYS = ("SELECT acquisition_key FROM images INDEXED BY audit_exports"
                  " WHERE status = 'present' AND readable = 1 AND is_primary = 0")


#: The partial index (schema 4) each audit list of `images` rows is counted on alone: the list's own
#: query reads every row for its columns (1 M images: no-metadata 74 -> 9-16 ms CPU, date-disagreement
#: 34 -> 1 ms), and a count left to SQLite takes the census index and a table row per file (2.2 s).
_AUDIT_INDEXES = {"no-metadata": "audit_no_metadata", "orphan-sidecars": "audit_sidecar_only",
                  "date-disagreement": "audit_date_gap", "missing": "audit_missing", "fov-disagreement": "audit_fov"}


def _audit_count(kind: str, sql: str) -> str:
    """The SQL that counts the rows of the audit list `kind` (its query `sql`)."""
    where = re.fullmatch(r"\s*SELECT .+? FROM images\s+WHERE (.+?)\s+ORDER BY .+", sql, re.DOTALL)
    if kind in _AUDIT_INDEXES and where:
        return f"SELECT count(*) FROM images INDEXED BY {_AUDIT_INDEXES[kind]} WHERE {where.group(1)}"
    return f"SELECT count(*) FROM ({sql})"


def _audit_queries() -> dict[str, tuple[str, tuple[Any, ...]]]:
    """Each audit list; every WHERE matches a partial index of schema 4 (no full-table scans)."""
    listed = "status = 'present' AND readable = 1"
    return {
        "no-metadata": (
            f"SELECT path, width_px, height_px, acquired_at FROM images WHERE {listed} "
            "AND metadata_source = 'none' ORDER BY path",
            (),
        ),
        "orphan-sidecars": (
            "SELECT path, size_bytes, instrument, acquired_at FROM images "
            "WHERE kind = 'sidecar-only' AND status = 'present' ORDER BY path",
            (),
        ),
        "unreadable": ("SELECT path, reason FROM problems WHERE severity = 'error' ORDER BY path", ()),
        "warnings": ("SELECT path, reason FROM problems WHERE severity = 'warning' ORDER BY path", ()),
        # An acquisition saved in several formats is one whose files are not all its primary.
        "duplicate-exports": (
            f"""SELECT acquisition_key, count(*) AS files, json_group_array(path) AS paths FROM images
                WHERE {listed} AND acquisition_key IN ({_EXPORTED_KEYS})
                GROUP BY acquisition_key ORDER BY acquisition_key""",
            (),
        ),
        "date-disagreement": (
            """SELECT path, acquired_at, round(date_gap_days, 1) AS days_apart FROM images
               WHERE status = 'present' AND date_gap_days > 1 ORDER BY date_gap_days DESC, path""",
            (),
        ),
        "missing": (
            "SELECT path, missing_since_scan FROM images WHERE status = 'missing' ORDER BY path",
            (),
        ),
        "fov-disagreement": (
            f"""SELECT path, magnification, pixel_size_m, fov_m AS fov_pixel_size_m, fov_mag_m AS fov_magnification_m
                FROM images WHERE {listed} AND fov_disagreement > {FOV_TOLERANCE}
                ORDER BY fov_disagreement DESC, path""",
            (),
        ),
    }


def _primary(files: list[FileResult]) -> FileResult:
    """The file that stands for the acquisition: a readable one, TIFF/native before JPEG/BMP."""
    if len(files) == 1:
        return files[0]
    preference = {".tif": 0, ".tiff": 0, ".png": 2, ".jpg": 3, ".jpeg": 3, ".bmp": 4}
    return min(files, key=lambda f: (f.record is None, preference.get(os.path.splitext(f.path)[1].lower(), 1), f.path))


def _subtree(folder: str) -> list[str]:
    """The bounds of everything below `folder` (catalog text) in a path index: from "folder/" up to,
    not including, "folder0" (the character after the separator), so a sibling "folder-b" stays out."""
    prefix = os.path.join(folder, "")
    return [prefix, prefix[:-1] + chr(ord(os.sep) + 1)]


def _below(folder: str, root_path: str) -> str:
    """A walked folder's path below its root, as catalog text ("" for the root itself)."""
    return "" if folder == root_path else db_text(folder[len(os.path.join(root_path, "")):])


def _walk_key(root_id: int) -> str:
    """The `problems.group_key` of a root's folder-level problems."""
    return f"walk:{root_id}"


def _year(iso: str | None) -> int | None:
    return int(iso[:4]) if iso and iso[:4].isdigit() else None


def _date_gap(record: ImageRecord, mtime_ns: int) -> float | None:
    return date_gap_days(record.acquired_at, record.acquired_at_source, mtime_ns)


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


__all__ = ["AUDIT_KINDS", "Catalog", "FileResult", "GroupResult", "GroupRows", "ImageFilter", "db_text", "display_path", "fs_path"]
