"""`emcensus quality` cost, measured in one run: ms per 1280×960 frame per core, and a no-change rerun.

Writes `--frames` realistic SEM frames (procedural micrographs with a burned-in data bar and a Hitachi
sidecar, `emcensus.figures.textures`) into a temporary archive, scans it, then prints:

* the metrics alone (`quality.metrics.measure`), and a file's whole job (hash, decode, metrics,
  hashes) in this process, ms per frame: the per-core cost (target ≤ 150 ms);
* `update_quality` over the archive with `--workers` processes (wall, and ms per frame);
* a rerun with nothing changed (target ≈ free: no file is read).

    nice -n 10 .venv/bin/python bench/bench_quality.py [--frames 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from emcensus.catalog import Catalog
from emcensus.figures.textures import TEXTURES, micrograph
from emcensus.quality.metrics import measure
from emcensus.quality.runner import Job, measure_one, update_quality
from emcensus.scan import RootSpec, scan

WIDTH, HEIGHT, BAR = 1280, 960, 64


def _sidecar(width: int, height: int) -> str:
    return "\r\n".join(["[SemImageFile]", "InstructName=SU8230", "SignalName=SE(U)", "Magnification=5000",
                        f"PixelSize={127e6 / 5000 / width:.4f}", f"DataSize={width}x{height}",
                        "Date=01/02/2019", "Time=10:11:12", ""])


def write_archive(root: Path, frames: int) -> list[Path]:
    paths = []
    for index in range(frames):
        area = micrograph(TEXTURES[index % len(TEXTURES)], index, WIDTH, HEIGHT)
        stored = np.vstack([area, np.zeros((BAR, WIDTH), np.uint8)])
        path = root / f"session{index // 20}" / f"img{index:04d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, stored)
        path.with_suffix(".txt").write_text(_sidecar(WIDTH, HEIGHT), encoding="cp1252")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive" / "SU8230"
        paths = write_archive(root, args.frames)
        pixels = [tifffile.imread(path) for path in paths[:10]]
        started = time.perf_counter()
        for frame in pixels:
            measure(frame, HEIGHT)
        metrics_ms = (time.perf_counter() - started) * 1000 / len(pixels)
        started = time.perf_counter()
        for path in paths[:10]:
            measure_one(Job(0, str(path), HEIGHT))
        job_ms = (time.perf_counter() - started) * 1000 / 10
        with Catalog(Path(folder) / "c.sqlite") as catalog:
            scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
            started = time.perf_counter()
            first = update_quality(catalog, workers=args.workers)
            full = time.perf_counter() - started
            started = time.perf_counter()
            rerun = update_quality(catalog, workers=args.workers)
            again = time.perf_counter() - started
    print(f"{WIDTH}x{HEIGHT} frames with a {BAR}-row data bar, {args.frames} in the archive")
    print(f"metrics alone, one process:                 {metrics_ms:6.1f} ms/frame (target ≤ 150 per core)")
    print(f"whole job (hash, decode, metrics, hashes):  {job_ms:6.1f} ms/frame")
    print(f"update_quality, {args.workers} workers:                {full:6.2f} s = {full * 1000 / args.frames:6.1f} ms/frame "
          f"({first.measured} measured, {first.in_groups} in duplicate groups)")
    print(f"no-change rerun:                            {again:6.3f} s ({rerun.unchanged} unchanged, "
          f"{rerun.measured} measured); {again / full:.4f} of the first run")


if __name__ == "__main__":
    main()
