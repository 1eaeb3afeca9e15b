"""Census speed, measured as ratios in one run on the same trees (warm page cache for all).

    .venv/bin/python bench/bench_census.py [--archive DIR] [--images 152097] [--shapes paper,flat]
                                           [--exiftool-subset 2000] [--parts | --timeline | --ab OLD_SRC]

Two archive shapes, the same files: `paper` is the demo generator's archive (three instrument roots,
`{group}/{project}/{date}/` folders of tens of files); `flat` links every file of it into few huge
folders (`{instrument}/{year}/`, thousands of files each), beside it in `DIR-flat`. For each shape:
full census vs a bare Python walk that stats every file and reads its first 8 KB, the roots given in
one command and one per command (a fresh catalog each); no-change rescan vs a bare walk + stat;
peak RSS (largest process, on one root and on the whole archive: it should be flat). Each time is
wall and CPU (children included): on a shared machine the CPU is the steadier number. On the first
shape also: filtered count and 2-field group-by latency; emcensus vs `exiftool -r` on a subset
(Debian libimage-exiftool-perl). Each full census also prints its main process's own CPU (the
writer: on few cores, the critical path). `--parts`: instead, the CPU per file of each part of a
census in one process (walking, reading and building the rows, pickling and unpickling them,
writing), the numbers a lever on one part is judged by. `--timeline`: instead, one census per shape (one command)
with each process's CPU per tenth of a second (from /proc): when the workers wait for tasks, when
the writer waits for results, what runs alone at the start and the end, and how long every
reading process sat idle, and the phases (start, reading, end: each one's wall, cores busy and
idle core-seconds; every run prints them for one census per shape) (with `--ab OLD_SRC`: of both trees,
alternated twice per shape, each process's CPU and the idle times only). `--ab OLD_SRC`: instead,
full censuses of the emcensus in the source tree OLD_SRC (A) and of this tree (B), alternated twice
per shape, each beside the floor measured just before it: a lever's ratio, per-file CPU of the
reading processes and of the writer, and catalog size, in one run; then each tree's phases.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from emcensus.catalog import Catalog

#: `emcensus` as a user runs it (the console script's entry point), in a fresh process that writes
#: its own CPU seconds (the writer's, without the reading processes) at exit to the file named by
#: `$BENCH_SELF_CPU` (pool workers leave by `os._exit`: not theirs).
EMCENSUS = [sys.executable, "-c",
            "import atexit, os, resource; atexit.register(lambda: (lambda u: open(os.environ['BENCH_SELF_CPU'], 'w')"
            ".write(str(u.ru_utime + u.ru_stime)))(resource.getrusage(resource.RUSAGE_SELF))); "
            "from emcensus.cli.main import main; main()"]
#: An installed package has its bytecode compiled (pip does it); a source tree run under
#: PYTHONDONTWRITEBYTECODE compiles ~150 modules again in every command (0.2 s): not measured here.
_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def bare_walk(roots: list[Path], read: bool) -> int:
    """The baseline: os.walk, stat every file, optionally read its first 8 KB."""
    files = 0
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                os.stat(path)
                if read:
                    with open(path, "rb") as handle:
                        handle.read(8192)
                files += 1
    return files


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def timed_cpu(function, *args) -> tuple[float, float]:
    """Wall and CPU seconds of `function(*args)` in this process."""
    cpu = time.process_time()
    seconds, _ = timed(function, *args)
    return seconds, time.process_time() - cpu


#: Runs a command and prints the peak RSS (KB) of its largest process and the CPU seconds of all
#: its processes: of this run alone.
_PEAK_RSS = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
             "print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)")


def census_subprocess(catalog: Path, roots: list[Path], source: Path | None = None) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (every process), peak RSS (MB, largest process) and the main
    process's own CPU seconds (the writer: the critical path on few cores) of `emcensus scan` in a
    fresh process (of the emcensus in the source tree `source`, when given)."""
    command = [*EMCENSUS, "--catalog", str(catalog), "scan", "--quiet", *map(str, roots)]
    self_cpu = catalog.with_suffix(".self-cpu")
    tree = {"PYTHONPATH": str(source)} if source else {}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], check=True, capture_output=True, text=True,
                          env={**_ENV, "BENCH_SELF_CPU": str(self_cpu), **tree})
    seconds = time.perf_counter() - started  # a Python start more than `emcensus scan` alone: 20 ms
    rss_kb, cpu = done.stdout.split()[-2:]
    return seconds, float(cpu), int(rss_kb) / 1024, float(self_cpu.read_text())


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system CPU in clock ticks) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _scheduled(pid: int) -> tuple[float, float] | None:
    """(seconds run on a core, seconds waited for one while runnable) of a process so far, None once
    it is gone: what it did not spend either way it slept (waited for a task, a pipe, the disk),
    however loaded the machine."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as handle:
            run, waited = handle.read().split()[:2]
    except (OSError, ValueError):
        return None
    return int(run) / 1e9, int(waited) / 1e9


def census_timeline(catalog: Path, roots: list[Path], step: float = 0.1, source: Path | None = None,
                    table: bool = True) -> None:
    """Run `emcensus scan` of `roots` (of the emcensus in the source tree `source`, when given) and
    print its processes' CPU per `step` seconds (the main process, then each reading process in start
    order; `table`: every step, else the summary only) and, per process, its CPU, first and last busy
    moment; then how long every reading process sat idle: before the first read, between reads (the
    writer alone: a long statement, or the tasks out ran dry), after the last (the writer's end)."""
    tick = os.sysconf("SC_CLK_TCK")
    process = subprocess.Popen([*EMCENSUS, "--catalog", str(catalog), "scan", "--quiet", *map(str, roots)],
                               env={**_ENV, "BENCH_SELF_CPU": str(catalog.with_suffix(".self-cpu")),
                                    **({"PYTHONPATH": str(source)} if source else {})})
    started = time.perf_counter()
    last: dict[int, int] = {}
    samples: list[tuple[float, dict[int, int]]] = []
    #: per process: (first seen, its schedstat then), (last seen, its schedstat then)
    scheduled: dict[int, list[tuple[float, tuple[float, float]]]] = {}
    while process.poll() is None:
        time.sleep(step)
        now = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (found := _cpu_ticks(int(name))) is not None:
                parent, ticks = found
                if int(name) == process.pid or parent == process.pid:
                    now[int(name)] = ticks
                    if (sched := _scheduled(int(name))) is not None:
                        seen = scheduled.setdefault(int(name), [(time.perf_counter(), sched)] * 2)
                        seen[1] = (time.perf_counter(), sched)
        samples.append((time.perf_counter() - started, {pid: ticks - last.get(pid, 0) for pid, ticks in now.items()}))
        last.update(now)
    wall = time.perf_counter() - started
    order = [process.pid, *sorted({pid for _, deltas in samples for pid in deltas} - {process.pid})]
    names = ["main", *(f"w{i}" for i in range(1, len(order)))]
    print(f"timeline of {len(roots)} root(s){f' ({source})' if source else ''}, {wall:.2f} s wall; "
          f"% of one core per {step:g} s")
    if table:
        print("    t  " + " ".join(f"{name:>5}" for name in names))
        for at, deltas in samples:
            print(f"{at:5.1f}  " + " ".join(f"{deltas.get(pid, 0) * 100 / tick / step:5.0f}" for pid in order))
    for pid, name in zip(order, names, strict=True):
        busy = [at for at, deltas in samples if deltas.get(pid, 0)]
        total = sum(deltas.get(pid, 0) for _, deltas in samples) / tick
        (first, (run0, wait0)), (latest, (run, wait)) = scheduled.get(pid, [(0.0, (0.0, 0.0))] * 2)
        print(f"{name}: CPU {total:6.2f} s, busy from {busy[0] if busy else 0:5.2f} to {busy[-1] if busy else 0:5.2f} s; "
              f"asleep {latest - first - (run - run0) - (wait - wait0):5.2f} s, waiting for a core {wait - wait0:5.2f} s")
    readers = {at: sum(deltas.get(pid, 0) for pid in order[1:]) for at, deltas in samples}
    reading = [at for at, ticks in readers.items() if ticks]
    # the reading processes' own exit, after the writer's end (the pool closed), is not reading: a
    # last blip of at most two ticks after a second of nothing is left out
    while len(reading) > 1 and reading[-1] - reading[-2] > 1.0 and readers[reading[-1]] <= 2:
        reading.pop()
    if reading:
        between = sum(1 for at, ticks in readers.items() if reading[0] < at < reading[-1] and not ticks) * step
        first_read = max((at for at in readers if at < reading[0]), default=0.0)  # the sample before it
        print(f"reading processes all idle: {first_read:4.2f} s before the first read, {between:4.2f} s "
              f"between reads, {wall - reading[-1]:4.2f} s after the last (of {wall:.2f} s)")
        print_phases(samples, first_read, reading[-1], wall, tick, cores=len(os.sched_getaffinity(0)))


def print_phases(samples: list[tuple[float, dict[int, int]]], first_read: float, last_read: float, wall: float,
                 tick: int, cores: int) -> None:
    """The census's phases as its processes' CPU draws them: the start (the main process alone:
    Python, imports, the catalog, the roots' top folders, until a reading process first runs), the
    reading (walk and reads in the pool, the writer beside them), the end (the main process alone
    again: the bulk load's end, the catalog's close, the exit); each phase's wall, the cores its
    processes kept busy on average (their CPU over the wall), and the core-seconds left idle of
    `cores` (per sample: `cores` times its span less its processes' CPU; a sample spans a step and
    the time /proc took to read; on a loaded machine the idle part includes the time they waited
    for a core). `samples`: (seconds since the start, clock ticks of each process since the sample before)."""
    spans = [(at, at - before, sum(deltas.values()) / tick)
             for (at, deltas), before in zip(samples, [0.0, *(at for at, _ in samples)], strict=False)]
    phases = {"start": (0.0, first_read), "reading": (first_read, last_read), "end": (last_read, wall)}
    print(f"{'phase':<8} {'from':>6} {'wall':>6} {'cores busy':>10} {'idle core-s':>11}")
    for name, (begin, end) in phases.items():
        inside = [(span, cpu) for at, span, cpu in spans if begin < at <= end]
        busy = sum(cpu for _, cpu in inside)
        length = end - begin
        idle = sum(max(0.0, cores * span - cpu) for span, cpu in inside)
        print(f"{name:<8} {begin:6.2f} {length:6.2f} {busy / length if length > 0 else 0:10.2f} {idle:11.2f}")


def flat_shape(source: Path, dest: Path) -> Path:
    """The files of `source` hard-linked into few huge folders, `{instrument}/{year}/`: the same
    bytes and mtimes, another shape. A folder's files keep one prefix, so frames still pair."""
    if (dest / "done").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    serial = defaultdict(int)
    for root in sorted(p for p in source.iterdir() if p.is_dir()):
        for folder, _, names in os.walk(root):
            year = next((part[:4] for part in Path(folder).parts if part[:4].isdigit() and part[4:5] == "-"), "undated")
            target = dest / root.name / year
            target.mkdir(parents=True, exist_ok=True)
            serial[target] += 1
            for name in names:
                os.link(os.path.join(folder, name), target / f"{serial[target]:05d}_{name}")
    (dest / "done").touch()
    return dest


def query_ms(catalog_path: Path, repeat: int = 20) -> dict[str, float]:
    with Catalog(catalog_path, readonly=True) as catalog:
        cases = {
            "filtered count (year & instrument & detector)": lambda: catalog.total(year=2019, instrument="SU8230", detector="SE"),
            "group-by 2 fields (year, technique)": lambda: catalog.count("year,technique"),
            "group-by magnification": lambda: catalog.count("magnification"),
        }
        result = {}
        for name, run in cases.items():
            run()
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                run()
                samples.append((time.perf_counter() - started) * 1000)
            result[name] = statistics.median(samples)
    return result


def exiftool_ratio(roots: list[Path], subset: int, work: Path) -> tuple[float, float, int] | None:
    if shutil.which("exiftool") is None:
        print("exiftool not installed (apt-get install libimage-exiftool-perl): skipping that ratio")
        return None
    sub = work / "subset"
    copied = 0
    for folder, _, names in os.walk(roots[0]):
        for name in sorted(names):
            if copied >= subset:
                break
            target = sub / os.path.relpath(os.path.join(folder, name), roots[0])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(folder, name), target)
            copied += 1
    t_exif, _ = timed(lambda: subprocess.run(["exiftool", "-r", "-q", "-json", str(sub)], capture_output=True, check=False))
    t_ours = census_subprocess(work / "subset.sqlite", [sub])[0]
    return t_ours, t_exif, copied


def census_parts(roots: list[Path], work: Path) -> None:
    """CPU per file of the census's parts, in this process: a `workers=0` scan (the whole census in one
    process: walk, read, write) beside the floor, then the surveys of its roots' top-level folders
    walked again (`survey`: walk, compare with the catalog, pack), its tasks, captured, read again (`read_groups`,
    what a worker does: read, and build the catalog rows), their rows pickled (what travels back) and
    unpickled, and written into a fresh catalog in a bulk load as a first census writes them
    (`write_rows`, the writer's SQL and cube counts; then the load's end): where a lever shows, away
    from the pool. The one-process census over 2 cores is the best a 2-core census can do (no
    transport, every core busy from the first moment to the last)."""
    import pickle

    import emcensus.scan as census
    from emcensus.scan import RootSpec

    bare_walk(roots, read=True)  # a warm page cache, as the ratios have it
    _, c_floor = timed_cpu(bare_walk, roots, True)
    tasks = []
    read = census.read_groups
    census.read_groups = lambda task: tasks.append(task) or read(task)
    try:
        with Catalog(work / "parts-capture.sqlite") as catalog:
            _, c_census = timed_cpu(lambda: census.scan(catalog, [RootSpec(str(root)) for root in roots], workers=0))
            root_paths = [root["path"] for root in sorted(catalog.roots(), key=lambda root: root["id"])]
    finally:
        census.read_groups = read
    files = sum(len(group.images) for task in tasks for group in task.groups)
    surveys = [census._Survey(str(folder), str(root), census.BATCH_ACQUISITIONS, {}, {}, (0, 0))
               for root in roots for folder in sorted(root.iterdir()) if folder.is_dir()]
    cpu = time.process_time()
    for one in surveys:  # what a first census's surveys do (its roots' top folders aside: a few files)
        census.survey(one)
    c_survey = time.process_time() - cpu
    cpu = time.process_time()
    results = [read(task) for task in tasks]
    c_read = time.process_time() - cpu
    cpu = time.process_time()
    blobs = [pickle.dumps(rows) for rows in results]  # one result per task, as the pool sends them
    c_pickle = time.process_time() - cpu
    cpu = time.process_time()
    results = [pickle.loads(blob) for blob in blobs]
    c_unpickle = time.process_time() - cpu
    with Catalog(work / "parts-write.sqlite") as catalog:
        ids = [catalog.ensure_root(path, None, None, None) for path in root_paths]  # in id order: the captured rows' ids
        catalog.begin_scan(root_paths)
        cpu = time.process_time()
        with catalog.bulk_load(dict.fromkeys(ids, 1)) as bulk:
            for root_id in ids:
                bulk.surveyed(root_id, files)
            for rows in results:
                catalog.write_rows(rows)
            c_write = time.process_time() - cpu
        c_end = time.process_time() - cpu - c_write
    us = 1e6 / files
    print(f"parts, one process, {files:,} image files (CPU us/file): walk, compare and pack (surveys) "
          f"{c_survey * us:5.1f}, read and build rows {c_read * us:6.1f}, "
          f"pickle rows {c_pickle * us:5.1f}, unpickle them {c_unpickle * us:5.1f}, write in a bulk load "
          f"{c_write * us:6.1f}, the load's end {c_end * us:5.1f}")
    print(f"whole census in one process (workers=0): CPU {c_census:6.2f} s = {c_census * us:6.1f} us/file = "
          f"{c_census / c_floor:4.2f}x the floor's CPU ({c_floor:.2f} s); over 2 cores at best "
          f"{c_census / c_floor / 2:4.2f}x the floor")


def catalog_mb_and_images(catalog: Path) -> tuple[float, int]:
    """The catalog's size on disk (MB, its write-ahead log folded in first) and its image files (as
    `count --files` counts them), read by SQLite alone: the catalog of another tree may have another schema."""
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        images = db.execute("SELECT count(*) FROM images WHERE status = 'present' AND readable = 1 AND kind = 'image'"
                            ).fetchone()[0]
    return catalog.stat().st_size / 1e6, images


def census_ab(name: str, roots: list[Path], work: Path, sources: dict[str, Path], rounds: int = 2) -> None:
    """Full censuses (one command) of the source trees in `sources`, alternated `rounds` times with the
    floor measured between: ratios of one run. Per image file: the CPU of the reading processes (all
    but the main one) and of the writer (the main one); and the catalog's size."""
    files = bare_walk(roots, read=True)  # a warm page cache for all
    print(f"\n{name}: {roots[0].parent} — {files:,} files, A/B of {', '.join(f'{k}={v}' for k, v in sources.items())}")
    for round_ in range(rounds):
        for label, source in sources.items():
            floor, _ = timed_cpu(bare_walk, roots, True)
            catalog = work / f"{name}-{label}-{round_}.sqlite"
            seconds, cpu, rss, main = census_subprocess(catalog, roots, source)
            size, images = catalog_mb_and_images(catalog)
            print(f"{label:>4} round {round_ + 1}: {seconds:6.2f} s (CPU {cpu:6.2f} s) = {seconds / floor:4.2f}x the floor "
                  f"({floor:.2f} s); per image file: readers {(cpu - main) / images * 1e6:5.1f} us, writer "
                  f"{main / images * 1e6:5.1f} us, all {cpu / images * 1e6:5.1f} us; RSS {rss:4.0f} MB; "
                  f"catalog {size:6.1f} MB", flush=True)
            catalog.unlink()


def bench_shape(name: str, roots: list[Path], work: Path) -> Path:
    """Print one shape's ratios; return its catalog."""
    files = bare_walk(roots, read=True)  # warm the page cache for everyone
    t_bare_read, c_bare_read = timed_cpu(bare_walk, roots, True)
    t_bare_stat, c_bare_stat = timed_cpu(bare_walk, roots, False)
    _, _, rss_part, _ = census_subprocess(work / f"{name}-part.sqlite", roots[:1])
    t_census, c_census, rss_full, c_main = census_subprocess(work / f"{name}.sqlite", roots)
    t_rescan, c_rescan, _, _ = census_subprocess(work / f"{name}.sqlite", roots)
    per_root = [census_subprocess(work / f"{name}-per-root.sqlite", [root]) for root in roots]
    t_per_root, c_per_root = sum(run[0] for run in per_root), sum(run[1] for run in per_root)
    with Catalog(work / f"{name}.sqlite", readonly=True) as catalog:
        images = catalog.total(files=True)
    print(f"\n{name}: {roots[0].parent} — {files:,} files on disk, {images:,} image files catalogued, {os.cpu_count()} cores")
    print(f"bare walk + stat + read 8 KB : {t_bare_read:7.2f} s  (CPU {c_bare_read:6.2f} s)")
    print(f"bare walk + stat             : {t_bare_stat:7.2f} s  (CPU {c_bare_stat:6.2f} s)")
    print(f"full census, one command     : {t_census:7.2f} s  (CPU {c_census:6.2f} s)   ratio {t_census / t_bare_read:5.2f}x  (target <= 3x)")
    print(f"  its main process (writer)  :            (CPU {c_main:6.2f} s = {c_main / images * 1e6:5.1f} us per image file; "
          f"CPU of all {c_census / images * 1e6:5.1f} us; floor {c_bare_read / images * 1e6:5.1f} us)")
    print(f"full census, one per root    : {t_per_root:7.2f} s  (CPU {c_per_root:6.2f} s)   ratio {t_per_root / t_bare_read:5.2f}x  (target <= 3x)")
    print(f"no-change rescan             : {t_rescan:7.2f} s  (CPU {c_rescan:6.2f} s)   ratio {t_rescan / t_bare_stat:5.2f}x  (target <= 1.2x)")
    print(f"peak RSS, whole archive      : {rss_full:7.0f} MB  (target <= 300 MB)")
    print(f"peak RSS, root {roots[0].name:<14}: {rss_part:7.0f} MB  (flat in archive size?)")
    return work / f"{name}.sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=Path(tempfile.gettempdir()) / "paper-archive")
    parser.add_argument("--images", type=int, default=152_097)
    parser.add_argument("--shapes", default="paper,flat", help="comma-separated: paper, flat")
    parser.add_argument("--exiftool-subset", type=int, default=2000)
    parser.add_argument("--parts", action="store_true", help="only the CPU per file of reading, pickling, writing")
    parser.add_argument("--timeline", action="store_true", help="only each process's CPU over one census per shape")
    parser.add_argument("--ab", type=Path, metavar="OLD_SRC",
                        help="only full censuses of OLD_SRC's emcensus (A) and this one (B), alternated, per shape")
    args = parser.parse_args()

    from emcensus.demo import generate_archive

    if not (args.archive / "manifest.json").exists():
        print(f"generating {args.images:,} images into {args.archive} ...", flush=True)
        seconds, _ = timed(generate_archive, args.archive, args.images)
        print(f"  generated in {seconds:.0f} s")
    shapes = {"paper": args.archive}
    if "flat" in args.shapes:
        shapes["flat"] = flat_shape(args.archive, args.archive.with_name(args.archive.name + "-flat"))
    subprocess.run([sys.executable, "-c", "import emcensus.cli.main, emcensus.scan"], check=True, env=_ENV)  # bytecode
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.parts:
            return census_parts(sorted(p for p in args.archive.iterdir() if p.is_dir()), work)
        if args.timeline and args.ab:
            here = Path(__file__).resolve().parents[1] / "src"
            for name in args.shapes.split(","):
                roots = sorted(p for p in shapes[name].iterdir() if p.is_dir())
                bare_walk(roots, read=True)  # a warm page cache, as the ratios have it
                for round_ in range(2):
                    for label, source in {"A": args.ab, "B": here}.items():
                        print(f"{name}, {label} round {round_ + 1}: ", end="")
                        census_timeline(work / f"{name}-{label}-{round_}-timeline.sqlite", roots, source=source,
                                        table=False)
            return None
        if args.ab:
            here = Path(__file__).resolve().parents[1] / "src"
            for name in args.shapes.split(","):
                roots = sorted(p for p in shapes[name].iterdir() if p.is_dir())
                census_ab(name, roots, work, {"A": args.ab, "B": here})
                for label, source in {"A": args.ab, "B": here}.items():  # where the cores sat idle, each tree
                    print(f"{name}, {label}: ", end="")
                    census_timeline(work / f"{name}-{label}-timeline.sqlite", roots, source=source, table=False)
            return None
        if args.timeline:
            for name in args.shapes.split(","):
                roots = sorted(p for p in shapes[name].iterdir() if p.is_dir())
                bare_walk(roots, read=True)  # a warm page cache, as the ratios have it
                census_timeline(work / f"{name}-timeline.sqlite", roots)
            return None
        catalogs = []
        for name in args.shapes.split(","):
            roots = sorted(p for p in shapes[name].iterdir() if p.is_dir())
            catalogs.append(bench_shape(name, roots, work))
            print(f"{name}: ", end="")
            census_timeline(work / f"{name}-timeline.sqlite", roots, table=False)  # where the cores sat idle
        for name, ms in query_ms(catalogs[0]).items():
            print(f"{name:<45}: {ms:6.1f} ms (median, target <= 50 ms)")
        exif = exiftool_ratio(sorted(p for p in args.archive.iterdir() if p.is_dir()), args.exiftool_subset, work)
    if exif:
        ours, theirs, n = exif
        print(f"exiftool -r on {n:,} files     : {theirs:7.2f} s; emcensus {ours:.2f} s: exiftool/emcensus = {theirs / ours:4.1f}x")


if __name__ == "__main__":
    main()
