"""Figures out of documents (issue 8): a 500-page thesis, panel cutting, a zip bomb, the generator's
publications, measured in one run.

Prints ms per page of `iter_figures` on a generated 500-page thesis (an image, a caption and body
text on every page) against a bare pypdfium2 loop that only decodes the same images (the cost of
orientation, captions and bounds), the peak memory it adds, ms per `split_panels` on a 2x3 figure of
1500x1000 px, how long a 200 MB zip bomb .pptx takes to be refused, and on the corpus generator's
publications (PDF + SI, vector figure, .docx thesis, slide screenshot) how many archive panels are
found where the truth puts them (PDF images within 1 pt, rendered/cut panels within 2 pt or 3 px).

    .venv/bin/python bench/bench_documents.py [--pages 500] [--corpora 3]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from emcensus.figures.documents import FigureError, iter_figures  # noqa: E402
from emcensus.figures.panels import split_panels  # noqa: E402

BODY = "The annealed film shows grains of 20-50 nm with faceted boundaries, as in the samples before."


def micrograph(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.normal(128, 60, (height, width)).astype(np.float32), (0, 0), 2.0)
    return np.clip(field, 30, 225).astype(np.uint8)


def thesis(path: Path, pages: int) -> None:
    with PdfPages(path) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        ax = fig.add_axes((0.15, 0.5, 0.7, 0.4))
        ax.set_axis_off()
        caption = fig.text(0.15, 0.45, "", fontsize=9)
        for line in range(12):
            fig.text(0.1, 0.4 - 0.02 * line, BODY, fontsize=8)
        for number in range(pages):  # one figure redrawn: each page holds its own image
            image = ax.imshow(micrograph(300, 400, number), cmap="gray", interpolation="none")
            caption.set_text(f"Figure {number + 1}. SEM of sample {number}.")
            pdf.savefig(fig)
            image.remove()
        plt.close(fig)


def bare(path: Path) -> int:
    """What any extractor must do: open, walk the objects, decode each image."""
    count = 0
    pdf = pdfium.PdfDocument(path)
    for page in pdf:
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
            np.array(obj.get_bitmap().to_numpy())
            count += 1
    return count


def corpus_panels(folder: Path, seed: int, found: dict[str, list[int]]) -> tuple[float, int]:
    """Archive panels of one generated corpus found at their true place, per kind of document; the
    seconds spent in `iter_figures` and the number of documents read."""
    from emcensus.figures.synth import make_figure_corpus

    truth = make_figure_corpus(folder / "out", archive=folder / "archive", articles=3, images=16, seed=seed,
                               size=(320, 240), pictures=True)
    papers, spent, documents = folder / "out" / "papers", 0.0, 0
    for article in truth.articles:
        figures = {}
        for document in article.documents:
            started = time.perf_counter()
            figures[document] = list(iter_figures(papers / document))
            spent, documents = spent + time.perf_counter() - started, documents + 1
        for figure in article.figures:
            on_page = [f for f in figures[figure.document] if f.page == figure.page]
            kind = "vector" if figure.vector else Path(figure.document).suffix
            regions = [f.bbox for f in on_page] if kind == ".pdf" else [
                f.region(box) for f in on_page for box in split_panels(f.pixels)]
            for panel in figure.panels:
                if panel.kind != "archive":
                    continue
                error = min((max(abs(a - b) for a, b in zip(region, panel.bbox_pt)) for region in regions),
                            default=float("inf"))
                tally = found.setdefault(kind, [0, 0])
                tally[0] += error < {".pdf": 1.0, "vector": 2.0}.get(kind, 3.0)
                tally[1] += 1
    return spent, documents


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--corpora", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thesis.pdf"
        started = time.perf_counter()
        thesis(path, args.pages)
        made = time.perf_counter() - started
        print(f"thesis: {args.pages} pages, {path.stat().st_size / 1e6:.1f} MB, made in {made:.1f} s")

        t_bare = t_ours = float("inf")
        before = peak_mb()
        for _ in range(2):  # alternated, the best of two each: the page cache and pdfium warm for both
            started = time.perf_counter()
            images = bare(path)
            t_bare = min(t_bare, time.perf_counter() - started)
            started = time.perf_counter()
            figures = sum(1 for _ in iter_figures(path))
            t_ours = min(t_ours, time.perf_counter() - started)
        print(f"iter_figures: {figures} figures ({images} image objects), {1000 * t_ours / args.pages:.1f} ms/page, "
              f"{t_ours:.2f} s in all; bare pypdfium2 decode {1000 * t_bare / args.pages:.1f} ms/page; "
              f"ratio {t_ours / t_bare:.2f}x; peak RSS +{max(0.0, peak_mb() - before):.0f} MB")

        figure = np.full((1000, 1500), 255, np.uint8)
        for row in range(2):
            for col in range(3):
                y, x = 20 + row * 490, 20 + col * 490
                figure[y:y + 460, x:x + 470] = micrograph(460, 470, row * 3 + col)
        runs = 20
        started = time.perf_counter()
        for _ in range(runs):
            boxes = split_panels(figure)
        print(f"split_panels: {len(boxes)} panels of a 1500x1000 px figure in "
              f"{1000 * (time.perf_counter() - started) / runs:.1f} ms")

        bomb = Path(folder) / "slides.pptx"
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            with archive.open("ppt/slides/slide1.xml", "w") as member:
                for _ in range(200):
                    member.write(bytes(1 << 20))
        started = time.perf_counter()
        try:
            list(iter_figures(bomb))
            line = "read (not refused!)"
        except FigureError as exc:
            line = str(exc).split(": ", 1)[1]
        print(f"zip bomb ({bomb.stat().st_size / 1e3:.0f} kB declaring 200 MB): "
              f"{1000 * (time.perf_counter() - started):.1f} ms: {line}")

        found: dict[str, list[int]] = {}
        spent, documents = 0.0, 0
        for seed in range(args.corpora):
            seconds, count = corpus_panels(Path(folder) / f"corpus{seed}", seed, found)
            spent, documents = spent + seconds, documents + count
        print(f"generated publications ({args.corpora} corpora, {documents} documents, "
              f"{1000 * spent / max(1, documents):.0f} ms per document): archive panels found in place: "
              + ", ".join(f"{kind} {hits}/{total}" for kind, (hits, total) in sorted(found.items())))


if __name__ == "__main__":
    main()
