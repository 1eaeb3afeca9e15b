"""Generate the synthetic article corpus of issue 8 and print what it holds and how long it took.

    .venv/bin/python bench/make_figure_corpus.py DEST [--articles 60] [--images 2000] [--size 1280x960]
                                                 [--seed 0] [--workers 2] [--long 0]

Writes `DEST/archive` (TIFFs + Hitachi sidecars: singles, repeats, magnification series) and
`DEST/corpus` (`papers/`: article PDFs and SI, a thesis .docx, a slide screenshot .png; `truth.json`), through `emcensus.figures.synth.make_figure_corpus`.
DEST must not exist yet or be empty. The matcher and scale-bar benchmarks read `truth.json`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import time
from collections import Counter
from pathlib import Path

from emcensus.figures.synth import make_figure_corpus


def _mantissa(value: float) -> float:
    return round(value / 10 ** math.floor(math.log10(value)), 3)


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", default="1280x960", help="image area of every archive image, WxH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--long", type=int, default=0, help="long publications: an article of about ten pages (7-15) with its SI each")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    t0 = time.perf_counter()
    truth = make_figure_corpus(args.dest / "corpus", archive=args.dest / "archive", articles=args.articles,
                               images=args.images, seed=args.seed, size=(width, height), pictures=True,
                               long_articles=args.long, workers=args.workers)
    wall = time.perf_counter() - t0

    panels = truth.panels()
    kinds = Counter(p.kind for _, _, p in panels)
    relations = Counter(img.relation for img in truth.images)
    textures = Counter(img.texture for img in truth.images)
    bars = [p.geometry.scale_bar for _, _, p in panels if p.geometry and p.geometry.scale_bar]
    edits = Counter(e.split()[0] for _, _, p in panels if p.geometry for e in p.geometry.edits)
    jpeg = sum(1 for _, _, p in panels if p.geometry and p.geometry.jpeg_quality)
    documents = [d for a in truth.articles for d in a.documents]
    published = {rel for rels in truth.ledger().values() for rel in rels}
    print(f"archive: {len(truth.images)} images {width}x{height} ({_du(args.dest / 'archive') / 1e6:.1f} MB): "
          + ", ".join(f"{k} {v}" for k, v in sorted(relations.items())) + "; "
          + ", ".join(f"{k} {v}" for k, v in sorted(textures.items())))
    print(f"articles: {len(truth.articles)}, documents {len(documents)} "
          f"({sum(1 for d in documents if re.search(r'[_-](SI|supp1)[.]pdf$', d))} SI, "
          f"{sum(1 for d in documents if not d.endswith('.pdf'))} .docx/.png), "
          f"figures {sum(len(a.figures) for a in truth.articles)}, panels {len(panels)}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(f"ledger: {len(truth.pairs())} (article, image) pairs; {len(published)} of {len(truth.images)} images "
          f"published ({len(published) / len(truth.images):.0%})")
    print(f"scale bars: {len(bars)} ({sum(b.mislabelled for b in bars)} mislabelled, "
          f"{sum(1 for b in bars if _mantissa(b.value_m) not in (1.0, 2.0, 5.0))} not 1-2-5); "
          f"JPEG re-encoded {jpeg}; edits: " + ", ".join(f"{k} {v}" for k, v in sorted(edits.items())))
    t = truth.timings
    n = len(truth.images)
    print(f"time: {wall:.1f} s wall with {args.workers} workers (plan {t['plan_s']:.2f} s, images and panels "
          f"{t['images_and_panels_s']:.1f} s wall / {t['images_and_panels_cpu_s']:.1f} s CPU in workers = "
          f"{1000 * t['images_and_panels_cpu_s'] / n:.0f} ms CPU per image with its panels, documents {t['documents_s']:.1f} s wall = "
          f"{t['documents_s'] / len(documents):.2f} s per document)")
    print(f"peak RSS (this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"truth: {args.dest / 'corpus' / 'truth.json'}")


if __name__ == "__main__":
    main()
