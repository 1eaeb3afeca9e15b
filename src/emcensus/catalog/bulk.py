"""Bulk loads: a census that adds many rows writes them without per-row index and cube upkeep.

Each `images` row written costs its secondary indexes and the cubes' insert triggers ~45 µs of the
writer's ~65 (the writer is the census's critical path); rebuilding them once over the whole table
costs ~13 µs per row there. So when a scan will add many rows compared with what the catalog holds (a
first census, a new root bigger than the rest), `BulkLoad` drops those indexes and the cube triggers,
the rows go in bare, and at its end every index is built again (one sort each) and the cube refilled
(one GROUP BY), in one transaction.

What keeps this safe:
* **One canonical schema.** The indexes and triggers a catalog must have are those that replaying the
  migrations gives (`canonical_objects`). `restore` recreates whichever are missing and refills a cube
  whose triggers were missing, in one transaction: at the start and the end of every bulk load (an
  interrupted scan included) and at every writable open while no scan holds the catalog (`Catalog`,
  asked under the write lock), so a scan killed mid-load leaves a catalog that the next writer or
  scan makes whole.
* **A cube is read only while its triggers exist** (`catalog.cube`): the triggers and the stale cube
  come and go in the same transactions, so no reader can see the cube while it lags behind `images`.
* **The scan's own queries keep their indexes** (`KEPT_INDEXES`): the path index (a constraint),
  and the partial indexes behind `present_files`, the encoded-name lookup of `known_files` and the
  audit's `INDEXED BY`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from emcensus.catalog.connection import canonical_objects
from emcensus.catalog.cube import CUBE_FILLS, cube_triggers

#: Indexes on `images` that a bulk load keeps: queries that run while it loads rely on them, and all
#: but a few rows fall outside their WHERE (a row outside costs no index write).
KEPT_INDEXES = frozenset({"audit_exports", "audit_missing", "audit_sidecar_only", "images_encoded"})

#: Measured per row on the writer (CPU, the rows of a 20 k-image census written both ways, both
#: cubes, loaded machine; bench/bench_bulk.py times whole censuses): what a bulk load saves for each
#: row it writes (61-76 -> 16-22 µs), and what rebuilding every index and refilling the cubes costs
#: for each row of the table (12-16 µs). A load pays off from ~0.4 new rows per row present. At a
#: million rows both grow alike (70-80 µs saved, 23 µs to drop and rebuild: bench in the closing note).
UPKEEP_US_PER_ROW = 45.0
REBUILD_US_PER_ROW = 13.0


def _schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def missing_objects(db: sqlite3.Connection) -> list[str]:
    """Canonical indexes and triggers the catalog lacks (none outside a bulk load or its crash)."""
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    return [name for name in canonical_objects(_schema_version(db)) if name not in present]


def restore(db: sqlite3.Connection) -> list[str]:
    """Recreate the missing indexes and triggers and refill every cube that lacked a trigger (so it
    was not kept in step), in the caller's transaction; returns what was recreated.

    SQLite's planner weighs a table's indexes in the order they were created, and picks the first of
    two that cost the same: a table's objects are made again in the migrations' order from its first
    missing one on (those kept by the load too), so every query plans as on a catalog never loaded
    in bulk (an order the query does not fix stays the same)."""
    missing = set(missing_objects(db))
    version = _schema_version(db)
    objects = canonical_objects(version)
    redone: list[str] = []
    for kind, table in {objects[name][:2] for name in missing}:
        group = [name for name, (other_kind, other_table, _) in objects.items() if (other_kind, other_table) == (kind, table)]
        redone += group[min(group.index(name) for name in missing if name in group):]
    redone.sort(key=list(objects).index)
    for name in redone:
        if name not in missing:
            db.execute(f"DROP {objects[name][0].upper()} {name}")
    for name in redone:
        db.execute(objects[name][2])
    for cube, fill in CUBE_FILLS.items():
        if cube_triggers(version, cube) & set(missing):
            db.execute(f"DELETE FROM {cube}")
            db.execute(fill)
    return redone


def restore_if_needed(db: sqlite3.Connection, *, unless: Callable[[], bool] = lambda: False) -> list[str]:
    """`restore` in its own write transaction, taken only when something is missing (a writable open
    of a whole catalog writes nothing) and `unless()`, asked under that lock, is false (a live load
    owns what is missing: it drops only under the write lock, so none can begin meanwhile)."""
    if not missing_objects(db):
        return []
    with db:
        db.execute("BEGIN IMMEDIATE")
        if unless():
            return []
        return restore(db)  # read again under the lock: another writer may have restored it meanwhile


def worth_bulk(rows_to_write: int, rows_present: int) -> bool:
    """Whether writing `rows_to_write` more rows bare and rebuilding over the whole table costs the
    writer less than keeping every index and cube row by row (the cost model above)."""
    return rows_to_write * UPKEEP_US_PER_ROW > (rows_present + rows_to_write) * REBUILD_US_PER_ROW


@dataclass(slots=True)
class _RootRows:
    """What the walk of one root found to write so far."""

    parts: int  # surveys its walk is split into (its top folder and each top-level folder)
    new: bool  # the catalog holds none of its files: everything found is new
    surveyed: int = 0
    rows: int = 0
    top: int = 0  # rows found in its top folder (its first survey)

    def add(self, rows: int) -> None:
        if not self.surveyed:
            self.top = rows
        self.surveyed += 1
        self.rows += rows

    def forecast(self) -> float:
        """Rows the whole root will write: those found, and for a new root (its files are all new;
        its size is known only walked) as many again per part not walked yet as the parts walked
        held below its top folder, on average. The files directly in the top folder say nothing of
        the folders below it: multiplied by the parts, a top folder of 5,000 files beside 100 small
        folders forecast 505,000 rows, and a million-row catalog rebuilt every index for 5,100."""
        if not self.new or not self.surveyed:
            return self.rows
        return self.top + (self.rows - self.top) * self.parts / self.surveyed


class BulkLoad:
    """A scan's writes, told what its walk finds to write: once the forecast is worth it
    (`worth_bulk` against the rows present when the load began), the indexes and cube triggers are
    dropped until the load ends. Use as a context manager; leaving it (normally, by an error or an
    interrupt) restores the catalog."""

    def __init__(self, db: sqlite3.Connection, roots: Mapping[int, int]) -> None:
        """`roots`: each root's id and the number of surveys its walk is split into. The caller holds
        the scan lock, so no other load is live: what a killed one left since the catalog was opened
        (a writable open then restored nothing: the lock was held) is restored first."""
        self.db = db
        restore_if_needed(db)
        self.rows_present = int(db.execute("SELECT coalesce(max(id), 0) FROM images").fetchone()[0])  # an index seek
        self.roots = {root_id: _RootRows(parts, not db.execute(
            "SELECT EXISTS (SELECT 1 FROM images WHERE root_id = ?)", (root_id,)).fetchone()[0])
            for root_id, parts in roots.items()}
        self.active = False

    def surveyed(self, root_id: int, rows: int) -> None:
        """One survey of a root found `rows` rows to write (files new or changed): go bulk once the
        forecast of the whole scan is worth it. A root's first survey is its top folder's (as
        `scan` tells them)."""
        self.roots[root_id].add(rows)
        if not self.active and worth_bulk(round(self.forecast()), self.rows_present):
            self._drop()

    def forecast(self) -> float:
        """Rows the scan will write, as far as its walk tells yet."""
        return sum(root.forecast() for root in self.roots.values())

    def _drop(self) -> None:
        version = _schema_version(self.db)
        triggers = set().union(*(cube_triggers(version, cube) for cube in CUBE_FILLS))
        dropped = [(kind, name) for name, (kind, table, _) in canonical_objects(version).items()
                   if table == "images" and (name in triggers if kind == "trigger" else name not in KEPT_INDEXES)]
        self.active = True  # before the drop commits: an interrupt right after it is restored too
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for kind, name in dropped:
                self.db.execute(f"DROP {kind.upper()} IF EXISTS {name}")

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.active:
            restore_if_needed(self.db)
            self.active = False


__all__ = ["BulkLoad", "KEPT_INDEXES", "missing_objects", "restore", "restore_if_needed", "worth_bulk"]
