"""Census speed, measured as ratios in one run on the same tree (warm page cache for all).

    .venv/bin/python bench/bench_census.py [--archive DIR] [--images 152097] [--exiftool-subset 2000]

Prints: full census vs a bare Python walk that stats every file and reads its first 8 KB;
no-change rescan vs a bare walk + stat; peak RSS (largest process, on a quarter and on the whole
archive: it should be flat); filtered count and 2-field group-by latency; emcensus vs `exiftool -r`
on a subset (Debian libimage-exiftool-perl).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emcensus.catalog import Catalog


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


def census_subprocess(catalog: Path, roots: list[Path]) -> tuple[float, float]:
    """Seconds and peak RSS (MB, largest process) of `emcensus scan` in a fresh process."""
    command = [sys.executable, "-m", "emcensus.cli.main", "--catalog", str(catalog), "scan", "--quiet"]
    for root in roots:
        command += [str(root)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    # Largest process waited for so far: measure small runs before big ones.
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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
    t_ours, _ = census_subprocess(work / "subset.sqlite", [sub])
    return t_ours, t_exif, copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=Path(tempfile.gettempdir()) / "paper-archive")
    parser.add_argument("--images", type=int, default=152_097)
    parser.add_argument("--exiftool-subset", type=int, default=2000)
    args = parser.parse_args()

    from emcensus.demo import generate_archive

    if not (args.archive / "manifest.json").exists():
        print(f"generating {args.images:,} images into {args.archive} ...", flush=True)
        seconds, _ = timed(generate_archive, args.archive, args.images)
        print(f"  generated in {seconds:.0f} s")
    roots = sorted(p for p in args.archive.iterdir() if p.is_dir())
    quarter_roots = roots[:1]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare_walk(roots, read=True)  # warm the page cache for everyone
        t_bare_read, files = timed(bare_walk, roots, True)
        t_bare_stat, _ = timed(bare_walk, roots, False)
        _, rss_part = census_subprocess(work / "part.sqlite", quarter_roots)
        t_census, rss_full = census_subprocess(work / "full.sqlite", roots)
        t_rescan, _ = census_subprocess(work / "full.sqlite", roots)
        queries = query_ms(work / "full.sqlite")
        with Catalog(work / "full.sqlite", readonly=True) as catalog:
            images = catalog.total(files=True)
        exif = exiftool_ratio(roots, args.exiftool_subset, work)

    print(f"\narchive: {args.archive} — {files:,} files on disk, {images:,} image files catalogued, {os.cpu_count()} cores")
    print(f"bare walk + stat + read 8 KB : {t_bare_read:7.2f} s")
    print(f"bare walk + stat             : {t_bare_stat:7.2f} s")
    print(f"full census                  : {t_census:7.2f} s   ratio {t_census / t_bare_read:5.2f}x  (target <= 3x)")
    print(f"no-change rescan             : {t_rescan:7.2f} s   ratio {t_rescan / t_bare_stat:5.2f}x  (target <= 1.5x)")
    print(f"peak RSS, whole archive      : {rss_full:7.0f} MB  (target <= 300 MB)")
    print(f"peak RSS, root {quarter_roots[0].name:<14}: {rss_part:7.0f} MB  (flat in archive size?)")
    for name, ms in queries.items():
        print(f"{name:<45}: {ms:6.1f} ms (median, target <= 50 ms)")
    if exif:
        ours, theirs, n = exif
        print(f"exiftool -r on {n:,} files     : {theirs:7.2f} s; emcensus {ours:.2f} s: exiftool/emcensus = {theirs / ours:4.1f}x")


if __name__ == "__main__":
    main()
