"""Bulk loads: a census that adds many rows writes them without per-row index and cube upkeep.

Each `images` row written costs the census index and the cubes' insert triggers ~57 µs of the
writer's ~85 (the writer is the census's critical path); rebuilding the index once over the whole
table costs ~4.6 µs per row there (`worth_bulk`'s cost model). So when a scan will add many rows
compared with what the catalog holds (a first census, a new root of a tenth of it or more),
`BulkLoad` drops the costliest index (the census index) and the cube triggers, the rows go in, and
at its end the index is built again (one sort), in one transaction.
The cubes are counted as the rows go in (`CubeSums`: while the reading processes keep the other
cores busy), not refilled by a GROUP BY of the whole table at the end (~4 µs a row per cube, five
cubes at schema 12, while the reading processes wait); a load that changes a row already there (its
old values are in a cube) refills them at its end instead. Refilling a first census's empty cubes at
its end was measured and not kept (`bench/bench_cube_fill.py`): the five GROUP BYs cost ~1.2× the
counting's CPU (paper scale: ~20 vs ~16 µs a row), and alone at the end, not beside the readers.

What keeps this safe:
* **One canonical schema.** The indexes and triggers a catalog must have are those that replaying the
  migrations gives (`canonical_objects`). `restore` recreates whichever are missing and refills a cube
  whose triggers were missing, in one transaction: at the start and the end of every bulk load (an
  interrupted scan included) and at every writable open while no scan holds the catalog (`Catalog`,
  asked under the write lock), so a scan killed mid-load leaves a catalog that the next writer or
  scan makes whole.
* **A cube is read only while its triggers exist** (`catalog.cube`): the triggers and the stale cube
  come and go in the same transactions, so no reader can see the cube while it lags behind `images`.
* **The census index goes, and those made after it** (`dropped_indexes`): every other index stays,
  so the scan's own queries (`present_files`, `known_files`, the audit's `INDEXED BY`) and readers
  during the load keep theirs.
"""

from __future__ import annotations

import functools
import operator
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from emcensus.catalog.connection import canonical_objects
from emcensus.catalog.cube import CUBE_FILLS, cube_triggers
from emcensus.catalog.schema import EXTENSION_CHARACTERS, EXTENSION_SQL, FOLDER_SQL

#: The first index on `images` (in creation order) that a bulk load drops, with every later one: the
#: census index (16 columns; the rows of a census land all over it). The end rebuilds a table's
#: indexes from its first missing one on, in creation order (the planner's tie-breaks), so keeping the
#: later ones would only cost their upkeep. The earlier ones cost little to keep row by row (a root's
#: rows share their `images_root` prefix and come in order; acquisition keys come folder by folder;
#: most rows fall outside the partial indexes' WHERE): rebuilding every index cost ~7 µs per row of the
#: table at paper scale, the census index alone 2.9; writing 20 k images' rows cost the writer ~1-4 µs
#: a row more, while the reading processes keep the other core busy.
FIRST_DROPPED = "images_census"


def dropped_indexes(version: int) -> list[str]:
    """The indexes of `images` a bulk load drops in a catalog of schema `version`."""
    names = [name for name, (kind, table, _) in canonical_objects(version).items() if kind == "index" and table == "images"]
    return names[names.index(FIRST_DROPPED):]

#: The cost model (CPU on the writer, the census's critical path, per row; measured on a copy of a
#: paper-scale catalog, 176,729 rows, 20,000 rows of a new root written 400 a transaction, each way
#: twice, load 11; the rows' Python binding, the same both ways, left out). A load of new rows only
#: (a first census, a new root) counts the cubes as it goes (`CubeSums`): row by row 82-86 µs a row
#: written, bulk 26-29 with the counting, and its end 4.5-4.6 µs per row of the table (the census
#: index rebuilt, 2.9-3.0, the two made after it, 0.6-0.7 each, the last counts stored). A load that
#: writes over rows already there (a changed file: its old values are in the cubes) refills the five
#: cubes at its end instead: 12-15 µs a row written (the same new rows, not counted), the end 25 µs
#: per row of the table. (µs saved per row written, µs spent per row of the table) each way: a
#: counted load pays off from ~0.09 new rows per row present, a refilled one from ~0.57 (45 and 13
#: µs, measured before the five cubes, made both 0.41). At 1.16 M rows (the scale catalog, schema
#: 11) the ends cost about as much a row: the census index rebuilt 3.7-3.8 µs, the five cubes
#: refilled 23.6 (migrated to 12).
COUNTED_US = (57.0, 4.6)
REFILLED_US = (70.0, 25.4)


def _schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def missing_objects(db: sqlite3.Connection) -> list[str]:
    """Canonical indexes and triggers the catalog lacks (none outside a bulk load or its crash)."""
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    return [name for name in canonical_objects(_schema_version(db)) if name not in present]


def restore(db: sqlite3.Connection, *, in_step: bool = False) -> list[str]:
    """Recreate the missing indexes and triggers and refill every cube that lacked a trigger (so it
    was not kept in step; `in_step`: a live load kept every cube in step itself), in the caller's
    transaction; returns what was recreated.

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
        if not in_step and cube_triggers(version, cube) & set(missing):
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


def worth_bulk(rows_to_write: int, rows_present: int, *, counted: bool = False) -> bool:
    """Whether writing `rows_to_write` more rows bare and rebuilding over the whole table costs the
    writer less than keeping every index and cube row by row (the cost model above); `counted`: the
    rows are all new (the load counts the cubes itself), else its end refills them."""
    saved, spent = COUNTED_US if counted else REFILLED_US
    return rows_to_write * saved > (rows_present + rows_to_write) * spent


def _split_top_level(text: str) -> list[str]:
    """`text` cut at the commas outside parentheses and quotes (an SQL expression list)."""
    parts, depth, quoted, start = [], 0, False, 0
    for at, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and char == "," and depth == 0:
            parts.append(text[start:at].strip())
            start = at + 1
    return [*parts, text[start:].strip()]


_FILL = re.compile(r"\s*INSERT INTO (\w+) SELECT (.*), count\(\*\),\s*sum\(size_bytes\)\s+FROM images GROUP BY (.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _CubeAdd:
    """How a bulk load keeps one cube: which values of `_CubePlan.select` its key is made of, and the
    statement that adds a counted key (those values, then files and bytes, bound) to the cube."""

    cube: str
    pick: Callable[[tuple], tuple]
    width: int
    add: str


def folder_of(path: str) -> str:
    """`schema.FOLDER_SQL` of a path without NUL, in Python: up to its last '/' included, '' for none."""
    return path[:path.rfind("/") + 1]


def extension_of(path: str) -> str | None:
    """`schema.EXTENSION_SQL` of a path without NUL, in Python: its last '.' and the extension
    characters after it to the end, None when it does not end so."""
    run_start = len(path.rstrip(EXTENSION_CHARACTERS))
    return path[run_start - 1:] if run_start and path[run_start - 1] == "." else None


#: Cube values of `images.path` that the read-back takes as the path and computes in Python: in SQL
#: (rtrim over a set of every character of the path) they were half of its cost (6.8 -> 3.5 us a row,
#: on the writer). Held to SQLite's own on drawn paths (tests/catalog/test_bulk.py); a path holding a
#: NUL (SQLite's text functions stop there), or stored as another type, is computed by SQL.
_FROM_PATH = {FOLDER_SQL.format(path="images.path"): folder_of, EXTENSION_SQL.format(path="images.path"): extension_of}


@dataclass(frozen=True, slots=True)
class _CubePlan:
    select: str  # every cube's values computed in SQL, size_bytes and the path (when `from_path`) of the rows with an id above `?`
    cubes: tuple[_CubeAdd, ...]
    from_path: tuple[str, ...]  # the values computed from the path in Python (`_FROM_PATH`), after those of `select`
    size_at: int  # where a row holds size_bytes

    def read(self, db: sqlite3.Connection, after: int) -> list[tuple]:
        """The values of the rows with an id above `after`: those of `select`, then each of `from_path`."""
        rows = db.execute(self.select, (after,)).fetchall()
        if not self.from_path:
            return rows
        computed = [_FROM_PATH[value] for value in self.from_path]
        in_sql = f"SELECT {', '.join(value.replace('images.path', '?1') for value in self.from_path)}"

        def of(path: object) -> tuple:
            if type(path) is str and "\x00" not in path:
                return tuple(compute(path) for compute in computed)
            return db.execute(in_sql, (path,)).fetchone()  # a NUL, or a path stored as another type

        return [row + of(row[-1]) for row in rows]


@functools.cache
def _cube_plan() -> _CubePlan:
    """Made from each cube's own fill (`CUBE_FILLS`): the same values, and the same SQL makes the key
    and the stored values of them (read back from `images`, the values have their stored types; those
    of the path computed in Python from the stored path, `_FROM_PATH`)."""
    fills = {cube: _FILL.fullmatch(fill) for cube, fill in CUBE_FILLS.items()}
    if not all(fills.values()):
        raise ValueError(f"a cube's fill is not one GROUP BY over images: {[c for c, m in fills.items() if not m]}")
    grouped = {cube: _split_top_level(found.group(3)) for cube, found in fills.items()}
    every = list(dict.fromkeys(value for cube_values in grouped.values() for value in cube_values))
    from_path = tuple(value for value in every if value in _FROM_PATH)
    in_sql = [value for value in every if value not in _FROM_PATH]
    read_back = [*in_sql, "size_bytes", *(["images.path"] if from_path else [])]
    values = [*read_back, *from_path]  # a row as `_CubePlan.read` gives it
    adds = []
    for cube, found in fills.items():
        own = grouped[cube]
        names = {value: f"?{i + 1}" for i, value in enumerate(own)}  # each value bound once, named as often as the fill does
        pattern = re.compile("|".join(re.escape(value) for value in sorted(own, key=len, reverse=True)) + r"(?![\w.])")
        selected = pattern.sub(lambda m: names[m.group(0)], found.group(2))
        at = [values.index(value) for value in own]
        pick = operator.itemgetter(*at) if len(at) > 1 else lambda row, only=at[0]: (row[only],)  # a key is a tuple
        adds.append(_CubeAdd(cube, pick, len(own),
                             f"INSERT INTO {cube} VALUES ({selected}, ?{len(own) + 1}, ?{len(own) + 2})"
                             " ON CONFLICT(key) DO UPDATE SET n = n + excluded.n, bytes = bytes + excluded.bytes"))
    return _CubePlan(f"SELECT {', '.join(read_back)} FROM images WHERE id > ?", tuple(adds), from_path, len(in_sql))


class CubeSums:
    """The cubes' counts of the rows a bulk load wrote, kept in this process (a dict per cube, ~3 µs
    a row for five, after ~3.5 µs to read the row's values back, `_CubePlan.read`) and added to the cubes whenever
    `MAX_KEYS` keys are held or as many rows counted (~10 µs a key, while the reading processes keep
    the other cores busy), the rest at the load's end: no GROUP BY of the whole table at the end (~4
    µs a row per cube, while the reading processes wait).

    Exact as the fill is: the values are read back from `images` by the fill's own expressions (so
    with the types SQLite stored; the folder and extension computed from the stored path in Python,
    held to those expressions: `_FROM_PATH`), Python groups equal values as SQLite's GROUP BY does (1 and 1.0
    alike, text and blob apart), and the key is made in SQL by the fill's own expression."""

    #: Keys held (or rows counted) before they are added to the cubes: memory stays flat however big
    #: the load, and the end adds at most this many (a paper-scale census, 177 k rows: 99 k keys added
    #: during the load, 12 k at its end, of 65 k distinct; 20 k images: 17 k during, 3 k at the end).
    MAX_KEYS = 20_000

    def __init__(self, after: int) -> None:
        self.after = after  # the rows up to this id are in the cubes
        self.sums: list[dict[tuple, list[int]]] = [{} for _ in _cube_plan().cubes]
        self.rows = 0  # counted since the last `store`

    def add_new(self, db: sqlite3.Connection, rows: int) -> bool:
        """Count the rows written since the last call (`rows` of them, in the caller's transaction);
        False, counting nothing, when they are not all new (their ids do not follow on)."""
        plan = _cube_plan()
        read = plan.read(db, self.after)
        if len(read) != rows:  # an update of a row already there (or a path twice): its old values are in a cube
            return False
        # counts half made (an interrupt) or of rows rolled back match no table: `after` then never
        # equals the table's last id, and the load refills the cubes
        self.after, after = -1, self.after + rows
        size_at = plan.size_at
        for add, sums in zip(plan.cubes, self.sums, strict=True):  # cube by cube: the loop's names stay local
            pick, get = add.pick, sums.get
            for row in read:
                key = pick(row)
                counted = get(key)
                if counted is None:
                    sums[key] = [1, row[size_at]]
                else:
                    counted[0] += 1
                    counted[1] += row[size_at]
        self.after, self.rows = after, self.rows + rows
        if self.rows >= self.MAX_KEYS or sum(map(len, self.sums)) >= self.MAX_KEYS:
            self.store(db)
        return True

    def store(self, db: sqlite3.Connection) -> None:
        """Add what is counted to the cubes, in the caller's transaction."""
        for add, sums in zip(_cube_plan().cubes, self.sums, strict=True):
            if not sums:
                continue
            db.executemany(add.add, [(*key, n, size) for key, (n, size) in sums.items()])
            sums.clear()
        self.rows = 0


#: What a load's connection may do to `images` besides adding rows: either stops its counting.
_REWRITES = ("UPDATE", "DELETE")


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
        #: While active: the cubes' counts of the rows written since the drop (`written`); None: the
        #: cubes are refilled at the end instead.
        self.sums: CubeSums | None = None
        self.data_version = 0  # of the file, as the drop left it

    def surveyed(self, root_id: int, rows: int) -> None:
        """One survey of a root found `rows` rows to write (files new or changed): go bulk once the
        forecast of the whole scan is worth it. A root's first survey is its top folder's (as
        `scan` tells them)."""
        self.roots[root_id].add(rows)
        # rows found in a root the catalog holds files of may be changed files (an update: the load
        # then refills the cubes); a new root's are all new
        counted = all(root.new for root in self.roots.values() if root.rows)
        if not self.active and worth_bulk(round(self.forecast()), self.rows_present, counted=counted):
            self._drop()

    def forecast(self) -> float:
        """Rows the scan will write, as far as its walk tells yet."""
        return sum(root.forecast() for root in self.roots.values())

    def _drop(self) -> None:
        version = _schema_version(self.db)
        triggers = set().union(*(cube_triggers(version, cube) for cube in CUBE_FILLS))
        indexes = dropped_indexes(version)
        dropped = [(kind, name) for name, (kind, table, _) in canonical_objects(version).items()
                   if table == "images" and name in (triggers if kind == "trigger" else indexes)]
        self.active = True  # before the drop commits: an interrupt right after it is restored too
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for kind, name in dropped:
                self.db.execute(f"DROP {kind.upper()} IF EXISTS {name}")
            # the triggers kept the cubes in step up to here; from here on the load counts the rows it
            # adds, and a row of `images` changed or deleted by this connection, or anything written
            # by another, has it refill the cubes instead (a counted row's old values would stay)
            self.sums = CubeSums(int(self.db.execute("SELECT coalesce(max(id), 0) FROM images").fetchone()[0]))
            self.data_version = self.db.execute("PRAGMA data_version").fetchone()[0]
            self.db.create_function("emcensus_bulk_rewrite", 0, self._stop_counting)
            for event in _REWRITES:
                self.db.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS bulk_{event.lower()} AFTER {event} ON main.images"
                                " BEGIN SELECT emcensus_bulk_rewrite(); END")

    def _stop_counting(self) -> None:
        self.sums = None

    def written(self, rows: int) -> None:
        """In the transaction that just wrote `rows` rows of `images`: count them for the cubes when
        they are all new, else leave the cubes to be refilled at the end."""
        if self.active and self.sums is not None and not self.sums.add_new(self.db, rows):
            self.sums = None

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.active:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                for event in _REWRITES:
                    self.db.execute(f"DROP TRIGGER IF EXISTS temp.bulk_{event.lower()}")
                if self.sums is not None and (
                        self.db.execute("PRAGMA data_version").fetchone()[0] != self.data_version
                        or int(self.db.execute("SELECT coalesce(max(id), 0) FROM images").fetchone()[0]) != self.sums.after):
                    self.sums = None  # written by another connection, or rows added without `written`
                if self.sums is not None:
                    self.sums.store(self.db)
                restore(self.db, in_step=self.sums is not None)
            self.active = False


__all__ = ["BulkLoad", "FIRST_DROPPED", "dropped_indexes", "missing_objects", "restore", "restore_if_needed", "worth_bulk"]
