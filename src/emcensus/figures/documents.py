"""Figures out of the documents an article is published in: PDFs, image files, .docx/.pptx/.odp.

`iter_figures` yields every raster figure of a document as upright pixels with where it sits on its
page. It is the only reader of article documents; they are read through `emcensus.access` (no
atime, regular files only) and nothing is written anywhere.

Why each rule:

* **The placement matrix is respected.** matplotlib and LaTeX store an image upside down and flip it
  with the matrix; matching the stored pixels finds nothing (a first try found 0/5). The pixels are
  turned to the nearest of the 8 right-angle orientations the matrix shows; a residual small angle
  is left to the matcher's similarity fit.
* **Vector figures are rendered.** A page without image objects but with drawn content (a plot, a
  figure exported as vectors) is rendered at `Limits.render_dpi` over the drawn region, lower where
  that would make more than `Limits.max_pixels` (a poster, a hostile page size).
* **A figure once.** The same pixels again on a later page (a logo or banner on every page) are
  not given again; twice on one page (one micrograph, two overlays) they are two panels.
* **What the reader sees.** An image under a clip path (zoomed matplotlib axes, LaTeX trim/clip)
  gives its visible part; an image some writer cut into strips or tiles (abutting, as wide in
  points and pixels) is one figure again; a page turned by /Rotate is seen turned.
* **Captions.** The "Figure N" block below a figure (below the whole grid for each of its panels),
  else the lines just below it, else the page's text; a .docx picture's caption paragraph; a
  slide's text.
* **Everything is bounded.** Pages, time (checked between pages), objects per page (more: the page
  is rendered whole), pixels per image (a decompression bomb is refused before it is decoded), zip
  members, declared and read sizes, compression ratio (a zip bomb .pptx is one clear line). A
  corrupt, encrypted or image-less PDF raises `FigureError` with one line; the caller goes on with
  its other documents. What no bound here can stop (pdfium crashing, or stuck inside one call) is
  bounded by the caller: `figures match --workers` reads documents in a process of their own
  (`scan.pool.Producer`), ended on a crash or after `figures.match.DOCUMENT_WAIT_S` without a figure.
* **One article per paper.** The article is the DOI in the document's metadata or first pages, else
  the file stem; `X_SI.pdf`, `X-SI.pdf`, `X_supp*.pdf` belong to article `X` (the DOI of `X.pdf`
  beside it when the supplement names none).
"""

from __future__ import annotations

import ctypes
import hashlib
import html
import io
import math
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from emcensus import access
from emcensus.catalog.paths import readable
from emcensus.errors import EmcensusError
from emcensus.scan.pool import memory_reason


class FigureError(EmcensusError):
    """A document cannot give figures (corrupt, encrypted, no images, a zip bomb): one line, the others go on."""


#: Box in document coordinates: PDF points from the page's top-left corner (x right, y down), or pixels.
Box = tuple[float, float, float, float]

#: Receives one line per thing skipped inside a document that still gives other figures.
Warn = Callable[[str], None]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif"})
OFFICE_MEDIA = {".docx": "word/media/", ".pptx": "ppt/media/", ".odp": "Pictures/", ".odt": "Pictures/"}
DOCUMENT_SUFFIXES = frozenset({".pdf"} | IMAGE_SUFFIXES | set(OFFICE_MEDIA))


@dataclass(frozen=True)
class Limits:
    """How much one document may cost: the bounds that keep a hostile file to one clear line."""

    max_pages: int = 1000
    max_seconds: float = 120.0  # reading one document (not the caller's time between figures)
    max_pixels: int = 50_000_000  # per image; a 7k x 7k figure, 200 MB decoded as BGRA
    min_side: int = 32  # smaller images are logos, icons and bullets, not figures
    render_dpi: float = 150.0
    min_drawn_objects: int = 8  # a page with fewer paths (rules, a box) is text, not a figure
    max_page_objects: int = 20_000  # a page with more (a plot of 10^6 points) is rendered whole, not walked
    max_members: int = 10_000
    max_member_bytes: int = 256 << 20
    max_total_bytes: int = 1 << 30
    max_ratio: float = 100.0  # uncompressed/compressed above 1 MiB: images are stored, not zeros
    max_caption_chars: int = 2000
    text_pages: int = 2  # pages searched for the article's DOI


@dataclass(frozen=True)
class FigureImage:
    """One raster figure of a document, pixels upright as a reader sees them on the page."""

    document: str
    page: int  # 1-based page or slide; 0 where the format has no pages (.docx, .odp)
    bbox: Box  # PDF points from the page's top-left corner; pixels (0, 0, w, h) for image files
    pixels: np.ndarray  # uint8 grey (H, W) or RGB (H, W, 3)
    article: str
    caption: str

    def region(self, box_px: tuple[float, float, float, float]) -> Box:
        """A pixel box of `pixels` (a panel) in the document's coordinates, as `bbox` is given."""
        height, width = self.pixels.shape[:2]
        x0, y0, x1, y1 = self.bbox
        sx, sy = (x1 - x0) / width, (y1 - y0) / height
        return (x0 + box_px[0] * sx, y0 + box_px[1] * sy, x0 + box_px[2] * sx, y0 + box_px[3] * sy)


_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
_SUPPLEMENT = re.compile(r"^(?P<base>.+?)[_-](?:si|esi|supp[a-z0-9_-]*|supporting[a-z0-9_-]*)$", re.IGNORECASE)


def find_doi(text: str) -> str | None:
    """The first DOI in `text`, without the sentence's punctuation after it (a `)` only when unmatched)."""
    found = _DOI.search(text)
    if found is None:
        return None
    doi = found.group(0)
    while doi and (doi[-1] in ".,;:'\"]}" or (doi[-1] == ")" and doi.count("(") < doi.count(")"))):
        doi = doi[:-1]
    return doi


def main_stem(path: Path) -> str:
    """The article's file stem: `X` for `X.pdf` and for its supplements `X_SI`, `X-SI`, `X_supp*`
    (a byte of a name that is not UTF-8 as U+FFFD: an article id is text)."""
    found = _SUPPLEMENT.match(readable(path.stem))
    return found.group("base") if found else readable(path.stem)


def article_id(path: Path, text: str) -> str:
    """The DOI found in a document's text or metadata, else the file stem (supplements attach to `X`)."""
    return find_doi(text) or main_stem(path)


def iter_figures(path: Path, *, limits: Limits = Limits(), warn: Warn | None = None) -> Iterator[FigureImage]:
    """Every raster figure of a PDF, an image file, or a .docx/.pptx/.odp, in page order.

    Raises `FigureError` (one line) for a document that gives none: unreadable, encrypted, corrupt,
    image-less, over a bound. A PDF over `limits.max_pages` or `limits.max_seconds` yields the
    figures of its first pages and then raises. Images skipped inside a document that gives others
    are told to `warn`. `bbox` is in PDF points from the shown page's top-left corner (y down, so
    that a panel's pixel box maps onto it by `FigureImage.region`), or in pixels for pictures.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        kinds = ", ".join(sorted(DOCUMENT_SUFFIXES))
        raise FigureError(f"{path}: not a document emcensus reads figures from ({kinds})")
    skipped = warn or (lambda line: None)
    try:
        handle = access.open_file(path)
    except EmcensusError as exc:
        raise FigureError(f"{path}: {exc}") from exc
    with handle:
        if suffix == ".pdf":
            yield from _pdf_figures(path, handle, limits, skipped)
        elif suffix in OFFICE_MEDIA:
            yield from _office_figures(path, handle, OFFICE_MEDIA[suffix], limits, skipped)
        else:
            pixels = _decode_image(handle, limits, str(path))
            if min(pixels.shape[:2]) < limits.min_side:
                raise FigureError(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} px is too small to be a figure")
            height, width = pixels.shape[:2]
            yield FigureImage(str(path), 1, (0.0, 0.0, float(width), float(height)), pixels,
                              article_id(path, ""), "")


# --- pixels -------------------------------------------------------------------------------------------


def _as_uint8(array: np.ndarray) -> np.ndarray:
    """8-bit grey (H, W) or RGB (H, W, 3), a new C-ordered array; grey when the colour channels are equal
    (a third of the memory, the same content). The one copy made: the input may be a view of a
    pdfium bitmap that dies with it."""
    if array.dtype != np.uint8:
        values = array.astype(np.float64)
        low, high = float(values.min()), float(values.max())
        array = ((values - low) * (255.0 / (high - low)) if high > low else values * 0).astype(np.uint8)
    if array.ndim == 3:
        array = array[..., :3] if array.shape[2] >= 3 else array[..., 0]
    if array.ndim == 3 and np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 1],
                                                                                          array[..., 2]):
        array = array[..., 0]
    return np.array(array, order="C")


def _decode_image(handle: BinaryIO, limits: Limits, what: str) -> np.ndarray:
    """Pixels of an image file or office member; its size is checked before it is decoded."""
    try:
        with Image.open(handle) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise FigureError(f"{what}: {width}x{height} px is more than the {limits.max_pixels:,} "
                                  "pixels an image may have (a decompression bomb?); not decoded")
            if image.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
            if image.mode in ("RGBA", "LA"):
                image = _on_white(image)
            return _as_uint8(np.asarray(image))
    except FigureError:
        raise
    except MemoryError as exc:  # within its declared size, yet more than this process may take
        raise FigureError(f"{what}: {memory_reason()}") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own check, as it opens the file: far over ours
        raise FigureError(f"{what}: refused as a decompression bomb ({exc}); not decoded") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise FigureError(f"{what}: not a readable image ({exc})") from exc


def _on_white(image: Image.Image) -> Image.Image:
    """A transparent image as it shows on a white page."""
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")


def _upright(array: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """Stored image pixels turned as the placement matrix [a b c d] shows them on the page.

    PDF image space puts row 0 at the top of the unit square (v = 1); a pixel step along a row moves
    (a, -b) on screen (x right, y down), a step down the rows moves (-c, d). The nearest right-angle
    orientation makes both steps point right and down. A view: `_as_uint8` makes the one copy.
    """
    if abs(a) + abs(d) < abs(b) + abs(c):  # columns run vertically on the page: a quarter turn
        array = np.swapaxes(array, 0, 1)
        a, b, c, d = -c, -d, -a, -b  # the row step is now the column step and vice versa
    if a < 0:
        array = array[:, ::-1]
    if d < 0:
        array = array[::-1]
    return array


# --- PDF ----------------------------------------------------------------------------------------------


def _open_pdf(path: Path, handle: BinaryIO) -> pdfium.PdfDocument:
    """The document, or one line saying why it cannot be opened."""
    try:
        return pdfium.PdfDocument(handle)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise FigureError(f"{path}: encrypted PDF (needs a password); not read") from exc
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_SECURITY:
            raise FigureError(f"{path}: PDF with an unsupported security handler; not read") from exc
        raise FigureError(f"{path}: not a readable PDF (corrupt or truncated: {exc})") from exc


def _document_text(pdf: pdfium.PdfDocument, pages: int) -> str:
    """Metadata values and the text of the first pages: where the article's own DOI is printed."""
    parts = [str(value) for value in pdf.get_metadata_dict(skip_empty=True).values()]
    for index in range(min(pages, len(pdf))):
        page = pdf[index]
        textpage = page.get_textpage()
        parts.append(textpage.get_text_range())
        textpage.close()
        page.close()
    return "\n".join(parts)


def _pdf_article(path: Path, pdf: pdfium.PdfDocument, limits: Limits) -> str:
    """The article of a PDF; a supplement without a DOI of its own takes that of `X.pdf` beside it."""
    found = find_doi(_document_text(pdf, limits.text_pages))
    if found:
        return found
    stem = main_stem(path)
    if stem != path.stem:
        for name in (f"{stem}.pdf", f"{stem}.PDF"):
            sibling = path.with_name(name)
            if sibling.is_file():
                try:
                    with access.open_file(sibling) as handle, pdfium.PdfDocument(handle) as main:
                        return find_doi(_document_text(main, limits.text_pages)) or stem
                except (EmcensusError, pdfium.PdfiumError):
                    return stem
    return stem


@dataclass(frozen=True)
class _View:
    """The page as a reader sees it: its crop box turned by its /Rotate (landscape pages of an SI).

    `matrix` takes PDF page space to the shown page (y up, origin bottom-left, `width` x `height`).
    """

    matrix: pdfium.PdfMatrix
    width: float
    height: float

    @classmethod
    def of(cls, page: pdfium.PdfPage) -> _View:
        left, bottom, right, top = page.get_cropbox()
        width, height = right - left, top - bottom
        turn = {  # clockwise /Rotate as a matrix on the origin-based box
            0: (pdfium.PdfMatrix(), width, height),
            90: (pdfium.PdfMatrix(0, -1, 1, 0, 0, width), height, width),
            180: (pdfium.PdfMatrix(-1, 0, 0, -1, width, height), width, height),
            270: (pdfium.PdfMatrix(0, 1, -1, 0, height, 0), height, width),
        }[page.get_rotation() % 360]
        return cls(pdfium.PdfMatrix().translate(-left, -bottom).multiply(turn[0]), turn[1], turn[2])

    def box(self, matrix: pdfium.PdfMatrix, left: float, bottom: float, right: float, top: float) -> Box:
        """A rectangle under `matrix` (then this view) in points from the shown page's top-left corner."""
        full = matrix.multiply(self.matrix)
        xs, ys = zip(*(full.on_point(x, y) for x in (left, right) for y in (bottom, top)))
        return (min(xs), self.height - max(ys), max(xs), self.height - min(ys))


_CAPTION_START = re.compile(r"\b(?:supplementary\s+)?fig(?:ure)?\.?\s*S?\d", re.IGNORECASE)


def _text_lines(textpage: pdfium.PdfTextPage, view: _View) -> list[tuple[Box, str]]:
    """The page's text lines top to bottom, each with its box on the shown page: runs at one height
    (cut at a ligature or a font change) joined when they follow each other, not across a gap."""
    rects = [textpage.get_rect(index) for index in range(textpage.count_rects())]
    shown = sorted(((view.box(pdfium.PdfMatrix(), *rect), rect) for rect in rects), key=lambda run: run[0][1])
    bands: list[list[tuple[Box, tuple[float, float, float, float]]]] = []
    for run in shown:
        if bands and abs(bands[-1][0][0][1] - run[0][1]) < 2:
            bands[-1].append(run)
        else:
            bands.append([run])
    lines: list[tuple[Box, list[float]]] = []  # shown box, and the line's union in page space
    for band in bands:
        first = len(lines)
        for (x0, y0, x1, y1), (l, b, r, t) in sorted(band, key=lambda run: run[0][0]):
            if len(lines) > first and x0 - lines[-1][0][2] < 12:
                (lx0, ly0, lx1, ly1), (ll, lb, lr, lt) = lines[-1]
                lines[-1] = ((lx0, min(ly0, y0), max(lx1, x1), max(ly1, y1)),
                             [min(ll, l), min(lb, b), max(lr, r), max(lt, t)])
            else:
                lines.append(((x0, y0, x1, y1), [l, b, r, t]))
    texts = ((box, " ".join(textpage.get_text_bounded(left=l - 0.5, bottom=b - 0.5, right=r + 0.5,
                                                      top=t + 0.5).split())) for box, (l, b, r, t) in lines)
    return [(box, text) for box, text in texts if text]


def _caption(lines: list[tuple[Box, str]], box: Box, limits: Limits) -> str:
    """The caption printed below a figure: the block of lines starting "Figure N" / "Fig. N" below it
    and across its width (a grid of panels: below the whole grid), else the lines just below it."""
    left, _, right, bottom = box
    below = [(line, text) for line, text in lines if line[2] > left and line[0] < right and line[3] > bottom - 2]
    starts = ((line, text, _CAPTION_START.search(text)) for line, text in below if line[1] < bottom + 400)
    # "Figure N" opens its line; a few characters before it are an axis label or a letter printed over it
    found = next(((line, text[hit.start():]) for line, text, hit in starts if hit and hit.start() < 16), None)
    if found is None:
        return " ".join(text for line, text in below if line[1] < bottom + 150)[:limits.max_caption_chars]
    start, opening = found
    chosen: list[str] = []
    previous = start
    for line, text in lines:  # the block from "Figure N" down, in the caption's column
        if line[1] < start[1] or line[2] <= start[0] or line[0] >= start[2] or len(chosen) == 40:
            continue
        if chosen and line[1] - previous[3] > 0.8 * (previous[3] - previous[1]):  # a paragraph's gap
            break
        chosen.append(opening if line == start else text)
        previous = line
    return " ".join(chosen)[:limits.max_caption_chars]


def _pdf_figures(path: Path, handle: BinaryIO, limits: Limits, warn: Warn) -> Iterator[FigureImage]:
    pdf = _open_pdf(path, handle)
    try:
        total = len(pdf)
        article = _pdf_article(path, pdf, limits)
        found = 0
        seen: dict[bytes, int] = {}  # pixels -> page: a logo or banner on every page is given once
        spent = 0.0
        for index in range(min(total, limits.max_pages)):
            if spent > limits.max_seconds:
                raise FigureError(f"{path}: stopped before page {index + 1} of {total:,}: reading took more than "
                                  f"{limits.max_seconds:g} s; figures up to page {index:,} only")
            started = time.perf_counter()
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                figures = list(_page_figures(path, page, index + 1, textpage, article, limits, warn))
            finally:
                textpage.close()
                page.close()
            spent += time.perf_counter() - started
            for figure in figures:
                digest = hashlib.blake2b(repr(figure.pixels.shape).encode(), digest_size=16)
                digest.update(figure.pixels)
                if seen.setdefault(digest.digest(), index) != index:
                    continue  # the same image twice on one page (two panels, other overlays) is kept
                found += 1
                yield figure
        if total > limits.max_pages:
            raise FigureError(f"{path}: {total:,} pages, more than the {limits.max_pages:,} read; "
                              f"figures of the first {limits.max_pages:,} only")
        if not found:
            raise FigureError(f"{path}: no images or drawn figures in {total:,} page{'s' if total != 1 else ''}")
    finally:
        pdf.close()


def _page_figures(path: Path, page: pdfium.PdfPage, number: int, textpage: pdfium.PdfTextPage, article: str,
                  limits: Limits, warn: Warn) -> Iterator[FigureImage]:
    """The page's image objects; the page rendered over its drawing when it has none."""
    view = _View.of(page)
    count = pdfium_c.FPDFPage_CountObjects(page)
    if count > limits.max_page_objects:
        warn(f"{path} page {number}: {count:,} objects, more than the {limits.max_page_objects:,} walked; "
             "the page is rendered whole")
        figures = _render_drawing(page, [(0.0, 0.0, view.width, view.height)], view, limits)
    else:
        figures = _page_objects(path, page, number, view, limits, warn)
    if figures:
        lines = _text_lines(textpage, view)
        page_text = " ".join(text for _, text in lines)[:limits.max_caption_chars]
        for box, pixels in figures:
            yield FigureImage(str(path), number, box, pixels, article, _caption(lines, box, limits) or page_text)


def _page_objects(path: Path, page: pdfium.PdfPage, number: int, view: _View, limits: Limits,
                  warn: Warn) -> list[tuple[Box, np.ndarray]]:
    """The boxes and pixels of a page's images (strips joined), else of its drawing, rendered."""
    images = 0
    pieces: list[tuple[Box, np.ndarray]] = []
    drawn: list[Box] = []
    for obj in page.get_objects(max_depth=15):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images += 1
            piece = _image_object(path, obj, number, view, limits, warn)
            if piece is not None:
                pieces.append(piece)
        elif obj.type in (pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_SHADING):
            x0, y0, x1, y1 = view.box(_container_matrix(obj), *obj.get_bounds())
            if (x1 - x0) * (y1 - y0) < 0.8 * view.width * view.height:  # not the page's background
                drawn.append((x0, y0, x1, y1))
    if images == 0 and len(drawn) >= limits.min_drawn_objects:
        return _render_drawing(page, drawn, view, limits)
    return [(box, pixels) for box, pixels in _join_strips(pieces)
            if min(pixels.shape[:2]) >= limits.min_side]  # a strip left alone is a rule or a border


def _container_matrix(obj: pdfium.PdfObject) -> pdfium.PdfMatrix:
    """The matrix of the Form XObjects an object is nested in (a LaTeX figure): its matrix and bounds
    are given in the innermost form's space."""
    matrix = pdfium.PdfMatrix()
    container = obj.container
    while container is not None:
        matrix = matrix.multiply(container.get_matrix())
        container = container.container
    return matrix


#: pypdfium2 names the object in its errors by its address in memory (" <PdfImage 0x7f...>"): no help to people.
_OBJECT_ADDRESS = re.compile(r" <\w+ 0x[0-9a-f]+>")


def _image_object(path: Path, obj: pdfium.PdfImage, number: int, view: _View, limits: Limits,
                  warn: Warn) -> tuple[Box, np.ndarray] | None:
    """An image object's box and its pixels as shown; strips (a side under `min_side`) too, to be joined."""
    try:
        width, height = obj.get_px_size()
    except pdfium.PdfiumError:
        warn(f"{path} page {number}: an image without a size; skipped")
        return None
    if max(width, height) < limits.min_side:
        return None
    if width * height > limits.max_pixels:
        warn(f"{path} page {number}: a {width}x{height} px image, more than the {limits.max_pixels:,} pixels "
             "an image may have; skipped")
        return None
    matrix = obj.get_matrix().multiply(_container_matrix(obj))
    a, b, c, d, _, _ = matrix.multiply(view.matrix).get()  # as shown, the page's /Rotate included
    box = view.box(matrix, 0, 0, 1, 1)  # image space is the unit square
    try:
        bitmap = obj.get_bitmap()
        stored = bitmap.to_numpy()
        if bitmap.format != pdfium_c.FPDFBitmap_Gray and not bitmap.rev_byteorder:
            stored = stored[..., 2::-1]  # BGR(A/x) to RGB
        upright = _upright(stored, a, b, c, d)
        if min(abs(a) + abs(d), abs(b) + abs(c)) < 1e-3 * max(abs(a) + abs(d), abs(b) + abs(c)):
            upright, box = _visible(upright, box, _clip_box(obj, view))
        if upright.size == 0:
            return None  # hidden by its clip
        return box, _as_uint8(upright)
    except pdfium.PdfiumError as exc:  # its stream damaged, or disagreeing with its dictionary (a size that lies)
        warn(f"{path} page {number}: an image that cannot be decoded ({_OBJECT_ADDRESS.sub('', str(exc))}); skipped")
        return None
    except MemoryError:  # a stream that decodes to more than its declared size, or than this process may take
        warn(f"{path} page {number}: an image {memory_reason()}")
        return None


def _join_strips(pieces: list[tuple[Box, np.ndarray]]) -> list[tuple[Box, np.ndarray]]:
    """One image again from the strips or tiles some PDF writers cut it into: pieces that abut edge to
    edge, as wide (or as high) in points and in pixels, are concatenated; the result in reading order."""
    for axis in (0, 1):  # strips one above the other, then tiles side by side
        lo, hi = (0, 2) if axis == 0 else (1, 3)  # the box's sides across the joining direction
        start, end = (1, 3) if axis == 0 else (0, 2)  # and along it
        joined: list[tuple[Box, np.ndarray]] = []
        for box, pixels in sorted(pieces, key=lambda piece: (piece[0][lo], piece[0][start])):
            if joined:
                last_box, last = joined[-1]
                if (abs(last_box[lo] - box[lo]) < 0.5 and abs(last_box[hi] - box[hi]) < 0.5
                        and abs(last_box[end] - box[start]) < 0.5 and last.shape[1 - axis] == pixels.shape[1 - axis]):
                    if last.ndim != pixels.ndim:  # a grey strip among colour ones
                        last, pixels = (np.dstack([part] * 3) if part.ndim == 2 else part for part in (last, pixels))
                    merged = list(last_box)
                    merged[end] = box[end]
                    joined[-1] = ((merged[0], merged[1], merged[2], merged[3]),
                                  np.concatenate([last, pixels], axis=axis))
                    continue
            joined.append((box, pixels))
        pieces = joined
    return sorted(pieces, key=lambda piece: (piece[0][1], piece[0][0]))


def _clip_box(obj: pdfium.PdfObject, view: _View) -> Box | None:
    """The box of the clip path an image is drawn under (matplotlib's axes, LaTeX's trim/clip), if any."""
    clip = pdfium_c.FPDFPageObj_GetClipPath(obj)
    if not clip:
        return None
    outer = _container_matrix(obj)
    x, y = ctypes.c_float(), ctypes.c_float()
    result: Box | None = None
    for index in range(pdfium_c.FPDFClipPath_CountPaths(clip)):  # the clip is where all its paths overlap
        points = []
        for number in range(pdfium_c.FPDFClipPath_CountPathSegments(clip, index)):
            segment = pdfium_c.FPDFClipPath_GetPathSegment(clip, index, number)
            if segment and pdfium_c.FPDFPathSegment_GetPoint(segment, x, y):
                points.append((x.value, y.value))
        if not points:
            continue
        xs, ys = zip(*points)
        box = view.box(outer, min(xs), min(ys), max(xs), max(ys))
        result = box if result is None else (max(result[0], box[0]), max(result[1], box[1]),
                                             min(result[2], box[2]), min(result[3], box[3]))
    return result


def _visible(pixels: np.ndarray, box: Box, clip: Box | None) -> tuple[np.ndarray, Box]:
    """The pixels a reader sees of an upright image under its clip, and their box (whole pixels, outward)."""
    if clip is None:
        return pixels, box
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = box
    sx, sy = (x1 - x0) / width, (y1 - y0) / height
    left = max(0, math.floor((clip[0] - x0) / sx + 1e-3))
    top = max(0, math.floor((clip[1] - y0) / sy + 1e-3))
    right = min(width, math.ceil((clip[2] - x0) / sx - 1e-3))
    bottom = min(height, math.ceil((clip[3] - y0) / sy - 1e-3))
    if right <= left or bottom <= top:
        return pixels[:0, :0], box
    return pixels[top:bottom, left:right], (x0 + left * sx, y0 + top * sy, x0 + right * sx, y0 + bottom * sy)


def _render_drawing(page: pdfium.PdfPage, drawn: list[Box], view: _View,
                    limits: Limits) -> list[tuple[Box, np.ndarray]]:
    """The drawn region of a page without images, rendered: a figure exported as vectors."""
    x0 = max(0.0, min(box[0] for box in drawn) - 2)
    y0 = max(0.0, min(box[1] for box in drawn) - 2)
    x1 = min(view.width, max(box[2] for box in drawn) + 2)
    y1 = min(view.height, max(box[3] for box in drawn) + 2)
    # a page may declare any size (a poster, a hostile 200-inch box): rendered at a lower resolution where
    # `render_dpi` would make more than `max_pixels`, so the bitmap is bounded like an image object's
    scale = min(limits.render_dpi / 72.0, math.sqrt(limits.max_pixels / max((x1 - x0) * (y1 - y0), 1.0)))
    if min(x1 - x0, y1 - y0) * scale < limits.min_side:
        return []
    bitmap = page.render(scale=scale, crop=(x0, view.height - y1, view.width - x1, y0), rev_byteorder=True)
    return [((x0, y0, x1, y1), _as_uint8(bitmap.to_numpy()))]


# --- .docx / .pptx / .odp -----------------------------------------------------------------------------


def _check_zip(path: Path, archive: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse the whole file before anything is inflated when its directory declares a bomb."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise FigureError(f"{path}: {len(members):,} zip members, more than {limits.max_members:,}; not read")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > limits.max_member_bytes or (member.file_size > 1 << 20 and ratio > limits.max_ratio):
            raise FigureError(f"{path}: zip member {member.filename} inflates {member.compress_size:,} bytes to "
                              f"{member.file_size:,} (a zip bomb?); not read")
    if total > limits.max_total_bytes:
        raise FigureError(f"{path}: zip members inflate to {total:,} bytes, more than {limits.max_total_bytes:,}; "
                          "not read")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: Limits) -> bytes:
    """A member's bytes, never more than its declared size (checked by `_check_zip`): zipfile stops
    inflating there, and a header that lies about it fails its CRC check (BadZipFile)."""
    with archive.open(member) as stream:
        return stream.read(min(member.file_size, limits.max_member_bytes))


_SLIDE_RELS = re.compile(r"^ppt/slides/_rels/slide(\d+)\.xml\.rels$")
_RELATION = re.compile(r"<Relationship\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_PPT_TEXT = re.compile(r"<a:t>([^<]*)</a:t>")
_WORD_PARAGRAPH = re.compile(r"<w:p[ >].*?</w:p>", re.DOTALL)
_WORD_TEXT = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")
_WORD_PICTURE = re.compile(r'r:embed="([^"]+)"')
_ODF_PAGE = re.compile(r"<draw:page\b.*?</draw:page>", re.DOTALL)
_ODF_PICTURE = re.compile(r'xlink:href="(Pictures/[^"]+)"')
_TAG = re.compile(r"<[^>]+>")
_CORE_VALUES = re.compile(r"<(?:dc:identifier|dc:subject|dc:description|cp:keywords|dc:title)>([^<]*)<")


def _xml(archive: zipfile.ZipFile, name: str, limits: Limits) -> str:
    """A member's XML text, empty when it is absent."""
    if name not in archive.NameToInfo:
        return ""
    return _read_member(archive, archive.getinfo(name), limits).decode("utf-8", "replace")


def _text(fragments: list[str], limits: Limits, joiner: str = " ") -> str:
    """Text runs as one line of text (Word cuts words into runs: they join with nothing)."""
    return html.unescape(" ".join(joiner.join(fragments).split()))[:limits.max_caption_chars]


def _relations(xml: str, folder: str) -> dict[str, str]:
    """Relationship id -> member name, targets resolved against the part's folder (`word/`, `ppt/slides/`)."""
    found = {}
    for tag in _RELATION.findall(xml):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if "Id" in attributes and "Target" in attributes and attributes.get("TargetMode") != "External":
            found[attributes["Id"]] = os.path.normpath(os.path.join(folder, attributes["Target"])).replace(os.sep, "/")
    return found


def _office_places(archive: zipfile.ZipFile, suffix: str, limits: Limits) -> tuple[dict[str, tuple[int, str]], str]:
    """Where each picture sits (slide or page, 0 where there are none) with its caption, and the text
    searched for a DOI (the document's metadata and its first paragraphs)."""
    places: dict[str, tuple[int, str]] = {}
    metadata = _xml(archive, "docProps/core.xml", limits) + _xml(archive, "meta.xml", limits)
    head = " ".join(_CORE_VALUES.findall(metadata))
    if suffix == ".pptx":
        for member in sorted(archive.infolist(), key=lambda m: m.filename):
            found = _SLIDE_RELS.match(member.filename)
            if not found:
                continue
            slide = int(found.group(1))
            caption = _text(_PPT_TEXT.findall(_xml(archive, f"ppt/slides/slide{slide}.xml", limits)), limits)
            for name in _relations(_xml(archive, member.filename, limits), "ppt/slides").values():
                if slide < places.get(name, (slide + 1, ""))[0]:
                    places[name] = (slide, caption)
    elif suffix == ".docx":
        relations = _relations(_xml(archive, "word/_rels/document.xml.rels", limits), "word")
        paragraphs = _WORD_PARAGRAPH.findall(_xml(archive, "word/document.xml", limits))
        texts = [_text(_WORD_TEXT.findall(paragraph), limits, "") for paragraph in paragraphs]
        head += " " + " ".join(texts[:20])
        for index, paragraph in enumerate(paragraphs):
            for rid in _WORD_PICTURE.findall(paragraph):
                if rid in relations:
                    places.setdefault(relations[rid], (0, _word_caption(texts, index)))
    elif suffix in (".odp", ".odt"):
        content = _xml(archive, "content.xml", limits)
        pages = _ODF_PAGE.findall(content) if suffix == ".odp" else [content]
        for number, xml in enumerate(pages, 1):
            caption = _text([_TAG.sub(" ", xml)], limits) if suffix == ".odp" else ""
            for name in _ODF_PICTURE.findall(xml):
                places.setdefault(name, (number if suffix == ".odp" else 0, caption))
    return places, head


def _word_caption(texts: list[str], index: int) -> str:
    """The caption of a picture in paragraph `index`: a paragraph beside it that starts "Fig", else
    the next paragraph with text."""
    near = [i for i in (index, index + 1, index - 1, index + 2, index - 2) if 0 <= i < len(texts)]
    for i in near:
        if texts[i].lower().startswith("fig"):
            return texts[i]
    return next((texts[i] for i in range(index, min(len(texts), index + 3)) if texts[i]), "")


def _office_figures(path: Path, handle: BinaryIO, media: str, limits: Limits, warn: Warn) -> Iterator[FigureImage]:
    """The pictures pasted into a .docx, .pptx or .odp (each as its own figure, in pixels)."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FigureError(f"{path}: not a readable {path.suffix.lower()} (not a zip: {exc})") from exc
    with archive:
        _check_zip(path, archive, limits)
        try:
            places, head = _office_places(archive, path.suffix.lower(), limits)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FigureError(f"{path}: a damaged member ({exc}); not read") from exc
        article = article_id(path, head)
        found = 0
        spent = 0.0  # reading this document, as for PDFs (not the caller's time between figures)
        for member in archive.infolist():
            name = member.filename
            if not name.startswith(media) or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if spent > limits.max_seconds:
                raise FigureError(f"{path}: stopped before {name}: reading took more than {limits.max_seconds:g} s; "
                                  f"{found:,} picture(s) only")
            started = time.perf_counter()
            try:
                pixels = _decode_image(io.BytesIO(_read_member(archive, member, limits)), limits, f"{path}:{name}")
            except (FigureError, zipfile.BadZipFile, OSError, EOFError) as exc:
                warn(str(exc) if isinstance(exc, FigureError) else f"{path}:{name}: damaged ({exc}); skipped")
                continue
            finally:
                spent += time.perf_counter() - started
            if min(pixels.shape[:2]) < limits.min_side:
                continue
            page, caption = places.get(name, (0, ""))
            height, width = pixels.shape[:2]
            found += 1
            yield FigureImage(str(path), page, (0.0, 0.0, float(width), float(height)), pixels, article, caption)
        if not found:
            raise FigureError(f"{path}: no pictures in {media}")


__all__ = ["DOCUMENT_SUFFIXES", "FigureError", "FigureImage", "Limits", "article_id", "find_doi", "iter_figures",
           "main_stem"]
