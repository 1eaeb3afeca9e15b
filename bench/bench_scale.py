"""The 1 M-image targets (issue 11), each number printed against its target:

- every `count` filter (acquisitions and files) and every 2-field group-by: <= 200 ms;
- Table 1 + every breakdown + figures + HTML report: <= 30 s;
- every dashboard page and API call (server time, in-process ASGI as bench_dashboard.py): <= 300 ms;
  each one's first call in a fresh process (templates compiled, nothing kept) and its call after a
  write (no result kept, in a process already serving) printed beside;
- Parquet export of the whole catalog: <= 20 s, its peak RSS the same at 20 k images as at 1 M;
- peak RSS of each of these (a process of its own, measured by wait4): <= 300 MB;
- `writes`: what the cubes' triggers cost a scan's writes (20 k acquisitions written through
  `Catalog.write_groups`, then rewritten as a rescan does, with every cube, those of schema 11, the
  census cube only and none, and every cube with an index on the file size, alternated).

    .venv/bin/python bench/bench_scale.py [--images 1000000] [--parts filters,groupbys,report,dashboard,export,writes]

The catalog is `scale_catalog.py`'s (built on first use, a few minutes). Counts are timed on a
catalog opened afresh for each query (SQLite's page cache cold, the OS's warm), as a `count`
command meets it; the open itself (and its integrity check) is timed apart.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale_catalog import CATALOG, scale_catalog  # noqa: E402

from emcensus.catalog import Catalog  # noqa: E402
from emcensus.catalog.query import GROUP_FIELDS  # noqa: E402

PARTS = ("filters", "groupbys", "report", "dashboard", "export", "writes")
TARGET_RSS_MB = 300
#: `writes`: every cube and an index on the file size, what a list page in size order needs (not in
#: the schema yet: its cost per written row, against "every cube").
SIZE_INDEX = "CREATE INDEX images_size ON images(size_bytes);"
SIZE_INDEX_VARIANT = "every cube + size index"
#: The smaller catalog the export is also run on: its peak RSS must not grow with the catalog.
SMALL_EXPORT = 20_000


@dataclass
class Took:
    """Wall-clock and CPU seconds of one measure (on a shared machine the CPU time is the steadier)."""

    wall: float = 0.0
    cpu: float = 0.0

    def ms(self) -> str:
        return f"{self.wall * 1000:8.1f} ms (cpu {self.cpu * 1000:6.1f})"

    def verdict(self, target_s: float) -> str:
        """The target is judged on wall time; OVER (cpu ok) when only the machine's load made it late."""
        if self.wall <= target_s:
            return "ok"
        return "OVER (cpu ok)" if self.cpu <= target_s else "OVER"


@contextmanager
def timed():
    took = Took()
    wall, cpu = time.perf_counter(), time.process_time()
    yield took
    took.wall, took.cpu = time.perf_counter() - wall, time.process_time() - cpu


def _first_query(catalog_path: Path, by: str, /, **filters: object) -> Took:
    from emcensus.catalog.query import RESULTS

    RESULTS.clear()  # nothing kept from an earlier query (files and acquisitions may read the same matches)
    with Catalog(catalog_path, readonly=True) as catalog, timed() as took:
        catalog.count(by, **filters)
    return took


def part_filters(path: Path) -> None:
    with Catalog(path, readonly=True) as catalog:
        group = catalog.count("group")[0]["group"]
        project = next(row["project"] for row in catalog.count("project") if row["project"])
        root = catalog.roots()[0]["path"]
    filters: dict[str, dict[str, object]] = {
        "(none)": {}, "year": {"year": 2019}, "year range": {"year": "2015-2019"}, "since": {"since": 2020},
        "until": {"until": 2015}, "instrument": {"instrument": "SU8230"}, "technique": {"technique": "TEM"},
        "detector": {"detector": "SE"}, "vendor": {"vendor": "Hitachi"}, "magnification": {"magnification": 50000},
        "magnification range": {"magnification": "1000-50000"}, "fov": {"fov": "1um-10um"},
        "scalebar_decade": {"scalebar_decade": "10-100nm"}, "group": {"group": group}, "project": {"project": project},
        "root": {"root": root}, "path": {"path": "*/vol03/*"}, "path, date folders": {"path": "*/2019-*/*"},
        "path, a suffix": {"path": "*.dm4"}, "path, most files": {"path": "*.tif"},
        "path, folder and suffix": {"path": "*/2019-*/*.jpg"}, "path, other suffix": {"path": "*.t?f"},
        "path, two suffixes": {"path": "*.b.tif"}, "path, a name's end": {"path": "*_001.tif"},
        "path, folder and name": {"path": "*/2019-*/*x*.tif"}, "path, non-ASCII suffix": {"path": "*.t\u00eff"},
        "path, class suffix": {"path": "*/2019-*/*.[tT][iI][fF]"},
        "include_missing": {"include_missing": True},
        "kind": {"kind": "all"}, "P1 & P2 & P3": {"year": 2019, "instrument": "SU8230", "detector": "SE"},
    }
    worst = Took()
    print("count filters (first query on a fresh connection), acquisitions | files:")
    for name, kwargs in filters.items():
        acquisitions, files = _first_query(path, "", **kwargs), _first_query(path, "", files=True, **kwargs)
        worst = max(worst, acquisitions, files, key=lambda took: took.wall)
        print(f"  {name:<22} {acquisitions.ms()} | {files.ms()}")
    print(f"slowest count filter        : {worst.ms()} (target <= 200 ms) {worst.verdict(0.2)}")
    with timed() as took:
        Catalog(path, readonly=True, verify=True).close()
    print(f"opening with quick_check    : {took.ms()} (every command does it once)")
    with timed() as took:
        subprocess.run([str(Path(sys.executable).with_name("emcensus")), "--catalog", str(path), "count", "--by",
                        "year,technique"], check=True, stdout=subprocess.DEVNULL)
    print(f"`emcensus count --by year,technique`, whole command: {took.wall * 1000:.0f} ms")


def part_groupbys(path: Path) -> None:
    fields = [name for name in GROUP_FIELDS if name != "detector_family"]  # the same column as `detector`
    timings = {}
    for a, b in itertools.combinations(fields, 2):
        timings[f"{a},{b}"] = took = _first_query(path, f"{a},{b}")
        print(f"    --by {a},{b}: {took.ms()}", flush=True)
    slow = sorted(timings.items(), key=lambda item: -item[1].wall)
    print(f"2-field group-bys ({len(timings)}): median {statistics.median(t.wall for t in timings.values()) * 1000:.1f} ms"
          f" (cpu {statistics.median(t.cpu for t in timings.values()) * 1000:.1f}); slowest:")
    for by, took in slow[:8]:
        print(f"  --by {by:<36} {took.ms()}")
    print(f"slowest 2-field group-by    : {slow[0][1].ms()} (target <= 200 ms) {slow[0][1].verdict(0.2)}")


def part_report(path: Path) -> None:
    from emcensus.report.build import build_report_data, catalog_table1
    from emcensus.report.html import write_report

    with Catalog(path, readonly=True) as catalog, tempfile.TemporaryDirectory() as out:
        with timed() as table:
            catalog_table1(catalog, until=2023)
        with timed() as data:
            report_data = build_report_data(catalog, until=2023)
        with timed() as pages:
            write_report(Path(out), report_data)
    total = Took(sum(t.wall for t in (table, data, pages)), sum(t.cpu for t in (table, data, pages)))
    print(f"Table 1                     : {table.ms()}")
    print(f"report data (breakdowns)    : {data.ms()}")
    print(f"figures + HTML + CSV/JSON   : {pages.ms()}")
    print(f"Table 1 + figures + report  : {total.ms()} (target <= 30 s) {total.verdict(30)}")


def part_dashboard(path: Path) -> None:
    from bench_dashboard import dashboard_urls, timed_get
    from fastapi.testclient import TestClient

    from emcensus.catalog.query import RESULTS
    from emcensus.web.app import create_app

    with Catalog(path, readonly=True) as catalog:
        total = catalog.total(files=True)
        image_id = catalog.images(limit=1, offset=total // 2, instrument="SU8230")[0]["id"]
        group = catalog.count("group")[0]["group"]
        rare_project = min((row for row in catalog.count("project") if row["project"]), key=lambda row: row["count"])["project"]
        first_year = catalog.count("year")[0]["year"]
    # the sidecar call reads a file of the archive, which this catalog has none of
    urls = [url for url in dashboard_urls(image_id) if not url.endswith("/sidecar")] + [
        f"/api/images?limit=60&offset={total - 100}", f"/explore?group={group}&order=-acquired_at",
        "/api/count?by=group,project", "/api/count?by=month", "/audit/date-disagreement",
        "/explore?year=2019&technique=SEM",  # path order, its files not in the first root
        # in acquisition time order: a rare filter, files that are all old, a page in the middle
        f"/api/images?limit=60&order=-acquired_at&project={rare_project}", f"/explore?year={first_year}&order=-acquired_at",
        f"/api/images?limit=60&order=acquired_at&offset={total // 3}",
        # list orders with no index: by a value a cube counts (read within the value), by size and quality
        "/api/images?limit=60&order=instrument", "/explore?order=-detector&technique=TEM",
        f"/api/images?limit=60&order=instrument&offset={total // 2}", "/api/images?limit=60&order=size_bytes",
        "/api/images?limit=60&order=-sharpness_pct",
    ]
    client = TestClient(create_app(path))
    worst, worst_first, worst_written = Took(), Took(), Took()
    repeat = 5  # timed calls of each, after a warming one
    print(f"  {'page or API call':<62} {'first call (a fresh process)':<30} {'then (median of ' + str(repeat) + ')':<30}"
          " after a write")
    for url in urls:
        with timed() as first:
            client.get(url)
        with timed() as took:  # sets the wall and CPU time of all its calls (a warming one, then `repeat`) on leaving
            median = timed_get(client, url, repeat) / 1000
        took.wall, took.cpu = median, took.cpu / (repeat + 1)  # the median's wall time against the mean CPU time of a call
        # what a write leaves: no result kept (`ResultCache`, the storage summary's), in a process already serving
        RESULTS.clear()
        client.app.state.storage_cache.clear()
        with timed() as written:
            client.get(url)
        worst = max(worst, took, key=lambda t: t.wall)
        worst_first = max(worst_first, first, key=lambda t: t.wall)
        worst_written = max(worst_written, written, key=lambda t: t.wall)
        print(f"  {url:<62} {first.ms()} {took.ms()} {written.ms()}")
    print(f"slowest first call          : {worst_first.ms()} (templates compiled, nothing kept yet)")
    print(f"slowest call after a write  : {worst_written.ms()} (once per page after each write)")
    print(f"slowest page or API call    : {worst.ms()} (target <= 300 ms) {worst.verdict(0.3)}")


def part_export(path: Path) -> None:
    from emcensus.export import export_catalog

    with Catalog(path, readonly=True) as catalog, tempfile.TemporaryDirectory() as out:
        with timed() as took:
            rows = export_catalog(catalog, Path(out) / "census.parquet")
        size = (Path(out) / "census.parquet").stat().st_size
    print(f"Parquet export              : {took.ms()} (target <= 20 s) {took.verdict(20)}"
          f" — {rows:,} rows, {size / 1e6:.0f} MB")


def part_writes(path: Path, images: int = 20_000, rounds: int = 3) -> None:
    from emcensus.catalog.cube import CUBE_FILLS, cube_triggers
    from emcensus.catalog.schema import SCHEMA_VERSION
    from emcensus.demo.generate import plan_archive
    from scale_catalog import ARCHIVE, volume_groups

    groups = volume_groups(plan_archive(images, seed=0).frames, 0)
    #: cubes kept by triggers in each variant (the others' triggers dropped): each cube's own cost
    cubes = list(CUBE_FILLS)
    variants = {"every cube (schema 12)": (), "schema 11's cubes": tuple(cubes[2:]), "census cube only": tuple(cubes[1:]),
                "no cube": tuple(cubes), SIZE_INDEX_VARIANT: ()}
    costs: dict[str, list[Took]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(rounds):
            for number, (variant, dropped) in enumerate(variants.items()):
                with Catalog(Path(folder) / f"w{round_}-{number}.sqlite") as catalog:
                    catalog.db.executescript("".join(f"DROP TRIGGER {trigger};" for cube in dropped
                                                     for trigger in cube_triggers(SCHEMA_VERSION, cube))
                                             + (SIZE_INDEX if variant == SIZE_INDEX_VARIANT else ""))
                    roots = {name: catalog.ensure_root(f"{ARCHIVE}/{name}", name, "Hitachi", None) for name in groups}
                    scan_id = catalog.begin_scan(list(roots))
                    for step in ("first scan", "rescan, all re-read"):
                        with timed() as took:
                            for name, items in groups.items():
                                for batch in range(0, len(items), 2000):
                                    catalog.write_groups(scan_id, roots[name], items[batch:batch + 2000])
                        costs.setdefault(f"{step}, {variant}", []).append(took)
    files = sum(len(group.files) for items in groups.values() for group in items)
    print(f"writes of {images:,} acquisitions ({files:,} files), median of {rounds}:")
    for name, tooks in costs.items():
        wall, cpu = statistics.median(t.wall for t in tooks), statistics.median(t.cpu for t in tooks)
        print(f"  {name:<40} {wall:6.2f} s (cpu {cpu:6.2f}) = {cpu / files * 1e6:5.1f} µs cpu per file")


def run_part(name: str, path: Path) -> float:
    """Run one part in a process of its own; its peak RSS in MB."""
    child = subprocess.Popen([sys.executable, __file__, "--part", name, "--catalog", str(path)])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"part {name} failed ({child.returncode})")
    return usage.ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        globals()[f"part_{args.part}"](args.catalog)
        return
    default = args.images == 1_000_000
    path = scale_catalog(CATALOG if default else CATALOG.with_name(f"census-{args.images}.sqlite"), args.images)
    with Catalog(path, readonly=True) as catalog:
        print(f"catalog: {path} — {catalog.total():,} acquisitions, {catalog.total(files=True):,} image files, "
              f"{path.stat().st_size / 1e6:.0f} MB")
    peaks = {}
    for name in args.parts.split(","):
        print(f"--- {name}", flush=True)
        peaks[name] = run_part(name, path)
    if "export" in peaks and args.images > SMALL_EXPORT:  # flat: the peak is the rows in flight, not the catalog
        print(f"--- export of a {SMALL_EXPORT:,}-image catalog", flush=True)
        small = run_part("export", scale_catalog(CATALOG.with_name(f"census-{SMALL_EXPORT}.sqlite"), SMALL_EXPORT))
        print(f"export peak RSS {args.images:,} / {SMALL_EXPORT:,} images: {peaks['export']:.0f} / {small:.0f} MB"
              f" = {peaks['export'] / small:.2f}x")
    print("--- peak RSS")
    for name, mb in peaks.items():
        print(f"  {name:<26}: {mb:8.0f} MB (target <= {TARGET_RSS_MB} MB) {'ok' if mb <= TARGET_RSS_MB else 'OVER'}")


if __name__ == "__main__":
    main()
