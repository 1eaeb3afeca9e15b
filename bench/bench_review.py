"""The review queue's catalog reads: one page of matches with their images, in one query, against the
query per row it replaced (measured in the same run on the same catalog).

    .venv/bin/python bench/bench_review.py [--rows 200] [--repeat 20]

A catalog of `--rows` scanned 64x48 TIFFs, one proposed match each; then `/api/figures/matches?limit=N`
through the app (wall and CPU per request), and the page's rows read both ways.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from fastapi.testclient import TestClient

from emcensus.catalog import Catalog
from emcensus.catalog.figures import ProposedMatch
from emcensus.scan import RootSpec, scan
from emcensus.web import create_app


def build(folder: Path, rows: int) -> Path:
    root, path = folder / "archive", folder / "census.sqlite"
    root.mkdir()
    for index in range(rows):
        tifffile.imwrite(root / f"img{index:05d}.tif", np.full((48, 64), index % 255, dtype=np.uint8))
    with Catalog(path) as catalog:
        scan(catalog, [RootSpec(str(root), "SU8230")], workers=0)
        ids = [row["id"] for row in catalog.images()]
        catalog.save_figure_matches(ProposedMatch("10.1/bench", "paper.pdf", 1, (0, 0, 10, 10), image_id, 0.5 + i / 1e6,
                                                  40, (0, 0, 64, 48), 1.0) for i, image_id in enumerate(ids))
    return path


def timed(call, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU) seconds per call, the best of `repeat`."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = build(Path(folder), args.rows)
        with Catalog(path, readonly=True) as catalog:
            def per_row() -> None:  # the replaced pattern: the page, then each row's image
                for row in catalog.figure_matches("proposed", limit=args.rows):
                    catalog.image(row["image_id"])

            def one_query() -> None:
                catalog.figure_review_page("proposed", limit=args.rows)

            old, new = timed(per_row, args.repeat), timed(one_query, args.repeat)
        with TestClient(create_app(path)) as client:
            api = timed(lambda: client.get("/api/figures/matches", params={"limit": args.rows}).raise_for_status(),
                        args.repeat)
    print(f"{args.rows} rows, best of {args.repeat}")
    print(f"rows read, one query per row: {old[0] * 1e3:.2f} ms wall, {old[1] * 1e3:.2f} ms CPU")
    print(f"rows read, one query:         {new[0] * 1e3:.2f} ms wall, {new[1] * 1e3:.2f} ms CPU "
          f"({old[1] / max(new[1], 1e-9):.1f}x less CPU)")
    print(f"/api/figures/matches?limit={args.rows}: {api[0] * 1e3:.2f} ms wall, {api[1] * 1e3:.2f} ms CPU")


if __name__ == "__main__":
    main()
