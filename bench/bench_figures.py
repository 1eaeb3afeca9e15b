"""Finding published images (issue 8), measured in one run on a generated figure corpus.

Generates a corpus (`emcensus.figures.synth`: archive with repeats and magnification series,
articles with authored panels, SI, distractors, a vector figure), scans it, builds the visual index,
matches every article and prints: precision and recall of (article, image) pairs against the truth,
repeat/series confusions (a match that is another member of a true source's group), ms per image
indexed (wall, and per core), s per article matched, the index's size on disk.

    .venv/bin/python bench/bench_figures.py [--articles 12] [--images 300] [--workers 2] [--size 640x480]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from emcensus.catalog import Catalog
from emcensus.figures.index import VisualIndex, index_folder, update_index
from emcensus.figures.match import Matcher, match_documents
from emcensus.figures.synth import make_figure_corpus
from emcensus.scan import RootSpec, scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", default="640x480", help="archive image area, WxH")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        truth = make_figure_corpus(tmp_path / "corpus", archive=tmp_path / "archive", articles=args.articles,
                                   images=args.images, seed=args.seed, size=(width, height), workers=args.workers)
        print(f"corpus: {len(truth.images):,} archive images {width}x{height}, {len(truth.articles)} articles, "
              f"{len(truth.panels())} panels ({time.perf_counter() - t0:.1f} s to generate)")
        catalog_path = tmp_path / "census.sqlite"
        with Catalog(catalog_path) as catalog:
            scan(catalog, [RootSpec(str(tmp_path / "archive"), "SU8230")], workers=args.workers)
            t0 = time.perf_counter()
            summary = update_index(catalog, catalog_path, workers=args.workers)
            index_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = update_index(catalog, catalog_path, workers=args.workers)
            rerun_s = time.perf_counter() - t0
        print(summary.paragraph())
        per_image = index_s / max(summary.added, 1) * 1000
        print(f"index: {per_image:.1f} ms per image wall on {args.workers} worker(s), "
              f"{per_image * max(args.workers, 1):.1f} ms per image per core (target <= 20); "
              f"rerun with nothing changed {rerun_s:.2f} s ({again.added} re-read)")
        folder = index_folder(catalog_path)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"index on disk: {size / 1e6:.1f} MB ({size / max(summary.images, 1) / 1e3:.1f} kB per image)")

        matcher = Matcher(VisualIndex.load(folder))
        papers = Path(truth.papers)
        found: set[tuple[str, str]] = set()
        t0 = time.perf_counter()
        for article in truth.articles:
            documents = [papers / name for name in article.documents]
            found |= {(f.article, f.match.path) for f in match_documents(documents, matcher)}
        match_s = time.perf_counter() - t0

    expected = {(a.lower(), p) for a, p in truth.pairs()}
    true_positive = found & expected
    group_of = {str(truth.image_path(img.path)): img.group for img in truth.images}
    true_groups = {(a, group_of[p]) for a, p in expected}
    confusions = {(a, p) for a, p in found - expected if (a, group_of.get(p)) in true_groups}
    precision = len(true_positive) / len(found) if found else float("nan")
    recall = len(true_positive) / len(expected) if expected else float("nan")
    print(f"matching: {match_s / len(truth.articles):.2f} s per article against {summary.images:,} images "
          f"({len(truth.articles)} articles, {os.cpu_count()} cores here)")
    print(f"precision {precision:.3f} ({len(true_positive)}/{len(found)}), recall {recall:.3f} "
          f"({len(true_positive)}/{len(expected)}) of (article, image) pairs; targets P >= 0.99, R >= 0.98")
    print(f"repeat/series confusions: {len(confusions)} of {len(found)} matches "
          f"({len(confusions) / max(len(found), 1):.1%}; target <= 1 %)")


if __name__ == "__main__":
    main()
