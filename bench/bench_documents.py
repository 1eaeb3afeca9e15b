"""Figures out of documents (issue 8): a 500-page thesis, panel cutting, a zip bomb, measured in one run.

Prints ms per page of `iter_figures` on a generated 500-page thesis (an image, a caption and body
text on every page) against a bare pypdfium2 loop that only decodes the same images (the cost of
orientation, captions and bounds), the peak memory it adds, ms per `split_panels` on a 2x3 figure of
1500x1000 px, and how long a 200 MB zip bomb .pptx takes to be refused.

    .venv/bin/python bench/bench_documents.py [--pages 500]
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


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thesis.pdf"
        started = time.perf_counter()
        thesis(path, args.pages)
        made = time.perf_counter() - started
        print(f"thesis: {args.pages} pages, {path.stat().st_size / 1e6:.1f} MB, made in {made:.1f} s")

        started = time.perf_counter()
        images = bare(path)
        t_bare = time.perf_counter() - started
        before = peak_mb()
        started = time.perf_counter()
        figures = sum(1 for _ in iter_figures(path))
        t_ours = time.perf_counter() - started
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


if __name__ == "__main__":
    main()
