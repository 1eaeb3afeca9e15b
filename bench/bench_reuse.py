"""The reuse export (issue 9), measured in one run: time and memory per image against a bare read.

Generates a demo archive (tiny 64–128 px frames) and, separately, real-size 1280×960 16-bit frames,
censuses both, exports each (`folder` format, one process and `--workers`), and prints ms per image,
the ratio to reading and hashing the same files, and the Python heap's peak (one process).

    .venv/bin/python bench/bench_reuse.py [--images 2000] [--frames 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import tifffile

from emcensus.catalog import Catalog
from emcensus.demo import generate_archive
from emcensus.reuse.export import ReuseOptions, export_reuse
from emcensus.scan import RootSpec, scan

SECRET = b"bench-secret-0123456789abcdef"


def _frames(root: Path, count: int) -> None:
    """`count` 1280×960 16-bit frames, 10 minutes apart by mtime (one folder each hour)."""
    rng = np.random.default_rng(0)
    for index in range(count):
        path = root / "group" / f"project{index % 4}" / f"frame{index:04d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, rng.normal(20000, 3000, (960, 1280)).clip(0, 65535).astype(np.uint16))


def _export(catalog_path: Path, out: Path, workers: int) -> tuple[int, float]:
    with Catalog(catalog_path, readonly=True) as catalog:
        start = time.perf_counter()
        summary = export_reuse(catalog, out, ReuseOptions(license="CC-BY-4.0", embargo_years=0), SECRET,
                               workers=workers)
    return sum(summary.splits.values()), time.perf_counter() - start


def _measure(label: str, catalog_path: Path, base: Path, workers: int) -> None:
    with Catalog(catalog_path, readonly=True) as catalog:
        paths = [row["path"] for row in catalog.reuse_candidates()]
    start = time.perf_counter()
    for path in paths:
        hashlib.sha256(Path(path).read_bytes()).hexdigest()
    bare = time.perf_counter() - start
    images, spent = _export(catalog_path, base / f"{label}-{workers}", workers)
    text = (f"{label}, workers={workers}: {images:,} images exported in {spent:.1f} s = "
            f"{1000 * spent / images:.1f} ms per image ({spent / bare:.0f}x reading and hashing them, "
            f"{1000 * bare / len(paths):.2f} ms per image)")
    if workers == 0:  # the heap of this process (tracing slows it down: a run of its own)
        tracemalloc.start()
        _export(catalog_path, base / f"{label}-traced", 0)
        text += f"; Python heap peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MB"
        tracemalloc.stop()
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import datasets, mlcroissant, rocrate.rocrate  # noqa: F401, E401  (imports outside the timings)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        manifest = generate_archive(base / "demo", args.images, seed=1)
        with Catalog(base / "demo.sqlite") as catalog:
            scan(catalog, [RootSpec(str(r), r.name, None, None, None, "{group}/{project}/**")
                           for r in manifest.roots()], workers=args.workers)
        _frames(base / "frames" / "SU8230", args.frames)
        with Catalog(base / "frames.sqlite") as catalog:
            scan(catalog, [RootSpec(str(base / "frames" / "SU8230"), "SU8230", None, None, None,
                                    "{group}/{project}/**")], workers=0)
        for workers in (0, args.workers):
            _measure("demo archive", base / "demo.sqlite", base, workers)
            _measure("1280x960 16-bit", base / "frames.sqlite", base, workers)


if __name__ == "__main__":
    main()
