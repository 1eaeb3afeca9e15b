"""Cubes of a first census: counted by the bulk writer as rows go in, or one GROUP BY per cube at the end?

    nice -n 10 .venv/bin/python bench/bench_cube_fill.py CATALOG [CATALOG ...] [--batch 512]

On a copy of each catalog (the file given is only read), its `images` rows are written again in
batches, as a bulk load writes them (cube triggers and the dropped indexes gone), and the same rows'
five cubes are made both ways: `CubeSums` (catalog.bulk: each batch's rows read back and counted in
Python, stored every `MAX_KEYS`; only that is timed, not the rows' insert) and the five fills
(`CUBE_FILLS`, each `INSERT INTO cube SELECT ... GROUP BY`). It prints each way's CPU per row and
checks both give the same cubes. The counting runs on the writer while the reading processes keep
the other core busy (a census is CPU-bound on 2 cores: it costs about its CPU / 2 of wall); the fills
would run after the readers are done, on one core while the other waits: the fills pay only when
their wall is below half the counting's CPU.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from emcensus.catalog.bulk import CubeSums, dropped_indexes
from emcensus.catalog.connection import canonical_objects
from emcensus.catalog.cube import CUBE_FILLS, cube_triggers


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of `work()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def cubes(db: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every cube's rows, in key order."""
    return {cube: db.execute(f"SELECT * FROM {cube} ORDER BY key").fetchall() for cube in CUBE_FILLS}


def compare(path: Path, batch: int) -> None:
    """Both ways on a copy of the catalog at `path`, in one transaction rolled back."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite"
        shutil.copyfile(path, copy)
        db = sqlite3.connect(copy, isolation_level=None)
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.execute("BEGIN")
        for name in set().union(*(cube_triggers(version, cube) for cube in CUBE_FILLS)) | set(dropped_indexes(version)):
            db.execute(f"DROP {canonical_objects(version)[name][0].upper()} IF EXISTS {name}")
        db.execute("CREATE TEMP TABLE rows AS SELECT * FROM images ORDER BY id")
        db.execute("DELETE FROM images")
        for cube in CUBE_FILLS:
            db.execute(f"DELETE FROM {cube}")
        ids = [row[0] for row in db.execute("SELECT id FROM temp.rows")]
        sums, counting = CubeSums(0), [0.0, 0.0]

        def count(rows: int) -> None:
            if not sums.add_new(db, rows):
                raise RuntimeError("CubeSums refused new rows")

        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            db.execute("INSERT INTO images SELECT * FROM temp.rows WHERE id BETWEEN ? AND ?", (chunk[0], chunk[-1]))
            spent = timed(lambda: count(len(chunk)))
            counting = [counting[0] + spent[0], counting[1] + spent[1]]
        spent = timed(lambda: sums.store(db))
        counting = [counting[0] + spent[0], counting[1] + spent[1]]
        counted = cubes(db)

        def fill() -> None:
            for cube, sql in CUBE_FILLS.items():
                db.execute(f"DELETE FROM {cube}")
                db.execute(sql)

        filled = timed(fill)
        same = counted == cubes(db)
        db.execute("ROLLBACK")
        db.close()
    rows = len(ids)
    print(f"{path} ({rows:,} rows, batches of {batch}):")
    print(f"  counted by CubeSums: wall {counting[0]:.3f} s, CPU {counting[1]:.3f} s ({counting[1] / rows * 1e6:.1f} µs a row)"
          f" -> ~{counting[1] / 2:.2f} s of census wall on 2 busy cores")
    print(f"  five GROUP BY fills: wall {filled[0]:.3f} s, CPU {filled[1]:.3f} s ({filled[1] / rows * 1e6:.1f} µs a row),"
          " serial at the load's end")
    print(f"  same cubes: {same}; the fills pay: {filled[1] < counting[1] / 2}"
          f" (fill CPU / counting CPU {filled[1] / counting[1]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalogs", type=Path, nargs="+")
    parser.add_argument("--batch", type=int, default=512, help="rows a transaction writes (the scan's BATCH_ACQUISITIONS)")
    args = parser.parse_args()
    for path in args.catalogs:
        compare(path, args.batch)


if __name__ == "__main__":
    main()
