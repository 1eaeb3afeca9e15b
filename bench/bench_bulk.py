"""A/B of the bulk load (catalog.bulk) in one run: the same census with it and row by row.

    nice -n 10 .venv/bin/python bench/bench_bulk.py [--archive DIR] [--shapes paper,flat]

For each shape (see bench_census.py: `paper` is the demo archive, `flat` its files in few huge
folders) and each way of giving the roots (one command; one command per root, so later roots arrive
with rows present): wall, CPU of every process, and the main process's own CPU (the SQLite writer,
the census's critical path on few cores) per image file, with and without the bulk load, beside the
floor (walk + stat + read 8 KB). The two catalogs of each pair are compared row for row.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_census import bare_walk, flat_shape, timed_cpu

from emcensus.catalog.cube import CUBE_FILLS

#: `emcensus` in a fresh process that writes its own CPU seconds (the writer's; pool workers leave
#: by `os._exit`, theirs are not in it) to `argv[1]`; `row_by_row` turns the bulk load off.
_PRELUDE = ("import atexit, resource, sys; out = sys.argv.pop(1); atexit.register(lambda: open(out, 'w').write("
            "str(sum(resource.getrusage(resource.RUSAGE_SELF)[:2])))); {switch}"
            "from emcensus.cli.main import main; main()")
_ROW_BY_ROW = "import emcensus.catalog.bulk as bulk; bulk.worth_bulk = lambda rows, present, counted=False: False; "
#: Runs a command, then prints the CPU seconds of all its processes.
_ALL_CPU = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
            "usage = resource.getrusage(resource.RUSAGE_CHILDREN); print(usage.ru_utime + usage.ru_stime)")


def census(catalog: Path, roots: list[Path], bulk: bool) -> tuple[float, float, float]:
    """Wall, CPU of every process and CPU of the main process of `emcensus scan ROOTS`."""
    code = _PRELUDE.format(switch="" if bulk else _ROW_BY_ROW)
    own = catalog.with_suffix(".cpu")
    command = [sys.executable, "-c", code, str(own), "--catalog", str(catalog), "scan", "--quiet", *map(str, roots)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _ALL_CPU, *command], check=True, capture_output=True, text=True)
    return time.perf_counter() - started, float(done.stdout.split()[-1]), float(own.read_text())


def per_root(catalog: Path, roots: list[Path], bulk: bool) -> tuple[float, float, float]:
    runs = [census(catalog, [root], bulk) for root in roots]
    return sum(run[0] for run in runs), sum(run[1] for run in runs), sum(run[2] for run in runs)


def contents(path: Path) -> list[list[tuple]]:
    """What the comparison compares: every images column but the id, metadata, problems, the cubes, the schema."""
    with sqlite3.connect(path) as db:
        columns = ", ".join(row[1] for row in db.execute("PRAGMA table_info(images)") if row[1] != "id")
        return [db.execute(sql).fetchall() for sql in (
            f"SELECT {columns} FROM images ORDER BY path",
            "SELECT i.path, m.json FROM metadata m JOIN images i ON i.id = m.image_id ORDER BY i.path",
            "SELECT group_key, path, severity, reason FROM problems ORDER BY 1, 2, 4",
            *(f"SELECT * FROM {cube} ORDER BY key" for cube in CUBE_FILLS),
            "SELECT tbl_name, type, name, sql FROM sqlite_master ORDER BY tbl_name, type, rowid")]


def bench_shape(name: str, roots: list[Path], work: Path) -> None:
    bare_walk(roots, True)  # warm the page cache for everyone
    floor, floor_cpu = timed_cpu(bare_walk, roots, True)
    results = {}
    for way, run in (("one command", census), ("one per root", per_root)):
        for bulk in (False, True):  # each pair back to back: the same load on the machine
            path = work / f"{name}-{way.replace(' ', '-')}-{'bulk' if bulk else 'rows'}.sqlite"
            results[way, bulk] = (run(path, roots, bulk), path)
    with sqlite3.connect(results["one command", True][1]) as db:
        files = db.execute("SELECT count(*) FROM images WHERE kind = 'image'").fetchone()[0]
    print(f"\n== {name}: {files} image files; floor (walk + stat + read 8 KB) {floor:.2f} s (CPU {floor_cpu:.2f} s)")
    for way in ("one command", "one per root"):
        for bulk in (False, True):
            (wall, cpu, main), _ = results[way, bulk]
            print(f"{way:13s} {'bulk load ' if bulk else 'row by row'}: {wall:6.2f} s = {wall / floor:4.2f}x floor;"
                  f" CPU all {cpu:6.2f} s; main process {main:6.2f} s = {main / files * 1e6:5.1f} us per image file")
        (wall_rows, cpu_rows, main_rows), rows_path = results[way, False]
        (wall_bulk, cpu_bulk, main_bulk), bulk_path = results[way, True]
        same = contents(rows_path) == contents(bulk_path)
        print(f"{way:13s} bulk / row by row: wall {wall_bulk / wall_rows:.2f}, CPU all {cpu_bulk / cpu_rows:.2f},"
              f" main {main_bulk / main_rows:.2f}; catalogs identical: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=Path("/tmp/bench20k"), help="a demo archive (generated beforehand)")
    parser.add_argument("--shapes", default="paper,flat")
    args = parser.parse_args()
    roots = sorted(path for path in args.archive.iterdir() if path.is_dir())
    with tempfile.TemporaryDirectory() as work:
        for shape in args.shapes.split(","):
            shape_roots = roots if shape == "paper" else sorted(
                p for p in flat_shape(args.archive, Path(f"{args.archive}-flat")).iterdir() if p.is_dir())
            bench_shape(shape, shape_roots, Path(work))


if __name__ == "__main__":
    main()
