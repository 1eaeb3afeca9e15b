"""Whole-field thumbnails of the visual index (issue 8) at scale: memory, search time per panel, build cost.

    .venv/bin/python bench/bench_thumbnails.py [--images 150000] [--repeats 20]

In one run it prints:
1. Memory: bytes per image on disk, and the resident memory loading them adds (as `VisualIndex.load` does:
   the file memory-mapped, copied into the faiss index of `thumbnails.searcher`, the mapping dropped), and
   the CPU of that copy. The rows are synthetic (each a random permutation of the ranks a thumbnail holds),
   written to a temporary .npy file: the size and the cost are those of real rows; what they correlate
   with is not measured here (see `bench_figures.py`).
2. Search time per panel against all rows: `thumbnails.queries` + `best` (top 8, every image allowed), wall
   and CPU, median of `--repeats`, on one thread (the matcher's setting), the first run apart.
3. Extra index build cost per image: CPU of `index.archive_thumbnail` on the image area `figures index`
   already holds (8-bit 800x600, 16-bit 2048x1536 brought down to 1024 px), beside the keypoint extraction's
   CPU on the same area, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from emcensus.figures import thumbnails
from emcensus.figures.features import ARCHIVE_FEATURES, extract
from emcensus.figures.index import _brought_down, archive_thumbnail
from emcensus.figures.textures import micrograph


def _resident_kib() -> int:
    """Resident memory of this process (VmRSS), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _timed(function, repeats: int) -> tuple[float, float, float, float]:
    """(first wall, first CPU, median wall, median CPU) seconds of `function()` run `repeats` + 1 times."""
    walls, cpus = [], []
    for _ in range(repeats + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls[0], cpus[0], statistics.median(walls[1:]), statistics.median(cpus[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=150_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ranks = thumbnails.thumbnail(rng.random((thumbnails.SIDE, thumbnails.SIDE)))
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "thumbnails.npy"
        rows = np.empty((args.images, thumbnails.PIXELS), np.uint8)
        for first in range(0, args.images, 10_000):
            block = rows[first:first + 10_000]
            block[:] = ranks[rng.permuted(np.tile(np.arange(thumbnails.PIXELS), (len(block), 1)), axis=1)]
        np.save(path, rows)
        del rows
        size = path.stat().st_size
        print(f"thumbnails: {thumbnails.SIDE}x{thumbnails.SIDE} uint8, {size / args.images:,.0f} bytes per image, "
              f"{size / 2**20:,.1f} MiB for {args.images:,} images (synthetic rows)")
        faiss.omp_set_num_threads(1)
        before, started = _resident_kib(), time.process_time()
        search_index = thumbnails.searcher(np.load(path, mmap_mode="r"))
        print(f"loading them: {time.process_time() - started:.2f} s CPU, resident memory "
              f"+{(_resident_kib() - before) / 1024:,.1f} MiB")
        panel = micrograph("pores", 1, 131, 105, fov=0.05)
        allowed = np.ones(args.images, bool)

        def search() -> None:
            thumbnails.best(search_index, thumbnails.queries(panel), allowed, 8)

        first_wall, first_cpu, wall, cpu = _timed(search, args.repeats)
        print(f"search per panel against {args.images:,} thumbnails: first {first_wall * 1000:.0f} ms wall "
              f"{first_cpu * 1000:.0f} ms CPU; median of {args.repeats}: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")
    for label, pixels in (("8-bit 800x600", micrograph("pores", 2, 800, 600)),
                          ("16-bit 2048x1536", micrograph("particles", 3, 2048, 1536, bits=16))):
        area, _ = _brought_down(pixels, None)
        _, _, _, thumbnail_cpu = _timed(lambda area=area: archive_thumbnail(area), args.repeats)
        _, _, _, features_cpu = _timed(lambda area=area: extract(area, ARCHIVE_FEATURES), max(3, args.repeats // 4))
        print(f"index build, {label}: thumbnail {thumbnail_cpu * 1000:.2f} ms CPU per image, keypoints "
              f"{features_cpu * 1000:.1f} ms ({thumbnail_cpu / features_cpu:.1%} more)")


if __name__ == "__main__":
    main()
